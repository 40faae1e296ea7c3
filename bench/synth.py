"""The snippet sandbox and the result check, on real computations with known results.

1. GSM8K *train* solutions carry calculator annotations (``<<48/2=24>>``): each becomes a block — the
   expression, the stated result, a snippet that prints the expression — run in the sandbox and checked
   against the stated result; then the same blocks with the stated result altered (+1 for integers,
   ×1.1 otherwise), which must fail.
2. Symbolic results (fractions, radicals, intervals, polynomials, as MATH answers are written), with a
   snippet that computes each with sympy; and altered.
3. Throughput on every core: short snippets through one sandbox per core, beside a bare
   ``python -c`` subprocess per snippet (no sandbox, no warm interpreter).

    python bench/synth.py [--blocks N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import require_shared  # noqa: E402

from megamath.synth.sandbox import Sandbox  # noqa: E402
from megamath.synth.verify import parse_number, verify  # noqa: E402

_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")

SYMBOLIC = [  # (stated result as a text writes it, snippet that computes it)
    ("\\frac{3}{4}", "import sympy\nprint(sympy.Rational(6, 8))"),
    ("\\dfrac{7}{12}", "import sympy\nprint(sympy.Rational(1, 3) + sympy.Rational(1, 4))"),
    ("2\\sqrt{2}", "import sympy\nprint(sympy.sqrt(8))"),
    ("\\frac{\\sqrt{3}}{2}", "import sympy\nprint(sympy.sin(sympy.pi / 3))"),
    ("3\\sqrt{5}", "import sympy\nprint(sympy.sqrt(45))"),
    ("\\frac{\\pi}{4}", "import sympy\nprint(sympy.atan(1))"),
    ("\\frac{1+\\sqrt{5}}{2}", "import sympy\nx = sympy.symbols('x')\nprint(max(sympy.solve(x**2 - x - 1, x)))"),
    ("x^2 - 5x + 6", "import sympy\nx = sympy.symbols('x')\nprint(sympy.expand((x - 2) * (x - 3)))"),
    ("(x+1)^3", "import sympy\nx = sympy.symbols('x')\nprint(x**3 + 3*x**2 + 3*x + 1)"),
    ("2x", "import sympy\nx = sympy.symbols('x')\nprint(sympy.diff(x**2, x))"),
    ("(2, 5]", "import sympy\nprint(sympy.Interval.Lopen(2, 5))"),
    ("[1, \\infty)", "import sympy\nx = sympy.symbols('x', real=True)\nprint(sympy.solve_univariate_inequality(x >= 1, x, relational=False))"),
    ("(-\\infty, 3)", "import sympy\nprint(sympy.Interval.open(-sympy.oo, 3))"),
    ("\\frac{5}{2}", "print(5 / 2)"),
    ("12\\pi", "import sympy\nprint(sympy.pi * 2**2 * 3)"),
    ("\\boxed{\\frac{1}{6}}", "import sympy\nprint(sympy.Rational(1, 6))"),
    ("\\sqrt[3]{2}", "import sympy\nprint(sympy.root(2, 3))"),
    ("e^{2}", "import sympy\nprint(sympy.exp(2))"),
    ("\\frac{2}{3}\\pi", "import sympy\nprint(2 * sympy.pi / 3)"),
    ("4 - 2\\sqrt{3}", "import sympy\nprint(sympy.expand((sympy.sqrt(3) - 1)**2))"),
]
ALTERED_SYMBOLIC = ["\\frac{2}{3}", "\\frac{5}{12}", "3\\sqrt{2}", "\\frac{\\sqrt{2}}{2}", "5\\sqrt{3}", "\\frac{\\pi}{3}",
                    "\\frac{1-\\sqrt{5}}{2}", "x^2 - 5x - 6", "(x-1)^3", "x^2", "[2, 5]", "(1, \\infty)", "(-\\infty, 3]",
                    "\\frac{3}{2}", "6\\pi", "\\frac{1}{5}", "\\sqrt{2}", "e^{3}", "\\frac{3}{2}\\pi", "4 + 2\\sqrt{3}"]


def gsm8k_blocks(limit: int) -> list[tuple[str, str]]:
    """(stated result, snippet) of the calculator annotations of GSM8K's train solutions."""
    path = require_shared() / "benchmarks" / "openai__grade-school-math" / "grade_school_math" / "data" / "train.jsonl"
    blocks = []
    for line in path.read_text().splitlines():
        for expression, result in _ANNOTATION.findall(json.loads(line)["answer"]):
            blocks.append((result.strip(), f"print({expression.strip()})"))
            if len(blocks) >= limit:
                return blocks
    return blocks


def altered(result: str) -> str:
    value = parse_number(result)
    if value is None:
        return result + "1"
    return str(int(value) + 1) if value == int(value) and "." not in result else f"{value * 1.1:.6g}"


def check(box: Sandbox, blocks: list[tuple[str, str]]) -> tuple[Counter, Counter]:
    """Verdicts on the true blocks and on the altered ones (each snippet runs once)."""
    true, false = Counter(), Counter()
    for (stated, snippet), wrong in zip(blocks, (altered(s) for s, _ in blocks)):
        result = box.run(snippet)
        if result.outcome != "ok":
            true[result.outcome] += 1
            false[result.outcome] += 1
            continue
        true[verify(stated, result.stdout, box).outcome] += 1
        false[verify(wrong, result.stdout, box).outcome] += 1
    return true, false


def report(name: str, true: Counter, false: Counter) -> None:
    total = sum(true.values())
    print(f"  {name}: {total:,} blocks; true results verified {true['verified'] / total:.2%} "
          f"({dict(true)}); altered results failing {1 - false['verified'] / total:.2%} ({dict(false)})")


def throughput(snippets: int) -> None:
    cores = os.cpu_count() or 1
    code = "import math\nprint(math.factorial(20) // 7)"
    boxes = [Sandbox() for _ in range(cores)]
    for box in boxes:
        box.run("pass")  # started before the clock
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(lambda i: boxes[i % cores].run(code), range(snippets)))
    sandboxed = snippets / (time.perf_counter() - start)
    for box in boxes:
        box.close()
    bare_count = max(snippets // 10, 20)
    start = time.perf_counter()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(lambda _: subprocess.run([sys.executable, "-I", "-c", code], capture_output=True),
                      range(bare_count)))
    bare = bare_count / (time.perf_counter() - start)
    print(f"\n== throughput, {cores} cores, short snippets (wall) ==\n  sandboxed (bubblewrap, warm interpreter, "
          f"a forked child each): {sandboxed:,.0f} snippets/s ({1000 * cores / sandboxed:.1f} ms a snippet per core)\n"
          f"  bare `python -c` subprocess, no sandbox: {bare:,.0f} snippets/s ({1000 * cores / bare:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=3000, help="GSM8K annotations to check")
    args = parser.parse_args()
    print("== verification: snippets run in the sandbox, output checked against the stated result ==")
    with Sandbox() as box:
        report("GSM8K train calculator annotations", *check(box, gsm8k_blocks(args.blocks)))
        true, _ = check(box, SYMBOLIC)
        _, false = check(box, [(wrong, snippet) for wrong, (_, snippet) in zip(ALTERED_SYMBOLIC, SYMBOLIC)])
        report("symbolic results (fractions, radicals, intervals, polynomials)", true, false)
    throughput(1000)


if __name__ == "__main__":
    main()
