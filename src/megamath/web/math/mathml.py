"""MathML → LaTeX: the TeX a page already carries (annotation, ``alttext``), else a conversion.

The conversion walks the parsed DOM directly (no re-serialization, about 50 µs a formula) and covers
presentation MathML as renderers emit it (Temml, KaTeX, MathJax, Wikipedia, Word's ``mml:`` prefix):
tokens with ``mathvariant`` and Unicode math alphanumerics (``\\mathbf``, ``\\mathbb``…, never the
styled code points), combining accents, fractions (``\\dfrac``, ``\\binom``), roots, scripts (primes
as ``'``, pre-scripts), under/over with accents and limits, ``\\left…\\right`` fences, tables as the
environment their fences make (``pmatrix``, ``cases``, ``aligned``…) with ``\\tag``, ``menclose``
notations, ``\\pmod``/``\\bmod``, explicit spaces, and the phantom elements that carry no content.
The aim is TeX that means what the page meant, so a formula's structure survives: ``(x+1)^2`` rather
than ``{(x+1)}^{2}``, ``\\left(…\\right)`` only where the page stretched its fences.
"""

from __future__ import annotations

import re
import unicodedata

from megamath.web.math.dom import element_children
from megamath.web.math.symbols import FUNCTIONS, SYMBOLS
from megamath.web.math.tex import without_comments

TEX_ENCODINGS = frozenset({"application/x-tex", "application/x-latex", "text/x-tex", "tex", "latex"})
_DISPLAYSTYLE_WRAPPER = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.DOTALL)
_ENDS_WITH_COMMAND = re.compile(r"\\[A-Za-z]+$")
_VARIANT_COMMANDS = {"bold": "\\mathbf", "double-struck": "\\mathbb", "script": "\\mathcal", "fraktur": "\\mathfrak",
                     "bold-fraktur": "\\mathfrak", "bold-script": "\\mathcal", "sans-serif": "\\mathsf",
                     "bold-sans-serif": "\\mathsf", "monospace": "\\mathtt", "bold-italic": "\\boldsymbol",
                     "normal": "\\mathrm"}
_TEXT_VARIANT_COMMANDS = {"bold": "\\textbf", "italic": "\\textit", "bold-italic": "\\textbf", "monospace": "\\texttt",
                          "sans-serif": "\\textsf", "bold-sans-serif": "\\textsf", "double-struck": "\\mathbb",
                          "script": "\\mathcal", "bold-script": "\\mathcal", "fraktur": "\\mathfrak",
                          "bold-fraktur": "\\mathfrak"}
# Unicode names of the Mathematical Alphanumeric Symbols → mathvariant
_ALPHANUMERIC_STYLES = (("DOUBLE-STRUCK", "double-struck"), ("BOLD SCRIPT", "bold-script"), ("SCRIPT", "script"),
                        ("BOLD FRAKTUR", "bold-fraktur"), ("FRAKTUR", "fraktur"),
                        ("SANS-SERIF BOLD", "bold-sans-serif"), ("SANS-SERIF", "sans-serif"),
                        ("MONOSPACE", "monospace"), ("BOLD ITALIC", "bold-italic"), ("BOLD", "bold"),
                        ("ITALIC", "italic"))
_OVER_ACCENTS = {"―": "\\overline", "—": "\\overline", "¯": "\\overline", "‾": "\\overline", "\u0305": "\\overline",
                 "\u0304": "\\bar", "_": "\\overline", "→": "\\overrightarrow", "\u20d7": "\\vec",
                 "˙": "\\dot", "\u0307": "\\dot", "¨": "\\ddot", "\u0308": "\\ddot", "⃛": "\\dddot",
                 "⏞": "\\overbrace", "←": "\\overleftarrow", "↔": "\\overleftrightarrow", "ˇ": "\\check",
                 "\u030c": "\\check", "˘": "\\breve", "\u0306": "\\breve", "´": "\\acute", "\u0301": "\\acute",
                 "`": "\\grave", "\u0300": "\\grave", "˚": "\\mathring", "\u030a": "\\mathring", "ˉ": "\\bar",
                 "ˊ": "\\acute", "ˋ": "\\grave"}
_WIDE_ACCENTS = {"^": ("\\hat", "\\widehat"), "ˆ": ("\\hat", "\\widehat"), "\u0302": ("\\hat", "\\widehat"),
                 "~": ("\\tilde", "\\widetilde"), "˜": ("\\tilde", "\\widetilde"), "\u0303": ("\\tilde", "\\widetilde")}
_UNDER_ACCENTS = {"_": "\\underline", "¯": "\\underline", "‾": "\\underline", "―": "\\underline", "—": "\\underline",
                  "\u0332": "\\underline", "⏟": "\\underbrace", "→": "\\underrightarrow", "←": "\\underleftarrow"}
# combining marks inside a token (x̄, ẍ) → the accent command over the preceding character
_COMBINING = {"\u0300": "\\grave", "\u0301": "\\acute", "\u0302": "\\hat", "\u0303": "\\tilde", "\u0304": "\\bar",
              "\u0305": "\\overline", "\u0306": "\\breve", "\u0307": "\\dot", "\u0308": "\\ddot", "\u030a": "\\mathring",
              "\u030c": "\\check", "\u20d7": "\\vec", "\u20db": "\\dddot"}
_PRIMES = {"′": "'", "″": "''", "‴": "'''", "'": "'", "''": "''"}
_FENCES = {"(": ")", "[": "]", "{": "}", "|": "|", "∣": "∣", "‖": "‖", "∥": "∥", "⟨": "⟩", "⌊": "⌋", "⌈": "⌉",
           "〈": "〉"}
# operators whose under/over scripts are limits (\sum_{k}^{n}); any other base takes \underset/\overset
_BIG_OPERATORS = frozenset("∑∏∐∫∬∭∮⋃⋂⨁⨂⨀⋁⋀⨄")
_LIMIT_FUNCTIONS = ("\\lim", "\\max", "\\min", "\\sup", "\\inf", "\\det", "\\gcd", "\\Pr", "\\arg")
_MATRIX_FENCES = {("(", ")"): "pmatrix", ("[", "]"): "bmatrix", ("{", "}"): "Bmatrix", ("|", "|"): "vmatrix",
                  ("∣", "∣"): "vmatrix",
                  ("‖", "‖"): "Vmatrix", ("∥", "∥"): "Vmatrix"}
# (smallest width in em, command), widest first; a space too small to name is dropped, a negative one is \!
_SPACES = ((1.9, "\\qquad"), (0.9, "\\quad"), (0.45, "\\enspace"), (0.3, "\\ "), (0.25, "\\;"), (0.2, "\\:"),
           (0.12, "\\,"), (-0.05, ""), (float("-inf"), "\\!"))
_NAMED_SPACES = {"veryverythinmathspace": 1 / 18, "verythinmathspace": 2 / 18, "thinmathspace": 3 / 18,
                 "mediummathspace": 4 / 18, "thickmathspace": 5 / 18, "verythickmathspace": 6 / 18,
                 "veryverythickmathspace": 7 / 18, "negativethinmathspace": -3 / 18}
_EM = re.compile(r"^\s*(-?[\d.]+)\s*(em|ex|px|pt|mu)?\s*$")
_SKIPPED = frozenset({"annotation", "annotation-xml", "mphantom", "none", "mprescripts", "maligngroup",
                      "malignmark", "script", "style", "merror"})
_NOTATION_COMMANDS = (("radical", "\\sqrt"), ("roundedbox", "\\boxed"), ("box", "\\boxed"), ("circle", "\\boxed"),
                      ("horizontalstrike", "\\sout"), ("top", "\\overline"), ("bottom", "\\underline"))


def clean_tex(tex: str) -> str:
    """Trim a formula, drop its % comments (before its lines are joined) and unwrap Wikipedia's
    ``{\\displaystyle ...}``."""
    tex = " ".join(without_comments(tex).split())
    match = _DISPLAYSTYLE_WRAPPER.match(tex)
    tex = match.group(1).strip() if match else tex
    return _without_sphinx_split(tex) if tex.startswith("\\begin{split}") else tex


_SPLIT = re.compile(r"^\\begin\{split\}(.*)\\end\{split\}$", re.DOTALL)
_ENVIRONMENT_EDGE = re.compile(r"\\(begin|end)\{[^{}]*\}|(?<!\\)&")


def _without_sphinx_split(tex: str) -> str:
    """Sphinx wraps every display of several lines in a ``split`` environment of its own: the author's
    TeX is what it wraps, unless that aligns with ``&`` outside any environment of its own."""
    match = _SPLIT.match(tex)
    if match is None:
        return tex
    depth = 0
    for edge in _ENVIRONMENT_EDGE.finditer(match.group(1)):
        if edge.group(1):
            depth += 1 if edge.group(1) == "begin" else -1
        elif depth == 0:
            return tex
    return match.group(1).strip()


def name_of(node) -> str:
    """The element's local name: ``mml:mi`` and ``m:mi`` (Word, Office, some CMSs) are ``mi``."""
    return node.tag.rsplit(":", 1)[-1].lower()


def _annotations(math_node):
    """The ``<annotation>`` elements of a formula: children of its ``<semantics>``, which sits at
    the top, perhaps inside a row or style (a bounded walk: a hostile page may nest thousands deep)."""
    level = [math_node]
    for _ in range(3):
        level = [child for node in level for child in element_children(node)
                 if name_of(child) in ("semantics", "mrow", "mstyle", "annotation")]
        yield from (node for node in level if name_of(node) == "annotation")


def embedded_tex(math_node) -> str | None:
    """TeX carried by a ``<math>`` element: a TeX annotation, else its ``alttext``."""
    for annotation in _annotations(math_node):
        if (annotation.getattr("encoding") or "").strip().lower() in TEX_ENCODINGS:
            tex = clean_tex(annotation.text)
            if tex:
                return tex
    alttext = math_node.getattr("alttext")
    return clean_tex(alttext) if alttext and alttext.strip() else None


def mathml_to_tex(math_node) -> str | None:
    """LaTeX for a ``<math>`` element's presentation markup, or None when nothing is left (or the
    markup nests deeper than Python's recursion limit)."""
    try:
        tex = clean_tex(_row(element_children(math_node)))
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
    return _row(element_children(node))


def _group(node) -> str:
    return "{" + _convert(node) + "}"


def _style_of(char: str) -> tuple[str, str] | None:
    """(mathvariant, plain character) of a Mathematical Alphanumeric Symbol."""
    if not "\U0001d400" <= char <= "\U0001d7ff":
        return None
    name = unicodedata.name(char, "")
    plain = unicodedata.normalize("NFKC", char)
    for marker, variant in _ALPHANUMERIC_STYLES:
        if marker in name:
            return variant, plain
    return "", plain


def tex_for_char(char: str) -> str:
    mapped = SYMBOLS.get(char)
    if mapped is not None:
        return mapped
    styled = _style_of(char)
    if styled is not None:
        variant, plain = styled
        command = _VARIANT_COMMANDS.get(variant)
        return f"{command}{{{plain}}}" if command else plain
    return char


# a relation struck through by U+0338 (how some pages write ≠, ∉) → its negated command
_NEGATED = {"=": "\\neq", "∈": "\\notin", "≤": "\\nleq", "≥": "\\ngeq", "<": "\\nless", ">": "\\ngtr",
            "⊂": "\\not\\subset", "⊆": "\\nsubseteq", "≡": "\\not\\equiv", "∼": "\\nsim", "∣": "\\nmid",
            "∥": "\\nparallel", "≅": "\\ncong"}


def tex_for_text(text: str) -> str:
    """Characters of a token, with combining marks as accents (``x̄`` → ``\\bar{x}``, ``ẍ`` →
    ``\\ddot{x}``) and a struck-through relation as its negation (``=`` + U+0338 → ``\\neq``).
    Precomposed symbols (≠, ≤) are read whole."""
    if text.isascii():
        return join_tex(tex_for_char(c) for c in text)
    out: list[str] = []
    previous = ""
    for char in text:
        if char == "\u0338" and previous:
            out[-1] = _NEGATED.get(previous, f"\\not{previous}")
        elif char in _COMBINING and out:
            out[-1] = f"{_COMBINING[char]}{{{out[-1]}}}"
        elif unicodedata.combining(char) and out:
            pass  # a mark KaTeX has no command for: the letter stays
        elif char not in SYMBOLS and char.isalpha() and len(decomposed := unicodedata.normalize("NFD", char)) > 1:
            out.append(tex_for_text(decomposed))  # a precomposed accented letter: its base and marks
        else:
            out.append(tex_for_char(char))
        previous = char
    return join_tex(out)


def _token_text(node) -> str:
    return " ".join(node.text.split())


def _identifier(node) -> str:
    if node.first_element_child is not None:
        return _children(node)  # KaTeX wraps \underset and its like in an <mi>
    text = _token_text(node)
    if not text:
        return ""
    if text == "mod":
        return "\\operatorname{mod}"
    if text in ("∣", "|"):
        return "|"  # KaTeX writes |x| as ordinary identifiers
    if text in ("∥", "‖"):
        return "\\|"
    if len(text) > 1 and text in FUNCTIONS:
        return "\\" + text
    converted = tex_for_text(text)
    variant = node.getattr("mathvariant")
    command = _VARIANT_COMMANDS.get(variant or "")
    if command == "\\mathrm" and len(text) == 1 and not text.isalpha():
        command = None
    if command:
        return f"{command}{{{converted}}}"
    if len(text) > 1 and text.isalpha() and text.isascii():
        return f"\\mathrm{{{text}}}"
    return converted


def _is_fence(node) -> bool:
    return node.getattr("fence") == "true" or (node.getattr("form") or "") in ("prefix", "postfix")


_SIZES = ((2.9, "\\Bigg"), (2.3, "\\bigg"), (1.7, "\\Big"), (1.1, "\\big"))


def _operator(node) -> str:
    text = _token_text(node)
    if text.replace(" ", "") == "mod":
        return "\\bmod"
    if node.first_element_child is not None:
        return _children(node)  # KaTeX wraps \overset and its like in an <mo>
    size = _spacing(node.getattr("minsize"))
    if size and node.getattr("fence") == "false":
        command = next((name for threshold, name in _SIZES if size >= threshold), "\\big")
        side = "l" if text in _FENCES else "r" if text in _FENCES.values() and text not in ("|", "∣", "‖", "∥") else ""
        return f"{command}{side}{_fence(text)}"
    if text in ("∥", "‖"):
        return "\\parallel"
    if len(text) > 1 and text in FUNCTIONS:
        return "\\" + text
    if text in ("|", "∣"):
        form = node.getattr("form") or ""
        if form == "prefix":
            return "\\lvert"
        if form == "postfix":
            return "\\rvert"
        if text == "∣" or _spacing(node.getattr("lspace")) > 0.15:
            return "\\mid"  # spaced like a relation: divides, such that
        return "|"
    return tex_for_text(text)


def _text(node) -> str:
    raw = node.text
    if not raw.strip():
        return "\\ " if raw else ""
    text = re.sub(r"\s+", " ", raw)
    variants = {styled[0] for styled in map(_style_of, text) if styled is not None}
    variant = node.getattr("mathvariant") or (variants.pop() if len(variants) == 1 else "")
    text = "".join((_style_of(c) or (None, c))[1] for c in text)
    escaped = re.sub(r"[\\{}$%&#_^~]", lambda m: _TEXT_ESCAPES[m.group(0)], text)
    command = _TEXT_VARIANT_COMMANDS.get(variant, "\\text")
    if command == "\\text" and not any(c.isalpha() for c in escaped):
        return escaped.strip()  # punctuation and numbers read the same in math mode
    if command.startswith("\\math"):
        escaped = escaped.strip()
    inner = f"\\textit{{{escaped}}}" if variant == "bold-italic" else escaped
    return f"{command}{{{inner}}}"


_TEXT_ESCAPES = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "%": "\\%", "&": "\\&", "#": "\\#",
                 "_": "\\_", "^": "\\^{}", "~": "\\~{}"}


def _spacing(width: str | None) -> float:
    """A MathML length in em (0 when it cannot be read)."""
    if not width:
        return 0.0
    width = width.strip().lower()
    if width in _NAMED_SPACES:
        return _NAMED_SPACES[width]
    match = _EM.match(width)
    if not match:
        return 0.0
    value, unit = float(match.group(1)), match.group(2) or "em"
    return {"em": value, "ex": value * 0.43, "px": value / 16, "pt": value / 10, "mu": value / 18}[unit]


def _space(node) -> str:
    width = _spacing(node.getattr("width"))
    for threshold, command in _SPACES:
        if width >= threshold:
            return command
    return ""


def _accent(base: str, mark_node, accents: dict, base_node) -> str | None:
    mark = _token_text(mark_node) if name_of(mark_node) in ("mo", "mi", "mtext") else ""
    if mark in _WIDE_ACCENTS:
        narrow, wide = _WIDE_ACCENTS[mark]
        stretchy = mark_node.getattr("stretchy") != "false" and len(_token_text(base_node)) != 1
        return f"{wide if stretchy else narrow}{{{base}}}"
    command = accents.get(mark)
    if mark == "→" and mark_node.getattr("stretchy") == "false":
        command = "\\vec"  # Temml and MathJax write \vec as a non-stretchy arrow
    return f"{command}{{{base}}}" if command else None


def _fence(char: str) -> str:
    if not char:
        return "."
    if char in ("|", "∣"):
        return "|"
    return {"{": "\\{", "}": "\\}", "⟨": "\\langle", "⟩": "\\rangle", "〈": "\\langle", "〉": "\\rangle",
            "‖": "\\|", "∥": "\\|", "⌊": "\\lfloor", "⌋": "\\rfloor", "⌈": "\\lceil", "⌉": "\\rceil"}.get(char, char)


def _fenced(node) -> str:
    open_, close = node.getattr("open"), node.getattr("close")
    open_ = "(" if open_ is None else open_.strip()
    close = ")" if close is None else close.strip()
    kids = element_children(node)
    if len(kids) == 1 and name_of(kids[0]) == "mtable":
        environment = _MATRIX_FENCES.get((open_, close))
        if environment:
            return _table(kids[0], environment)
        if open_ == "{" and not close:
            return _table(kids[0], "cases")
    separators = (node.getattr("separators") or ",").strip() or ","
    parts = []
    for i, child in enumerate(kids):
        if i:
            parts.append(separators[min(i - 1, len(separators) - 1)])
        parts.append(_convert(child))
    return f"\\left{_fence(open_)}{join_tex(parts)}\\right{_fence(close)}"


def _table(node, environment: str | None = None) -> str:
    """A table as the environment its fences or alignment make; a one-cell table (how renderers lay
    out a numbered equation) is just its content, followed by the equation's ``\\tag``. Rows numbered
    one by one are an ``align`` (or ``gather``) with a ``\\tag`` in each row."""
    rows, labels, aligns = [], [], set()
    padded = "width:100%" in (node.getattr("style") or "").replace(" ", "")
    for kind, cells in _table_rows(node):
        label = ""
        if kind == "mlabeledtr" and cells:
            label, cells = _row(cells[0][1]).strip(), cells[1:]
        elif padded and len(cells) >= 3 and not cells[0][1]:
            # Temml: a numbered display between two cells of half the width each, its number in the last
            label, cells = _row(cells[-1][1]).strip(), cells[1:-1]
        aligns.update(cls for mtd, _ in cells if mtd is not None for cls in (mtd.class_name or "").split())
        rows.append([_row(content) for _, content in cells])
        labels.append(label)
    tags = "".join(f" {tag_command(label)}" for label in labels if label)
    if environment is None and len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0] + tags
    aligned = ((node.getattr("columnalign") or "").split()[:2] == ["right", "left"]
               or {"tml-right", "tml-left"} <= aligns)
    if environment is None and sum(map(bool, labels)) > 1:
        environment = "align" if aligned else "gather"
        return f"\\begin{{{environment}}}" + " \\\\ ".join(
            " & ".join(row) + (f" {tag_command(label)}" if label else "") for row, label in zip(rows, labels)
        ) + f"\\end{{{environment}}}"
    if environment is None:  # right/left column pairs are how renderers lay out aligned equations
        environment = "aligned" if aligned else "gathered" if padded and max(map(len, rows)) == 1 else "matrix"
    body = " \\\\ ".join(" & ".join(row) for row in rows)
    return f"\\begin{{{environment}}}{body}\\end{{{environment}}}{tags}"


_ROWS = ("mtr", "mlabeledtr")
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textrm|mathrm|mbox)\{(.*)\}$", re.DOTALL)


def tag_command(label: str) -> str:
    """``\\tag{1}`` for an equation's label as a renderer sets it: ``(1)``, ``\\text{(1)}``."""
    label = label.strip()
    if (wrapped := _TEXT_WRAPPER.match(label)) is not None:
        label = wrapped.group(1).strip()
    return f"\\tag{{{label[1:-1] if label[:1] == '(' and label[-1:] == ')' else label}}}"


def _table_rows(table) -> list[tuple[str, list[tuple]]]:
    """(row kind, (the ``<mtd>``, its element content) per cell) per row. Pages that leave ``<mtd>`` or
    ``<mtr>`` open make the parser nest the next cell or row inside the open one: those are taken out as
    the siblings they were meant to be, so ``x & y`` does not become ``xy``."""
    rows: list[tuple[str, list[tuple]]] = []
    for child in element_children(table):
        if name_of(child) in _ROWS:
            _add_row(child, rows)
    return rows


# _add_row and _add_cell are module functions, not closures over ``rows``: two closures that call each
# other form a reference cycle, which kept the parser's nodes alive until a garbage collection ran on
# whichever thread (s3fs's I/O thread, say), where resiliparse refuses to free them.
def _add_row(node, rows: list[tuple[str, list[tuple]]]) -> None:
    cells: list[tuple] = []
    rows.append((name_of(node), cells))
    for child in element_children(node):
        kind = name_of(child)
        if kind in _ROWS:
            _add_row(child, rows)
        elif kind == "mtd":
            _add_cell(child, cells, rows)
        else:  # content outside any cell is a cell of its own
            cells.append((None, [child]))


def _add_cell(node, cells: list[tuple], rows: list[tuple[str, list[tuple]]]) -> None:
    content: list = []
    cells.append((node, content))
    for child in element_children(node):
        kind = name_of(child)
        if kind == "mtd":
            _add_cell(child, cells, rows)
        elif kind in _ROWS:
            _add_row(child, rows)
        else:
            content.append(child)


def _script_base(node) -> str:
    """The base of a script, in braces only where TeX needs them (after another script, or a row
    that is not one fenced group): ``x^{2}``, ``\\cos^{2}``, ``17^{2}``, ``(x+1)^{2}``."""
    kind = name_of(node)
    tex = _convert(node)
    if kind in ("mi", "mn", "mo", "mtext", "msqrt", "mroot", "mfrac", "mover", "munder", "munderover", "mfenced",
                "mtable", "menclose"):
        return tex
    kids = element_children(node)
    if kind in ("mrow", "mstyle", "mpadded") and len(kids) == 1:
        return _script_base(kids[0])
    if kind == "mrow" and len(kids) >= 2 and _is_fence_pair(kids[0], kids[-1]):
        return tex
    return "{" + tex + "}" if tex else "{}"


def _is_fence_pair(first, last) -> bool:
    return (name_of(first) == "mo" and name_of(last) == "mo"
            and _FENCES.get(_token_text(first)) == _token_text(last) and _token_text(first) != "")


def _scripts(node, kids) -> str:
    kind = name_of(node)
    sup = kids[1] if kind == "msup" else kids[2] if kind == "msubsup" and len(kids) == 3 else None
    sub = kids[1] if kind in ("msub", "msubsup") else None
    base = _script_base(kids[0])
    if base.endswith("'") and base[:1] != "{":
        base = "{" + base + "}"
    out = base
    if sub is not None:
        out += f"_{_group(sub)}"
    if sup is not None:
        marks = _token_text(sup).replace(" ", "")
        primes = "".join(_PRIMES.get(mark, "") for mark in marks) if marks and all(m in _PRIMES for m in marks) else ""
        out += primes if primes else f"^{_group(sup)}"
    return out


def _multiscripts(kids) -> str:
    """``<mmultiscripts>`` base (sub sup)* ``<mprescripts/>`` (sub sup)* → ``{}_{a}^{b}X_{c}^{d}``."""
    if not kids:
        return ""
    post, pre = [], []
    target = post
    for child in kids[1:]:
        if name_of(child) == "mprescripts":
            target = pre
            continue
        target.append("" if name_of(child) == "none" else _convert(child))

    def attach(scripts: list[str]) -> str:
        out = ""
        for i in range(0, len(scripts), 2):
            sub, sup = scripts[i], scripts[i + 1] if i + 1 < len(scripts) else ""
            out += (f"_{{{sub}}}" if sub else "") + (f"^{{{sup}}}" if sup else "")
        return out

    prefix = ("{}" + attach(pre)) if any(pre) else ""
    return prefix + _script_base(kids[0]) + attach(post)


def _enclosed(node) -> str:
    notation = " ".join((node.getattr("notation") or "longdiv").split())
    inner = _children(node)
    if "updiagonalstrike" in notation and "downdiagonalstrike" in notation:
        return f"\\xcancel{{{inner}}}"
    if "updiagonalstrike" in notation:
        return f"\\cancel{{{inner}}}"
    if "downdiagonalstrike" in notation:
        return f"\\bcancel{{{inner}}}"
    if all(side in notation for side in ("top", "bottom", "left", "right")):
        return f"\\boxed{{{inner}}}"
    for marker, command in _NOTATION_COMMANDS:
        if marker in notation.split():
            return f"{command}{{{inner}}}"
    if notation == "longdiv":
        return f")\\overline{{{inner}}}"
    if notation == "actuarial":
        return f"\\overline{{{inner}\\,|}}"
    if "left" in notation.split() or "right" in notation.split():
        return ("|" if "left" in notation else "") + inner + ("|" if "right" in notation else "")
    return inner  # madruwb, phasorangle...: the content, without the ink


def _convert(node) -> str:
    kind = name_of(node)
    while (kind == "mrow" and not node.getattr("style") and node.first_element_child is not None
           and node.first_element_child.next_element_sibling is None):
        node = node.first_element_child  # a plain row of one: a loop, so that generated towers do not recurse
        kind = name_of(node)
    if kind in _SKIPPED:
        return ""
    if kind == "mi":
        return _identifier(node)
    if kind == "mn":
        return tex_for_text(_token_text(node))
    if kind == "mo":
        return _operator(node)
    if kind == "mtext":
        return _text(node)
    if kind == "ms":
        return f"\\text{{\"{_token_text(node)}\"}}"
    if kind == "mspace":
        return _space(node)
    if kind == "semantics":
        first = element_children(node)
        return _convert(first[0]) if first else ""
    kids = element_children(node)
    if kind == "mfrac" and len(kids) == 2:
        if (node.getattr("linethickness") or "").strip() in ("0", "0px", "0em", "0pt"):
            return f"\\genfrac{{}}{{}}{{0pt}}{{}}{_group(kids[0])}{_group(kids[1])}"
        return f"\\frac{_group(kids[0])}{_group(kids[1])}"
    if kind == "mstyle" and len(kids) == 1 and name_of(kids[0]) == "mfrac" and node.getattr("displaystyle"):
        inner = _convert(kids[0])
        if inner.startswith("\\frac"):
            return ("\\dfrac" if node.getattr("displaystyle") == "true" else "\\tfrac") + inner[len("\\frac"):]
        return inner
    if kind == "msqrt":
        return f"\\sqrt{{{_children(node)}}}"
    if kind == "mroot" and len(kids) == 2:
        index = _convert(kids[1])
        index = "{" + index + "}" if "[" in index or "]" in index else index  # \sqrt[{\sqrt[3]{x}}]{y}
        return f"\\sqrt[{index}]{_group(kids[0])}"
    if kind in ("msup", "msub", "msubsup") and len(kids) >= 2:
        return _scripts(node, kids)
    if kind == "mmultiscripts":
        return _multiscripts(kids)
    if kind in ("mover", "munder", "munderover") and len(kids) >= 2:
        base = _convert(kids[0])
        if kind == "mover":
            return _accent(base, kids[1], _OVER_ACCENTS, kids[0]) or _limits(kids[0], base, None, kids[1])
        if kind == "munder":
            return _accent(base, kids[1], _UNDER_ACCENTS, kids[0]) or _limits(kids[0], base, kids[1], None)
        if len(kids) == 3:
            return _limits(kids[0], base, kids[1], kids[2])
    if kind == "mtable":
        return _table(node)
    if kind == "mfenced":
        return _fenced(node)
    if kind == "menclose":
        return _enclosed(node)
    if kind == "maction" and kids:
        selection = node.getattr("selection") or "1"
        chosen = int(selection) - 1 if selection.isdigit() and 0 < int(selection) <= len(kids) else 0
        return _convert(kids[chosen])
    if kind == "mrow" and "border" in (node.getattr("style") or ""):
        return f"\\boxed{{{_children(node)}}}"
    return _row(kids)


def _row(kids: list) -> str:
    """A row of siblings, reading the constructs that span several of them: stretched fences
    (``\\left…\\right``, matrices between them, ``\\binom``) and ``\\pmod``."""
    if len(kids) >= 2 and _is_fence_pair(kids[0], kids[-1]) and _stretched(kids[0]) and _stretched(kids[-1]):
        open_, close = _token_text(kids[0]), _token_text(kids[-1])
        inner = kids[1:-1]
        if len(inner) == 1 and name_of(inner[0]) == "mtable" and (open_, close) in _MATRIX_FENCES:
            return _table(inner[0], _MATRIX_FENCES[(open_, close)])
        if (len(inner) == 1 and name_of(inner[0]) == "mfrac" and (open_, close) == ("(", ")")
                and (inner[0].getattr("linethickness") or "").strip() in ("0", "0px", "0em", "0pt")):
            parts = element_children(inner[0])
            if len(parts) == 2:
                return f"\\binom{_group(parts[0])}{_group(parts[1])}"
        return join_tex([f"\\left{_fence(open_)}", _row(inner), f"\\right{_fence(close)}"])
    if (len(kids) >= 2 and name_of(kids[0]) == "mo" and _token_text(kids[0]) == "{" and _stretched(kids[0])
            and name_of(kids[1]) == "mtable" and all(name_of(k) == "mo" and not _token_text(k) for k in kids[2:])):
        return _table(kids[1], "cases")
    parts, i, bars = [], 0, 0
    while i < len(kids):
        found = _pmod_at(kids, i)
        if found is not None:
            end, argument = found
            parts.append(f"\\pmod{{{_row(argument)}}}")
            i = end
            continue
        child = kids[i]
        if name_of(child) == "mspace" and i and name_of(kids[i - 1]) == "mo" and _token_text(kids[i - 1]) in ("\u2061", ""):
            i += 1  # the space a renderer puts after a function name or an empty operator
            continue
        if name_of(child) == "mi" and i + 1 < len(kids) and _token_text(kids[i + 1]) == "\u2061":
            word = _token_text(child)
            if len(word) > 1 and word.isalpha() and word not in FUNCTIONS:
                parts.append(f"\\operatorname{{{word}}}")  # a word applied like a function
                i += 1
                continue
        if name_of(child) == "mo" and _token_text(child) == "∣" and child.getattr("stretchy") == "false" \
                and not child.getattr("form") and not child.getattr("lspace"):
            parts.append("\\lvert" if bars % 2 == 0 else "\\rvert")  # KaTeX's \lvert x \rvert (MathJax: a plain |)
            bars += 1
            i += 1
            continue
        parts.append(_convert(child))
        i += 1
    return join_tex(parts)


def _stretched(node) -> bool:
    """A fence the page stretched (``\\left(``), not a plain parenthesis (``stretchy="false"``)."""
    return node.getattr("stretchy") != "false" and (node.getattr("fence") == "true" or _is_fence(node)
                                                   or node.getattr("data-mjx-texclass") in ("OPEN", "CLOSE"))


def _pmod_at(kids: list, i: int) -> tuple[int, list] | None:
    """A ``\\pmod`` starting at ``kids[i]``, as Temml, KaTeX and MathJax lay it out: [space] ( mod
    [space] ARG ), flat or in a row of its own; (index after it, the argument's nodes) or None."""
    j = i + 1 if name_of(kids[i]) == "mspace" and i + 1 < len(kids) else i
    if name_of(kids[j]) == "mrow" and (argument := _pmod_argument(element_children(kids[j]))) is not None:
        return j + 1, argument
    if name_of(kids[j]) == "mo" and _token_text(kids[j]) == "(":
        for k in range(j + 2, len(kids)):
            if name_of(kids[k]) == "mo" and _token_text(kids[k]) == ")":
                argument = _pmod_argument(kids[j:k + 1])
                return (k + 1, argument) if argument is not None else None
    return None


def _pmod_argument(nodes: list) -> list | None:
    """The argument of ``( mod [space] ARG )``, or None when ``nodes`` is not that."""
    if (len(nodes) < 4 or _token_text(nodes[0]) != "(" or _token_text(nodes[-1]) != ")"
            or _token_text(nodes[1]).replace(" ", "") != "mod"):
        return None
    argument = nodes[2:-1]
    while argument and name_of(argument[0]) == "mspace":
        argument = argument[1:]
    return argument or None


def _limits(base_node, base: str, under, over) -> str:
    """Limits of big operators as scripts; anything else as ``\\underset``/``\\overset``."""
    is_operator = (_token_text(base_node) in _BIG_OPERATORS or base_node.getattr("movablelimits") == "true"
                   or base.startswith(_LIMIT_FUNCTIONS))
    under_tex = _convert(under) if under is not None else None
    over_tex = _convert(over) if over is not None else None
    if base.startswith(("\\overbrace", "\\underbrace")):
        is_operator = True  # the brace's label is its script
    if is_operator:
        return base + (f"_{{{under_tex}}}" if under_tex is not None else "") + (
            f"^{{{over_tex}}}" if over_tex is not None else "")
    if under_tex is not None:
        base = f"\\underset{{{under_tex}}}{{{base}}}"
    if over_tex is not None:
        base = f"\\overset{{{over_tex}}}{{{base}}}"
    return base
