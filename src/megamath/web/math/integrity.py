"""Delimiter integrity: the invariant every extracted text holds, checked by one function.

The extractors write a formula in one of three forms, and nothing else in the text reads as math:

* inline ``$tex$``: the opening ``$`` before a non-space, the closing one after a non-space that is no
  backslash, not followed by a digit or another ``$`` (Pandoc's reading, which the text pass shares),
  inside one paragraph;
* display ``$$tex$$``, opened at the start of a line and closed at the end of one;
* a top-level LaTeX display environment (``\\begin{align}`` …) on lines of its own.

Each formula is a balanced TeX group (braces, ``\\begin``/``\\end``, ``\\left``/``\\right``) without a
``%`` comment, which would swallow the rest of a line the extractor joined. A dollar sign of the prose
is written ``\\$``. One broken pairing turns the rest of a page's math into prose and its prose into
math, so :func:`delimiter_problems` is what every test over real pages asks of the text.
"""

from __future__ import annotations

import re

# Environments LaTeX allows outside math mode (a display of their own), and those that only live inside
# a formula: MathJax renders either kind written bare in a page's text.
DISPLAY_ENVIRONMENTS = ("equation", "align", "gather", "multline", "eqnarray", "displaymath", "alignat", "flalign")
INNER_ENVIRONMENTS = ("split", "aligned", "alignedat", "gathered", "cases", "array", "matrix", "pmatrix", "bmatrix",
                      "Bmatrix", "vmatrix", "Vmatrix", "smallmatrix", "subarray")

_BEGIN_OR_END = re.compile(r"\\(begin|end)\s*\{([^{}]*)\}")
_LEFT_RIGHT = re.compile(r"\\(left|right)(?![A-Za-z])")
_UNESCAPED = re.compile(r"\\.|[{}%$]", re.DOTALL)
_DISPLAY_ENVIRONMENT = re.compile(
    r"\\begin\{(?P<name>(?:" + "|".join(DISPLAY_ENVIRONMENTS) + r")\*?)\}.*?\\end\{(?P=name)\}", re.DOTALL)
_ANY_ENVIRONMENT = re.compile(r"\\begin\{(?:" + "|".join(DISPLAY_ENVIRONMENTS + INNER_ENVIRONMENTS) + r")\*?\}")


def formula_problems(tex: str) -> list[str]:
    """What keeps ``tex`` from being one balanced TeX group a reader can delimit."""
    problems = []
    depth = 0
    for match in _UNESCAPED.finditer(tex):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                problems.append("a closing brace without its opening one")
                depth = 0
        elif token == "%":
            problems.append("a % comment")
        elif token == "$":
            problems.append("a dollar sign inside the formula")
    if depth:
        problems.append("an opening brace left open")
    environments: list[str] = []
    for match in _BEGIN_OR_END.finditer(tex):
        if match.group(1) == "begin":
            environments.append(match.group(2))
        elif not environments or environments.pop() != match.group(2):
            problems.append(f"\\end{{{match.group(2)}}} without its \\begin")
    if environments:
        problems.append(f"\\begin{{{environments[-1]}}} left open")
    sides = [match.group(1) for match in _LEFT_RIGHT.finditer(tex)]
    if sides.count("left") != sides.count("right"):
        problems.append("\\left and \\right unpaired")
    if tex.endswith("\\"):
        problems.append("ends in a backslash, which escapes the closing delimiter")
    return problems


def _line_start(text: str, position: int) -> bool:
    start = text.rfind("\n", 0, position) + 1
    return not text[start:position].strip()


def _line_end(text: str, position: int) -> bool:
    end = text.find("\n", position)
    return not text[position:end if end >= 0 else len(text)].strip()


def delimiter_problems(text: str) -> list[str]:
    """Each way ``text`` breaks the invariant of this module, as a short description with the place;
    empty when every formula is delimited as the extractor meant it."""
    problems: list[str] = []

    def report(position: int, what: str) -> None:
        problems.append(f"{what} at {position}: {text[max(0, position - 30):position + 30]!r}")

    prose_parts = []
    position, length = 0, len(text)
    while position < length:
        dollar = _next_unescaped_dollar(text, position)
        prose_parts.append(text[position:dollar if dollar >= 0 else length])
        if dollar < 0:
            break
        if text.startswith("$$", dollar):
            close = _next_unescaped_dollar(text, dollar + 2)
            while close >= 0 and not text.startswith("$$", close):
                close = _next_unescaped_dollar(text, close + 1)
            if close < 0:
                report(dollar, "a $$ left open")
                break
            tex = text[dollar + 2:close]
            if not _line_start(text, dollar):
                report(dollar, "a $$ opening inside a line (adjacent inline formulas read as display)")
            if not _line_end(text, close + 2):
                report(close, "a $$ closing inside a line")
            if "\n\n" in tex or not tex.strip():
                report(dollar, "a display formula empty or across a blank line")
            problems += [f"{problem} in $${tex[:60]}$$" for problem in formula_problems(tex)]
            position = close + 2
            continue
        close = _next_unescaped_dollar(text, dollar + 1)
        if close < 0:
            report(dollar, "an unpaired $")
            break
        tex = text[dollar + 1:close]
        if not tex or tex[0].isspace() or tex[-1].isspace() or "\n\n" in tex:
            report(dollar, "an inline formula empty, padded or across a blank line")
        if text[close + 1:close + 2].isdigit() or text.startswith("$", close + 1):
            report(close, "a closing $ followed by a digit or a $")
        problems += [f"{problem} in ${tex[:60]}$" for problem in formula_problems(tex)]
        position = close + 1
    _check_environments("".join(prose_parts), problems)
    return problems


def _check_environments(prose: str, problems: list[str]) -> None:
    """Outside ``$`` formulas, math environments stand only as a top-level display on lines of their own."""
    if "\\begin" not in prose:
        return
    displays = list(_DISPLAY_ENVIRONMENT.finditer(prose))
    for match in displays:
        problems += [f"{problem} in {match.group(0)[:60]}" for problem in formula_problems(match.group(0))]
        if not (_line_start(prose, match.start()) and _line_end(prose, match.end())):
            problems.append(f"a display environment inside a line: {match.group(0)[:60]!r}")
    inside = [(match.start(), match.end()) for match in displays]
    for match in _ANY_ENVIRONMENT.finditer(prose):
        if not any(start <= match.start() < end for start, end in inside):
            problems.append(f"a bare environment outside any formula: {prose[match.start():match.start() + 60]!r}")


def _next_unescaped_dollar(text: str, position: int) -> int:
    """The next ``$`` at or after ``position`` that no backslash escapes (``\\\\$`` is escaped too, as
    every reader that looks one character back takes it), or -1."""
    while True:
        dollar = text.find("$", position)
        if dollar <= 0 or text[dollar - 1] != "\\":
            return dollar
        position = dollar + 1
