"""The text normalization a math classifier sees, identical in training and in prediction (versioned).

What a page's numbers and symbols *are* decides whether it is math, so the things that look like
math to a bag of tokens but are not get tokens of their own, before anything else is folded:

- formulas the extractor delimited (``$…$``, ``$$…$$``; LaTeX sources' ``\\[…\\]`` and ``\\(…\\)``)
  are ``mathspan … mathend``; a dollar sign outside them (stage 1 writes a prose dollar ``\\$`` on
  pages with formulas) is never a formula;
- currency amounts (``$20``, ``€20``, ``20 USD``) → ``price``, a shop's ``$169.99`` → ``shopprice``, a
  dollar sign without an amount (price tiers ``$$``) → ``dollar``; percentages → ``percent``; dates
  (``2024-05-01``, ``05/01/2024``) → ``date``; clock times (``12:30``, ``5pm``) → ``clock``; counts of
  goods (``2 x JCM800``) → ``qty``; model numbers (``JCM800``, ``RTX4090``) → ``model``;
- a table row (a Markdown table line, or a line with a tab: extractors separate cells by tabs) starts
  with ``tablerow`` and its numbers are ``tnum``, not the ``0`` of a formula;
- code: a line that reads as code starts with ``codeline``; a dotted call (``torch.nn.Linear(``) is
  ``apicall``; a variable (``$HOME``, ``${dir}``) is ``codevar``; an identifier with underscores
  (``in_features``) is one word, not a subscript.

Then: NFKC (full-width and styled letters become plain ones), lower case, every other number → ``0``
(the value says nothing about the topic, its presence does), math symbols and TeX commands as tokens
of their own (``x^2`` → ``x ^ 0``), sentence punctuation dropped. A document is one line of tokens.

A model records the :data:`PREPROCESS_VERSION` it was trained with; scoring with another is refused.
"""

from __future__ import annotations

import re
import unicodedata

from megamath.web.math.tex import not_a_formula

PREPROCESS_VERSION = 4

def _bmp_letter() -> str:
    """``[^\\W\\d_]`` (a letter of any script) for text without characters beyond the Basic Multilingual
    Plane, as an explicit set the regex engine compiles to a bitmap: one table lookup a character instead
    of a Unicode category test (a quarter less time on pages with a few curly quotes)."""
    probe = re.compile(r"[^\W\d_]")
    ranges, start = [], None
    for code in range(0x80, 0x10001):
        letter = code < 0x10000 and probe.match(chr(code)) is not None
        if letter and start is None:
            start = code
        elif not letter and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{code - 1:04x}" if code - 1 > start else f"\\u{start:04x}")
            start = None
    return f"[a-zA-Z{''.join(ranges)}]"


def _compile(pattern: str) -> dict[str, re.Pattern]:
    """A token pattern whose ``{L}`` stands for letters (``{L1}`` for one letter), in the three forms
    that match the same tokens: for ASCII text (``[a-z]+`` under ``re.ASCII``, the fastest), for text
    within the Basic Multilingual Plane, and for any text (emoji and styled math letters lie beyond it)."""
    forms = {"ascii": ("[a-z]", re.ASCII), "bmp": (_BMP_LETTER, 0), "any": (r"[^\W\d_]", 0)}
    return {form: re.compile(pattern.replace("{L1}", letter).replace("{L}", letter + "+"), flags)
            for form, (letter, flags) in forms.items()}


def _form(text: str) -> str:
    """Which form of a token pattern (:func:`_compile`) reads ``text``."""
    if text.isascii():
        return "ascii"
    # a character beyond the plane takes two UTF-16 code units: a test without a scan in Python
    return "bmp" if len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text) else "any"


_BMP_LETTER = _bmp_letter()
# Inside formulas: TeX commands, words (any script, no digits), a number (digits with inner . or ,),
# one math symbol.
_MATH_TOKEN = _compile(r"\\[a-z]+|{L}|\d+(?:[.,]\d+)*|[^\w\s.,;:!?\"'()\[\]]")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
# In prose, also: amounts, dates, clock times and percentages (tokens that start with a digit or a
# currency sign, classified by _special), shell and PHP variables ($HOME, ${dir}), identifiers with
# underscores (one word, not a subscript), model numbers (letters then two or more digits: JCM800,
# H100; the only word tokens that end in a digit). Words come first: most tokens are words, and each
# alternative tried before the one that matches costs a test at every token. A token's first
# character is read by one character set, which the regex engine skips to fast (it cannot for a
# choice of sets), and each alternative tests that character by a look-behind: the same tokens as
# the alternatives on their own, a sixth less time.
_PROSE_TOKEN = _compile(
    r"[^\s_.,;:!?\"'()\[\]]"  # a character that starts some token (none starts at space or punctuation)
    r"(?:(?<={L1}){L1}*(?:_{L})*(?:\d{2,}(?!\w))?"  # a word (most tokens: tried first)
    r"|(?<=\d)\d*(?:[.,]\d+)*(?:\s?(?:%|€|£|(?:usd|eur|gbp|dollars?|euros?)\b|[ap]\.?m\b\.?)"
    r"|(?::\d{2}){1,2}(?:\s?[ap]\.?m\b\.?)?|(?:[-/]\d{1,4}){2})?"  # a number, a percentage, an amount, a time, a date
    r"|(?<=[$€£¥₹])(?:\s?" + _NUMBER + r"|[a-z_{][\w}]*)?|(?<=\\)\$\s?" + _NUMBER + r"|(?<=\\)[a-z]+"
    r"|(?<=[^\w\s.,;:!?\"'()\[\]]))")  # a symbol
_DIGITS = frozenset("0123456789")
_CURRENCY = frozenset("$€£¥₹")
_SPECIAL_FIRST = _DIGITS | _CURRENCY | {"\\"}
_CHARM_CENTS = (".99", ".95", ".49", ".98", ".97")

# Display formulas, then inline ones by Pandoc's rule (no space inside the delimiters, no digit after
# the closing one), never from an escaped \$ nor from the second dollar of $$, but right after an escaped
# one (stage 1 writes "costs \$$x$" for a prose dollar before a formula); bounded, so that a lone $$
# costs no scan to the end.
_FORMULA = re.compile(r"(?<!\\)\$\$(.{1,5000}?)\$\$"
                      r"|\$(?<!\\\$)(?<![^\\]\$\$)(?<!^\$\$)(?=[^\s$])([^$\n]{1,1000}?)(?<=[^\s\\])\$(?!\d)"
                      r"|\\\[(.{1,5000}?)\\\]|\\\((.{1,1000}?)\\\)", re.S)  # and LaTeX's \[…\] and \(…\)
# A dotted call, found from its dot (".linear(" of torch.nn.Linear): a scan for a dot is fast.
_CALL = re.compile(r"\.[a-z_]\w*\(")
_QUANTITY = re.compile(r"\d+ [xX] (?=[A-Z])")  # before lower-casing: "2 x JCM800"
# Line patterns start at the newline before the line (the text gets one in front), which the regex
# engine finds by a fast scan; a multi-line ``^`` would be tried at every character.
# A line that reads as code (the lookahead: the newline is all a match takes)
_CODE_LINE = re.compile(
    r"\n(?=[ \t]*(?:def |class \w|import \w|from [\w.]+ import|#include|public |private |static |function\b"
    r"|(?:var|let|const) \w+ ?=|return\b|if ?\(|for ?\(|while ?\(|[{}]|\w+(?:\.\w+)*\(.*\)\s*;?$|.*;$|.*\{$|//|/\*"
    r"|<\?php|SELECT |\$ |>>> ))", re.M)
# a Markdown table line, or a line with a tab (extractors separate table cells by tabs)
_TABLE_ROW = re.compile(r"\n([ \t]*\|.*\|[ \t]*|[^\n]*\t[^\n]*)$", re.M)
_TABLE_NUMBER = re.compile(_NUMBER)
_PRICE = re.compile(r"[$€£¥₹]\s?\d|\d\s?(?:€|£|usd\b|eur\b)", re.I)


def page_traits(text: str) -> dict[str, int]:
    """Code lines, table rows and currency amounts in a text: what makes a page without formulas a
    hard negative for a math classifier (``classifier bootstrap`` samples them apart)."""
    lines = "\n" + text
    return {"code": len(_CODE_LINE.findall(lines)), "tables": len(_TABLE_ROW.findall(lines)),
            "prices": len(_PRICE.findall(text))}


def _special(token: str) -> str:
    """The token a prose token that starts with a digit, a currency sign or a backslash stands for
    (see the module docstring)."""
    first, last = token[0], token[-1]
    if first == "\\":
        return "price" if token[1:2] == "$" else token  # an escaped dollar amount; a TeX command or a backslash
    if first in _CURRENCY:
        if token[1:2].isalpha() or token[1:2] in ("_", "{"):
            return "codevar"  # $HOME, ${dir}
        if len(token) == 1:
            return "dollar"  # a sign with no amount: price tiers ($$$), prompts, tickers
        # a shop's price ends in .99, .95 or .49; a word problem's amount rarely does
        return "shopprice" if token.endswith(_CHARM_CENTS) else "price"
    if last in _DIGITS:
        if ":" in token:
            return "clock"
        return "date" if "-" in token or "/" in token else "0"
    if last == "%":
        return "percent"
    if last == "m" or last == ".":  # 5pm, 5 p.m.
        return "clock"
    return "price"  # 20 USD, 100 euros, 15 €


def _final(token: str) -> str:
    """A prose token that is not a plain ASCII word as the model sees it: a special token, ``model``
    for letters followed by digits, a non-ASCII token in NFKC."""
    if token[0] in _SPECIAL_FIRST:
        return _special(token)
    if token[-1] in _DIGITS:
        return "model"
    return token if token.isascii() else _compatible(token)


def _table_row(match: re.Match) -> str:
    return "\n tablerow " + _TABLE_NUMBER.sub(" tnum ", match.group(1))


def _mark_lines(text: str) -> str:
    """Table rows and code lines marked (the line patterns start at a newline)."""
    text = "\n" + text
    if "|" in text or "\t" in text:
        text = _TABLE_ROW.sub(_table_row, text)
    return _CODE_LINE.sub("\n codeline ", text)[1:]


def _prose_tokens(text: str) -> list[str]:
    if " x " in text or " X " in text:
        text = _QUANTITY.sub(" qty ", text)
    text = _mark_lines(text).lower()
    if "(" in text:
        text = _CALL.sub(" apicall ", text)
    tokens = _PROSE_TOKEN[_form(text)].findall(text)
    # most tokens are ASCII words, kept as they are after two tests in C
    return [t if t.isalpha() and t.isascii() else _final(t) for t in tokens]


def _formula(match: re.Match) -> str:
    """A formula as ``mathspan`` and its tokens (numbers as ``0``), which the prose pass reads as they
    are; what stage 1 would not take for a formula (amounts, tickers, code, price tiers) stays prose,
    where each dollar sign is a price."""
    tex = match.group(match.lastindex)
    if not_a_formula(tex, match.string[match.end():match.end() + 1]):
        return match.group(0)
    tex = tex.lower()
    tokens = _MATH_TOKEN[_form(tex)].findall(tex)
    return " mathspan " + " ".join(["0" if t[0] in _DIGITS else t for t in tokens]) + " mathend "


def _compatible(token: str) -> str:
    """NFKC of a non-ASCII token (full-width and styled letters become plain ones), lower case."""
    return unicodedata.normalize("NFKC", token).lower() if not unicodedata.is_normalized("NFKC", token) else token


def preprocess(text: str) -> str:
    """One line of tokens separated by single spaces; see the module docstring."""
    if "$" in text or "\\[" in text or "\\(" in text:
        text = _FORMULA.sub(_formula, text)
    return " ".join(_prose_tokens(text))


def chunk_words(line: str, max_words: int) -> list[str]:
    """A preprocessed document cut into lines of at most ``max_words`` tokens (0: one line), so that
    a long document counts as several training examples instead of one diluted one."""
    if max_words <= 0:
        return [line]
    words = line.split(" ")
    if len(words) <= max_words:
        return [line]
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
