"""Pages we render ourselves for the classifier benchmark: a small multi-crawl "web" of math pages
(worked examples generated here, GSM8K train worksheets with worked solutions and with answers only,
numpy's and scipy's math docstrings) written with the
markup families stage 1 reads (MathJax 2 scripts, TeX delimiters, MathML with TeX annotations), and
non-math pages made from the non-math seed texts in ../shared (news, reviews, Wikipedia, Common Crawl).
No page is from the evaluation sources (html-math, MATH, GSM8K test, data/warc, trafilatura) nor from
any benchmark's test split (../shared's README: test splits are no fair seeds; a classifier trained on
them favours pages like the benchmarks' problems); the HoTT book's chapters are dealt here between
training and evaluation (``hott_sections``).
"""

from __future__ import annotations

import bz2
import gzip
import html
import inspect
import json
import random
import re
from fractions import Fraction
from pathlib import Path

from _corpus import read_jsonl, require_shared

from fixtures.warc_writer import Fetch, write_warc

from megamath.classify.preprocess import preprocess

CRAWLS = ("CC-MAIN-2016-07", "CC-MAIN-2020-10", "CC-MAIN-2024-10")


def _poly(rng: random.Random, degree: int) -> tuple[list[int], str]:
    coefficients = [rng.randint(1, 9) * rng.choice((1, -1)) for _ in range(degree + 1)]
    terms = []
    for power, c in zip(range(degree, -1, -1), coefficients):
        x = "" if power == 0 else ("x" if power == 1 else f"x^{{{power}}}")
        terms.append(f"{c}{x}" if abs(c) != 1 or not x else ("-" if c < 0 else "") + x)
    return coefficients, " + ".join(terms).replace("+ -", "- ")


def worked_example(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """(title, [(kind, content)]): kind "p" is prose with inline TeX, "d" a display formula."""
    kind = rng.randrange(8)
    a, b, c = rng.randint(2, 9), rng.randint(1, 20), rng.randint(21, 90)
    if kind == 0:
        return "Solving a linear equation", [
            ("p", f"We want every value of $x$ for which ${a}x + {b} = {c}$ holds."),
            ("p", f"Subtract ${b}$ from both sides, which keeps the equation balanced:"),
            ("d", f"{a}x = {c - b}"),
            ("p", f"Dividing by ${a}$ gives the unique solution"),
            ("d", f"x = \\frac{{{c - b}}}{{{a}}}" + ("" if (c - b) % a else f" = {(c - b) // a}")),
            ("p", "Substituting back into the original equation is a quick way to check the answer.")]
    if kind == 1:
        r1, r2 = rng.randint(-9, 9), rng.randint(-9, 9)
        s, p = -(r1 + r2), r1 * r2
        return "Factoring a quadratic", [
            ("p", f"Consider the quadratic $x^2 {'+' if s >= 0 else '-'} {abs(s)}x {'+' if p >= 0 else '-'} {abs(p)} = 0$."),
            ("p", "We look for two numbers whose product is the constant term and whose sum is the coefficient of $x$."),
            ("d", f"(x {'-' if r1 >= 0 else '+'} {abs(r1)})(x {'-' if r2 >= 0 else '+'} {abs(r2)}) = 0"),
            ("p", f"By the zero product property the roots are $x = {r1}$ and $x = {r2}$, and by Vieta's formulas "
                  f"their sum is ${r1 + r2}$ and their product is ${p}$.")]
    if kind == 2:
        coefficients, poly = _poly(rng, rng.randint(2, 4))
        degree = len(coefficients) - 1
        derivative = [c * (degree - i) for i, c in enumerate(coefficients[:-1])]
        dterms = " + ".join(f"{d}x^{{{degree - i - 1}}}" if degree - i - 1 > 1 else (f"{d}x" if degree - i - 1 == 1 else f"{d}")
                            for i, d in enumerate(derivative)).replace("+ -", "- ")
        return "Differentiating a polynomial", [
            ("p", f"Let $f(x) = {poly}$. We differentiate term by term with the power rule "
                  "$\\frac{d}{dx} x^n = n x^{n-1}$ and linearity of the derivative."),
            ("d", f"f'(x) = {dterms}"),
            ("p", f"The slope of the tangent line at $x = 1$ is therefore $f'(1) = {sum(derivative)}$."),
            ("p", "Setting the derivative equal to zero locates the critical points of $f$.")]
    if kind == 3:
        lo, hi = rng.randint(0, 3), rng.randint(4, 8)
        value = Fraction(a, 3) * (hi ** 3 - lo ** 3) + Fraction(b, 2) * (hi ** 2 - lo ** 2)
        return "A definite integral", [
            ("p", f"We evaluate the integral of ${a}x^2 + {b}x$ from ${lo}$ to ${hi}$ with the fundamental theorem of calculus."),
            ("d", f"\\int_{{{lo}}}^{{{hi}}} ({a}x^2 + {b}x)\\,dx = \\left[ \\frac{{{a}}}{{3}}x^3 + \\frac{{{b}}}{{2}}x^2 \\right]_{{{lo}}}^{{{hi}}}"),
            ("p", f"Substituting the limits gives ${value.numerator}" + (f"/{value.denominator}" if value.denominator > 1 else "")
                  + "$, the signed area under the curve."),
        ]
    if kind == 4:
        n, ratio = rng.randint(5, 12), rng.randint(2, 5)
        return "A geometric series", [
            ("p", f"The sum of the first ${n}$ terms of a geometric sequence with first term ${a}$ and ratio ${ratio}$ is"),
            ("d", f"S_{{{n}}} = \\sum_{{k=0}}^{{{n - 1}}} {a} \\cdot {ratio}^k = {a} \\cdot \\frac{{{ratio}^{{{n}}} - 1}}{{{ratio} - 1}}"),
            ("p", f"which equals ${a * (ratio ** n - 1) // (ratio - 1)}$. The formula follows from multiplying $S_n$ by "
                  "the ratio and subtracting."),
        ]
    if kind == 5:
        m = [[rng.randint(-5, 9) for _ in range(2)] for _ in range(2)]
        det = m[0][0] * m[1][1] - m[0][1] * m[1][0]
        return "Determinant of a matrix", [
            ("p", "For a $2 \\times 2$ matrix the determinant is $ad - bc$. Take"),
            ("d", f"A = \\begin{{pmatrix}} {m[0][0]} & {m[0][1]} \\\\ {m[1][0]} & {m[1][1]} \\end{{pmatrix}}"),
            ("p", f"Then $\\det A = ({m[0][0]})({m[1][1]}) - ({m[0][1]})({m[1][0]}) = {det}$, so $A$ is "
                  + ("singular." if det == 0 else "invertible and $A^{-1} = \\frac{1}{\\det A} \\operatorname{adj} A$."))]
    if kind == 6:
        legs = rng.choice([(3, 4), (5, 12), (8, 15), (7, 24), (6, 8), (9, 12)])
        hyp = int((legs[0] ** 2 + legs[1] ** 2) ** 0.5)
        return "The Pythagorean theorem", [
            ("p", f"A right triangle has legs of length ${legs[0]}$ and ${legs[1]}$. By the Pythagorean theorem the "
                  "hypotenuse $c$ satisfies"),
            ("d", f"c^2 = {legs[0]}^2 + {legs[1]}^2 = {legs[0] ** 2 + legs[1] ** 2}"),
            ("p", f"so $c = \\sqrt{{{legs[0] ** 2 + legs[1] ** 2}}} = {hyp}$. Its area is "
                  f"$\\frac{{1}}{{2}} \\cdot {legs[0]} \\cdot {legs[1]} = {legs[0] * legs[1] // 2}$.")]
    sides, target = rng.choice([(6, 7), (6, 8), (4, 5), (8, 9)])
    ways = sum(1 for i in range(1, sides + 1) for j in range(1, sides + 1) if i + j == target)
    probability = Fraction(ways, sides * sides)
    return "Probability with two dice", [
        ("p", f"Two fair ${sides}$-sided dice are rolled. There are ${sides}^2 = {sides * sides}$ equally likely outcomes."),
        ("p", f"The outcomes with sum ${target}$ number ${ways}$, so"),
        ("d", f"P(\\text{{sum}} = {target}) = \\frac{{{ways}}}{{{sides * sides}}} = "
              f"\\frac{{{probability.numerator}}}{{{probability.denominator}}}"),
        ("p", "Counting complementary events is often faster when the event itself has many cases.")]


_CALCULATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>[^\s.,]*")


def _calculation_tex(match: re.Match) -> str:
    """GSM8K's calculator note ``<<48/2=24>>24`` as the formula it stands for."""
    return "$" + match.group(1).replace("*", " \\times ") + " = " + match.group(2) + "$ "


_PROOFS = [
    ("Theorem", "For every natural number $n$ we have $\\sum_{{k=1}}^{{n}} k = \\frac{{n(n+1)}}{{2}}$.",
     ["We argue by induction on $n$. For $n = 1$ both sides equal $1$.",
      "Suppose the identity holds for some $n \\ge 1$. Adding $n+1$ to both sides gives "
      "$\\frac{{n(n+1)}}{{2}} + (n+1) = \\frac{{(n+1)(n+2)}}{{2}}$, which is the statement for $n+1$.",
      "By the principle of induction the identity holds for all $n$. $\\blacksquare$"]),
    ("Lemma", "If $p$ is a prime and $p \\mid ab$, then $p \\mid a$ or $p \\mid b$.",
     ["Assume $p \\nmid a$. Since $p$ is prime, $\\gcd(p, a) = 1$, so by Bezout's identity there are integers $x, y$ "
      "with $px + ay = 1$.", "Multiplying by $b$ gives $pbx + aby = b$. Both terms on the left are divisible by $p$, "
      "hence so is $b$."]),
    ("Proposition", "Let $f\\colon {A} \\to {B}$ and $g\\colon {B} \\to {C}$ be injective functions. Then $g \\circ f$ is injective.",
     ["Take $x, y \\in {A}$ with $(g \\circ f)(x) = (g \\circ f)(y)$, that is $g(f(x)) = g(f(y))$.",
      "Because $g$ is injective, $f(x) = f(y)$; because $f$ is injective, $x = y$.",
      "Hence the composition maps distinct elements to distinct elements."]),
    ("Theorem", "In a group ${G}$ the identity element is unique, and every element has exactly one inverse.",
     ["Let $e$ and $e'$ both be identities. Then $e = e e' = e'$, using first that $e'$ is an identity and then $e$.",
      "If $b$ and $c$ are inverses of $a$, then $b = b e = b (a c) = (b a) c = e c = c$ by associativity.",
      "So inverses are unique and we may write $a^{{-1}}$ without ambiguity."]),
    ("Definition", "A function $f\\colon \\mathbb{{R}} \\to \\mathbb{{R}}$ is continuous at $a$ if for every "
     "$\\varepsilon > 0$ there is $\\delta > 0$ such that $|x - a| < \\delta$ implies $|f(x) - f(a)| < \\varepsilon$.",
     ["For example $f(x) = {k}x + 1$ is continuous at every point: given $\\varepsilon$, choose "
      "$\\delta = \\varepsilon / {k}$.", "Then $|f(x) - f(a)| = {k}|x - a| < {k}\\delta = \\varepsilon$.",
      "Sums, products and compositions of continuous functions are again continuous, which the reader may verify "
      "with the same kind of estimate."]),
    ("Theorem", "There are infinitely many prime numbers.",
     ["Suppose there were only finitely many, say $p_1, \\dots, p_{k}$. Consider $N = p_1 p_2 \\cdots p_{k} + 1$.",
      "No $p_i$ divides $N$, since it leaves remainder $1$. But $N > 1$ has a prime factor, which is not in the list.",
      "This contradiction shows that the set of primes is infinite."]),
    ("Exercise", "Show that the set ${A} \\cap ({B} \\cup {C})$ equals $({A} \\cap {B}) \\cup ({A} \\cap {C})$.",
     ["Let $x \\in {A} \\cap ({B} \\cup {C})$. Then $x \\in {A}$ and $x$ lies in ${B}$ or in ${C}$; in either case "
      "$x$ belongs to the right-hand side.", "Conversely, an element of the right-hand side lies in ${A}$ and in "
      "${B}$ or ${C}$. Both inclusions hold, so the sets are equal by extensionality."]),
    ("Theorem", "Every subgroup of a cyclic group is cyclic.",
     ["Let ${G} = \\langle g \\rangle$ and let $H \\le {G}$ be a subgroup other than the trivial one.",
      "Choose the least positive $m$ with $g^m \\in H$. For any $g^n \\in H$ divide: $n = qm + r$ with $0 \\le r < m$.",
      "Then $g^r = g^n (g^m)^{{-q}} \\in H$, so $r = 0$ by minimality, and $H = \\langle g^m \\rangle$."]),
    ("Lemma", "A linear map $T\\colon V \\to W$ is injective if and only if $\\ker T = \\{{0\\}}$.",
     ["If $T$ is injective and $T(v) = 0 = T(0)$ then $v = 0$.",
      "Conversely, if the kernel is trivial and $T(u) = T(v)$, linearity gives $T(u - v) = 0$, so $u - v = 0$.",
      "With the rank-nullity theorem, $\\dim V = \\dim \\ker T + \\dim \\operatorname{{im}} T$, an injective map "
      "between spaces of equal finite dimension ${k}$ is therefore bijective."]),
    ("Theorem", "If $a_n \\to L$ and $b_n \\to M$, then $a_n + b_n \\to L + M$.",
     ["Let $\\varepsilon > 0$. Choose $N_1$ with $|a_n - L| < \\varepsilon/2$ for $n \\ge N_1$, and $N_2$ likewise "
      "for $b_n$.", "For $n \\ge \\max(N_1, N_2)$ the triangle inequality gives "
      "$|a_n + b_n - (L + M)| \\le |a_n - L| + |b_n - M| < \\varepsilon$."]),
]


def table_example(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """A worked example with a table of values (math solutions have tables too): kind "t" is a table,
    its rows separated by newlines and cells by "|"."""
    a, b = rng.randint(2, 9), rng.randint(1, 20)
    xs = list(range(-2, 4))
    rows = "\n".join([f"x|f(x) = {a}x^2 + {b}"] + [f"{x}|{a * x * x + b}" for x in xs])
    return "Tabulating a quadratic", [
        ("p", f"Let $f(x) = {a}x^2 + {b}$. We evaluate $f$ at the integers from $-2$ to $3$:"),
        ("t", rows),
        ("p", f"The smallest value is $f(0) = {b}$, since $x^2 \\ge 0$ for every real $x$, and the table is "
              "symmetric about $x = 0$ because $f(-x) = f(x)$."),
        ("d", f"f(3) - f(-2) = {a * 9 + b} - {a * 4 + b} = {a * 5}")]


def proof_page(rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """A few statements with proofs, in the style of lecture notes."""
    blocks = []
    for kind, statement, proof in rng.sample(_PROOFS, 3):
        fill = {"A": rng.choice("ASXU"), "B": rng.choice("BTY"), "C": rng.choice("CZW"), "G": rng.choice("GHK"),
                "k": rng.randint(2, 9)}
        blocks.append(("p", f"{kind} {rng.randint(1, 9)}.{rng.randint(1, 20)}. " + statement.format(**fill)))
        blocks.append(("p", "Proof. " + proof[0].format(**fill)))
        blocks += [("p", line.format(**fill)) for line in proof[1:]]
    return "Lecture notes", blocks


def _gsm8k_train() -> list[dict]:
    return read_jsonl(require_shared() / "benchmarks" / "openai__grade-school-math" / "grade_school_math" / "data"
                      / "train.jsonl")


def _question(item: dict) -> str:
    return item["question"].replace("$", "\\$")  # an amount's dollar escaped, as a page with TeX formulas writes it


# The words pages give a final answer and a sheet of problems in, varied as pages vary them: one wording
# on every GSM8K page (nearly half the math pages) is a template a classifier learns; "Answer:" on all of
# them had put a StackExchange help page on its Great Answer badge at 0.90.
_ANSWER_WORDINGS = ("Answer: {}", "The answer is {}.", "Result: {}", "Solution: {}", "So the result is {}.", "{}",
                    "Therefore {}.", "We get {}.")
_WORKSHEET_TITLES = ("Practice problems", "Solved problems", "Worked solutions", "Examples with solutions",
                     "Step-by-step solutions")
_ANSWER_SHEET_TITLES = ("Word problems with answers", "Word problems", "Practice set", "Exercises", "Problem set",
                        "Homework help")


def _final_answer(item: dict, rng: random.Random) -> tuple[str, str]:
    return "p", rng.choice(_ANSWER_WORDINGS).format(f"${item['answer'].split('####')[-1].strip()}$")


def gsm8k_worksheets(rng: random.Random, per_page: int = 3) -> list[tuple[str, list[tuple[str, str]]]]:
    """GSM8K train problems with their worked solutions (the calculator notes as formulas)."""
    items = _gsm8k_train()
    pages = []
    for start in range(0, len(items) - per_page + 1, per_page):
        blocks = []
        for item in items[start:start + per_page]:
            blocks.append(("p", "Problem. " + _question(item)))
            solution = _CALCULATION.sub(_calculation_tex, item["answer"].split("####")[0].replace("$", "\\$"))
            blocks += [("p", line) for line in solution.splitlines() if line.strip()]
            blocks.append(_final_answer(item, rng))
        pages.append((rng.choice(_WORKSHEET_TITLES), blocks))
    return pages


def gsm8k_answer_sheets(rng: random.Random, per_page: int = 6) -> list[tuple[str, list[tuple[str, str]]]]:
    """The same problems on sheets that give only each final answer: word problems in plain prose, as
    many pages hold them, so that a problem's prose reads as math and not only a solution's formulas."""
    items = _gsm8k_train()
    pages = []
    for start in range(0, len(items) - per_page + 1, per_page):
        blocks = []
        for number, item in enumerate(items[start:start + per_page], 1):
            blocks += [("p", f"{number}. " + _question(item)), _final_answer(item, rng)]
        pages.append((rng.choice(_ANSWER_SHEET_TITLES), blocks))
    return pages


# Real math prose that ships in packages: the docstrings of numpy's and scipy's modules that write
# formulas (``:math:`` roles, ``.. math::`` blocks), without their examples' code.
DOCSTRING_MODULES = ("numpy", "numpy.linalg", "numpy.random", "numpy.polynomial.polynomial", "numpy.polynomial.chebyshev",
                     "numpy.polynomial.legendre", "numpy.polynomial.hermite", "numpy.polynomial.laguerre", "scipy.special",
                     "scipy.stats", "scipy.linalg", "scipy.integrate", "scipy.optimize", "scipy.signal", "scipy.interpolate",
                     "scipy.spatial")


def math_docstrings() -> list[tuple[str, list[tuple[str, str]]]]:
    import importlib

    pages, seen = [], set()
    for module_name in DOCSTRING_MODULES:
        module = importlib.import_module(module_name)
        for name, obj in inspect.getmembers(module):
            doc = getattr(obj, "__doc__", None)
            if not isinstance(doc, str) or id(obj) in seen or (":math:" not in doc and "math::" not in doc):
                continue
            seen.add(id(obj))
            doc = re.sub(r":math:`([^`]+)`", r"$\1$", inspect.cleandoc(doc))
            doc = re.sub(r"\.\. math::\s*\n((?:\s+.+\n?)+)", lambda m: "\n$$" + " ".join(m.group(1).split()) + "$$\n", doc)
            blocks = [("p", " ".join(block.split())) for block in re.split(r"\n\s*\n", doc)
                      if block.strip() and ">>>" not in block and not set(block.strip()) <= set("-=")]
            pages.append((f"{module_name.split('.')[0]} {name}", blocks))
    return pages


# Non-math modules of Python's standard library (real code and API text); the evaluation reads others.
TRAINING_CODE_MODULES = ("json", "csv", "argparse", "logging", "http.client", "email.message", "urllib.parse",
                         "sqlite3", "shutil", "tarfile", "zipfile", "configparser", "smtplib", "xml.dom.minidom")
EVALUATION_CODE_MODULES = ("asyncio.streams", "subprocess", "pathlib", "socket", "ftplib", "mailbox", "http.cookies",
                           "imaplib", "pickle", "gzip", "html.parser", "wsgiref.simple_server", "optparse", "tempfile")


def code_pages(modules: tuple[str, ...]) -> list[tuple[str, str]]:
    """(title, HTML body) API-reference pages of standard-library modules: each function's signature and
    docstring, and some of its source in <pre>, as documentation sites render them."""
    import importlib

    pages = []
    for name in modules:
        module = importlib.import_module(name)
        parts = []
        for attr, obj in inspect.getmembers(module, lambda o: inspect.isfunction(o) or inspect.isclass(o)):
            if attr.startswith("_") or getattr(obj, "__module__", "") != module.__name__:
                continue
            try:
                signature = f"{name}.{attr}{inspect.signature(obj)}"
            except (TypeError, ValueError):
                signature = f"{name}.{attr}()"
            doc = inspect.getdoc(obj) or ""
            try:
                source = "\n".join(inspect.getsource(obj).splitlines()[:12])
            except (OSError, TypeError):
                source = ""
            parts.append(f"<h3><code>{html.escape(signature)}</code></h3><p>{html.escape(doc[:800])}</p>"
                         + (f"<pre><code>{html.escape(source)}</code></pre>" if source else ""))
        for i in range(0, len(parts), 6):
            pages.append((f"{name} — API reference", "\n".join(parts[i:i + 6])))
    return pages


_PRODUCTS = ("Marshall JCM800 2203 head", "Fender Twin Reverb 65", "RTX4090 graphics card", "Sony WH-1000XM5 headphones",
             "Dyson V15 vacuum", "Canon EOS R6 body", "Samsung 990 Pro 2TB SSD", "Bosch GSR18V drill", "Lego 75313 set",
             "Nike Air Zoom Pegasus 40", "KitchenAid KSM150 mixer", "Garmin Fenix 7X watch", "iPhone 15 Pro 256GB")
_TEAMS = ("Arsenal", "Chelsea", "Liverpool", "Everton", "Leeds", "Fulham", "Brentford", "Burnley", "Wolves", "Spurs")
_INGREDIENTS = ("flour", "sugar", "butter", "eggs", "milk", "salt", "baking powder", "vanilla extract", "cocoa", "yeast")


def hard_negative_pages(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(title, HTML body) pages that are numbers without math: shop listings and deals with prices,
    classifieds, league tables and stock quotes, recipes with quantities, in turn. Lists sit in a
    ``<div>`` as shops and recipe sites lay them out: stage 1's main-content pass (Resiliparse) drops a
    list that stands beside the paragraphs of an article, which left these pages without their prices."""
    pages = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            rows = []
            for product in rng.sample(_PRODUCTS, 6):
                price = rng.randint(19, 2999) + rng.choice((0.99, 0.49, 0))
                rows.append(f"<li><b>{product}</b> — now ${price:,.2f} (was ${price * 1.2:,.2f}, save {rng.randint(5, 40)}%). "
                            f"{rng.randint(1, 9)} x in stock, ships {rng.randint(1, 12)}/{rng.randint(1, 28)}/2024 "
                            f"if ordered by {rng.randint(1, 11)}pm. Rated {rng.randint(30, 50) / 10}/5 by {rng.randint(3, 900)} buyers.</li>")
            pages.append(("Deals of the day", f"<p>Today's best prices, updated at {rng.randint(1, 12)}:{rng.randint(10, 59)}.</p>"
                          f"<div class='products'><ul>{''.join(rows)}</ul></div><p>Free shipping over $50. Prices include VAT.</p>"))
        elif kind == 1:
            items = "".join(f"<p>FOR SALE: {rng.randint(1, 3)} x {rng.choice(_PRODUCTS)}, {rng.choice(('mint', 'good', 'used'))}"
                            f" condition, ${rng.randint(40, 1800)} OBO. Call 555-{rng.randint(1000, 9999)} after "
                            f"{rng.randint(5, 9)}pm or meet at {rng.randint(100, 999)} Main St.</p>" for _ in range(8))
            pages.append(("Classifieds — musical gear and electronics", items))
        elif kind == 2:
            teams = rng.sample(_TEAMS, 8)
            rows = "".join(f"<tr><td>{j + 1}</td><td>{team}</td>" + "".join(f"<td>{rng.randint(0, 38)}</td>" for _ in range(6))
                           + f"<td>{rng.randint(10, 90)}</td></tr>" for j, team in enumerate(teams))
            quotes = "".join(f"<tr><td>{t}</td><td>{rng.randint(10, 900)}.{rng.randint(10, 99)}</td><td>{rng.choice('+-')}"
                             f"{rng.randint(0, 9)}.{rng.randint(10, 99)}%</td><td>{rng.randint(1, 90)}.{rng.randint(1, 9)}M</td></tr>"
                             for t in ("AAPL", "MSFT", "NVDA", "AMZN", "TSLA"))
            pages.append(("League table and market close", "<p>Standings after the weekend fixtures.</p>"
                          f"<table><tr><th>Pos</th><th>Team</th><th>P</th><th>W</th><th>D</th><th>L</th><th>GF</th>"
                          f"<th>GA</th><th>Pts</th></tr>{rows}</table><p>Markets at the close:</p><table>{quotes}</table>"))
        else:
            lines = "".join(f"<li>{rng.randint(1, 4)} {rng.choice(('cups', 'tbsp', 'tsp', 'g', 'oz'))} {ing}</li>"
                            for ing in rng.sample(_INGREDIENTS, 7))
            pages.append(("Grandma's chocolate cake", f"<p>Serves {rng.randint(4, 12)}. Prep {rng.randint(10, 40)} min.</p>"
                          f"<div class='ingredients'><ul>{lines}</ul></div><p>Bake at {rng.choice((325, 350, 375))}°F for {rng.randint(20, 45)} minutes, "
                          f"then cool for {rng.randint(10, 30)} minutes. Costs about ${rng.randint(5, 15)} to make.</p>"))
    return pages


def nonmath_texts(held_out: bool = False) -> list[tuple[str, str]]:
    """The real non-math texts of ../shared's seeds: Common Crawl documents (dolma's test data), news
    and Wikipedia (gensim's). Every fourth is held out of the crawl (``held_out=True``: those alone) as
    real non-math pages for the evaluation; a long Wikipedia article is several pages, all on one side.
    The few Common Crawl documents that are math pages (a cstheory.SE question on powerdomains, a double
    integral, a factoring algorithm: 23–107 formulas each, where no other has more than 2) are left out."""
    return [(title, page) for i, (title, pages) in enumerate(_nonmath_texts()) if (i % 4 == 0) == held_out
            for page in pages if preprocess(page).split().count("mathspan") < 10]


def hott_sections(held_out: bool) -> list[str]:
    """The sections of the HoTT book's LaTeX source (../shared's textbook seed), from every other chapter
    file: the first, third, … train (``held_out=False``), the others are the textbook evaluation."""
    chapters = sorted((require_shared() / "seeds/math/HoTT__book").glob("*.tex"))
    return [section for tex in chapters[held_out::2]
            for section in re.split(r"\\(?:section|subsection)\*?\{", tex.read_text(errors="replace"))
            if len(section) > 300]


def _nonmath_texts() -> list[tuple[str, list[str]]]:
    seeds = require_shared() / "seeds" / "nonmath"
    texts = []
    for path in sorted((seeds / "allenai__dolma").rglob("*.json*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            texts += [("Article", [json.loads(line)["text"]]) for line in lines if line.strip()]
    data = seeds / "pypi__gensim" / "gensim" / "test" / "test_data"
    for name in ("lee_background.cor", "lee.cor", "pang_lee_polarity.cor"):
        texts += [("News", [line]) for line in (data / name).read_text(encoding="utf-8", errors="replace").splitlines()
                  if len(line) > 200]
    wiki = bz2.open(data / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2", "rt",
                    encoding="utf-8").read()
    for title, body in re.findall(r"<title>(.*?)</title>.*?<text[^>]*>(.*?)</text>", wiki, re.DOTALL):
        body = html.unescape(body)
        if "<math" in body:  # Arithmetic mean, Analysis of variance and the like: not non-math text
            continue
        body = re.sub(r"\{\{.*?\}\}|<ref.*?</ref>|<.*?>|'''|''|==+", " ", body, flags=re.DOTALL)
        body = re.sub(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]", r"\1", body)
        if len(body) > 300:
            texts.append((title, _pages_of(body, 6000)))
    return texts


def _pages_of(text: str, size: int) -> list[str]:
    """A long article as pages of about ``size`` characters, cut at paragraphs (a longer paragraph is cut
    to ``size``); a last page of 300 characters or fewer is dropped, unless it is the only one."""
    pages, page = [], ""
    for paragraph in re.split(r"\n\s*\n", text):
        if page and len(page) + len(paragraph) > size:
            pages.append(page)
            page = ""
        page += paragraph[:size] + "\n\n"
    if len(page) > 300 or not pages:
        pages.append(page)
    return pages


def _render_math(title: str, blocks: list[tuple[str, str]], style: int) -> str:
    def inline(text: str) -> str:
        # formulas between unescaped dollars; an escaped one (\$5) is a dollar the page shows
        parts = re.split(r"(\$\$.+?\$\$|(?<!\\)\$[^$]+?(?<!\\)\$)", text)
        out = []
        for part in parts:
            if part.startswith("$$") or not part.startswith("$") or len(part) < 2:
                out.append(html.escape(part.replace("\\$", "$")))
                continue
            tex = part[1:-1]
            if style == 0:
                out.append(f'<script type="math/tex">{html.escape(tex)}</script>')
            elif style == 1:
                out.append(f"\\({html.escape(tex)}\\)")
            else:
                out.append(f'<math><semantics><mi>x</mi><annotation encoding="application/x-tex">{html.escape(tex)}'
                           "</annotation></semantics></math>")
        return "".join(out)

    body = []
    for kind, content in blocks:
        if kind == "t":
            rows = [line.split("|") for line in content.splitlines()]
            body.append("<table>" + "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                                            for row in rows) + "</table>")
        elif kind == "d" or (content.startswith("$$") and content.endswith("$$")):
            tex = html.escape(content.strip("$"))
            body.append({0: f'<script type="math/tex; mode=display">{tex}</script>', 1: f"<p>\\[{tex}\\]</p>",
                         2: f'<math display="block"><semantics><mi>x</mi><annotation encoding="application/x-tex">{tex}'
                            "</annotation></semantics></math>"}[style])
        else:
            body.append(f"<p>{inline(content)}</p>")
    head = '<script src="https://cdn.example/MathJax.js?config=TeX-AMS_HTML"></script>' if style < 2 else ""
    return _page(title, "\n".join(body), head)


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{head}</head><body>"
            "<nav><a href='/'>Home</a> | <a href='/topics'>Topics</a> | <a href='/about'>About</a></nav>"
            f"<main><article><h1>{html.escape(title)}</h1>\n{body}\n</article></main>"
            "<footer>Copyright 2024. All rights reserved.</footer></body></html>")


def own_pages(generated: int = 3000, seed: int = 0, hard_negatives: bool = True,
              news: bool = True) -> list[tuple[str, str]]:
    """(name, html) of the pages :func:`write_crawl` holds, shuffled; a name starts with ``math/`` for a math
    page (``text/``, ``code/`` or ``numbers/`` for the others). ``news=False`` leaves gensim's news and
    movie-review texts out (their licence does not say a model of them may be redistributed)."""
    rng = random.Random(seed)
    math_pages = ([worked_example(rng) for _ in range(generated)] + [proof_page(rng) for _ in range(generated // 3)]
                  + [table_example(rng) for _ in range(generated // 10)] + gsm8k_worksheets(rng) + gsm8k_answer_sheets(rng)
                  + math_docstrings())
    pages = [(f"math/{i}", _render_math(title, blocks, rng.randrange(3))) for i, (title, blocks) in enumerate(math_pages)]
    pages += [(f"text/{i}", _page(title, "\n".join(f"<p>{html.escape(p)}</p>" for p in re.split(r"\n\s*\n", text))))
              for i, (title, text) in enumerate(nonmath_texts()) if news or title != "News"]
    if hard_negatives:
        pages += [(f"code/{i}", _page(title, body)) for i, (title, body) in enumerate(code_pages(TRAINING_CODE_MODULES))]
        pages += [(f"numbers/{i}", _page(title, body)) for i, (title, body) in enumerate(hard_negative_pages(rng, 1600))]
    rng.shuffle(pages)
    return pages


def write_crawl(out_dir: Path, generated: int = 3000, seed: int = 0, hard_negatives: bool = True) -> list[Path]:
    """Three WARC files, one per crawl id in the file name, math and non-math pages dealt across them;
    with ``hard_negatives``, also API-reference pages of standard-library modules and pages of
    numbers without math (shops, classifieds, league tables, recipes)."""
    pages = own_pages(generated, seed, hard_negatives)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, crawl in enumerate(CRAWLS):
        path = out_dir / f"{crawl}-own.warc.gz"
        write_warc(path, [Fetch(f"https://site{i % 97}.example/{name}", body.encode())
                          for i, (name, body) in enumerate(pages[index::len(CRAWLS)])])
        paths.append(path)
    return paths
