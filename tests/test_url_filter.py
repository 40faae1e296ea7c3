import gzip
import logging

import pytest

from megamath.runtime.stage import StageConfigError
from megamath.web.url_filter import UrlFilter, UrlFilterConfig


def verdicts(stage, urls):
    out = []
    for url in urls:
        result = stage.filter({"url": url})
        out.append(result if isinstance(result, tuple) else (result, None))
    return out


def make_ut1(root):
    (root / "adult").mkdir(parents=True)
    (root / "adult" / "domains").write_text("badsite.com\n# comment\nsub.other.net\n")
    (root / "adult" / "urls").write_text("example.org/private/page.html\n")
    (root / "gambling").mkdir()
    with gzip.open(root / "gambling" / "domains.gz", "wt") as fh:  # big lists come gzipped
        fh.write("casino.example\n")
    (root / "news").mkdir()
    (root / "news" / "domains").write_text("newspaper.com\n")  # category not selected
    return root


def test_ut1_domains_parents_urls_and_categories(tmp_path):
    stage = UrlFilter(UrlFilterConfig(blocklist_dir=str(make_ut1(tmp_path / "ut1")), exclude_curated=False))
    got = verdicts(stage, [
        "https://badsite.com/a", "http://www.badsite.com/b", "https://notbadsite.com/",
        "https://sub.other.net/x", "https://other.net/x", "https://casino.example/",
        "https://example.org/private/page.html", "https://example.org/public.html", "https://newspaper.com/",
    ])
    assert got == [
        (False, "blocked_domain"), (False, "blocked_domain"), (True, None),
        (False, "blocked_domain"), (True, None), (False, "blocked_domain"),
        (False, "blocked_url"), (True, None), (True, None),
    ]


def test_allow_list_wins_and_banned_substrings(tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text("badsite.com\n")
    stage = UrlFilter(UrlFilterConfig(
        blocklist_dir=str(make_ut1(tmp_path / "ut1")), allow_list_file=str(allow),
        banned_substrings=("XXX", "porn"), allow_domains=("en.wikipedia.org",),
    ))
    got = verdicts(stage, ["https://www.badsite.com/porn", "https://ok.org/xxx-video", "https://ok.org/math",
                           "https://en.wikipedia.org/wiki/Pi", "https://de.wikipedia.org/wiki/Pi"])
    assert got == [(True, None), (False, "banned_substring"), (True, None), (True, None),
                   (False, "curated_source")]


def test_curated_sources_and_bad_urls():
    stage = UrlFilter()
    got = verdicts(stage, ["https://arxiv.org/abs/1", "https://math.stackexchange.com/q/1", "https://github.com/a/b",
                           "https://mathpages.example.com/x", "http://[::1", ""])
    assert got == [(False, "curated_source")] * 3 + [(True, None), (False, "bad_url"), (True, None)]


def test_the_shipped_banned_words_drop_adult_urls_by_default_and_not_their_innocent_neighbours():
    stage = UrlFilter()
    adult = ["https://www.freepornclips.example/v/1", "https://example.com/tags/xxx", "https://sexcams.example/",
             "https://nsfw.example.org/", "https://xvideos-mirror.example/", "https://site.example/?q=hentai"]
    innocent = ["https://www.sussex.ac.uk/maths/", "https://middlesex.edu/calculus", "https://www.essex.gov.uk/",
                "https://scunthorpe.example/", "https://therapist.example/", "https://sextant.example/navigation",
                "https://example.com/analysis/xx-and-yy", "https://cornhub.example/farming",
                "https://news.example/2019/sex-education-in-schools", "https://art.example/nude-descending-a-staircase"]
    assert verdicts(stage, adult) == [(False, "banned_word")] * len(adult)
    assert verdicts(stage, innocent) == [(True, None)] * len(innocent)
    assert verdicts(UrlFilter(UrlFilterConfig(banned_words=False)), adult[:1]) == [(True, None)]


def test_the_banned_words_keep_every_real_page_of_the_shared_data(shared_warc):
    """No URL of ../shared's real pages (trafilatura's 990 evaluation pages: news, blogs, shops, forums
    in many languages; the real WARC files) holds a banned word."""
    import json

    from megamath.runtime.pipeline import InputError
    from megamath.sources.warc import WarcReader

    urls = list(json.loads((shared_warc.parent / "html-nonmath" / "adbar__trafilatura" / "tests" /
                            "evaldata.json").read_text(encoding="utf-8")))
    for path in sorted(shared_warc.rglob("*.warc.gz")):
        try:
            urls += [r["url"] for r in WarcReader()(str(path)) if isinstance(r, dict) and r.get("url")]
        except InputError:  # the damaged and cut files among them
            pass
    assert len(urls) > 1000
    stage = UrlFilter(UrlFilterConfig(exclude_curated=False))
    assert [u for u, (kept, _) in zip(urls, verdicts(stage, urls)) if not kept] == []


def test_without_lists_it_passes_everything_and_says_so(caplog):
    stage = UrlFilter(UrlFilterConfig(exclude_curated=False, banned_words=False))
    with caplog.at_level(logging.INFO):
        assert verdicts(stage, ["https://arxiv.org/abs/1", "https://a.b/"]) == [(True, None), (True, None)]
    assert "passing all URLs" in caplog.text


def test_pickles_without_its_loaded_lists(tmp_path):
    import pickle

    stage = UrlFilter(UrlFilterConfig(blocklist_dir=str(make_ut1(tmp_path / "ut1"))))
    stage.filter({"url": "https://x.org"})
    assert "lists" in stage.__dict__  # loaded here...
    clone = pickle.loads(pickle.dumps(stage))  # ...and not shipped
    assert "lists" not in clone.__dict__ and clone.filter({"url": "https://badsite.com"}) == (False, "blocked_domain")


def test_a_block_list_folder_without_categories_is_refused_before_the_run(tmp_path):
    (tmp_path / "empty").mkdir()
    stage = UrlFilter(UrlFilterConfig(blocklist_dir=str(tmp_path / "empty")))
    with pytest.raises(StageConfigError, match="holds none of the block-list categories"):
        stage.prepare()
