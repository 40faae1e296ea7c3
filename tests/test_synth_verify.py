"""A snippet's output against the result a text states, and the AST prefilter's reasons."""

from __future__ import annotations

import shutil

import pytest

from megamath.synth.prefilter import prefilter
from megamath.synth.sandbox import Sandbox
from megamath.synth.verify import normalize_latex, parse_number, verify


def test_latex_results_are_normalized_and_plain_numbers_parsed_without_evaluation():
    assert normalize_latex("$\\boxed{\\dfrac{3}{4}}$.") == "((3)/(4))"
    assert normalize_latex("\\sqrt[3]{2}") == "((2)**(1/(3)))" and normalize_latex("1,234,567") == "1234567"
    assert normalize_latex("5\\text{ cm}") == "5"
    assert [parse_number(t) for t in ("-3", "2.50", "1e-3", "3/4", "45%", "$12", "5 cm", "2**3", "x")] == \
        [-3.0, 2.5, 0.001, 0.75, 0.45, 12.0, 5.0, None, None]


@pytest.mark.parametrize("stated, printed, outcome", [
    ("$24$", "24\n", "verified"), ("24", "25", "mismatch"), ("\\frac{3}{4}", "0.75", "verified"),
    ("\\boxed{1,000}", "1000.0", "verified"), ("45\\%", "0.45", "verified"), ("45%", "45", "verified"),
    ("3.33", "3.3333333333333335", "verified"),  # stated rounded to two decimals
    ("3.3", "3.3333333333333335", "verified"), ("3.4", "3.3333333333333335", "mismatch"),
    ("\\frac{1}{3}", "0.33", "mismatch"),
    ("<result>", "5", "mismatch"), ("{answer}", "5", "mismatch"), ("7", "", "mismatch"), ("7", "...", "mismatch"),
    ("the answer is blue", "blue", "unverifiable"),
])
def test_numbers_placeholders_and_empty_output_on_the_host(stated, printed, outcome):
    assert verify(stated, printed).outcome == outcome


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap (apt-get install bubblewrap)")
@pytest.mark.parametrize("stated, printed, outcome", [
    ("\\frac{\\sqrt{3}}{2}", "sqrt(3)/2", "verified"), ("\\frac{\\sqrt{3}}{2}", "0.8660254037844386", "verified"),
    ("2\\sqrt{2}", "sqrt(8)", "verified"), ("(2, 5]", "Interval.Lopen(2, 5)", "verified"),
    ("[2, 5]", "Interval.Lopen(2, 5)", "mismatch"), ("x^2+1", "x**2 + 1", "verified"), ("x^2+1", "x**2 + 2", "mismatch"),
    ("__import__('os').system('true')", "0", "unverifiable"), ("a dog", "a cat", "unverifiable"),
    ("\\frac{1}{", "0.5", "unverifiable"),
])
def test_symbolic_results_are_compared_by_sympy_inside_the_sandbox(stated, printed, outcome):
    with Sandbox() as box:
        assert verify(stated, printed, box).outcome == outcome
    assert verify(stated, printed).outcome in (outcome, "unverifiable")  # without a sandbox: never passed


def test_prefilter_reasons():
    assert prefilter("import sympy\nprint(sympy.sqrt(8))") is None
    assert prefilter("from fractions import Fraction\nprint(Fraction(1, 3))") is None
    assert prefilter("import os") == "import:os" and prefilter("from subprocess import run") == "import:subprocess"
    assert prefilter("open('/etc/passwd')") == "call:open" and prefilter("getattr(x, 'y')") == "call:getattr"
    assert prefilter("().__class__.__base__") == "dunder:__base__"
    assert prefilter("print(__builtins__)") == "dunder:__builtins__"
    assert prefilter("def f(:") == "syntax_error" and prefilter("x = 1\n" * 10_000) == "too_long"
