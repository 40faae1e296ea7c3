"""Does a snippet's output reproduce the result a text states? ``verified``, ``mismatch`` or ``unverifiable``.

A stated result is normalized from LaTeX first (``$``, ``\\boxed``, ``\\text{}`` units, ``\\left``/
``\\right``, ``\\frac``/``\\dfrac``, ``\\sqrt``, ``\\cdot``/``\\times``, ``^``, ``\\pi``, thousands
separators, a trailing period). Numbers (integers, decimals, ``a/b``, percentages, currency amounts)
are compared on the host with a relative tolerance (and half a unit in the last place of a result
stated with decimals: ``3.33`` is ``10/3`` rounded), parsed by a pattern, never evaluated. Anything
else that reads as an expression or an interval is compared by sympy — inside the sandbox, because
parsing an expression with sympy evaluates it, and a stated result is text a model wrote. A
placeholder (``<result>``, ``{answer}``, ``...``) or an empty output fails; a result that cannot be
put in either form is ``unverifiable``, never passed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from megamath.synth.sandbox import Sandbox

_PLACEHOLDER = re.compile(r"^(?:<[^<>]*>|\{[^{}]*\}|\[[^\[\]]*\]|\.\.\.|…|tbd|todo|n/?a|xx+|\?+)$", re.I)
_BRACED = r"\{((?:[^{}]|\{[^{}]*\})*)\}"
_FRAC = re.compile(r"\\[dt]?frac" + _BRACED + _BRACED)
_SQRT = re.compile(r"\\sqrt(?:\[([^\]]+)\])?" + _BRACED)
_BOXED = re.compile(r"\\boxed" + _BRACED)
_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox|operatorname)" + _BRACED)
_NUMBER = re.compile(r"^([-+]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+]?\d+))?$")
_UNIT_TAIL = re.compile(r"^(.*?\d)\s*(?:[a-zA-Z°][a-zA-Z°²³/ .]*)$")


@dataclass(frozen=True)
class Verdict:
    """``outcome``: ``verified``, ``mismatch`` or ``unverifiable``; ``reason`` says how it was decided."""

    outcome: str
    reason: str


def normalize_latex(text: str) -> str:
    """A stated result as a plain expression (see the module docstring)."""
    text = text.strip().strip("$").strip()
    while (boxed := _BOXED.search(text)) is not None:
        text = text[:boxed.start()] + boxed.group(1) + text[boxed.end():]
    text = _TEXT.sub("", text)
    text = re.sub(r"\\(?:left|right|,|;|!|quad|displaystyle)|\\\$|\$", "", text)
    for _ in range(4):  # nested fractions and roots, innermost first
        text = _FRAC.sub(r"((\1)/(\2))", text)
        text = _SQRT.sub(lambda m: f"(({m.group(2)})**(1/({m.group(1)})))" if m.group(1) else f"sqrt({m.group(2)})", text)
    text = text.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi").replace("^", "**")
    text = text.replace("{", "(").replace("}", ")").replace("\\infty", "oo")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # thousands separators
    return text.strip().rstrip(".").strip()


def parse_number(text: str) -> float | None:
    """A number written plainly: ``-3``, ``2.50``, ``1e-3``, ``3/4``, ``45%`` (0.45), ``$12``, ``5 cm``."""
    text = text.strip().replace(" ", "") if text.count(" ") < 3 else text.strip()
    text = text.lstrip("$€£").replace("\\%", "%")
    percent = text.endswith("%")
    text = text.rstrip("%")
    unit = _UNIT_TAIL.match(text)
    if unit:
        text = unit.group(1)
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1]
    parts = text.split("/")
    try:
        if len(parts) == 2 and all(_NUMBER.match(p.strip("()")) for p in parts):
            value = float(Fraction(parts[0].strip("()")) / Fraction(parts[1].strip("()")))
        elif _NUMBER.match(text):
            value = float(text)
        else:
            return None
    except (ZeroDivisionError, ValueError, OverflowError):
        return None
    return value / 100 if percent else value


def _interval(text: str) -> str | None:
    match = re.fullmatch(r"([(\[])\s*([^,]+?)\s*,\s*([^,]+?)\s*([)\]])", text)
    if not match:
        return None
    left_open, right_open = match.group(1) == "(", match.group(4) == ")"
    return f"Interval({match.group(2)}, {match.group(3)}, {left_open}, {right_open})"


def verify(stated: str, output: str, sandbox: Sandbox | None = None, rel_tol: float = 1e-6) -> Verdict:
    """Whether ``output`` (a snippet's stdout: its last non-empty line is its result) reproduces ``stated``."""
    if not stated.strip() or _PLACEHOLDER.match(stated.strip().strip("$").strip()):
        return Verdict("mismatch", "placeholder")
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return Verdict("mismatch", "empty_output")
    if _PLACEHOLDER.match(lines[-1]):
        return Verdict("mismatch", "placeholder")
    expected, printed = normalize_latex(stated), normalize_latex(lines[-1])
    a, b = parse_number(expected), parse_number(printed)
    if a is not None and b is not None:
        # a result stated with k decimals was rounded: half a unit in its last place is not a mismatch
        decimals = re.search(r"\.(\d+)", expected)
        rounding = 0.5 * 10 ** -len(decimals.group(1)) * 1.000001 if decimals else 0.0
        close = math.isclose(a, b, rel_tol=rel_tol, abs_tol=max(1e-9, rounding))
        if not close and expected.rstrip("%") != expected:  # "45%" stated, 45 printed
            close = math.isclose(a * 100, b, rel_tol=rel_tol, abs_tol=1e-9)
        return Verdict("verified" if close else "mismatch", "numeric")
    if sandbox is None:
        return Verdict("unverifiable", "symbolic_without_sandbox")
    for text in (expected, printed):
        if _NOT_AN_EXPRESSION.search(text) or any(w not in _KNOWN_NAMES for w in _WORD.findall(text)):
            return Verdict("unverifiable", "not_an_expression")
    return _symbolic(_interval(expected) or expected, _interval(printed) or printed, sandbox, rel_tol)


_SYMBOLIC_CHECK = """
import sympy
from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations
names = {{"Interval": sympy.Interval, "oo": sympy.oo, "pi": sympy.pi, "sqrt": sympy.sqrt, "e": sympy.E,
         "abs": sympy.Abs}}
def value(text):
    return parse_expr(text, local_dict=names, transformations=standard_transformations
                      + (implicit_multiplication_application,), evaluate=True)
a, b = value({expected!r}), value({printed!r})
if isinstance(a, sympy.Set) or isinstance(b, sympy.Set):
    print(a == b)
elif a.is_number and b.is_number:
    x, y = complex(a), complex(b)
    print(abs(x - y) <= {rel_tol!r} * max(1.0, abs(x)))
else:
    print(sympy.simplify(a - b) == 0)
"""
# what a stated result that is an expression never holds: code, and words (runs of letters that name
# no function or constant sympy is given)
_NOT_AN_EXPRESSION = re.compile(r"__|;|\n")
_WORD = re.compile(r"[A-Za-z]{3,}")
_KNOWN_NAMES = frozenset({"sqrt", "Interval", "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "asin", "acos",
                          "atan", "sinh", "cosh", "tanh", "factorial", "binomial", "Abs", "abs", "True", "False", "Lopen",
                          "Ropen", "open"})  # sympy prints intervals as Interval.Lopen(a, b)


def _symbolic(expected: str, printed: str, sandbox: Sandbox, rel_tol: float) -> Verdict:
    result = sandbox.run(_SYMBOLIC_CHECK.format(expected=expected, printed=printed, rel_tol=rel_tol))
    if result.outcome != "ok" or result.stdout.strip() not in ("True", "False"):
        return Verdict("unverifiable", "symbolic_unparsable")
    return Verdict("verified" if result.stdout.strip() == "True" else "mismatch", "symbolic")
