"""What resiliparse's main-content pass misreads, set right before extraction.

* Bullet lists: the pass drops every ``<ul>`` fewer than three elements below ``<body>`` (its test for a
  site's top navigation), so a page laid out simply (pandoc's standalone HTML, minimal blog themes, most
  course notes) lost every bullet list and the formulas in it. A shallow list is wrapped until it stands
  deep enough; navigation lists are still dropped by the pass's own test of their share of link text.
* Generators that wrap a page's whole text in elements whose class names the pass reads as page
  furniture: nbconvert's JupyterLab template nests every cell in ``jp-`` wrappers (the whole notebook
  came out empty), and Jupyter Book's folded admonitions (``dropdown``) hold hints and solutions full of
  formulas.
* Text the pass never reads: React's streamed server rendering (Next.js and others) sends the page in
  ``<div hidden id="S:1">`` segments that a script moves into place, and Discourse sends a browser its
  topic inside ``<noscript data-path>``; both pages came out as their title alone.

All of them are found in the one walk of the DOM that looks for math markup (:data:`MISREAD`).
"""

from __future__ import annotations

from resiliparse.parse.html import HTMLTree

from megamath.web.math.dom import matching

# The elements a <ul> needs between itself and <body> for the main-content pass to read it.
_LIST_DEPTH = 3
# What the pass misreads: lists with fewer elements above them, the body of an nbconvert page, a folded
# admonition. Stage 1 finds them in the walk of the DOM that looks for math markup (a walk of their own
# cost 0.15 ms a page, and a search of the HTML for a generator's marker 0.05 ms).
MISREAD = ("body > ul, body > * > ul, body > * > * > ul, body.jp-Notebook, .admonition.dropdown, "
           'body > div[hidden][id^="S:"], noscript[data-path]')
# nbconvert's prompts ("In [3]:") and the cell wrappers whose class names read as furniture
_NOTEBOOK_PROMPTS = ".jp-InputPrompt, .jp-OutputPrompt"
_NOTEBOOK_WRAPPERS = '[class^="jp-"], [class*=" jp-"]'


def misread_among(elements: list) -> list:
    """The matches of :data:`MISREAD` among ``elements`` (a query's matches of it and of math markup,
    none of whose elements is a list, the body, a noscript, a hidden div, or of a class "dropdown")."""
    return [element for element in elements
            if element.tag in ("ul", "body", "noscript") or "dropdown" in (element.class_name or "")
            or (element.tag == "div" and element.hasattr("hidden"))]


def unmask_main_content(tree: HTMLTree, misread: list) -> None:
    """Set right the elements of ``misread`` (the page's matches of :data:`MISREAD`): a shallow list is
    wrapped until it stands deep enough (navigation lists still go by the pass's own test of their share
    of link text), a notebook loses its prompts and its wrappers' class names, a folded admonition its,
    a streamed segment its ``hidden``, and a Discourse topic's noscript becomes a div."""
    for element in misread:
        if element.tag == "ul":
            _deepen(tree, element)
        elif element.tag == "body":
            for prompt in matching(tree.document, _NOTEBOOK_PROMPTS):
                prompt.remove()
            for wrapper in matching(tree.document, _NOTEBOOK_WRAPPERS):
                wrapper.delattr("class")
        elif element.tag == "noscript":
            _rename(tree, element, "div")
        elif element.hasattr("hidden"):
            element.delattr("hidden")
        else:
            element.delattr("class")


def _deepen(tree: HTMLTree, bullet_list) -> None:
    depth, node = 0, bullet_list.parent
    while node is not None and node.tag != "body":
        depth, node = depth + 1, node.parent
    for _ in range(_LIST_DEPTH - depth):
        wrapper = tree.create_element("div")
        bullet_list.parent.insert_before(wrapper, bullet_list)
        wrapper.append_child(bullet_list)


def _rename(tree: HTMLTree, element, tag: str) -> None:
    replacement = tree.create_element(tag)
    element.parent.insert_before(replacement, element)
    while element.first_child is not None:
        replacement.append_child(element.first_child)
    element.parent.remove_child(element)
