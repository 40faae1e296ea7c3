"""Rewrite the math markup of a parsed page into LaTeX text, before text extraction.

Each formula becomes a text node ``$tex$`` (inline) or a block ``$$tex$$`` (display), whatever
markup carried it, and the rendered copies a renderer left beside it (MathJax 2 previews, KaTeX's
HTML, MathJax 3's CHTML/SVG, Wikipedia's fallback image) are removed so nothing appears twice.
Returns how many formulas each family produced.
"""

from __future__ import annotations

import logging
from collections import Counter

from resiliparse.parse.html import HTMLTree

from megamath.web.math.images import is_formula_image, tex_from_image
from megamath.web.math.katex_html import rebuild_katex_html
from megamath.web.math.mathml import clean_tex, embedded_tex, mathml_to_tex

log = logging.getLogger(__name__)

# Substrings whose absence proves a page has no math markup for the DOM rewrite to handle.
MARKUP_MARKERS = ("<math", "<MATH", "katex", "math/tex", "mjx-container", "MathJax", "latex", "codecogs",
                  "mimetex", "math/render", "math/asciimath", "chart.apis.google.com", "mwe-math")

_MATHJAX2_RENDERED = ", ".join(
    f".{name}" for name in ("MathJax_Preview", "MathJax", "MathJax_Display", "MathJax_SVG", "MathJax_SVG_Display",
                            "MathJax_CHTML", "MathJax_MathML", "MathJax_PHTML", "MathJax_SVG_Processing")
)


def has_math_markup(html: str) -> bool:
    return any(marker in html for marker in MARKUP_MARKERS)


class _Rewriter:
    def __init__(self, tree: HTMLTree):
        self.tree = tree
        self.counts: Counter = Counter()

    def replace(self, node, tex: str | None, display: bool, family: str) -> bool:
        tex = clean_tex(tex) if tex else ""
        if not tex:
            self.counts[f"{family}_failed"] += 1
            return False
        if display:
            block = self.tree.create_element("div")
            block.append_child(self.tree.create_text_node(f"$${tex}$$"))
            node.replace_with(block)
        else:
            node.replace_with(self.tree.create_text_node(f"${tex}$"))
        self.counts[family] += 1
        return True


def rewrite_math(tree: HTMLTree) -> Counter:
    """Replace every formula in ``tree`` by its LaTeX; returns formulas per family (and failures)."""
    rewriter = _Rewriter(tree)
    document = tree.document
    _mathjax2(document, rewriter)
    _katex(document, rewriter)
    _mathjax3(document, rewriter)
    _wikipedia(document, rewriter)
    _plain_mathml(document, rewriter)
    _images(document, rewriter)
    return rewriter.counts


def _mathjax2(document, rewriter: _Rewriter) -> None:
    scripts = document.query_selector_all('script[type^="math/tex"], script[type^="math/asciimath"]')
    if not scripts:
        return
    for rendered in document.query_selector_all(_MATHJAX2_RENDERED):
        rendered.decompose()
    asciimath = []
    for script in scripts:
        kind = (script.getattr("type") or "").lower()
        display = "mode=display" in kind
        if kind.startswith("math/asciimath"):
            asciimath.append((script, display))
        else:
            rewriter.replace(script, script.text, display, "mathjax2")
    if asciimath:
        from megamath.web.math.asciimath import asciimath_to_latex

        for script, display in asciimath:
            rewriter.replace(script, asciimath_to_latex(script.text), display, "asciimath")


def _katex(document, rewriter: _Rewriter) -> None:
    for node in document.query_selector_all(".katex"):
        parent = node.parent
        display = parent is not None and "katex-display" in (parent.class_name or "").split()
        target = parent if display else node
        annotation = node.query_selector('annotation[encoding="application/x-tex"]')
        if annotation is not None:
            rewriter.replace(target, annotation.text, display, "katex")
            continue
        html_part = node.query_selector(".katex-html")
        if html_part is not None:
            rewriter.replace(target, rebuild_katex_html(html_part), display, "katex_html")


def _mathjax3(document, rewriter: _Rewriter) -> None:
    for container in document.query_selector_all("mjx-container"):
        math = container.query_selector("math")
        display = container.getattr("display") == "true" or (
            math is not None and (math.getattr("display") or "").lower() == "block"
        )
        if math is None:
            rewriter.counts["mathjax3_failed"] += 1
            continue
        rewriter.replace(container, embedded_tex(math) or mathml_to_tex(math), display, "mathjax3")


def _wikipedia(document, rewriter: _Rewriter) -> None:
    for element in document.query_selector_all(".mwe-math-element"):
        math = element.query_selector("math")
        image = element.query_selector("img")
        tex = embedded_tex(math) if math is not None else None
        if tex is None and image is not None:
            tex = image.getattr("alt")
        display = image is not None and "mwe-math-fallback-image-display" in (image.class_name or "")
        rewriter.replace(element, tex, display, "wikipedia")


def _plain_mathml(document, rewriter: _Rewriter) -> None:
    for math in document.query_selector_all("math"):
        display = (math.getattr("display") or "").lower() == "block" or math.getattr("mode") == "display"
        rewriter.replace(math, embedded_tex(math) or mathml_to_tex(math), display, "mathml")


def _images(document, rewriter: _Rewriter) -> None:
    for image in document.query_selector_all("img"):
        src = image.getattr("src") or ""
        classes = image.class_name or ""
        if not is_formula_image(src, classes):
            continue
        tex = tex_from_image(src, image.getattr("alt"), image.getattr("title"))
        display = "display" in classes or "\\displaystyle" in (tex or "")
        rewriter.replace(image, tex.replace("\\displaystyle", "").strip() if tex else None, display, "image")
