"""Rewrite the math markup of a parsed page into LaTeX text, before text extraction.

Each formula becomes a text node ``$tex$`` (inline) or a block ``$$tex$$`` (display), whatever
markup carried it (delimited by :data:`~megamath.web.math.tex.FORMULA_MARK` and ``DISPLAY_MARK`` until
the text pass), and the rendered copies a renderer left beside it (MathJax 2 previews, KaTeX's HTML,
MathJax 3's CHTML/SVG, Wikipedia's fallback image) are removed so nothing appears twice.
Returns how many formulas each family produced.
"""

from __future__ import annotations

import re
from collections import Counter

from resiliparse.parse.html import HTMLTree, NodeType

from megamath.web.math.chtml import chtml_to_tex
from megamath.web.math.dom import element_children, matching
from megamath.web.math.images import (
    clean_attribute_tex,
    is_formula_image,
    tex_from_image,
)
from megamath.web.math.katex_html import rebuild_katex_html
from megamath.web.math.mathml import clean_tex, embedded_tex, mathml_to_tex, name_of
from megamath.web.math.integrity import DISPLAY_ENVIRONMENTS
from megamath.web.math.tex import DISPLAY_MARK
from megamath.web.math.tex import FORMULA_MARK as _MARK

# What MathJax 2 rendered beside each script: previews and the output frames (``id="MathJax-Element-N-Frame"``).
# Not ``.MathJax``: class selectors match case-insensitively on quirks-mode pages, and sites such as
# arXiv mark whole abstracts with class "mathjax".
_MATHJAX2_RENDERED = 'span.MathJax_Preview, [id^="MathJax-Element-"][id$="-Frame"]'


_FORMULA_IMAGES = ", ".join(
    f'img[src*="{marker}"]' for marker in ("latex", "codecogs", "mimetex", "mathtex", "/math/render/", "cht=tx",
                                           "%5C", "%5c")
) + ', img[alt*="\\\\"]'  # or any image whose alt text or URL holds a TeX command
_MAX_FORMULAS = 100_000


_SCRIPTS = 'script[type^="math/tex"], script[type^="math/asciimath"]'
# MathML, and MathML with a namespace prefix (Word and Office exports, some CMSs write <mml:math>)
_MATHML = "math, mml\\:math, m\\:math"
# A superset of the elements the rewrite acts on, in the fewest simple selectors: one query is one
# native walk of the DOM (a tenth of extraction on a large page), cheaper than scanning the HTML
# string once per marker, and each extra selector adds to every element's test.
# Elements whose text is TeX without delimiters on pages that load MathJax or KaTeX: custom elements
# (<formula>, JATS <tex-math>), CKEditor's span.math-tex, Pandoc's and Sphinx's .math, pymdown's .arithmatex.
_TEX_ELEMENTS = "formula, tex-math, span.math-tex, span.math, div.math, span.arithmatex, div.arithmatex"
_ANY_MATH = (f'{_MATHML}, mjx-container, .katex, .mwe-math-element, script[type^="math"], img[src*="tex"], '
             f'img[src*="math"], img[src*="cht=tx"], img[alt*="\\\\"], {_TEX_ELEMENTS}')
_RENDERER_NAMES = ("mathjax", "MathJax", "MATHJAX", "katex", "KaTeX")


def find_math_markup(tree: HTMLTree, also: str) -> list:
    """Every element of the page's math markup (a superset of it) and every match of ``also`` (a selector
    of elements another pass wants), in the one walk of the DOM that a query costs whatever its selector."""
    return matching(tree.document, f"{_ANY_MATH}, {also}")


def _each(document, selector: str):
    """Yield each match of ``selector`` in document order; the caller replaces or removes each.

    One query for all the matches (one native walk of the DOM; a query per formula made large
    pages quadratic: 190 formulas cost 110 ms). Replacing a match takes the matches nested inside
    it (the MathML inside a KaTeX span) out of the document: those, found by a query of the match's
    own subtree before it is replaced, are skipped. The list keeps every match's wrapper alive, so
    ``id`` names a node for as long as the loop runs.
    """
    matches = matching(document, selector)[:_MAX_FORMULAS]
    taken_out: set[int] = set()
    for node in matches:
        if id(node) in taken_out:
            continue
        if node.first_element_child is not None:  # an image or a script holds no match
            taken_out.update(map(id, matching(node, selector)))
        yield node


_DISPLAY_ENVIRONMENT = re.compile(r"\\begin\{(?:" + "|".join(DISPLAY_ENVIRONMENTS) + r")\*?\}")


class _Rewriter:
    def __init__(self, tree: HTMLTree, display_tag: str):
        self.tree = tree
        self.display_tag = display_tag
        self.counts: Counter = Counter()

    def replace(self, node, tex: str | None, display: bool, family: str) -> bool:
        """Put ``tex`` in place of ``node``; without TeX the node's own text stays (degraded, counted)."""
        tex = clean_tex(tex) if tex else ""
        if not tex:
            self.counts[f"{family}_failed"] += 1
            node.replace_with(self.tree.create_text_node(" ".join(node.text.split())))
            return False
        if display or _DISPLAY_ENVIRONMENT.match(tex):  # an environment LaTeX sets only as a display
            block = self.tree.create_element(self.display_tag)
            block.append_child(self.tree.create_text_node(f"{DISPLAY_MARK}{tex}{DISPLAY_MARK}"))
            node.replace_with(block)
        else:
            node.replace_with(self.tree.create_text_node(f"{_MARK}{tex}{_MARK}"))
        self.counts[family] += 1
        return True


def loads_tex_renderer(html: str) -> bool:
    """Whether the page loads (or configures) MathJax or KaTeX, which render TeX written without markup."""
    return any(name in html for name in _RENDERER_NAMES)


def rewrite_math(tree: HTMLTree, display_tag: str = "div", html: str = "") -> Counter:
    """Replace every formula in ``tree`` by its LaTeX; returns formulas per family (and failures).

    Display formulas become a ``display_tag`` element of their own (extractors that keep only
    paragraphs, like trafilatura in precision mode, need ``p``). ``html``, the page's source, tells
    whether it loads a TeX renderer (TeX elements without delimiters are read only then).
    """
    rewriter = _Rewriter(tree, display_tag)
    document = tree.document
    if loads_tex_renderer(html):
        _tex_elements(document, rewriter)
    _mathjax2(document, rewriter)
    _katex(document, rewriter)
    _mathjax3(document, rewriter)
    _wikipedia(document, rewriter)
    _plain_mathml(document, rewriter)
    _images(document, rewriter)
    if any(n for family, n in rewriter.counts.items() if not family.endswith("_failed")):
        # On a page with math, superscripts are exponents and tables are worth their structure.
        _scripts_in_text(document, rewriter)
        _tables(document, rewriter)
    return rewriter.counts


_DELIMITED = (("\\(", "\\)", False), ("\\[", "\\]", True), ("$$", "$$", True), ("$", "$", False))
_MAX_ELEMENT_TEX = 20_000


def _tex_elements(document, rewriter: _Rewriter) -> None:
    """Elements that hold one formula's TeX as plain text, with or without delimiters.

    Only elements of text alone are read (a server that rendered them left markup inside, which the
    renderer passes read); an element holding several delimited formulas is left to the text pass.
    A ``<formula>`` alone in an ``<mjx-container>`` stands for the container.
    """
    for node in matching(document, _TEX_ELEMENTS):
        parent = node.parent
        if node.first_element_child is not None or parent is None:
            continue
        display = node.tag == "div" or "display" in (node.class_name or "").split()
        target = node
        if parent.tag == "mjx-container" and parent.first_element_child == parent.last_element_child:
            target, display = parent, parent.getattr("display") == "true"
        tex, block = delimited_tex(node.text)
        if tex:
            rewriter.replace(target, tex, display or block, "tex_element")


def delimited_tex(text: str) -> tuple[str | None, bool]:
    """(the TeX of one formula written as ``text``, whether its delimiters make it display math);
    None when the text is empty, too long, or several delimited formulas."""
    text = text.strip()
    if not text or len(text) > _MAX_ELEMENT_TEX:
        return None, False
    for left, right, block in _DELIMITED:
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right):
            inner = text[len(left):-len(right)]
            if left in inner:  # "\\(a\\) and \\(b\\)"
                return None, False
            return inner.strip() or None, block
    return text, text.startswith("\\begin{")


def _mathjax2(document, rewriter: _Rewriter) -> None:
    if document.query_selector(_SCRIPTS) is None:
        return
    for rendered in _each(document, _MATHJAX2_RENDERED):
        rendered.remove()
    for script in _each(document, _SCRIPTS):
        kind = (script.getattr("type") or "").lower()
        display = "mode=display" in kind
        if kind.startswith("math/asciimath"):
            from megamath.web.math.asciimath import asciimath_to_latex

            rewriter.replace(script, asciimath_to_latex(script.text), display, "asciimath")
        else:
            rewriter.replace(script, script.text, display, "mathjax2")


def _katex(document, rewriter: _Rewriter) -> None:
    """KaTeX: its TeX annotation, else the page's ``data-math``, else the MathML beside the HTML
    (``.katex-mathml``), else the TeX rebuilt from the HTML itself."""
    for node in _each(document, "span.katex"):
        parent = node.parent
        display = parent is not None and "katex-display" in (parent.class_name or "").split()
        target = parent if display else node
        annotation = node.query_selector('annotation[encoding="application/x-tex"]')
        if annotation is not None:
            rewriter.replace(target, annotation.text, display, "katex")
            continue
        source = node.getattr("data-math") or (parent.getattr("data-math") if parent is not None else None)
        if source:  # pages that keep the TeX beside KaTeX's HTML output
            rewriter.replace(target, source, display, "katex")
            continue
        math = node.query_selector(".katex-mathml math")
        converted = mathml_to_tex(math) if math is not None else None
        if converted:
            rewriter.replace(target, converted, display, "katex")
            continue
        html_part = node.query_selector(".katex-html")
        rewriter.replace(target, rebuild_katex_html(html_part, display) if html_part is not None else None, display,
                         "katex_html")


def _mathjax3(document, rewriter: _Rewriter) -> None:
    for container in _each(document, "mjx-container"):
        math = container.query_selector("math")
        display = container.getattr("display") == "true" or (
            math is not None and (math.getattr("display") or "").lower() == "block"
        )
        if math is not None:
            tex = embedded_tex(math) or mathml_to_tex(math)
        elif (rendered := container.query_selector("mjx-math")) is not None:
            tex = chtml_to_tex(rendered)
        elif container.first_element_child is None:  # the page's TeX, before MathJax renders it
            tex, block = delimited_tex(container.text)
            display = display or block
        else:
            tex = None
        rewriter.replace(container, tex, display, "mathjax3")


def _wikipedia(document, rewriter: _Rewriter) -> None:
    for element in _each(document, ".mwe-math-element"):
        math = element.query_selector("math")
        image = element.query_selector("img")
        tex = embedded_tex(math) if math is not None else None
        if tex is None and image is not None:
            tex = clean_attribute_tex(image.getattr("alt") or "")
        display = image is not None and "mwe-math-fallback-image-display" in (image.class_name or "")
        rewriter.replace(element, tex, display, "wikipedia")


def _plain_mathml(document, rewriter: _Rewriter) -> None:
    for math in _each(document, _MATHML):
        display = (math.getattr("display") or "").lower() == "block" or math.getattr("mode") == "display"
        prose = _swallowed_prose(math)
        if prose:
            math.parent.insert_before(rewriter.tree.create_text_node(f" {prose} "), math.next_sibling)
        rewriter.replace(math, embedded_tex(math) or mathml_to_tex(math), display, "mathml")


# MathML elements that hold text; text anywhere else in a formula is not MathML.
MATHML_TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms", "mglyph", "mspace", "annotation", "annotation-xml"})


# Token elements whose text is their own (annotation-xml holds MathML with tokens of its own).
_TEXT_TOKENS = ", ".join(f"{prefix}{name}" for prefix in ("", "mml\\:")
                         for name in sorted(MATHML_TOKENS - {"mglyph", "mspace", "annotation-xml"}))


def _text_outside_tokens(math) -> bool:
    """Whether the formula holds text outside its token elements: a native query and the tokens'
    text, where walking the formula in Python costs a millisecond per formula of a page."""
    chars = sum(map(len, math.text.split()))
    return bool(chars) and sum(sum(map(len, token.text.split())) for token in matching(math, _TEXT_TOKENS)) < chars


def _swallowed_prose(math) -> str:
    """Take out, and return, the prose a ``<math>`` left open has taken in.

    The HTML parser keeps every following text and non-HTML tag inside an unclosed ``<math>`` (or
    ``<mtd>``) up to the next HTML block tag: the first text outside a token element starts that
    prose, and it and everything after it in the formula belong to the page, after the formula.
    """
    if not _text_outside_tokens(math):
        return ""
    first, node = None, math.first_child
    while node is not None:  # document order, without recursion (formulas may nest thousands deep)
        if node.type == NodeType.TEXT:
            if node.text.strip() and name_of(node.parent) not in MATHML_TOKENS:
                first = node
                break
        elif node.type == NodeType.ELEMENT and node.first_child is not None and name_of(node) not in MATHML_TOKENS:
            node = node.first_child
            continue
        while node != math and node.next_sibling is None:
            node = node.parent
        node = None if node == math else node.next_sibling
    if first is None:
        return ""
    tail, start = [], first  # the first stray text, what follows it, and what follows each ancestor
    while start != math:
        sibling = start if start == first else start.next_sibling
        while sibling is not None:
            tail.append(sibling)
            sibling = sibling.next_sibling
        start = start.parent
    text = " ".join(part.text for part in tail)
    for part in tail:
        part.parent.remove_child(part)
    return " ".join(text.split())


# A formula delimited inside an attribute's text.
_DELIMITED_IN_TEXT = re.compile(r"(?<!\\)\$[^$]+\$|\\\(.+?\\\)")


def _images(document, rewriter: _Rewriter) -> None:
    for image in _each(document, _FORMULA_IMAGES):
        src = image.getattr("src") or ""
        classes = image.class_name or ""
        alt = image.getattr("alt")
        if alt and _DELIMITED_IN_TEXT.search(alt):
            alt = clean_attribute_tex(alt)
            if delimited_tex(alt)[0] in (None, alt):  # prose with formulas of its own: the text pass reads them
                image.replace_with(rewriter.tree.create_text_node(f" {alt} "))
                continue
        tex = tex_from_image(src, alt, image.getattr("title")) if is_formula_image(src, classes, alt) else None
        display = "display" in classes or "\\displaystyle" in (tex or "")
        if tex:
            tex, block = delimited_tex(tex.replace("\\displaystyle", ""))
            display = display or block
        rewriter.replace(image, tex, display, "image")


# Counted in the per-family statistics but not formulas.
NOT_FORMULAS = frozenset({"table"})


def formulas_in(counts: dict) -> int:
    """The formulas of an extraction's per-family counts (failures and tables aside)."""
    return sum(n for family, n in counts.items() if family not in NOT_FORMULAS and not family.endswith("_failed"))


_FOOTNOTE = re.compile(r"^\[?[\d*†‡§a-z]{1,3}\]?$")
_TEX_SPECIALS = re.compile(r"[{}\\$%#&~^_]")  # a script holding them stays text: as TeX it would not balance


def _scripts_in_text(document, rewriter: _Rewriter) -> None:
    """``x<sup>2</sup>`` → ``x$^{2}$``; footnote markers and long runs stay text."""
    for node in _each(document, "sup, sub"):
        text = " ".join(node.text.split())
        is_note = node.query_selector("a") is not None or (node.tag == "sup" and _FOOTNOTE.match(text)
                                                           and text.startswith("["))
        if text and len(text) <= 12 and not is_note and not _TEX_SPECIALS.search(text):
            mark = "^" if node.tag == "sup" else "_"
            node.replace_with(rewriter.tree.create_text_node(f"{_MARK}{mark}{{{text}}}{_MARK}"))
            rewriter.counts["sup_sub"] += 1
        else:
            node.replace_with(rewriter.tree.create_text_node(text))


def _table_rows(table) -> list[list[str]]:
    rows = []
    for part in element_children(table):
        for row in (element_children(part) if part.tag in ("thead", "tbody", "tfoot") else [part]):
            if row.tag == "tr":
                rows.append([" ".join(cell.text.split()).replace("|", "\\|") for cell in element_children(row)
                             if cell.tag in ("td", "th")])
    return rows


def _tables(document, rewriter: _Rewriter) -> None:
    """Data tables (no nested table, at least 2×2, short cells) become Markdown tables."""
    tables = matching(document, "table")
    for table in tables:
        if table.query_selector("table") is not None:
            continue
        rows = [row for row in _table_rows(table) if row]
        width = max((len(row) for row in rows), default=0)
        if len(rows) < 2 or width < 2 or any(len(cell) > 300 for row in rows for cell in row):
            continue
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
        lines.insert(1, "|" + " --- |" * width)
        block = rewriter.tree.create_element("pre")
        block.append_child(rewriter.tree.create_text_node("\n".join(lines)))
        table.replace_with(block)
        rewriter.counts["table"] += 1
