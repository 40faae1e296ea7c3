"""The text normalization a math classifier sees, identical in training and in prediction (versioned).

What a page's numbers and symbols *are* decides whether it is math, so the things that look like
math to a bag of tokens but are not get tokens of their own, before anything else is folded:

- formulas the extractor delimited (``$…$``, ``$$…$$``; LaTeX sources' ``\\[…\\]`` and ``\\(…\\)``)
  are ``mathspan … mathend``, without their grouping braces (nor those of a TeX command's argument in
  a LaTeX source's prose, ``\\emph{…}``); a dollar sign outside them (stage 1 writes a prose dollar
  ``\\$`` on pages with formulas) is never a formula; an equation written in plain text is one
  (``a * b = b * a``, ``2 + 2 = 4``: operands of one letter or a number, an operator left of the
  relation, which a code assignment such as ``i = i + 1`` has not);
- currency amounts (``$20``, ``€20``, ``20 USD``) → ``price``, a shop's ``$169.99`` → ``shopprice``, an
  amount stage 1 escaped (``\\$20``; it escapes prose dollars only on pages where it found formulas, so
  this is a word problem's amount, not a shop's) → ``escapedprice``, a dollar sign without an amount →
  ``dollar``, one standing alone as a word (a price tier ``$$``) → ``pricetier``; percentages →
  ``percent``; dates (``2024-05-01``, ``05/01/2024``) → ``date``; clock times (``12:30``, ``5pm``) →
  ``clock``; counts of goods (``2 x JCM800``) → ``qty``; model numbers (``JCM800``, ``RTX4090``) → ``model``;
- a table row (a Markdown table line, or a line with a tab: extractors separate cells by tabs) starts
  with ``tablerow`` and its numbers are ``tnum``, not the ``0`` of a formula; a Markdown row's pipes and
  its rule line (``| --- |``) leave no token, so both ways of writing a table read the same;
- what is markup, not a formula: StackExchange's ``$\\begingroup$``/``$\\endgroup$`` around every post
  (on non-math sites too) are dropped; an Asymptote figure (``[asy]…[/asy]``, a competition problem's
  drawing) is ``asyfigure``, not lines of code;
- code: a line that reads as code starts with ``codeline``; a dotted call (``torch.nn.Linear(``) is
  ``apicall``; a variable (``$HOME``, ``${dir}``) is ``codevar``; an identifier with underscores
  (``in_features``) is one word, not a subscript.

Then: a math symbol typed as a character (``∀``, ``≤``, a lone ``α``) is the TeX command stage 1 writes
for it (``\\forall``); the pronouns of the first and second person (I, you, we, …) are dropped outside
formulas (who speaks is a page's register, not its topic, and the seeds' math is mostly impersonal);
NFKC (full-width and styled letters become plain ones), lower case, every other number → ``0`` (the
value says nothing about the topic, its presence does), math symbols and TeX commands as tokens of
their own (``x^2`` → ``x ^ 0``), sentence punctuation dropped. A document is one line of tokens.

The regular expressions here mark formulas, lines and calls; the prose after them is read by a compiled
tokenizer (``_prose.c``, whose header gives its grammar; ``tests/test_prose_tokenizer.py`` holds the
regular expression it must equal): a regex engine and a Python test per token were three quarters of
the cost of scoring a page.

A model records the :data:`PREPROCESS_VERSION` it was trained with; scoring with another is refused.
"""

from __future__ import annotations

import re
import unicodedata

from megamath.web.math.symbols import SYMBOLS
from megamath.web.math.tex import not_a_formula

try:
    from megamath.classify._prose import prose_line
except ImportError as exc:  # a checkout on the path without an install
    raise ImportError("megamath's compiled tokenizer (megamath/classify/_prose.c) is not built: install megamath "
                      "with pip (`pip install -e .` in a checkout; it needs a C compiler)") from exc

PREPROCESS_VERSION = 8

# Inside formulas: TeX commands, words (any script, no digits), a number (digits with inner . or ,),
# one math symbol; under re.ASCII for ASCII text (the faster form, the same tokens there).
_MATH_TOKEN_PATTERN = r"\\[a-z]+|{L}|\d+(?:[.,]\d+)*|[^\w\s.,;:!?\"'()\[\]]"
_MATH_TOKEN = re.compile(_MATH_TOKEN_PATTERN.replace("{L}", r"[^\W\d_]+"))
_ASCII_MATH_TOKEN = re.compile(_MATH_TOKEN_PATTERN.replace("{L}", "[a-z]+"), re.ASCII)
_DIGITS = frozenset("0123456789")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"

# Display formulas, then inline ones by Pandoc's rule (no space inside the delimiters, no digit after
# the closing one), never from an escaped \$ nor from the second dollar of $$, but right after an escaped
# one (stage 1 writes "costs \$$x$" for a prose dollar before a formula); bounded, so that a lone $$
# costs no scan to the end.
_FORMULA = re.compile(r"(?<!\\)\$\$(.{1,5000}?)\$\$"
                      r"|\$(?<!\\\$)(?<![^\\]\$\$)(?<!^\$\$)(?=[^\s$])([^$\n]{1,1000}?)(?<=[^\s\\])\$(?!\d)"
                      r"|\\\[(.{1,5000}?)\\\]|\\\((.{1,1000}?)\\\)", re.S)  # and LaTeX's \[…\] and \(…\)
# An equation written in plain text ("a * b = b * a", "2 + 2 = 4", "x ^ n + y ^ n ≠ z ^ n": a forum's,
# a proof assistant's, a calculator's) is a formula the page did not delimit: operands of one letter or
# a number (2x), joined by operators, with an operator left of the relation (a code assignment,
# i = i + 1, has none).
_OPERATORS = "-+*/^×·÷−"  # a hyphen first: in a character class, literal
_OPERAND = r"(?:\([ \t]*)*(?:[^\W\d_](?![\w'])|\d+(?:\.\d+)?[a-z]?(?!\w|\.\d))(?:[ \t]*\))*"
_OPERATION = rf"(?:[ \t]*[{_OPERATORS}][ \t]*|(?<=\))(?=\())" + _OPERAND  # (x + 1)(x - 1): a product
_RELATIONS = "=<>≠≤≥"
_EQUATION = re.compile(rf"(?<![\w.$\\/]){_OPERAND}(?:{_OPERATION})+[ \t]*[{_RELATIONS}](?!=)"
                       rf"[ \t]*{_OPERAND}(?:{_OPERATION})*")
_RELATION = re.compile(f"[{_RELATIONS}]")
# An equation is looked for only around a relation with an operator before it, from the run of the
# characters an equation can hold before the relation (read backwards, at most _SIDE of them) to _SIDE
# after it: a scan of every line with a relation had cost a fourth of the preprocessing's time.
_SIDE = 200
_RUN_BACKWARDS = re.compile(rf"[{_OPERATORS}\w \t().]*")
_OPERATOR = re.compile(rf"[{_OPERATORS}]|\)\(")
# TeX's grouping braces (x^{10}, \\frac{a}{b}) are no content of a formula; left in, they would make a
# brace in prose (code's) a math token
_GROUPING = frozenset("{}")
# and so are a TeX command's argument braces in the prose of a LaTeX source (\\emph{…}, \\begin{proof})
_COMMAND_ARGUMENTS = re.compile(r"\\[a-zA-Z]+\*?(?:\{[^{}\n]*\})+")
# StackExchange wraps every post in these (MathJax groups), whatever the site's topic
_POST_MARKERS = frozenset(("\\begingroup", "\\endgroup"))
_ASYMPTOTE = re.compile(r"\[asy\].*?\[/asy\]", re.S)
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
# dollar signs that stand alone as a word ("$$ · Italian", "$$$"): a restaurant's or hotel's price tier
_PRICE_TIER = re.compile(r"(?<![^\s(])\${1,4}(?![^\s.,;:!?)])(?!\s\d)")


def page_traits(text: str) -> dict[str, int]:
    """Code lines, table rows and currency amounts in a text: what makes a page without formulas a
    hard negative for a math classifier (``classifier bootstrap`` samples them apart)."""
    lines = "\n" + text
    return {"code": len(_CODE_LINE.findall(lines)), "tables": len(_TABLE_ROW.findall(lines)),
            "prices": len(_PRICE.findall(text))}


# a Markdown table's layout: its cell pipes (not an escaped one inside a cell) and its rule line's dashes
_MARKDOWN_LAYOUT = re.compile(r"(?<!\\)\||:?-{3,}:?")


def _table_row(match: re.Match) -> str:
    """A table row as ``tablerow`` and its cells, whichever way the table was written: a Markdown row's
    pipes and rule line are layout, as an extractor's tabs are, so they leave no token (stage 1 writes the
    tables of pages with math as Markdown and the others with tabs: pipes would mark the page, not the
    table)."""
    row = match.group(1)
    if row.lstrip().startswith("|"):
        row = _MARKDOWN_LAYOUT.sub(" ", row)
        if not row.strip():
            return "\n"
    return "\n tablerow " + _TABLE_NUMBER.sub(" tnum ", row)


def _mark_lines(text: str) -> str:
    """Table rows and code lines marked (the line patterns start at a newline)."""
    text = "\n" + text
    if "|" in text or "\t" in text:
        text = _TABLE_ROW.sub(_table_row, text)
    return _CODE_LINE.sub("\n codeline ", text)[1:]


def _without_braces(match: re.Match) -> str:
    return match.group(0).replace("{", " ").replace("}", " ")


def _prose(text: str) -> str:
    """The prose tokens (see :mod:`megamath.classify._prose` for the grammar) as one line."""
    if " x " in text or " X " in text:
        text = _QUANTITY.sub(" qty ", text)
    if "$" in text:
        text = _PRICE_TIER.sub(" pricetier ", text)
    if "\\" in text and "{" in text:
        text = _COMMAND_ARGUMENTS.sub(_without_braces, text)
    text = _mark_lines(text).lower()
    if "(" in text:
        text = _CALL.sub(" apicall ", text)
    return prose_line(text, _compatible)


def _formula(match: re.Match) -> str:
    """A formula as ``mathspan`` and its tokens (numbers as ``0``), which the prose pass reads as they
    are; what stage 1 would not take for a formula (amounts, tickers, code, price tiers) stays prose,
    where each dollar sign is a price."""
    tex = match.group(match.lastindex)
    if not_a_formula(tex, match.string[match.end():match.end() + 1]):
        return match.group(0)
    if tex in _POST_MARKERS:
        return " "
    return _marked(tex)


def _marked(tex: str) -> str:
    tex = tex.lower()
    tokens = (_ASCII_MATH_TOKEN if tex.isascii() else _MATH_TOKEN).findall(tex)
    tokens = ["0" if t[0] in _DIGITS else t for t in tokens if t not in _GROUPING]
    return " mathspan " + " ".join(tokens) + " mathend "


def _plain_equations(text: str) -> str:
    """The text (its delimited formulas marked) with its plain-text equations marked as formulas."""
    pieces, done, formulas = [], 0, "mathspan" in text
    for relation in _RELATION.finditer(text):
        at = relation.start()
        if at < done or (formulas and text.rfind("mathspan", 0, at) > text.rfind("mathend", 0, at)):
            continue  # in an equation just marked, or in a formula
        start = at - _RUN_BACKWARDS.match(text[max(done, at - _SIDE):at][::-1]).end()
        if not _OPERATOR.search(text, start, at):
            continue  # most relations: a URL's query, an assignment, a breadcrumb's ">"
        equation = _EQUATION.search(text, start, at + _SIDE)
        if equation is not None and equation.start() <= at:  # (one that starts after is another relation's)
            pieces += [text[done:equation.start()], _marked(equation.group(0))]
            done = equation.end()
    return "".join(pieces) + text[done:] if pieces else text


# A math symbol typed as a character (a forum's "∀ε > 0", a proof assistant's "¬", "α") is the TeX command
# stage 1 writes for it in a formula; not those that pages without math use as ornaments, arrows or units.
_ORNAMENTS = frozenset("·…′″°†★⋆□◻→←↔↑↓×÷±∓−∗‖△∼⋯⋮⋱")
_SYMBOL_TOKENS = {char: " ".join(_ASCII_MATH_TOKEN.findall(tex.lower())) for char, tex in SYMBOLS.items()
                  if not char.isascii() and char not in _ORNAMENTS and tex.startswith("\\")}


def _compatible(token: str) -> str:
    """A non-ASCII token: a math symbol as its TeX command's tokens, any other in NFKC (full-width and
    styled letters become plain ones), lower case."""
    if token in _SYMBOL_TOKENS:
        return _SYMBOL_TOKENS[token]
    return unicodedata.normalize("NFKC", token).lower() if not unicodedata.is_normalized("NFKC", token) else token


def preprocess(text: str) -> str:
    """One line of tokens separated by single spaces; see the module docstring."""
    if "[asy]" in text:
        text = _ASYMPTOTE.sub(" asyfigure ", text)
    if "$" in text or "\\[" in text or "\\(" in text:
        text = _FORMULA.sub(_formula, text)
    if _RELATION.search(text):
        text = _plain_equations(text)
    return _prose(text)


_MARKED_FORMULA = re.compile(r"(?:^| )mathspan .*? ?mathend(?= |$)")


def without_formulas(line: str) -> str:
    """A preprocessed line with its formulas (``mathspan … mathend``) taken out: the prose of a math page."""
    return " ".join(_MARKED_FORMULA.sub(" ", line).split()) if "mathspan" in line else line


def chunk_words(line: str, max_words: int) -> list[str]:
    """A preprocessed document cut into lines of at most ``max_words`` tokens (0: one line), so that
    a long document counts as several training examples instead of one diluted one."""
    if max_words <= 0:
        return [line]
    words = line.split(" ")
    if len(words) <= max_words:
        return [line]
    return [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
