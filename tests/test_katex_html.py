"""TeX rebuilt from real KaTeX HTML (0.16 and 0.19, inline and display), without Node: the renderings are
stored in tests/data/katex_html.json by ``python bench/katex_rebuild.py --write-fixture``."""

import json
from pathlib import Path

import pytest
from resiliparse.parse.html import HTMLTree

from megamath.web.math.katex_html import rebuild_katex_html

RENDERINGS = json.loads((Path(__file__).parent / "data" / "katex_html.json").read_text())


@pytest.mark.parametrize("case", RENDERINGS, ids=lambda c: f"{c['katex']}-{'display' if c['display'] else 'inline'}-{c['tex']}")
def test_katex_html_rebuilds_the_tex(case):
    html = HTMLTree.parse(case["html"]).document.query_selector(".katex-html")
    assert rebuild_katex_html(html, case["display"]) == case["expected"]


def test_no_private_use_glyph_survives_a_rebuild():
    for case in RENDERINGS:
        html = HTMLTree.parse(case["html"]).document.query_selector(".katex-html")
        tex = rebuild_katex_html(html, case["display"]) or ""
        assert not any("\ue000" <= ch <= "\uf8ff" for ch in tex), case["tex"]
