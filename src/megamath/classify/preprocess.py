"""The text normalization a math classifier sees, identical in training and in prediction (versioned).

What a page's numbers and symbols *are* decides whether it is math, so the things that look like
math to a bag of tokens but are not get tokens of their own, before anything else is folded:

- formulas the extractor delimited (``$…$``, ``$$…$$``) are ``mathspan … mathend``; a dollar sign
  outside them (stage 1 writes a prose dollar ``\\$`` on pages with formulas) is never a formula;
- currency amounts (``$169.99``, ``€20``, ``20 USD``) → ``price``; percentages → ``percent``; dates
  (``2024-05-01``, ``05/01/2024``, ``May 1, 2024``) → ``date``; clock times (``12:30``, ``5pm``) →
  ``clock``; counts of goods (``2 x JCM800``) → ``qty``; model numbers (``JCM800``, ``RTX4090``) →
  ``model``;
- a table row (a Markdown table line, or a line of three or more numbers) starts with ``tablerow``
  and its numbers are ``tnum``, not the ``0`` of a formula;
- code: a line that reads as code starts with ``codeline``; a dotted call (``torch.nn.Linear(``) is
  ``apicall``; an identifier with underscores (``in_features``) is ``ident``, not a subscript.

Then: NFKC (full-width and styled letters become plain ones), lower case, every other number → ``0``
(the value says nothing about the topic, its presence does), math symbols and TeX commands as tokens
of their own (``x^2`` → ``x ^ 0``), sentence punctuation dropped. A document is one line of tokens.

A model records the :data:`PREPROCESS_VERSION` it was trained with; scoring with another is refused.
"""

from __future__ import annotations

import re
import unicodedata

PREPROCESS_VERSION = 2

# Inside formulas: TeX commands, words (any script, no digits), a number (digits with inner . or ,),
# one math symbol; ASCII text takes the ASCII-only twin of a pattern, which matches the same tokens faster.
_MATH_TOKEN = re.compile(r"\\[a-z]+|[^\W\d_]+|\d+(?:[.,]\d+)*|[^\w\s.,;:!?\"'()\[\]]")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
# In prose, before those: amounts, dates, clock times, percentages (each a token starting with a digit or
# a currency sign), identifiers with underscores (one word, not a subscript), model numbers (letters
# and two or more digits: JCM800, H100; the token ends in a digit). Every alternative but the word
# starts with a digit, a sign or a backslash: one that starts with a letter would be tried, and fail,
# at every word.
_PROSE_TOKEN = re.compile(
    r"\\[a-z]+|\\?[$€£¥₹]\s?" + _NUMBER
    + r"|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\b\.?)?|\d{1,2}\s?[ap]\.?m\b\.?"
    + r"|" + _NUMBER + r"\s?(?:%|€|£|(?:usd|eur|gbp|dollars?|euros?)\b)|\d+(?:[.,]\d+)*"
    + r"|[^\W\d_]+(?:_[^\W\d_]+)*(?:\d{2,}(?!\w))?"
    + r"|[^\w\s.,;:!?\"'()\[\]]")
_ASCII = {pattern: re.compile(pattern.pattern.replace(r"[^\W\d_]+", "[a-z]+"), re.ASCII) for pattern in (_MATH_TOKEN, _PROSE_TOKEN)}
_DIGITS = frozenset("0123456789")
_CURRENCY = frozenset("$€£¥₹")
_SPECIAL_FIRST = _DIGITS | _CURRENCY | {"\\"}

# Display formulas, then inline ones by Pandoc's rule (no space inside the delimiters, no digit after
# the closing one), never from an escaped \$; bounded, so that a lone $$ costs no scan to the end.
_FORMULA = re.compile(r"\$\$(.{1,5000}?)\$\$|\$(?<![\\$]\$)(?=[^\s$])([^$\n]{1,1000}?)(?<=[^\s\\])\$(?!\d)", re.S)
# A dotted call, found from its dot (".linear(" of torch.nn.Linear): a scan for a dot is fast.
_CALL = re.compile(r"\.[a-z_]\w*\(")
_QUANTITY = re.compile(r"\d+\s?[xX]\s(?=[A-Z])")  # before lower-casing: "2 x JCM800", "4x AA"
_CODE_LINE = re.compile(
    r"^[ \t]*(?:def |class \w|import \w|from [\w.]+ import|#include|public |private |static |function\b"
    r"|(?:var|let|const) \w+ ?=|return\b|if ?\(|for ?\(|while ?\(|[{}]|\w+(?:\.\w+)*\(.*\)\s*;?$|.*;$|.*\{$|//|/\*"
    r"|<\?php|SELECT |\$ |>>> )", re.M)
# a Markdown table line, or a line with a tab (extractors separate table cells by tabs)
_TABLE_LINE = re.compile(r"^[ \t]*\|.*\|[ \t]*$|^[^\n]*\t[^\n]*$", re.M)
_TABLE_NUMBER = re.compile(_NUMBER)


_PRICE = re.compile(r"[$€£¥₹]\s?\d|\d\s?(?:€|£|usd\b|eur\b)", re.I)


def page_traits(text: str) -> dict[str, int]:
    """Code lines, table rows and currency amounts in a text: what makes a page without formulas a
    hard negative for a math classifier (``classifier bootstrap`` samples them apart)."""
    return {"code": len(_CODE_LINE.findall(text)), "tables": len(_TABLE_LINE.findall(text)),
            "prices": len(_PRICE.findall(text))}


def _special(token: str) -> str:
    """The token a prose token that starts with a digit, a currency sign or a backslash stands for
    (see the module docstring)."""
    first, last = token[0], token[-1]
    if first == "\\":
        return "price" if token[1:2] == "$" else token  # an escaped dollar amount; a TeX command or a backslash
    if first in _CURRENCY:
        return "price"
    if last == "%":
        return "percent"
    if last == "m" or last == "." or ":" in token:  # 5pm, 5 p.m., 12:30
        return "clock"
    if last in "€£" or last.isalpha():  # 20 USD, 100 euros
        return "price"
    if "-" in token or "/" in token:
        return "date"
    return "0"


def _table_row(match: re.Match) -> str:
    return " tablerow " + _TABLE_NUMBER.sub(" tnum ", match.group(0)) + "\n"


def _prose_tokens(text: str) -> list[str]:
    if "|" in text or "\t" in text:
        text = _TABLE_LINE.sub(_table_row, text)
    text = _QUANTITY.sub(" qty ", text)
    text = _CODE_LINE.sub(r" codeline \g<0>", text).lower()
    if "(" in text:
        text = _CALL.sub(" apicall ", text)
    tokens = (_ASCII[_PROSE_TOKEN] if text.isascii() else _PROSE_TOKEN).findall(text)
    return [_special(t) if t[0] in _SPECIAL_FIRST else ("model" if t[-1] in _DIGITS else t) for t in tokens]


def _formula(match: re.Match) -> str:
    """A formula as ``mathspan`` and its tokens (numbers as ``0``), which the prose pass reads as they are."""
    tex = (match.group(1) or match.group(2)).lower()
    tokens = (_ASCII[_MATH_TOKEN] if tex.isascii() else _MATH_TOKEN).findall(tex)
    return " mathspan " + " ".join(["0" if t[0] in _DIGITS else t for t in tokens]) + " mathend "


def _compatible(token: str) -> str:
    """NFKC of a non-ASCII token (full-width and styled letters become plain ones), lower case."""
    return unicodedata.normalize("NFKC", token).lower() if not unicodedata.is_normalized("NFKC", token) else token


def preprocess(text: str) -> str:
    """One line of tokens separated by single spaces; see the module docstring."""
    if "$" in text:
        text = _FORMULA.sub(_formula, text)
    tokens = _prose_tokens(text)
    if not text.isascii():
        tokens = [t if t.isascii() else _compatible(t) for t in tokens]
    return " ".join(tokens)


def chunk_words(line: str, max_words: int) -> list[str]:
    """A preprocessed document cut into lines of at most ``max_words`` tokens (0: one line), so that
    a long document counts as several training examples instead of one diluted one."""
    if max_words <= 0:
        return [line]
    words = line.split(" ")
    if len(words) <= max_words:
        return [line]
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
