"""TeX written in the page's text: delimiters, the page's MathJax/KaTeX configuration, prices.

After extraction, inline math is ``$...$`` and display math ``$$...$$`` on its own lines: ``\\(...\\)``
and ``\\[...\\]`` are rewritten to those forms, display environments (``\\begin{align}``...) are put
on lines of their own as they are (LaTeX does not allow them inside ``$$``), and
delimiters a page configured for MathJax (``tex2jax``/``tex`` ``inlineMath``/``displayMath``) are
honoured. A ``$`` counts as an inline delimiter only the way Pandoc reads it: the opening ``$`` is
followed by a non-space, the closing one follows a non-space and is not followed by a digit, so
"$5 and $10" stays prose.

Forums write math in BBCode, which stays in the page's text whether or not the page loads a
renderer: ``[tex]…[/tex]``, ``[itex]…[/itex]``, ``[math]…[/math]``, ``[latex]…[/latex]`` (any case,
optionally with attributes such as ``[latex size=2]``); a tag on a line of its own is display math.
WordPress's ``$latex …$`` is inline math too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from resiliparse.parse.html import NodeType

from megamath.web.math.dom import matching
from megamath.web.math.integrity import DISPLAY_ENVIRONMENTS, INNER_ENVIRONMENTS

_CONFIG_ARRAY = re.compile(r"(inlineMath|displayMath)\s*[:=]\s*(\[\s*\[.*?\]\s*\])", re.DOTALL)
_ENVIRONMENTS = "|".join(f"{name}\\*|{name}" for name in DISPLAY_ENVIRONMENTS + INNER_ENVIRONMENTS)
# One pass over the text; the leading lookahead lets every other position fail on one character test,
# and bounded bodies keep a stray opening delimiter from scanning the rest of a long page.
_MATH_SPAN = re.compile(
    r"(?=[$\\\[])(?:"
    r"(?<!\\)\$\$(?P<dd>(?:[^$\\]|\\.|\$[^$]+\$){1,20000}?)\$\$"  # $…$ inside: math in the display's \text
    r"|\\\[(?P<bd>.{1,20000}?)\\\]"
    r"|\\\((?P<pi>.{1,4000}?)\\\)"
    rf"|(?P<env>\\begin\{{(?P<name>{_ENVIRONMENTS})\}}.{{1,20000}}?\\end\{{(?P=name)\}})"
    r"|(?<![\\$\w])\$(?P<di>[^\s$](?:[^$\n]|\n(?!\n)){0,4000}?)(?<![\s\\])\$(?![\d$])"
    r"|\[(?P<bb>(?i:tex|itex|math|latex))(?:[ =][^\]\n]{0,60})?\](?P<bbody>.{1,20000}?)\[/(?i:(?P=bb))\]"
    r"|(?P<lone>(?<!\\)\$)"
    r")",
    re.DOTALL,
)
# A dollar sign of the prose (a price) in text that has formulas is written \$, as TeX writes it, so
# that no reader pairs it with a formula's delimiter; the placeholder holds its place until then.
_PROSE_DOLLAR = "\ufdd3"
# Placeholders that travel through text extraction (resiliparse's and trafilatura's: the object
# replacement character survives both, where noncharacters and private-use code points do not),
# each the sentinel and a letter. Pages' own U+FFFC, which stands for nothing without its object,
# is removed before parsing (:func:`without_sentinel`).
SENTINEL = "\ufffc"
# The delimiters of the formulas the markup rewrite wrote into the page (``FORMULA_MARK tex FORMULA_MARK``,
# display ``DISPLAY_MARK tex DISPLAY_MARK``): the text pass does not read them again, and writes them as
# $ / $$ (:func:`write_marked_formulas`).
FORMULA_MARK = SENTINEL + "m"
DISPLAY_MARK = SENTINEL + "M"


def without_sentinel(html: str) -> str:
    return html.replace(SENTINEL, "") if SENTINEL in html else html


_WORDPRESS_LATEX = "latex "  # $latex x^2$, WordPress.com's inline syntax


@dataclass(frozen=True)
class Delimiters:
    """Extra delimiter pairs configured by the page, mapped to ``$``/``$$`` after extraction."""

    inline: tuple[tuple[str, str], ...] = ()
    display: tuple[tuple[str, str], ...] = ()


def page_delimiters(html: str) -> Delimiters:
    """Custom delimiters from the page's MathJax configuration (the standard ones need no mapping)."""
    inline: list[tuple[str, str]] = []
    display: list[tuple[str, str]] = []
    standard = {("$", "$"), ("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]")}
    for kind, array in _CONFIG_ARRAY.findall(html):
        try:
            pairs = json.loads(array.replace("'", '"'))
        except ValueError:
            continue
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(d, str) and d for d in pair):
                if tuple(pair) not in standard:
                    (inline if kind == "inlineMath" else display).append((pair[0], pair[1]))
    return Delimiters(tuple(inline), tuple(display))


def _apply_custom(text: str, delimiters: Delimiters) -> str:
    for pairs, wrap in ((delimiters.display, "$$"), (delimiters.inline, "$")):
        for left, right in pairs:
            pattern = re.compile(re.escape(left) + r"(.+?)" + re.escape(right), re.DOTALL)
            text = pattern.sub(lambda m, w=wrap: f"{w}{m.group(1).strip()}{w}", text)
    return text


def normalize_tex(text: str, delimiters: Delimiters = Delimiters()) -> tuple[str, int, int]:
    """Rewrite TeX spans of extracted text to ``$...$`` / ``$$...$$``; returns the text, the number
    of formulas it wrote (BBCode included), and how many of them were BBCode. Formulas the markup
    rewrite wrote (between :data:`FORMULA_MARK`) are not counted again; they become ``$``-delimited."""
    if delimiters.inline or delimiters.display:
        text = _apply_custom(text, delimiters)
    count = bbcode = 0

    def rewrite(match: re.Match) -> str:
        nonlocal count, bbcode
        if match.group("lone") is not None:
            return _PROSE_DOLLAR
        dollars = match.group("di") if match.group("di") is not None else match.group("dd")
        wordpress = match.group("di") is not None and dollars.startswith(_WORDPRESS_LATEX)
        if wordpress:
            dollars = dollars[len(_WORDPRESS_LATEX):].strip()
        piece = match.string
        if dollars is not None and not_a_formula(dollars, piece[match.end():match.end() + 1]):
            return match.group(0).replace("$", _PROSE_DOLLAR)
        display = match.group("dd") is not None or match.group("bd") is not None
        if match.group("env") is not None:
            body, display = match.group("env"), True
        elif match.group("bbody") is not None:
            body = match.group("bbody")
            start, end = match.span()
            own_line = (start == 0 or piece[start - 1] == "\n") and (end == len(piece) or piece[end] == "\n")
            display = own_line and match.group("bb").lower() != "itex"
        else:
            body = dollars if dollars is not None else match.group("pi") or match.group("bd")
        body = seal_formula(body.strip())
        if not body:
            return match.group(0).replace("$", _PROSE_DOLLAR)
        count += 1
        bbcode += match.group("bbody") is not None
        if match.group("env") is not None and match.group("name").rstrip("*") in DISPLAY_ENVIRONMENTS:
            return f"\n{body}\n"  # a display environment is LaTeX as it stands (never inside $$)
        if display:
            return f"\n$${body}$$\n"
        return _inline(body, piece[match.start() - 1:match.start()], piece[match.end():match.end() + 1])

    # the formulas the markup rewrite marked are read already: the text pass reads what lies between them
    pieces = _MARKED_PIECE.split(text) if SENTINEL in text else [text]
    for prose in range(0, len(pieces), 2):
        pieces[prose] = _MATH_SPAN.sub(rewrite, pieces[prose])
    text = "".join(pieces)
    has_formulas = bool(count) or FORMULA_MARK in text or DISPLAY_MARK in text
    if _PROSE_DOLLAR in text:
        text = text.replace(_PROSE_DOLLAR, "\\$" if has_formulas else "$")
    if FORMULA_MARK in text or DISPLAY_MARK in text:
        text = write_marked_formulas(text)
    if has_formulas:
        text = re.sub(r"[ \t]*\n(\$\$.+?\$\$|\\begin\{.+?\\end\{[^}]*\})\n[ \t]*", r"\n\1\n", text, flags=re.DOTALL)
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text, count, bbcode


_MARKED_PIECE = re.compile(f"({DISPLAY_MARK}.*?{DISPLAY_MARK}|{FORMULA_MARK}.*?{FORMULA_MARK})", re.DOTALL)


def write_marked_formulas(text: str) -> str:
    """The formulas the markup rewrite marked, written ``$…$`` and ``$$…$$``; a display that shares its
    line with other text (a table's cell) is written inline, as no reader takes ``$$`` inside a line."""
    def write(match: re.Match) -> str:
        marked = match.group(1)
        tex = seal_formula(marked[len(FORMULA_MARK):-len(FORMULA_MARK)])
        if not tex:  # a page's renderer cut its TeX at an escaped dollar sign, leaving "\\" alone
            return ""
        start, end = match.span()
        if marked.startswith(DISPLAY_MARK) and _alone_on_its_line(text, start, end):
            return f"$${tex}$$"
        return _inline(tex, text[start - 1:start], text[end:end + 1])

    return _MARKED_PIECE.sub(write, text)


def _alone_on_its_line(text: str, start: int, end: int) -> bool:
    line_end = text.find("\n", end)
    after = text[end:] if line_end < 0 else text[end:line_end]
    return not text[text.rfind("\n", 0, start) + 1:start].strip() and not after.strip()


def _inline(tex: str, before: str, after: str) -> str:
    """``$tex$`` apart from its neighbours: a formula right after another (``$a$$b$`` reads as a display
    opening) or before a digit (which a closing ``$`` may not meet) gets a space between."""
    lead = " " if before == "$" else ""
    trail = " " if after and (after in ("$", SENTINEL) or after.isdigit()) else ""
    return f"{lead}${tex}${trail}"


# An unescaped % starts a TeX comment, to the end of the line.
_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*")
# A comment left in a formula whose line breaks extraction joined: "%" and a space were a comment that
# ended at the line's end (LaTeXML writes "a=b+%" and a line break to continue a line); "%" before more
# text is most likely a percent sign, escaped.
_JOINED_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%(\s|$)?")
# Math nested in a formula's text (\text{if $x>0$}): \(…\) inside, which no reader pairs with the formula's own $.
_NESTED_MATH = re.compile(r"(?<!\\)\$([^$]+?)(?<!\\)\$")
_LONE_DOLLAR = re.compile(r"(?<!\\)\$")
_TRAILING_BREAKS = " \t\n\r\f\v\\"


def without_comments(tex: str) -> str:
    """TeX with its % comments removed, read as TeX reads them (to the end of each line)."""
    return _COMMENT.sub(r"\1", tex) if "%" in tex else tex


def seal_formula(tex: str) -> str:
    """One formula's TeX as it may stand between delimiters (see :mod:`megamath.web.math.integrity`): no
    comment left to swallow the closing delimiter, math nested in its text as ``\\(…\\)``, a lone
    dollar sign escaped, no trailing backslash (a last ``\\\\`` breaks no line, and would escape the ``$``)."""
    if "%" in tex:
        tex = _JOINED_COMMENT.sub(lambda m: m.group(1) + ("\\%" if m.group(2) is None else " "), tex)
    if "$" in tex:
        tex = _NESTED_MATH.sub(lambda m: f"\\({m.group(1)}\\)", tex)
        tex = _LONE_DOLLAR.sub(r"\\$", tex)
    return tex.rstrip(_TRAILING_BREAKS).lstrip()


# What comes between two dollar signs that are not formula delimiters: amounts ("5 billion$ … 3
# billion$", "$1 billion$"), JSON ('"$12","b":"$'), code ("$AAPL/$", "$a; $"), template
# placeholders ("${a}${b}"), shell parameter expansions ("${APP_HOME:-$HOME}", "${#name}", "${f%.txt}"),
# price tiers ("$$ · Italian · $$").
_AMOUNT = re.compile(r"^\s*\d[\d,.]*\s*(?:(?i:thousand|million|billion|trillion|bn|mln)|[A-Z]{3})\b")
# a quote, a method call on a result ($(x).ready), an arrow function, a call or path left open
_CODE_LIKE = re.compile(r'"|\)\.[A-Za-z_]|=>|[/(]\s*$')
# TeX never has an identifier followed by ":-", "#" or "%" (a comment) right after a group's brace
_SHELL_EXPANSION = re.compile(r"^\{(?:#[A-Za-z_]\w*\}|[A-Za-z_]\w*(?::[-=+?]|#|%))")
_TEX_TABLE = re.compile(r"\\begin\{|\\\\")  # && is JavaScript's "and", or empty cells of a TeX array
_TEX_MARKS = re.compile(r"[\\^_{}]")
_OPERATORS = re.compile(r"[=+\-*/<>]")
_WORDS = re.compile(r"[^\W\d_]{3,}")


def not_a_formula(body: str, after: str) -> bool:
    """Whether a ``$…$`` or ``$$…$$`` span is prose, an amount, code or a template rather than math."""
    if after == "{" or _AMOUNT.match(body) or _CODE_LIKE.search(body) or _SHELL_EXPANSION.match(body):
        return True
    if "&&" in body and not _TEX_TABLE.search(body):
        return True
    if _TEX_MARKS.search(body):
        return False
    # letters only: "ABC" is a triangle, "$$ · Italian · Open until 23:00 … $$" is prose
    words = _WORDS.findall(body)
    if len(words) >= 3:
        return True
    return not _OPERATORS.search(body) and (len(words) == 2 or any(len(word) > 4 for word in words))


_BACKTICKS = re.compile(r"`([^`\n]{1,500})`")


def asciimath_in_backticks(text: str) -> tuple[str, int]:
    """On pages that load MathJax's AsciiMath input, `expr` is AsciiMath: rewrite it as ``$latex$``."""
    from megamath.web.math.asciimath import asciimath_to_latex

    count = 0

    def rewrite(match: re.Match) -> str:
        nonlocal count
        tex = asciimath_to_latex(match.group(1))
        if tex is None:
            return match.group(0)
        count += 1
        return f"{FORMULA_MARK}{tex}{FORMULA_MARK}"

    return _BACKTICKS.sub(rewrite, text), count


# Asymptote figures ([asy]…[/asy], as AoPS and MATH write them) are drawing code, not prose either.
_ASYMPTOTE = re.compile(r"\[asy\].{0,20000}?\[/asy\]", re.DOTALL)


def mask_formulas(text: str) -> str:
    """The text with its formulas (and Asymptote figures) replaced by spaces: what a language model
    of prose should read. Formulas follow the delimiter rules of :func:`normalize_tex`."""
    if might_contain_tex(text):
        text = _MATH_SPAN.sub(lambda m: m.group(0) if m.group("lone") is not None else " ", text)
    if "[asy]" in text:
        text = _ASYMPTOTE.sub(" ", text)
    return text


# Code is not math: MathJax and KaTeX skip <pre> and <code>, so "$HOME/$PATH" or "\\(" in a code
# block stays as written. Their delimiter characters are swapped for placeholders before extraction
# and swapped back after the text's TeX is read.
_CODE = "pre, code, kbd, samp"
_CODE_SWAP = {ord("$"): SENTINEL + "d", ord("\\"): SENTINEL + "b", ord("["): SENTINEL + "k"}
_CODE_RESTORE = re.compile(SENTINEL + "[dbk]")
_RESTORED = {SENTINEL + "d": "$", SENTINEL + "b": "\\", SENTINEL + "k": "["}


# Elements inside code that break its lines or lay it out (a highlighter's line per <div>).
_CODE_LAYOUT = "br, div, p, li, tr, table, ul, ol, dl, section, article, header, footer, blockquote, hr"


def _holds_tex_delimiters(text: str) -> bool:
    return "$" in text or "\\" in text or "[/" in text


def code_with_tex_delimiters(document) -> list:
    """The page's code elements whose text holds what the text pass would read as TeX."""
    return [code for code in matching(document, _CODE) if _holds_tex_delimiters(code.text)]


def protect_code(codes: list) -> None:
    """Hide the TeX delimiters of ``codes`` (:func:`code_with_tex_delimiters`) from :func:`normalize_tex`;
    :func:`restore_code` puts them back in the extracted text."""
    for code in codes:
        if code.query_selector(_CODE_LAYOUT) is None:
            # inline markup only (highlighting spans): the text as one node reads the same, and
            # costs one native call where walking a highlighted block costs 10 µs a node
            code.text = code.text.translate(_CODE_SWAP)
            continue
        node = code.first_child
        while node is not None and node != code:  # the element's descendants, in document order
            if node.type == NodeType.TEXT:
                value = node.value
                if _holds_tex_delimiters(value) or "[" in value:
                    node.value = value.translate(_CODE_SWAP)
            if node.first_child is not None:
                node = node.first_child
                continue
            while node != code and node.next_sibling is None:
                node = node.parent
            node = node.next_sibling if node != code else None


def restore_code(text: str, escape_dollars: bool) -> str:
    """The code's delimiters back in the text; in a text with formulas its dollar signs written ``\\$``,
    as every dollar sign there that is no delimiter is (a reader cannot tell code from prose in text)."""
    if escape_dollars:
        text = text.replace(SENTINEL + "d", "\\$")
    return _CODE_RESTORE.sub(lambda m: _RESTORED[m.group(0)], text)


def might_contain_tex(text: str) -> bool:
    # each test is a scan of the text: the backslash forms share one scan for the backslash
    return ("$" in text or "[/" in text or SENTINEL in text
            or ("\\" in text and ("\\(" in text or "\\[" in text or "\\begin{" in text)))
