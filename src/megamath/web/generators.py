"""Markup of site generators that the main-content pass takes for boilerplate, set right before extraction.

Some generators wrap a page's whole text in elements whose class names resiliparse's main-content pass
reads as page furniture: nbconvert's JupyterLab template nests every cell in ``jp-`` wrappers (the
whole notebook came out empty), and Jupyter Book's folded admonitions (``dropdown``) hold hints and
solutions full of formulas. Each rule is keyed on a marker its generator writes into the page, so a
page of another generator pays one substring test per rule and no DOM query.
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
