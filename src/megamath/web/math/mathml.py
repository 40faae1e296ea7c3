"""MathML → LaTeX: the TeX a page already carries (annotation, ``alttext``), else a conversion.

The conversion walks the parsed DOM directly (no re-serialization, about 50 µs a formula) and covers
presentation MathML as renderers emit it: tokens with ``mathvariant`` and Unicode math alphanumerics,
fractions, roots, scripts, under/over with accents and limits, tables and matrices, ``mfenced`` and
stretchy fences, ``menclose``/bordered rows as ``\\boxed``, and the spacing and phantom elements that
carry no content.
"""

from __future__ import annotations

import re
import unicodedata

from megamath.web.math.dom import element_children
from megamath.web.math.symbols import FUNCTIONS, SYMBOLS

TEX_ENCODINGS = frozenset({"application/x-tex", "application/x-latex", "text/x-tex", "tex", "latex"})
_DISPLAYSTYLE_WRAPPER = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.DOTALL)
_ENDS_WITH_COMMAND = re.compile(r"\\[A-Za-z]+$")
_VARIANT_COMMANDS = {"bold": "\\mathbf", "double-struck": "\\mathbb", "script": "\\mathcal", "fraktur": "\\mathfrak",
                     "sans-serif": "\\mathsf", "monospace": "\\mathtt", "bold-italic": "\\boldsymbol",
                     "normal": "\\mathrm"}
_ALPHANUMERIC_STYLES = (("DOUBLE-STRUCK", "\\mathbb"), ("BOLD SCRIPT", "\\mathcal"), ("SCRIPT", "\\mathcal"),
                        ("BOLD FRAKTUR", "\\mathfrak"), ("FRAKTUR", "\\mathfrak"), ("SANS-SERIF", "\\mathsf"),
                        ("MONOSPACE", "\\mathtt"), ("BOLD ITALIC", "\\boldsymbol"), ("BOLD", "\\mathbf"),
                        ("ITALIC", ""))
_OVER_ACCENTS = {"―": "\\overline", "—": "\\overline", "^": "\\hat", "ˆ": "\\hat", "\u0302": "\\hat", "¯": "\\overline", "‾": "\\overline",
                 "\u0305": "\\overline", "_": "\\overline", "→": "\\overrightarrow", "⃗": "\\vec", "~": "\\tilde",
                 "˜": "\\tilde", "\u0303": "\\tilde", "˙": "\\dot", "\u0307": "\\dot", "¨": "\\ddot",
                 "⏞": "\\overbrace", "←": "\\overleftarrow", "↔": "\\overleftrightarrow", "ˇ": "\\check",
                 "˘": "\\breve", "´": "\\acute", "`": "\\grave"}
_UNDER_ACCENTS = {"_": "\\underline", "¯": "\\underline", "‾": "\\underline", "\u0332": "\\underline",
                  "⏟": "\\underbrace"}
_SKIPPED = frozenset({"annotation", "annotation-xml", "mphantom", "none", "mprescripts", "maligngroup",
                      "malignmark", "script", "style"})


def clean_tex(tex: str) -> str:
    """Trim a formula and unwrap Wikipedia's ``{\\displaystyle ...}``."""
    tex = " ".join(tex.split())
    match = _DISPLAYSTYLE_WRAPPER.match(tex)
    return match.group(1).strip() if match else tex


def embedded_tex(math_node) -> str | None:
    """TeX carried by a ``<math>`` element: a TeX annotation, else its ``alttext``."""
    annotation = math_node.query_selector("annotation")
    if annotation is not None:
        if (annotation.getattr("encoding") or "").strip().lower() not in TEX_ENCODINGS:
            annotation = math_node.query_selector('annotation[encoding="application/x-tex"]')
        tex = clean_tex(annotation.text) if annotation is not None else ""
        if tex:
            return tex
    alttext = math_node.getattr("alttext")
    return clean_tex(alttext) if alttext and alttext.strip() else None


def mathml_to_tex(math_node) -> str | None:
    """LaTeX for a ``<math>`` element's presentation markup, or None when nothing is left (or the
    markup nests deeper than Python's recursion limit)."""
    try:
        tex = clean_tex(_children(math_node))
    except RecursionError:
        return None
    return tex or None


def join_tex(parts) -> str:
    out = ""
    for part in parts:
        if not part:
            continue
        if out and part[0].isalnum() and _ENDS_WITH_COMMAND.search(out):
            out += " "
        out += part
    return out


def _children(node) -> str:
    return join_tex(_convert(child) for child in element_children(node))


def _group(node) -> str:
    return "{" + _convert(node) + "}"


def tex_for_char(char: str) -> str:
    mapped = SYMBOLS.get(char)
    if mapped is not None:
        return mapped
    if "\U0001d400" <= char <= "\U0001d7ff":  # Mathematical Alphanumeric Symbols
        name = unicodedata.name(char, "")
        base = unicodedata.normalize("NFKC", char)
        for style, command in _ALPHANUMERIC_STYLES:
            if style in name:
                return f"{command}{{{base}}}" if command else base
        return base
    return char


def _token_text(node) -> str:
    return " ".join(node.text.split())


def _identifier(node) -> str:
    text = _token_text(node)
    if not text:
        return ""
    if len(text) > 1 and text in FUNCTIONS:
        return "\\" + text
    converted = join_tex(tex_for_char(c) for c in text)
    variant = node.getattr("mathvariant")
    command = _VARIANT_COMMANDS.get(variant or "")
    if command == "\\mathrm" and len(text) == 1 and not text.isalpha():
        command = None
    if command:
        return f"{command}{{{converted}}}"
    if len(text) > 1 and text.isalpha():
        return f"\\mathrm{{{text}}}"
    return converted


def _operator(node) -> str:
    text = _token_text(node)
    if len(text) > 1 and text in FUNCTIONS:
        return "\\" + text
    return join_tex(tex_for_char(c) for c in text)


def _text(node) -> str:
    text = node.text
    if not text.strip():
        return "\\ " if text else ""
    escaped = re.sub(r"([#$%&_{}])", r"\\\1", text.strip())
    if not any(c.isalpha() for c in escaped):
        return escaped  # punctuation and numbers read the same in math mode
    return f"\\text{{{escaped}}}"


def _accent(base: str, mark_node, accents: dict) -> str | None:
    mark = _token_text(mark_node) if mark_node.tag == "mo" else ""
    command = accents.get(mark)
    if mark == "→" and mark_node.getattr("stretchy") == "false":
        command = "\\vec"  # Temml and MathJax write \vec as a non-stretchy arrow
    return f"{command}{{{base}}}" if command else None


def _fenced(node) -> str:
    open_, close = node.getattr("open"), node.getattr("close")
    open_ = "(" if open_ is None else open_
    close = ")" if close is None else close
    separator = (node.getattr("separators") or ",").strip()[:1] or ","
    inner = separator.join(_convert(child) for child in element_children(node))
    return f"\\left{_fence(open_)}{inner}\\right{_fence(close)}"


def _fence(char: str) -> str:
    if not char:
        return "."
    return {"{": "\\{", "}": "\\}", "⟨": "\\langle", "⟩": "\\rangle", "‖": "\\|", "|": "|", "⌊": "\\lfloor",
            "⌋": "\\rfloor", "⌈": "\\lceil", "⌉": "\\rceil"}.get(char, char)


def _table(node) -> str:
    """A matrix; a one-cell table (how renderers lay out a numbered equation) is just its content,
    followed by the equation's label."""
    rows, labels = [], []
    for row in element_children(node):
        if row.tag not in ("mtr", "mlabeledtr"):
            continue
        cells = element_children(row)
        if row.tag == "mlabeledtr" and cells:
            labels.append(_children(cells[0]))
            cells = cells[1:]
        rows.append([_children(cell) if cell.tag == "mtd" else _convert(cell) for cell in cells])
    if len(rows) == 1 and len(rows[0]) == 1:
        return join_tex([rows[0][0]] + [f"\\quad {label}" for label in labels if label])
    # right/left column pairs are how renderers lay out aligned equations
    environment = "aligned" if (node.getattr("columnalign") or "").startswith("right left") else "matrix"
    body = " \\\\ ".join(" & ".join(row) for row in rows)
    return f"\\begin{{{environment}}}{body}\\end{{{environment}}}"


def _convert(node) -> str:
    tag = node.tag
    if tag in _SKIPPED:
        return ""
    if tag == "mi":
        return _identifier(node)
    if tag == "mn":
        return _token_text(node)
    if tag == "mo":
        return _operator(node)
    if tag == "mtext":
        return _text(node)
    if tag == "ms":
        return f"\\text{{\"{_token_text(node)}\"}}"
    if tag == "mspace":
        return ""
    if tag == "semantics":
        first = element_children(node)
        return _convert(first[0]) if first else ""
    kids = element_children(node)
    if tag == "mfrac" and len(kids) == 2:
        if (node.getattr("linethickness") or "").strip() in ("0", "0px", "0em"):
            return f"\\genfrac{{}}{{}}{{0pt}}{{}}{_group(kids[0])}{_group(kids[1])}"
        return f"\\frac{_group(kids[0])}{_group(kids[1])}"
    if tag == "msqrt":
        return f"\\sqrt{{{_children(node)}}}"
    if tag == "mroot" and len(kids) == 2:
        return f"\\sqrt[{_convert(kids[1])}]{_group(kids[0])}"
    if tag in ("msup", "msub", "msubsup") and len(kids) >= 2:
        base = _convert(kids[0])
        base = base if len(kids[0].text.strip()) <= 1 and not base.startswith("\\left") else "{" + base + "}"
        if tag == "msup":
            return f"{base}^{_group(kids[1])}"
        if tag == "msub":
            return f"{base}_{_group(kids[1])}"
        if len(kids) == 3:
            return f"{base}_{_group(kids[1])}^{_group(kids[2])}"
    if tag in ("mover", "munder", "munderover") and len(kids) >= 2:
        base = _convert(kids[0])
        if tag == "mover":
            return _accent(base, kids[1], _OVER_ACCENTS) or _limits(kids[0], base, None, kids[1])
        if tag == "munder":
            return _accent(base, kids[1], _UNDER_ACCENTS) or _limits(kids[0], base, kids[1], None)
        if len(kids) == 3:
            return _limits(kids[0], base, kids[1], kids[2])
    if tag == "mtable":
        return _table(node)
    if tag == "mfenced":
        return _fenced(node)
    if tag == "menclose":
        notation = node.getattr("notation") or "longdiv"
        inner = _children(node)
        if "box" in notation or all(side in notation for side in ("top", "bottom", "left", "right")):
            return f"\\boxed{{{inner}}}"
        if notation.strip() == "top":
            return f"\\overline{{{inner}}}"
        if notation.strip() == "bottom":
            return f"\\underline{{{inner}}}"
        if "updiagonalstrike" in notation or "horizontalstrike" in notation:
            return f"\\cancel{{{inner}}}"
        return inner
    if tag in ("maction", "msubsup", "mmultiscripts") and kids:
        return _convert(kids[0])
    if tag == "mrow" and "border" in (node.getattr("style") or ""):
        return f"\\boxed{{{_children(node)}}}"
    return _children(node)


def _limits(base_node, base: str, under, over) -> str:
    """Limits of big operators as scripts; anything else as ``\\underset``/``\\overset``."""
    is_operator = base_node.tag == "mo" or base.startswith(("\\lim", "\\max", "\\min", "\\sup", "\\inf"))
    under_tex = _convert(under) if under is not None else None
    over_tex = _convert(over) if over is not None else None
    if is_operator:
        return base + (f"_{{{under_tex}}}" if under_tex is not None else "") + (
            f"^{{{over_tex}}}" if over_tex is not None else "")
    if under_tex is not None:
        base = f"\\underset{{{under_tex}}}{{{base}}}"
    if over_tex is not None:
        base = f"\\overset{{{over_tex}}}{{{base}}}"
    return base
