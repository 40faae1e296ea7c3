"""What resiliparse's main-content pass misreads, set right before extraction.

* Bullet lists: the pass drops every ``<ul>`` fewer than three elements below ``<body>`` (its test for a
  site's top navigation), so a page laid out simply (pandoc's standalone HTML, minimal blog themes, most
  course notes) lost every bullet list and the formulas in it. A shallow list is wrapped until it stands
  deep enough; navigation lists are still dropped by the pass's own test of their share of link text.
* Generators that wrap a page's whole text in elements whose class names the pass reads as page
  furniture: nbconvert's JupyterLab template nests every cell in ``jp-`` wrappers (the whole notebook
  came out empty), and Jupyter Book's folded admonitions (``dropdown``) hold hints and solutions full of
  formulas. Each rule is keyed on a marker its generator writes into the page, so a page of another
  generator pays one substring test per rule and no DOM query.
"""

from __future__ import annotations

from resiliparse.parse.html import HTMLTree

from megamath.web.math.dom import matching

# (marker in the page's HTML, furniture to remove, the elements whose class attribute misleads the
# main-content pass)
_RULES = (
    ("jp-Notebook", ".jp-InputPrompt, .jp-OutputPrompt", '[class^="jp-"], [class*=" jp-"]'),  # "In [3]:"
    ("dropdown admonition", "", ".admonition.dropdown"),
)


# The elements a <ul> needs between itself and <body> for the main-content pass to read it, and the lists
# that have fewer (stage 1 finds them in the walk that looks for math markup).
_LIST_DEPTH = 3
SHALLOW_LISTS = "body > ul, body > * > ul, body > * > * > ul"


def unmask_main_content(tree: HTMLTree, html: str) -> None:
    """Remove a generator's furniture and the class attributes that make the main-content pass drop its
    main text."""
    for marker, furniture, misread in _RULES:
        if marker in html:
            if furniture:
                for element in matching(tree.document, furniture):
                    element.remove()
            for element in matching(tree.document, misread):
                element.delattr("class")


def deepen_lists(tree: HTMLTree, shallow_lists: list) -> None:
    """Wrap each of ``shallow_lists`` (matches of :data:`SHALLOW_LISTS`) until it stands deep enough."""
    for bullet_list in shallow_lists:
        depth, node = 0, bullet_list.parent
        while node is not None and node.tag != "body":
            depth, node = depth + 1, node.parent
        for _ in range(_LIST_DEPTH - depth):
            wrapper = tree.create_element("div")
            bullet_list.parent.insert_before(wrapper, bullet_list)
            wrapper.append_child(bullet_list)
