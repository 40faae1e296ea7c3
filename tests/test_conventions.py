"""Math conventions of real sites, each from a page written after the convention (tests/data/conventions):
BBCode in forums, WordPress shortcodes, TeX in custom elements (CKEditor, Pandoc, Sphinx, <formula>),
bare display environments on MathJax pages, TeX with markup in image alt text; and pages whose dollar
signs are prices, code, JSON or templates, which must not count as math."""

import json
from pathlib import Path

import pytest

from megamath.web.extract import extract
from megamath.web.math.integrity import delimiter_problems
from megamath.web.reextract import extract_precise

FOLDER = Path(__file__).parent / "data" / "conventions"
TRUTH = json.loads((FOLDER / "truth.json").read_text(encoding="utf-8"))


def squeezed(text: str) -> str:
    return "".join(text.split())


def formulas_missing(text: str, formulas: list[str]) -> list[str]:
    """The true formulas not found delimited (``$…$``, ``$$…$$`` or a bare environment) in ``text``."""
    text = squeezed(text)
    return [f for f in formulas if not any(squeezed(form) in text for form in (f"${f}$", f"$${f}$$"))
            and not (f.startswith("\\begin{") and squeezed(f) in text)]


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_convention_pages_keep_every_formula_and_count_it(name):
    truth = TRUTH[name]
    result = extract((FOLDER / name).read_bytes())
    assert formulas_missing(result.text, truth["formulas"]) == []
    assert dict(result.math) == truth["math"]
    for sentence in truth["prose"]:
        assert sentence in result.text


@pytest.mark.parametrize("name", sorted(n for n in TRUTH if not n.startswith("nonmath")))
def test_stage2_keeps_the_formulas_of_convention_pages(name):
    result = extract_precise((FOLDER / name).read_text(encoding="utf-8"))
    assert formulas_missing(result.text, TRUTH[name]["formulas"]) == []


def test_bbcode_counts_on_pages_without_a_renderer_and_tex_elements_only_with_one():
    bbcode = "<html><body><article><p>Then [itex]x^2[/itex] grows and [math]y[/math] too.</p></article></body></html>"
    assert extract(bbcode).math == {"bbcode": 2}
    element = '<html><body><article><p>The value <span class="math">x^2</span> is shown.</p></article></body></html>'
    assert extract(element).math == {}  # no MathJax or KaTeX on the page: a class name is not math
    rendered = element.replace("<body>", '<body><script src="/katex/katex.min.js"></script>')
    assert "$x^2$" in extract(rendered).text


def test_no_output_holds_a_private_use_code_point_on_any_shared_page():
    """Renderers' math fonts and icon fonts draw with private-use code points; none may reach the text,
    in stage 1 or stage 2, on any page of ../shared (HTML files and the pages of its WARC files)."""
    import re

    from conftest import SHARED
    from megamath.sources.warc import WarcReader
    from megamath.runtime.pipeline import InputError

    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"{data} not found (the shared data folder is absent)")
    pages = [path.read_bytes().decode("utf-8", "replace") for folder in ("html-math", "html-nonmath", "math-zoo-dev")
             for path in sorted((data / folder).rglob("*.htm*"))]
    for warc in sorted((data / "warc").rglob("*.warc*")):
        try:
            pages += [record["html"] for record in WarcReader()(str(warc)) if isinstance(record, dict)]
        except InputError:
            pass  # damaged test files: their readable records are in
    private_use = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]")
    with_glyphs = sum(bool(private_use.search(page)) for page in pages)
    assert len(pages) > 600 and with_glyphs > 0  # pages that do carry such glyphs are among them
    for page in pages:
        for text in (extract(page).text, extract_precise(page).text):
            assert not private_use.search(text)


def test_code_on_a_math_page_keeps_its_delimiters_and_its_lines():
    """MathJax skips code: highlighted code (inline spans) and code laid out with <br> or a <div> per
    line keep `\\(` and their line breaks on a page whose prose holds TeX, and are no formulas; their
    dollar signs are written `\\$`, as every dollar sign of a text with formulas that is no delimiter."""
    page = ("<html><body><article><p>The area is $\\pi r^2$ for a circle of radius $r$, as the scripts below print.</p>"
            '<pre><code><span class="k">echo</span> <span class="s">"$HOME costs $5"</span></code></pre>'
            "<pre>printf('\\(x\\)')<br>echo $PATH<br>done</pre>"
            '<pre><div class="line">let a = "$1";</div><div class="line">let b = "$2";</div></pre>'
            "<p>Both prints run in a shell, where each dollar sign is a variable.</p></article></body></html>")
    result = extract(page)
    assert result.math == {"tex_text": 2}
    assert "$\\pi r^2$" in result.text
    assert 'echo "\\$HOME costs \\$5"' in result.text
    assert "printf('\\(x\\)')\necho \\$PATH\ndone" in result.text
    assert 'let a = "\\$1";\nlet b = "\\$2";' in result.text
    assert delimiter_problems(result.text) == []


def test_formulas_nested_in_formulas_are_read_once():
    """One query finds every match; a match inside a replaced one (MathML in a KaTeX span, a <math>
    inside an unclosed <math>) is not read again."""
    page = ('<html><body><article><p>Take <span class="katex"><span class="katex-mathml"><math><semantics><mi>x</mi>'
            '<annotation encoding="application/x-tex">x</annotation></semantics></math></span></span> and '
            "<math><mi>y</mi></math> in the plane, with <math><mi>z</mi></math> fixed for the rest of the proof.</p>"
            "</article></body></html>")
    result = extract(page)
    assert result.math == {"katex": 1, "mathml": 2}
    assert "Take $x$ and $y$ in the plane, with $z$ fixed" in result.text
