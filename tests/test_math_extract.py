"""Math-aware extraction: every markup family becomes LaTeX, and malformed math never raises."""

import logging
import subprocess
import sys
import time

import pytest

from megamath.web.extract import DomTooDeepError, extract, extract_text
from megamath.web.math.images import tex_from_image
from megamath.web.math.tex import normalize_tex, page_delimiters

from conftest import SHARED

ZOO = SHARED / "data" / "math-zoo-dev"


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><article><p>Some introductory prose about the problem.</p>{body}" \
           "<p>And a closing sentence of ordinary prose.</p></article></body></html>"


def test_katex_with_annotation_inline_and_display():
    html = page('<p>Let <span class="katex"><span class="katex-mathml"><math><semantics><mi>x</mi>'
                '<annotation encoding="application/x-tex">x^2</annotation></semantics></math></span>'
                '<span class="katex-html" aria-hidden="true">x2</span></span> be given.</p>'
                '<p><span class="katex-display"><span class="katex"><span class="katex-mathml"><math><semantics>'
                '<annotation encoding="application/x-tex">\\frac{a}{b}</annotation></semantics></math></span>'
                '<span class="katex-html">a/b</span></span></span></p>')
    result = extract(html)
    assert "Let $x^2$ be given." in result.text and "x2" not in result.text
    assert "\n$$\\frac{a}{b}$$\n" in result.text + "\n"
    assert result.math["katex"] == 2


def test_mathjax2_scripts_previews_dropped():
    html = page('<p>Since <span class="MathJax_Preview">a+b</span><script type="math/tex">a+b</script> is even,</p>'
                '<span class="MathJax_Preview">c</span><script type="math/tex; mode=display">c = \\sqrt{2}</script>')
    text = extract_text(html)
    assert "Since $a+b$ is even," in text and "$$c = \\sqrt{2}$$" in text
    assert text.count("a+b") == 1


def test_mathjax3_assistive_mathml_and_plain_mathml_conversion():
    html = page('<p>We have <mjx-container class="MathJax" jax="CHTML"><mjx-math aria-hidden="true">junk</mjx-math>'
                '<mjx-assistive-mml><math><mfrac><mn>1</mn><msqrt><mi>x</mi></msqrt></mfrac></math>'
                '</mjx-assistive-mml></mjx-container> here.</p>'
                '<math display="block"><mrow><msubsup><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow>'
                '<mi>n</mi></msubsup><msup><mi>α</mi><mn>2</mn></msup><mo>≤</mo><mover><mi>z</mi><mo>―</mo></mover>'
                '</mrow></math>'
                '<p>Matrix <math><mrow><mo>(</mo><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>2</mn></mtd></mtr>'
                '<mtr><mtd><mn>3</mn></mtd><mtd><mn>4</mn></mtd></mtr></mtable><mo>)</mo></mrow></math> and '
                '<math><mi mathvariant="bold">v</mi><mo>=</mo><mi>𝐰</mi></math>.</p>')
    result = extract(html)
    assert "We have $\\frac{1}{\\sqrt{x}}$ here." in result.text and "junk" not in result.text
    assert "$$\\sum_{i=1}^{n}\\alpha^{2}\\le\\overline{z}$$" in result.text
    assert "$(\\begin{matrix}1 & 2 \\\\ 3 & 4\\end{matrix})$" in result.text
    assert "$\\mathbf{v}=\\mathbf{w}$" in result.text
    assert result.math["mathjax3"] == 1 and result.math["mathml"] == 3


def test_wikipedia_math_appears_once():
    html = page('<p>Energy <span class="mwe-math-element"><span class="mwe-math-mathml-inline" style="display: none;">'
                '<math alttext="{\\displaystyle E=mc^{2}}"><semantics><mrow><mi>E</mi></mrow>'
                '<annotation encoding="application/x-tex">{\\displaystyle E=mc^{2}}</annotation></semantics></math>'
                '</span><img src="https://wikimedia.org/api/rest_v1/media/math/render/svg/abc" '
                'class="mwe-math-fallback-image-inline" alt="{\\displaystyle E=mc^{2}}"></span> is famous.</p>')
    text = extract_text(html)
    assert "Energy $E=mc^{2}$ is famous." in text and text.count("mc^{2}") == 1


def test_formula_images():
    assert tex_from_image("https://s0.wp.com/latex.php?latex=x%5E2+%2B+1&bg=fff", None, None) == "x^2 + 1"
    assert tex_from_image("https://latex.codecogs.com/gif.latex?\\dpi{110}%20a%2Bb", None, None) == "a+b"
    assert tex_from_image("https://latex.codecogs.com/svg.image?x_1", "x_1", None) == "x_1"
    assert tex_from_image("/cgi-bin/mimetex.cgi?\\alpha+1", None, None) == "\\alpha+1"
    html = page('<p>So <img class="latex" src="https://s0.wp.com/latex.php?latex=%5Cfrac%7B1%7D%7B2%7D" '
                'alt="\\frac{1}{2}"> and <img src="https://latex.codecogs.com/gif.latex?y%5E3"> and a photo '
                '<img src="/cat.jpg" alt="a cat">.</p>')
    result = extract(html)
    assert "So $\\frac{1}{2}$ and $y^3$ and a photo" in result.text and result.math["image"] == 2


def test_raw_tex_delimiters_config_and_prices():
    text, count, _ = normalize_tex("Inline \\(a+b\\) and display \\[c\\] and $d$ then $$e$$ end.")
    assert text == "Inline $a+b$ and display\n$$c$$\nand $d$ then\n$$e$$\nend." and count == 4
    assert normalize_tex("It costs $5 and $10 today.")[1] == 0
    assert normalize_tex("It costs $5 and $10 today.")[0] == "It costs $5 and $10 today."
    custom = page_delimiters("MathJax.Hub.Config({tex2jax: {inlineMath: [['@@','@@']], displayMath: [['%%','%%']]}})")
    assert normalize_tex("Let @@x@@ hold and %%y = 1%% too.", custom)[0] == "Let $x$ hold and\n$$y = 1$$\ntoo."
    html = page("<p>Let \\(x &lt; 1\\) and $y$.</p>",
                head="<script>MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']]}};</script>")
    result = extract(html)
    assert "Let $x < 1$ and $y$." in result.text and result.math["tex_text"] == 2


def test_katex_html_only_rebuild():
    frac = ('<span class="katex"><span class="katex-html" aria-hidden="true"><span class="base">'
            '<span class="mord mathnormal">P</span><span class="mrel">=</span><span class="mord">'
            '<span class="mfrac"><span class="vlist-t"><span class="vlist-r"><span class="vlist">'
            '<span style="top:-2.314em;"><span class="pstrut"></span><span class="mord">2</span></span>'
            '<span style="top:-3.23em;"><span class="frac-line"></span></span>'
            '<span style="top:-3.677em;"><span class="pstrut"></span><span class="mord">1</span></span>'
            '</span></span></span></span></span><span class="mord"><span class="mord mathnormal">x</span>'
            '<span class="msupsub"><span class="vlist-t"><span class="vlist-r"><span class="vlist">'
            '<span style="top:-3.063em;"><span class="mord">2</span></span></span></span></span></span></span>'
            '<span class="mop">cos</span><span class="mord mathnormal">θ</span></span></span></span>')
    # full-size numerator and denominator at display offsets: KaTeX's layout of \dfrac in running text
    result = extract(page(f"<p>Then {frac} holds.</p>"))
    assert "Then $P=\\dfrac{1}{2}x^{2}\\cos \\theta$ holds." in result.text and result.math["katex_html"] == 1
    # the same fraction in text style, as KaTeX lays out \frac inline: numerator and denominator in script size
    scripted = frac.replace('<span class="mord">2</span></span>', '<span class="sizing reset-size6 size3 mtight">'
                            '<span class="mord mtight">2</span></span></span>', 1).replace(
        '<span class="mord">1</span></span>', '<span class="sizing reset-size6 size3 mtight">'
        '<span class="mord mtight">1</span></span></span>', 1)
    assert "Then $P=\\frac{1}{2}x^{2}\\cos \\theta$ holds." in extract(page(f"<p>Then {scripted} holds.</p>")).text


@pytest.mark.parametrize("body", [
    "<p>unclosed $x + y and \\( z and $$ w</p>",
    "<math><mfrac><mi>a</mi></mfrac><msup></msup><mroot/><mtable><mtd>x</mtd></mtable></math>",
    "<math>" + "<mrow>" * 3000 + "<mi>x</mi>" + "</mrow>" * 3000 + "</math>",
    "<span class='katex'></span><span class='katex'><span class='katex-html'></span></span>",
    "<script type='math/tex'></script><mjx-container></mjx-container><img src='https://latex.codecogs.com/gif.latex?'>",
    "<script type='math/asciimath'>((</script><script type='math/asciimath'>sum_(i=1)^n i</script>",
])
def test_malformed_math_degrades_without_raising(body):
    result = extract(page(body), max_dom_depth=0)
    assert "introductory prose" in result.text


@pytest.mark.parametrize("body, kept", [
    ("<p>Let <math><mi>x</mi> be a number and <a href='#'>see here</a> for the proof.<p>Next one.</p>",
     "Let $x$ be a number and see here for the proof."),
    ("<div>Open <math><mtable><mtr><mtd><mi>x</mi> and the text goes on <a>a link</a> to its end</div>",
     "Open $x$ and the text goes on a link to its end"),
    ("<div>Cells <math><mtable><mtr><mtd><mi>x</mi><mtd><mi>y</mi></mtable> and the text goes on <label>here</label>"
     " to its end</div>", "Cells $\\begin{matrix}x & y\\end{matrix}$ and the text goes on here to its end"),
])
def test_malformed_math_never_costs_prose(body, kept):
    """An unclosed <math> or <mtd> takes in the prose after it; the prose comes back after the formula."""
    text = extract_text(page(body))
    assert kept in text and "closing sentence of ordinary prose" in text


def test_deep_mathml_is_a_formula_not_a_deep_page():
    """The depth limit is for pages; a formula nested 3,000 deep is rewritten before it is measured."""
    tower = "<math>" + "<mrow>" * 3000 + "<mi>x</mi>" + "</mrow>" * 3000 + "</math>"
    body = "<p>Prose before the tower, long enough.</p><p>Deep " + tower + "</p>"
    html = f"<html><body><article>{body}</article></body></html>"  # the tower ends the last-child chain
    result = extract(html)
    assert "Deep $x$" in result.text and result.math["mathml"] == 1
    sums = "<math>" + "<mrow><mi>a</mi><mo>+</mo>" * 3000 + "<mi>x</mi>" + "</mrow>" * 3000 + "</math>"
    degraded = extract(html.replace(tower, sums))
    assert "Prose before the tower" in degraded.text and degraded.math["mathml_failed"] == 1
    with pytest.raises(DomTooDeepError):  # a page that is deep without its formulas still is
        extract("<html><body><p><math><mi>y</mi></math></p>" + "<div>" * 3000 + "x" + "</div>" * 3000 + "</body></html>")


def test_ten_thousand_formulas_in_reasonable_time():
    body = "<p>" + " and ".join(f'<script type="math/tex">x_{{{i}}}</script>' for i in range(10_000)) + "</p>"
    started = time.monotonic()
    result = extract(page(body))
    assert result.math["mathjax2"] == 10_000 and "$x_{9999}$" in result.text
    assert time.monotonic() - started < 60


def test_pages_without_math_are_unchanged():
    html = page("<p>The shop sells apples for $2 each and pears for $3 each.</p>")
    result = extract(html)
    assert result.math == {} and "apples for $2 each and pears for $3 each." in result.text
    assert extract_text(html, math=False) == result.text


@pytest.mark.skipif(not ZOO.is_dir(), reason=f"math-zoo pages not found at {ZOO}")
def test_every_zoo_family_yields_its_formulas():
    import json

    rows = [json.loads(line) for line in (ZOO / "truth.jsonl").read_text().splitlines()]
    seen = {}
    for row in rows:
        if row["family"] in seen or row["doc"] == "math4108":
            continue
        result = extract((ZOO / row["page"]).read_text(encoding="utf-8"))
        produced = sum(n for family, n in result.math.items() if not family.endswith("_failed"))
        seen[row["family"]] = (produced, len(row["formulas"]))
    assert len(seen) == 11
    for family, (produced, expected) in seen.items():
        assert produced >= expected * 0.95, (family, produced, expected)


def test_exponents_tables_and_code_on_math_pages():
    html = page('<p>So <script type="math/tex">a</script> gives x<sup>2</sup> and H<sub>2</sub>O, as shown'
                '<sup><a href="#n1">[1]</a></sup> and noted<sup>[2]</sup>.</p>'
                '<table><tr><th>n</th><th>square</th></tr><tr><td>2</td><td><script type="math/tex">2^2</script>'
                '</td></tr><tr><td>3</td><td>9</td></tr></table>'
                '<pre><code>def f(x):\n    return x ** 2</code></pre>')
    result = extract(html)
    assert "gives x$^{2}$ and H$_{2}$O, as shown[1] and noted[2]." in result.text
    assert "| n | square |\n| --- | --- |\n| 2 | $2^2$ |\n| 3 | 9 |" in result.text
    assert "def f(x):\n    return x ** 2" in result.text
    assert result.math["sup_sub"] == 2 and result.math["table"] == 1 and "tex_text" not in result.math


def test_layout_tables_and_non_math_pages_are_left_alone():
    layout = page("<table><tr><td><table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>"
                  "</td></tr></table><p>x<sup>2</sup></p><script type='math/tex'>y</script>")
    text = extract_text(layout)
    assert text.count("| a | b |") == 1 and text.count("| --- |") == 1  # the inner data table only
    assert "|" not in extract_text(page("<table><tr><td>one row</td><td>only</td></tr></table><math><mi>y</mi></math>"))
    assert "x2" in extract_text(page("<p>Area x<sup>2</sup>.</p>"))  # no math markup: resiliparse as is


def test_a_text_of_three_bytes_between_elements_is_kept():
    """resiliparse's main-content pass drops every text node of 3 UTF-8 bytes that are not all ASCII:
    a symbol alone in an element, between two elements, or beside an ASCII character."""
    html = page('<pre><span class="k">theorem</span> <span class="bp">&#8704;</span> <span class="n">x</span> '
                '<span class="o">:</span> <span class="n">&#8469;</span>, x <span class="bp">&ne;</span> 0</pre>'
                '<p>Let <i>ℝ</i> be the reals, <span>★</span> a star, <span>\ue001</span> an icon and <b>&amp;</b> '
                'an ampersand.</p><p>So <i>a</i>≤<i>b</i>, <i>c</i> &le; <i>d</i>, S<sup>2</sup>/σ<sup>2</sup>, '
                'S<sup>2</sup>/&sigma;<sup>2</sup>, <b>5</b>€<b>6</b> and <i>x</i>中<i>y</i> stay.</p>')
    text = extract_text(html)
    assert "theorem ∀ x : ℕ, x ≠ 0" in text and "Let ℝ be the reals, ★ a star, an icon and & an ampersand." in text
    assert "So a≤b, c ≤ d, S2/σ2, S2/σ2, 5€6 and x中y stay." in text
    assert "\ue000" not in text and "\ue001" not in text
    # inside formula markup the rewriters read the elements as they are (MathJax 2's rendering is dropped)
    assert "So $\\forall x\\in\\mathbb{R}$ holds, and $\\forall$." in extract_text(page(
        '<p>So <math><mo>∀</mo><mi>x</mi><mo>∈</mo><mi>ℝ</mi></math> holds, and <span class="MathJax">'
        '<span class="mo">∀</span></span><script type="math/tex">\\forall</script>.</p>'))


@pytest.mark.skipif(not (SHARED / "data" / "html-math").is_dir(), reason=f"../shared's html-math not found under {SHARED}")
def test_highlighted_lean_code_keeps_its_symbols():
    lean = SHARED / "data/html-math/leanprover-community__mathematics_in_lean/html/C01_Introduction.html"
    text = extract_text(lean.read_bytes())
    assert "∀ x y z n : ℕ, n > 2 ∧ x * y * z ≠ 0 → x ^ n + y ^ n ≠ z ^ n" in text


def test_asciimath_backticks_on_pages_that_load_asciimath():
    head = '<script src="https://cdn.example/mathjax/startup.js?config=AM_CHTML"></script><!-- asciimath -->'
    result = extract(page("<p>The sum `sum_(i=1)^n i` and `x^2` grow.</p>", head=head))
    assert "The sum $" in result.text and "`" not in result.text and result.math["asciimath"] == 2
    assert "`code`" in extract_text(page("<p>Run `code` here.</p>"))  # no AsciiMath on the page


def test_asciimath_leaves_the_users_logging_alone():
    """py-asciimath calls logging.basicConfig(level=DEBUG) when imported; a library user's root logger
    must keep its level and handlers, and nothing may be printed per formula."""
    program = (
        "import logging\n"
        "from megamath.web.extract import extract_text\n"
        "page = '<p>x <script type=\"math/asciimath\">sum_(i=1)^n i</script> and `x^2`</p><!-- asciimath -->'\n"
        "text = extract_text(page, main_content=False)\n"
        "root = logging.getLogger()\n"
        "assert '\\\\sum' in text, text\n"
        "print(root.level, len(root.handlers))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(logging.WARNING), "0"]
    assert done.stderr == ""


@pytest.mark.skipif(not ZOO.is_dir(), reason=f"math-zoo pages not found at {ZOO}")
def test_mathjax3_chtml_without_assistive_mathml_is_rebuilt_from_glyph_classes():
    import re as regex

    html = (ZOO / "math1427__mathjax3-chtml-assistive.html").read_text(encoding="utf-8")
    stripped = regex.sub(r"<mjx-assistive-mml.*?</mjx-assistive-mml>", "", html, flags=regex.S)
    assert "<math" not in stripped
    with_mathml, without = extract(html), extract(stripped)
    assert without.math["mathjax3"] == with_mathml.math["mathjax3"] > 10
    assert "\\frac{17}{3}" in without.text and "\\times" in without.text
