"""MathML → LaTeX: TeX that means what the page meant, construct by construct.

Each case is MathML as renderers write it (Temml, KaTeX, MathJax, Word's mml: prefix, hand-written
pages) and the TeX a reader of the page would write.
"""

from pathlib import Path

import pytest
from resiliparse.parse.html import HTMLTree

from megamath.web.extract import extract
from megamath.web.math.mathml import mathml_to_tex

CASES = {
    # fences: stretched ones are \left…\right, plain ones stay plain; a fenced base needs no braces
    '<mrow><mo fence="true" form="prefix">(</mo><mstyle displaystyle="true" scriptlevel="0"><mfrac><mn>17</mn><mn>3</mn>'
    '</mfrac></mstyle><mo fence="true" form="postfix">)</mo></mrow>': r"\left(\dfrac{17}{3}\right)",
    '<msup><mrow><mo fence="true" form="prefix" stretchy="false">(</mo><mi>a</mi><mo>−</mo><mn>5</mn>'
    '<mo fence="true" form="postfix" stretchy="false">)</mo></mrow><mn>2</mn></msup>': "(a-5)^{2}",
    "<msup><mrow><mo>(</mo><mi>x</mi><mo>+</mo><mn>1</mn><mo>)</mo></mrow><mn>2</mn></msup>": "(x+1)^{2}",
    "<msup><mi>cos</mi><mn>2</mn></msup><mo>\u2061</mo><mspace width='0.1667em'/><mi>θ</mi>": r"\cos^{2}\theta",
    "<msup><mn>17</mn><mn>2</mn></msup>": "17^{2}",
    "<msup><msub><mi>x</mi><mi>i</mi></msub><mn>2</mn></msup>": "{x_{i}}^{2}",
    "<msup><mrow><mi>a</mi><mi>b</mi></mrow><mn>2</mn></msup>": "{ab}^{2}",
    # primes
    '<msup><mi>f</mi><mo lspace="0em" rspace="0em">′</mo></msup><mo stretchy="false">(</mo><mi>x</mi>'
    '<mo stretchy="false">)</mo>': "f'(x)",
    "<msup><mi>g</mi><mo>″</mo></msup>": "g''",
    "<msubsup><mi>x</mi><mn>1</mn><mo>′</mo></msubsup>": "x_{1}'",
    # |, \mid, \lvert
    '<mi>n</mi><mo lspace="0.22em" rspace="0.22em" stretchy="false">|</mo><mn>306</mn>': r"n\mid 306",
    "<mi>n</mi><mo>∣</mo><mn>12</mn>": r"n\mid 12",
    "<mi>|</mi><mi>x</mi><mi>|</mi>": "|x|",
    '<mo form="prefix" stretchy="false">|</mo><mi>x</mi><mo form="postfix" stretchy="false">|</mo>': r"\lvert x\rvert",
    '<mrow><mo fence="true" form="prefix">|</mo><mfrac><mi>a</mi><mi>b</mi></mfrac><mo fence="true" form="postfix">|'
    '</mo></mrow>': r"\left|\frac{a}{b}\right|",
    # \pmod as Temml (nested), KaTeX and MathJax (flat) write it; \bmod
    '<mi>t</mi><mo>≡</mo><mn>1</mn><mo></mo><mspace width="0.4444em"/><mrow><mo fence="true" form="prefix" '
    'stretchy="false">(</mo><mpadded lspace="0"><mi>mod</mi></mpadded><mspace width="0.3333em"/><mn>23</mn>'
    '<mo fence="true" form="postfix" stretchy="false">)</mo></mrow>': r"t\equiv 1\pmod{23}",
    '<mi>m</mi><mo>≡</mo><mn>6</mn><mspace width="1em"/><mo stretchy="false">(</mo><mrow><mi mathvariant="normal">'
    'mod</mi></mrow><mspace width="0.3333em"/><mn>9</mn><mo stretchy="false">)</mo>': r"m\equiv 6\pmod{9}",
    '<mi>a</mi><mo lspace="0.2222em" rspace="0.2222em">mod</mo><mi>b</mi>': r"a\bmod b",
    # explicit spaces
    '<mi>p</mi><mspace width="1em"/><mtext>and</mtext><mspace width="1em"/><mi>q</mi>': r"p\quad\text{and}\quad q",
    '<mi>a</mi><mspace width="2em"/><mi>b</mi><mspace width="0.1667em"/><mi>c</mi>': r"a\qquad b\,c",
    # text: its style, its spaces, its special characters
    "<mtext>𝐨𝐝𝐝</mtext>": r"\textbf{odd}",
    '<mtext mathvariant="italic">note</mtext>': r"\textit{note}",
    "<mi>x</mi><mtext> and </mtext><mi>y</mi>": r"x\text{ and }y",
    "<mtext>50% of {a} &amp; b_1</mtext>": r"\text{50\% of \{a\} \& b\_1}",
    # letters in every style, as commands, never as styled code points
    '<mi mathvariant="bold">v</mi>': r"\mathbf{v}",
    '<mi mathvariant="double-struck">R</mi>': r"\mathbb{R}",
    '<mi mathvariant="fraktur">g</mi>': r"\mathfrak{g}",
    '<mi mathvariant="script">L</mi>': r"\mathcal{L}",
    '<mi mathvariant="sans-serif">A</mi>': r"\mathsf{A}",
    "<mi>𝐱</mi><mo>+</mo><mi>ℝ</mi><mo>+</mo><mi>𝔤</mi>": r"\mathbf{x}+\mathbb{R}+\mathfrak{g}",
    # bars, accents, combining marks
    "<mover><mi>z</mi><mo>―</mo></mover>": r"\overline{z}",
    "<munder><mrow><mi>a</mi><mi>b</mi></mrow><mo>―</mo></munder>": r"\underline{ab}",
    "<mover><mi>x</mi><mo>¯</mo></mover>": r"\overline{x}",
    '<mover><mrow><mi>A</mi><mi>B</mi></mrow><mo stretchy="true">→</mo></mover>': r"\overrightarrow{AB}",
    '<mover><mi>v</mi><mo stretchy="false">→</mo></mover>': r"\vec{v}",
    '<mover><mi>x</mi><mo stretchy="false">^</mo></mover>': r"\hat{x}",
    "<mover><mrow><mi>A</mi><mi>B</mi><mi>C</mi></mrow><mo>^</mo></mover>": r"\widehat{ABC}",
    "<mi>x\u0308</mi>": r"\ddot{x}",
    "<mi>ẍ</mi><mo>+</mo><mi>x̄</mi>": r"\ddot{x}+\bar{x}",
    "<mi>a</mi><mo>≠</mo><mi>b</mi>": r"a\ne b",
    "<mi>a</mi><mo>=\u0338</mo><mi>b</mi>": r"a\neq b",
    "<mi>x</mi><mo>∉</mo><mi>A</mi>": r"x\notin A",
    "<mi>A</mi><mo>\\</mo><mi>B</mi>": r"A\backslash B",
    # roots, nested root indices
    "<mroot><mi>y</mi><mroot><mi>x</mi><mn>3</mn></mroot></mroot>": r"\sqrt[{\sqrt[3]{x}}]{y}",
    '<menclose notation="radical"><mi>a</mi><mo>+</mo><mn>2</mn></menclose>': r"\sqrt{a+2}",
    # other notations of menclose keep their meaning, or at least their content
    '<menclose notation="box"><mi>E</mi></menclose>': r"\boxed{E}",
    '<mrow style="padding:3pt;border:1px solid;"><mn>5</mn></mrow>': r"\boxed{5}",  # Temml's \boxed
    "<mrow>" * 3000 + "<mi>x</mi>" + "</mrow>" * 3000: "x",  # a generated tower of rows of one
    '<menclose notation="updiagonalstrike"><mi>x</mi></menclose>': r"\cancel{x}",
    '<menclose notation="updiagonalstrike downdiagonalstrike"><mi>x</mi></menclose>': r"\xcancel{x}",
    '<menclose notation="horizontalstrike"><mi>x</mi></menclose>': r"\sout{x}",
    '<menclose notation="phasorangle"><mi>θ</mi></menclose>': r"\theta",
    # pre- and post-scripts
    "<mmultiscripts><mi>F</mi><mi>i</mi><mi>j</mi><mprescripts/><mn>0</mn><none/></mmultiscripts>": "{}_{0}F_{i}^{j}",
    "<mmultiscripts><mi>R</mi><mi>a</mi><none/><none/><mi>b</mi></mmultiscripts>": "R_{a}^{b}",
    # fractions, binomials, tables by their fences, equation numbers
    "<mfrac><mi>a</mi><mi>b</mi></mfrac>": r"\frac{a}{b}",
    '<mstyle displaystyle="false"><mfrac><mi>a</mi><mi>b</mi></mfrac></mstyle>': r"\tfrac{a}{b}",
    '<mrow><mo fence="true" form="prefix">(</mo><mfrac linethickness="0px"><mi>n</mi><mi>k</mi></mfrac>'
    '<mo fence="true" form="postfix">)</mo></mrow>': r"\binom{n}{k}",
    '<mrow><mo fence="true" form="prefix">(</mo><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mn>2</mn></mtd></mtr>'
    '<mtr><mtd><mn>3</mn></mtd><mtd><mn>4</mn></mtd></mtr></mtable><mo fence="true" form="postfix">)</mo></mrow>':
        r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}",
    '<mrow><mo fence="true" form="prefix">[</mo><mtable><mtr><mtd><mi>a</mi></mtd></mtr><mtr><mtd><mi>b</mi></mtd></mtr>'
    '</mtable><mo fence="true" form="postfix">]</mo></mrow>': r"\begin{bmatrix}a \\ b\end{bmatrix}",
    '<mrow><mo fence="true" form="prefix">{</mo><mtable><mtr><mtd><mi>x</mi></mtd><mtd><mtext>if </mtext><mi>x</mi>'
    '<mo>≥</mo><mn>0</mn></mtd></mtr><mtr><mtd><mo>−</mo><mi>x</mi></mtd><mtd><mtext>otherwise</mtext></mtd></mtr>'
    '</mtable><mo fence="true" form="postfix"></mo></mrow>':
        r"\begin{cases}x & \text{if }x\ge 0 \\ -x & \text{otherwise}\end{cases}",
    '<mfenced open="[" close="]"><mtable><mtr><mtd><mn>1</mn></mtd></mtr></mtable></mfenced>':
        r"\begin{bmatrix}1\end{bmatrix}",
    '<mtable columnalign="right left"><mtr><mtd><mi>a</mi></mtd><mtd><mo>=</mo><mi>b</mi></mtd></mtr><mtr><mtd></mtd>'
    '<mtd><mo>=</mo><mi>c</mi></mtd></mtr></mtable>': r"\begin{aligned}a & =b \\ & =c\end{aligned}",
    # KaTeX's own MathML: | and ‖ as ordinary identifiers, \lvert…\rvert, sized delimiters, \overset
    # inside an <mo>, primes in a row, \operatorname, spacing-modifier accents
    '<mi mathvariant="normal">∣</mi><mi>x</mi><mi mathvariant="normal">∣</mi>': "|x|",
    '<mo stretchy="false">∣</mo><mi>x</mi><mo stretchy="false">∣</mo>': r"\lvert x\rvert",
    '<mi mathvariant="normal">∥</mi><mi>v</mi><mi mathvariant="normal">∥</mi><mo>+</mo><mi>a</mi><mo>∥</mo><mi>b</mi>':
        r"\|v\|+a\parallel b",
    '<mo fence="false" stretchy="true" minsize="1.8em" maxsize="1.8em">(</mo><mi>x</mi>'
    '<mo fence="false" stretchy="true" minsize="1.8em" maxsize="1.8em">)</mo>': r"\Bigl(x\Bigr)",
    "<mo><mover><mo><mo>=</mo></mo><mrow><mi>d</mi><mi>e</mi><mi>f</mi></mrow></mover></mo>": r"\overset{def}{=}",
    "<munderover><mo>∑</mo><mrow><mi>k</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover><mi>k</mi>":
        r"\sum_{k=1}^{n}k",
    '<msup><mi>f</mi><mrow><mo mathvariant="normal">′</mo><mo mathvariant="normal">′</mo></mrow></msup>': "f''",
    '<mi mathvariant="normal">rank</mi><mo>⁡</mo><mi>A</mi>': r"\operatorname{rank}A",
    '<mover accent="true"><mi>y</mi><mo>ˉ</mo></mover>': r"\bar{y}",
    '<mi>a</mi><mo lspace="0.22em" rspace="0.22em"><mrow><mi mathvariant="normal">m</mi><mi mathvariant="normal">o</mi>'
    '<mi mathvariant="normal">d</mi></mrow></mo><mi>b</mi>': r"a\bmod b",
    '<mrow><mo fence="true">∣</mo><mtable><mtr><mtd><mi>x</mi></mtd><mtd><mi>y</mi></mtd></mtr></mtable>'
    '<mo fence="true">∣</mo></mrow>': r"\begin{vmatrix}x & y\end{vmatrix}",
    "<mtable><mlabeledtr><mtd><mtext>(1)</mtext></mtd><mtd><mi>E</mi><mo>=</mo><mi>m</mi><msup><mi>c</mi><mn>2</mn>"
    "</msup></mtd></mlabeledtr></mtable>": r"E=mc^{2} \tag{1}",
}


def convert(body: str, tag: str = "math") -> str:
    tree = HTMLTree.parse(f"<html><body><p><{tag}>{body}</{tag}></p></body></html>")
    return mathml_to_tex(tree.document.query_selector(tag.replace(":", "\\:")))


@pytest.mark.parametrize("mathml, tex", CASES.items(), ids=[tex for tex in CASES.values()])
def test_mathml_becomes_the_tex_that_means_the_same(mathml, tex):
    assert convert(mathml) == tex


def test_prefixed_mathml_is_read_like_plain_mathml():
    body = "<mml:mi>x</mml:mi><mml:mo>=</mml:mo><mml:mfrac><mml:mn>1</mml:mn><mml:mn>2</mml:mn></mml:mfrac>"
    assert convert(body, "mml:math") == r"x=\frac{1}{2}"
    page = (f'<html><body><p>Introductory prose about halves: <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">'
            f"{body}</mml:math>, as shown.</p></body></html>")
    result = extract(page)
    assert r"$x=\frac{1}{2}$" in result.text and result.math["mathml"] == 1
    annotated = ('<mml:semantics><mml:mi>y</mml:mi><mml:annotation encoding="application/x-tex">y_0</mml:annotation>'
                 "</mml:semantics>")
    assert "$y_0$" in extract(page.replace(body, annotated)).text


def test_no_styled_or_private_use_code_point_survives():
    styled = "".join(chr(c) for c in range(0x1D400, 0x1D6A4, 7) if chr(c).isprintable())
    tex = convert(f"<mi>{styled}</mi>")
    assert tex and not any("\U0001d400" <= c <= "\U0001d7ff" or "\ue000" <= c <= "\uf8ff" for c in tex)


# Temml 0.13 (MIT) lays a numbered display out as a table: two padding cells of half the width, the number in
# the last one; aligned columns carry classes, not columnalign. Its output for these TeX sources:
TEMML_TABLES = [
    ('<math display="block" class="tml-display" style="display:block math;"><mtable displaystyle="true" style="width:100%;"><mtr class="tml-tageqn"><mtd style="padding:0;width:50%;"></mtd><mtd><mrow><mi>a</mi><mo>=</mo><mi>b</mi></mrow></mtd><mtd style="padding:0;width:50%;"><mtext class="tml-tag">(1)</mtext></mtd></mtr></mtable></math>',
     'a=b \\tag{1}'),
    ('<math display="block" class="tml-display" style="display:block math;"><mtable displaystyle="true" class="tml-jot"><mtr><mtd class="tml-right" style="padding-left:0em;padding-right:0em;"><mi>a</mi></mtd><mtd class="tml-left" style="padding-left:0em;padding-right:0em;"><mrow><mo>=</mo><mi>b</mi></mrow></mtd></mtr><mtr><mtd class="tml-right" style="padding-left:0em;padding-right:0em;"><mi>c</mi></mtd><mtd class="tml-left" style="padding-left:0em;padding-right:0em;"><mrow><mo>=</mo><mi>d</mi></mrow></mtd></mtr></mtable></math>',
     '\\begin{aligned}a & =b \\\\ c & =d\\end{aligned}'),
    ('<math display="block" class="tml-display" style="display:block math;"><mtable displaystyle="true" class="tml-jot" style="width:100%;"><mtr><mtd style="padding:0;width:50%;padding-left:0em;padding-right:0em;"></mtd><mtd style="padding-left:0em;padding-right:0em;"><mrow><mi>a</mi><mo>=</mo><mi>b</mi></mrow></mtd><mtd style="padding:0;width:50%;padding-left:0em;padding-right:0em;"><mtext><span class="tml-eqn"></span></mtext></mtd></mtr><mtr><mtd style="padding:0;width:50%;padding-left:0em;padding-right:0em;"></mtd><mtd style="padding-left:0em;padding-right:0em;"><mrow><mi>c</mi><mo>=</mo><mi>d</mi></mrow></mtd><mtd style="padding:0;width:50%;padding-left:0em;padding-right:0em;"><mtext><span class="tml-eqn"></span></mtext></mtd></mtr></mtable></math>',
     '\\begin{gathered}a=b \\\\ c=d\\end{gathered}'),
    ('<math display="block" class="tml-display" style="display:block math;"><mtable displaystyle="true" class="tml-jot" style="width:100%;"><mtr><mtd class="tml-right" style="padding:0;width:50%;padding-left:0em;padding-right:0em;"></mtd><mtd class="tml-right" style="padding-left:1em;padding-right:0em;"><mi>a</mi></mtd><mtd class="tml-left" style="padding-left:0em;padding-right:0em;"><mrow><mo>=</mo><mi>b</mi></mrow></mtd><mtd style="padding:0;width:50%;padding-left:1em;padding-right:0em;"><mtext class="tml-tag">(A)</mtext></mtd></mtr><mtr><mtd class="tml-right" style="padding:0;width:50%;padding-left:0em;padding-right:0em;"></mtd><mtd class="tml-right" style="padding-left:1em;padding-right:0em;"><mi>c</mi></mtd><mtd class="tml-left" style="padding-left:0em;padding-right:0em;"><mrow><mo>=</mo><mi>d</mi></mrow></mtd><mtd style="padding:0;width:50%;padding-left:1em;padding-right:0em;"><mtext class="tml-tag">(B)</mtext></mtd></mtr></mtable></math>',
     '\\begin{align}a & =b \\tag{A} \\\\ c & =d \\tag{B}\\end{align}'),
]


@pytest.mark.parametrize("html, tex", TEMML_TABLES)
def test_temml_numbered_and_aligned_tables_are_their_environments(html, tex):
    tree = HTMLTree.parse(f"<html><body>{html}</body></html>")
    assert mathml_to_tex(tree.document.query_selector("math")) == tex


def test_rows_labelled_one_by_one_are_an_align_with_a_tag_each():
    html = ('<math display="block"><mtable columnalign="right left"><mlabeledtr><mtd><mtext>(1)</mtext></mtd>'
            "<mtd><mi>a</mi></mtd><mtd><mo>=</mo><mi>b</mi></mtd></mlabeledtr><mlabeledtr><mtd><mtext>(2)</mtext></mtd>"
            "<mtd><mi>c</mi></mtd><mtd><mo>=</mo><mi>d</mi></mtd></mlabeledtr></mtable></math>")
    tree = HTMLTree.parse(f"<html><body>{html}</body></html>")
    assert mathml_to_tex(tree.document.query_selector("math")) == "\\begin{align}a & =b \\tag{1} \\\\ c & =d \\tag{2}\\end{align}"


def test_no_parser_node_is_left_in_a_reference_cycle():
    """Nodes in a reference cycle are freed by whichever thread next runs a garbage collection (s3fs's
    I/O thread, a server's), where resiliparse refuses to free them ("NodePy is unsendable, but is
    being dropped on another thread"): every page's nodes must go by reference counting, in the thread
    that made them. Tables are where two nested closures had made such a cycle."""
    import gc

    from megamath.web.reextract import extract_precise

    table = ('<p>Cases <math display="block"><mrow><mo>{</mo><mtable><mtr><mtd><mi>x</mi></mtd><mtd><mn>1</mn></mtd>'
             '</mtr><mtr><mtd><mi>y</mi><mtd><mn>2</mn></mtr></mtable></mrow></math> and more prose here.</p>')
    pages = [f"<html><body><article>{table * 3}</article></body></html>"]
    pages += [p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parents[1] / "examples" / "pages").glob("*.html"))]
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for html in pages:
            extract(html)
            extract_precise(html)
        gc.collect()
        left = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("resiliparse")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
