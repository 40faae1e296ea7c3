"""Rebuild TeX from MathJax 3/4 CHTML output when no MathML came with it (``<mjx-container>`` without
assistive MathML).

CHTML mirrors MathML with ``mjx-`` tags; characters sit in ``<mjx-c>`` as text, or only in the class
(``mjx-c1D465`` is U+1D465) when the page kept MathJax's CSS glyphs. Layout wrappers place the parts:
``mjx-num``/``mjx-den`` of a fraction, ``mjx-script`` after a base (superscript first in ``msubsup``),
``mjx-box`` under a root sign, ``mjx-over``/``mjx-under``/``mjx-base`` around a big operator.
"""

from __future__ import annotations

import re

from megamath.web.math.dom import element_children
from megamath.web.math.mathml import join_tex, tex_for_char
from megamath.web.math.symbols import FUNCTIONS

_CODEPOINT = re.compile(r"\bmjx-c([0-9A-F]{2,6})\b")
_SKIP = frozenset({"mjx-nstrut", "mjx-dstrut", "mjx-line", "mjx-spacer", "mjx-surd", "mjx-tstrut", "mjx-bstrut",
                   "mjx-assistive-mml", "mjx-speech", "mjx-braille"})


def _find(node, tag: str):
    """The first ``tag`` below ``node`` along its own layout (not inside a nested formula part)."""
    for child in element_children(node):
        if child.tag == tag:
            return child
        if child.tag in ("mjx-frac", "mjx-dbox", "mjx-dtable", "mjx-row", "mjx-sqrt", "mjx-box", "mjx-munder",
                         "mjx-mover", "mjx-itable", "mjx-table"):
            found = _find(child, tag)
            if found is not None:
                return found
    return None


def _characters(node) -> str:
    chars = []
    for glyph in element_children(node):
        if glyph.tag != "mjx-c":
            continue
        text = glyph.text
        if not text:
            match = _CODEPOINT.search(glyph.class_name or "")
            text = chr(int(match.group(1), 16)) if match else ""
        chars.append(text)
    return "".join(chars)


def _group(node) -> str:
    return "{" + (_convert(node) if node is not None else "") + "}"


def _children(node) -> str:
    return join_tex(_convert(child) for child in element_children(node))


def _convert(node) -> str:
    tag = node.tag
    if tag in _SKIP:
        return ""
    if tag in ("mjx-mi", "mjx-mo", "mjx-mn", "mjx-mtext"):
        text = _characters(node)
        if tag in ("mjx-mi", "mjx-mo") and text in FUNCTIONS:
            return "\\" + text
        if tag == "mjx-mtext":
            return f"\\text{{{text}}}" if any(c.isalpha() for c in text) else text
        converted = join_tex(tex_for_char(c) for c in text)
        return f"\\mathrm{{{converted}}}" if tag == "mjx-mi" and len(text) > 1 and text.isalpha() else converted
    if tag == "mjx-mfrac":
        return f"\\frac{_group(_find(node, 'mjx-num'))}{_group(_find(node, 'mjx-den'))}"
    if tag == "mjx-msqrt":
        return f"\\sqrt{_group(_find(node, 'mjx-box'))}"
    if tag == "mjx-mroot":
        index = _find(node, "mjx-root")
        return f"\\sqrt[{_children(index) if index is not None else ''}]{_group(_find(node, 'mjx-box'))}"
    if tag in ("mjx-msub", "mjx-msup", "mjx-msubsup"):
        parts = element_children(node)
        base = _convert(parts[0]) if parts else ""
        script = next((p for p in parts if p.tag == "mjx-script"), None)
        pieces = [p for p in element_children(script) if p.tag not in _SKIP] if script is not None else []
        if tag == "mjx-msubsup" and len(pieces) >= 2:
            return f"{{{base}}}_{_group(pieces[1])}^{_group(pieces[0])}"
        mark = "^" if tag == "mjx-msup" else "_"
        return f"{{{base}}}{mark}{{{join_tex(_convert(p) for p in pieces)}}}"
    if tag in ("mjx-munderover", "mjx-munder", "mjx-mover"):
        base, under, over = _find(node, "mjx-base"), _find(node, "mjx-under"), _find(node, "mjx-over")
        out = _children(base) if base is not None else ""
        if under is not None:
            out += f"_{{{_children(under)}}}"
        if over is not None:
            out += f"^{{{_children(over)}}}"
        return out
    if tag == "mjx-mtable":
        table = _find(node, "mjx-itable")
        rows = [row for row in element_children(table) if row.tag in ("mjx-mtr", "mjx-mlabeledtr")] if table is not None else []
        return "\\begin{matrix}" + " \\\\ ".join(
            " & ".join(_children(cell) for cell in element_children(row) if cell.tag == "mjx-mtd") for row in rows
        ) + "\\end{matrix}"
    return _children(node)


def chtml_to_tex(mjx_math) -> str | None:
    """TeX for an ``<mjx-math>`` element, or None when nothing readable is left."""
    try:
        tex = " ".join(_children(mjx_math).split())
    except RecursionError:
        return None
    return tex or None
