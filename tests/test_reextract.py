"""Stage 2: trafilatura precision re-extraction after the math rewrite, from kept HTML or from the WARC."""

from __future__ import annotations

import json
import re

import pytest

from conftest import EXAMPLE_WARC, SHARED, run_cli
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop
from megamath.sources.warc import WarcLookupError, read_html_at
from fixtures.main_text import word_f1
from fixtures.warc_writer import Fetch, write_warc
from megamath.web.extract import extract_text
from megamath.web.reextract import Reextract, ReextractConfig, extract_precise

ZOO = SHARED / "data" / "math-zoo-dev"
MATH_SPAN = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.DOTALL)

PAGE = """<html><head><title>t</title></head><body>
<nav><a href="/">Home</a> | <a href="/a">Archive</a> | <a href="/b">About us</a> | <a href="/c">Contact</a></nav>
<article><h1>Completing the square</h1>
<p>Every quadratic <span class="katex"><span class="katex-mathml"><math><semantics><mrow><mi>a</mi></mrow>
<annotation encoding="application/x-tex">ax^2+bx+c</annotation></semantics></math></span></span> can be rewritten
by completing the square, which gives the familiar formula for its roots when the discriminant is not negative.</p>
<div class="equation">$$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$$</div>
<p>The discriminant decides how many real roots there are, and this paragraph is long enough to count as text
for any main-content extractor that looks at paragraph length and link density.</p></article>
<footer>Copyright 2024 Example Corp. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


def test_formulas_survive_precision_extraction_and_boilerplate_goes():
    text = extract_precise(PAGE).text
    assert "$ax^2+bx+c$" in text
    assert "$$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$$" in text
    assert "All rights reserved" not in text and "Archive" not in text
    assert "All rights reserved" in extract_text(PAGE, main_content=False)


def test_warc_records_are_read_again_at_their_offset(tmp_path):
    for suffix in (".warc.gz", ".warc"):
        path = tmp_path / f"w{suffix}"
        write_warc(path, [Fetch(f"https://e.example/{i}", f"<html><body><p>page {i}</p></body></html>".encode())
                          for i in range(3)])
        from megamath.sources.warc import WarcReader

        records = [r for r in WarcReader()(str(path)) if type(r) is not Drop]
        assert [read_html_at(r["source"]) for r in records] == [r["html"] for r in records]
    with pytest.raises(WarcLookupError):
        read_html_at(f"{tmp_path}/missing.warc.gz@0")
    with pytest.raises(WarcLookupError):
        read_html_at("no offset here")


def test_a_warc_rewritten_since_stage_1_is_never_read_for_another_record(tmp_path):
    """Records removed upstream shift every offset: a page is read again only from the record it was."""
    from megamath.sources.warc import WarcReader

    path = tmp_path / "w.warc.gz"
    fetches = [Fetch(f"https://e.example/{i}", f"<html><body><p>page {i}</p></body></html>".encode()) for i in range(4)]
    write_warc(path, fetches)
    records = [r for r in WarcReader()(str(path)) if type(r) is not Drop]
    assert [read_html_at(r["source"], r["id"]) for r in records] == [r["html"] for r in records]
    write_warc(path, fetches[1:])  # the first record removed: the others move up by one record
    for record in records:
        with pytest.raises(WarcLookupError, match="the WARC file changed|no WARC response record|Invalid"):
            read_html_at(record["source"], record["id"])
    out = list(Reextract()([{**{k: v for k, v in r.items() if k != "html"}, "text": "old"} for r in records]))
    assert [type(o) is Drop and o.reason for o in out] == ["html_unavailable"] * 4


def test_stage_drops_records_whose_page_cannot_be_found():
    out = list(Reextract()([{"id": "x", "text": "old", "source": "/nowhere.warc.gz@12"}]))
    assert type(out[0]) is Drop and out[0].reason == "html_unavailable"
    deep = "<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000 + "</body></html>"
    out = list(Reextract()([{"id": "y", "text": "old", "html": deep}]))
    assert type(out[0]) is Drop and out[0].reason == "dom_too_deep"


@pytest.mark.parametrize("keep_html", [True, False])
def test_cli_reextracts_stage1_output_from_html_or_warc(tmp_path, keep_html):
    stage1 = tmp_path / "s1"
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(stage1), "-q", "-w", "1",
                     *(["--keep-html"] if keep_html else []))
    assert result.returncode == 0, result.stderr
    stage2 = tmp_path / "s2"
    result = run_cli("web", "reextract", *map(str, (stage1 / "data").glob("*.parquet")), "-o", str(stage2), "-q")
    assert result.returncode == 0, result.stderr
    assert "removed as boilerplate" in result.stdout
    before = {r["id"]: r for p in (stage1 / "data").glob("*.parquet") for r in read_shard(str(p))}
    after = [r for p in (stage2 / "data").glob("*.parquet") for r in read_shard(str(p))]
    assert after and all(r["meta"]["stage1_chars"] == len(before[r["id"]]["text"]) for r in after)
    assert all("html" not in r for r in after)
    funnel = json.loads((stage2 / "stats.json").read_text())["funnel"]
    assert funnel[1]["name"] == "reextract" and funnel[1]["docs_in"] == len(before)


@pytest.mark.skipif(not ZOO.is_dir(), reason=f"math-zoo pages not found at {ZOO}")
def test_stage2_keeps_the_formulas_stage1_keeps_on_every_zoo_family():
    rows = [json.loads(line) for line in (ZOO / "truth.jsonl").read_text().splitlines()]
    checked = set()
    for row in rows:
        if row["family"] in checked or row["doc"] == "math4108":
            continue
        html = (ZOO / row["page"]).read_text(encoding="utf-8")
        stage1 = len(MATH_SPAN.findall(extract_text(html)))
        stage2 = len(MATH_SPAN.findall(extract_precise(html).text))
        assert stage2 >= 0.95 * stage1 and stage1 >= 0.95 * len(row["formulas"]), (row["page"], stage1, stage2)
        checked.add(row["family"])
    assert len(checked) == 11


@pytest.mark.parametrize("engine", sorted(set(engine for engine, *_ in __import__("fixtures.forum_pages").forum_pages.pages())))
def test_stage2_keeps_every_post_of_a_thread_and_the_article_without_its_comments(engine):
    from fixtures.forum_pages import pages

    for name, kind, thread, html, truth in pages():
        if name != engine:
            continue
        result = extract_precise(html)
        assert result.layout == {"forum": "comments" if engine == "comment-list" else "thread"}.get(kind, "article")
        assert word_f1(truth, result.text) >= 0.85, (engine, thread.title)
        assert word_f1(truth, result.text) >= word_f1(truth, extract_text(html)) - 0.02
        if kind == "article":  # the comments stay out
            assert thread.posts[-1].body[3:40] not in result.text
        else:  # the last reply is in
            assert re.sub(r"<[^>]+>", "", thread.posts[-1].body)[:40] in result.text
        assert "Hot Network Questions" not in result.text and "Forum statistics" not in result.text


def test_stage2_keeps_the_stage1_text_where_it_would_keep_a_fifth_of_it():
    page = ("<html><body><article><h1>Reprint</h1><p>This article first appeared in the Gazette and is reprinted "
            "with permission.</p></article></body></html>")
    stage1 = " ".join(["Long body text of the real article, as stage 1 found it on the page."] * 12)
    stage = Reextract()
    out = list(stage([{"id": "a", "html": page, "text": stage1, "meta": {}}]))[0]
    new = extract_precise(page).text
    assert len(new) < 0.2 * len(stage1)
    assert out["text"] == stage1 and out["meta"]["stage2"] == "stage1"
    assert stage.counters["kept_stage1_text"] == 1
    off = Reextract(ReextractConfig(min_kept=0))
    assert list(off([{"id": "a", "html": page, "text": stage1, "meta": {}}]))[0]["text"] == new.strip()


def test_an_article_keeps_its_text_however_long_its_comments():
    """A news page's short article under a long comment section stays the article (it had been
    replaced by its comments when they were five times longer)."""
    article = " ".join(["The council approved the new budget for the harbour district on Tuesday evening."] * 12)
    comment = ('<li class="comment"><div class="comment-content"><p>'
               + " ".join(["I think the harbour money would be better spent on the schools downtown."] * 8)
               + "</p></div></li>")
    page = (f"<html><body><article><h1>Budget approved</h1><p>{article}</p></article>"
            f'<section id="comments"><ol>{comment * 9}</ol></section></body></html>')
    result = extract_precise(page)
    assert result.layout == "article"
    assert "council approved" in result.text and "schools downtown" not in result.text


TWO_POSTS = ("Is every bounded monotone sequence convergent? I would like a proof that uses only the least upper "
             "bound property.", "Yes: the supremum of its terms is its limit, by the definition of the supremum.")


@pytest.mark.parametrize("engine, post", [
    ("Discourse crawler view",
     "<div itemscope itemtype='http://schema.org/DiscussionForumPosting' class='topic-body crawler-post'>"
     "<div class='crawler-post-meta'>alice</div><div class='post' itemprop='articleBody'><p>{}</p></div></div>"),
    ("Reddit 2018", '<div class="Comment"><div class="RichTextJSON-root"><p>{}</p></div></div>'),
    ("Reddit 2023", '<shreddit-comment author="bob"><div slot="comment"><p>{}</p></div></shreddit-comment>'),
    ("GitHub issue", '<div class="react-issue-comment"><div data-testid="markdown-body"><p>{}</p></div></div>'),
    ("Forumotion", '<div class="postbody"><div class="post-entry"><p>{}</p></div></div>'),
])
def test_stage2_reads_the_posts_of_more_engines(engine, post):
    page = ("<html><body><nav><a href='/'>Home</a> <a href='/latest'>Latest</a></nav><h1>Bounded sequences</h1>"
            + "".join(post.format(text) for text in TWO_POSTS)
            + "<aside>Related topics: limits, series, sequences of functions</aside></body></html>")
    result = extract_precise(page)
    assert result.layout == "thread", engine
    assert all(text in result.text for text in TWO_POSTS) and "Related topics" not in result.text


def test_stage_2_is_redone_when_a_warc_it_reads_pages_from_changed(tmp_path):
    from conftest import run_cli

    warc = tmp_path / "w.warc.gz"
    fetches = [Fetch(f"https://e.example/{i}", f"<html><body><article><p>Page {i} explains the quadratic formula "
                     f"$x^2 = {i}$ with care and an example.</p></article></body></html>".encode()) for i in range(5)]
    write_warc(warc, fetches)
    assert run_cli("web", "extract", str(warc), "-o", str(tmp_path / "s1"), "-q").returncode == 0
    shards = [str(p) for p in (tmp_path / "s1" / "data").glob("*.parquet")]
    first = run_cli("web", "reextract", *shards, "-o", str(tmp_path / "s2"), "-q")
    assert first.returncode == 0, first.stderr
    write_warc(warc, fetches[2:])  # the WARC rewritten: two records fewer, every offset moved
    again = run_cli("web", "reextract", *shards, "-o", str(tmp_path / "s2"), "-q")
    assert "1 redone because their input changed" in again.stdout, again.stdout
    stats = json.loads((tmp_path / "s2" / "stats.json").read_text())
    assert dict(stats["funnel"][1]["dropped"]) == {"html_unavailable": 5}  # none read from another record
