import os
import time

import pytest

from megamath.runtime.stage import Drop
from megamath.web.extract import DomTooDeepError, ExtractConfig, ExtractText, extract_text
from megamath.web.langid import LanguageId, LanguageIdConfig, LanguageModelError

from conftest import ROOT, SHARED

PAGES = ROOT / "examples" / "pages"
ZOO = SHARED / "data" / "math-zoo-dev"


def test_main_content_drops_navigation_and_footer():
    text = extract_text((PAGES / "bread-recipe.html").read_text())
    assert text.startswith("Simple country bread")
    assert "Fold the dough four times" in text
    assert "Subscribe to our newsletter" not in text
    assert "\n\n" in text  # paragraphs are kept apart


def test_bytes_input_in_a_legacy_encoding():
    html = "<html><head><meta charset='windows-1252'></head><body><p>Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9, " \
           "and a long enough paragraph of English text to count as content.</p></body></html>"
    assert "Café crème, naïve résumé" in extract_text(html.encode("cp1252"))


def test_deeply_nested_page_is_refused_fast():
    html = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "</body></html>"
    started = time.monotonic()
    with pytest.raises(DomTooDeepError):
        extract_text(html)
    assert time.monotonic() - started < 5  # main-content extraction of this page takes many minutes
    assert extract_text("<div>" * 300 + "<p>shallow enough</p>" + "</div>" * 300) == "shallow enough"


def test_garbage_and_unclosed_markup_do_not_raise():
    assert isinstance(extract_text(os.urandom(200_000)), str)
    with pytest.raises(DomTooDeepError):  # unclosed tags nest: the parser builds 50,000 levels
        extract_text("<b>" * 50_000 + "text")
    assert extract_text("<b>" * 100 + "text") == "text"
    assert extract_text("") == ""


def test_extract_stage_sets_text_and_counts_empty_pages():
    stage = ExtractText(ExtractConfig())
    records = [{"source": "a", "html": (PAGES / "quadratic-raw-tex.html").read_text()},
               {"source": "b", "html": (PAGES / "navigation-only.html").read_text()},
               {"source": "c", "html": "<div>" * 2000 + "deep" + "</div>" * 2000}]
    out = list(stage(records))
    assert "Solving quadratic equations" in out[0]["text"]
    assert out[1] == Drop(records[1], "empty_text")
    assert out[2] == Drop(records[2], "dom_too_deep")


def test_language_filter_keeps_english_above_threshold():
    stage = LanguageId(LanguageIdConfig())
    english = {"text": (PAGES / "bread-recipe.html").read_text(), "meta": {}}
    german = {"text": "Nach drei Jahren Bauzeit ist die neue Brücke über den Fluss eröffnet worden.", "meta": {}}
    mixed = {"text": "ok", "meta": {}}
    assert stage.filter(english) is True and english["meta"]["lang"] == "en"
    assert stage.filter(german) == (False, "other_language") and german["meta"]["lang"] == "de"
    strict = LanguageId(LanguageIdConfig(threshold=0.999))
    assert strict.filter({"text": "ok fine", "meta": {}}) in ((False, "low_language_score"), (False, "other_language"))
    german_kept = LanguageId(LanguageIdConfig(languages=("de",)))
    assert german_kept.filter(german) is True
    assert isinstance(stage.filter(mixed), (bool, tuple))


FORMULA_DENSE = (
    "Let $f(x)=\\sum_{k=0}^{n}\\binom{n}{k}x^k(1-x)^{n-k}$ and $g(x)=\\int_0^x f(t)\\,dt$. Then\n\n"
    "$$g'(x)=f(x)=\\left(x+1-x\\right)^n=1,$$\n\nso $g(x)=x$ for $x\\in[0,1]$ and $\\lim_{n\\to\\infty} g_n(1)=1$.\n"
    "\\begin{align*} a_{n+1} &= 2a_n + 3 \\\\ a_n &= 5\\cdot 2^n - 3 \\end{align*}\nHence $a_{10}=5117$.")


def test_language_of_formula_dense_prose_is_read_with_formulas_masked():
    record = {"text": FORMULA_DENSE, "meta": {}}
    assert LanguageId(LanguageIdConfig()).filter(record) is True
    meta = record["meta"]
    assert meta["lang"] == "en" and meta["lang_score"] >= 0.65
    assert meta["lang_unmasked"] == "en" and meta["lang_score_unmasked"] < 0.65  # kept beside it
    unmasked = {"text": FORMULA_DENSE, "meta": {}}
    assert LanguageId(LanguageIdConfig(mask_formulas=False)).filter(unmasked) == (False, "low_language_score")
    prices = {"text": "Tickets cost $5 and $10 at the door, and children under five get in for free.", "meta": {}}
    LanguageId(LanguageIdConfig()).filter(prices)
    assert prices["meta"]["lang_score"] == prices["meta"]["lang_score_unmasked"]  # no formula there


def test_formula_dense_zoo_pages_pass_language_id():
    if not ZOO.is_dir():
        pytest.skip(f"{ZOO} not found (the shared data folder is absent)")
    stage = LanguageId(LanguageIdConfig())
    pages = sorted(ZOO.glob("*__raw-tex-dollar.html"))
    kept = [stage.filter({"text": extract_text(p.read_bytes()), "meta": {}}) is True for p in pages]
    assert sum(kept) == len(pages)


def test_missing_model_is_a_clear_error(tmp_path):
    stage = LanguageId(LanguageIdConfig(model_path=str(tmp_path / "nope.bin")))
    with pytest.raises(LanguageModelError, match="not found"):
        stage.filter({"text": "hello", "meta": {}})
