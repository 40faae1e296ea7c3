"""Stage 2, precise re-extraction: the survivors of stage 1 are extracted again with trafilatura in
precision mode, which removes more boilerplate than the fast stage-1 extractor at a fraction of its
speed, so it only runs on the few documents left after classification and dedup.

Formulas go through the same rewrite as in stage 1 before trafilatura sees the page, so they come
out as LaTeX here too. The page comes from the record's ``html`` field (stage 1 with ``--keep-html``)
or is read again from its WARC file at the offset stage 1 recorded in ``source`` (``path@offset``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

from megamath.runtime.stage import Drop, Record, RecordStage
from megamath.sources.warc import WarcLookupError, read_html_at
from megamath.web.extract import (
    DEFAULT_MAX_DOM_DEPTH,
    DomTooDeepError,
    Extraction,
    finish_text,
    hide_code_delimiters,
    parse_page,
)
from megamath.web.math.tex import might_contain_tex, without_sentinel
from megamath.web.posts import comments, posts_text, thread_posts

log = logging.getLogger(__name__)

# A <div> that holds nothing but a formula (TeX written by the page, or one the math rewrite put
# there): trafilatura's precision mode discards such divs, so they are made paragraphs.
# Shorter than this, the text trafilatura found is "little else" beside a page's comments.
_LITTLE_ELSE = 300
_FORMULA_DIV = re.compile(r"<div(\s[^>]*)?>(\s*(?:\$|\\\[|\\begin\{|\ufffcm)[^<]*)</div>")


def extract_precise(
    html: str,
    url: str | None = None,
    *,
    math: bool = True,
    favor_precision: bool = True,
    include_tables: bool = True,
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH,
    keep_posts: bool = True,
) -> Extraction:
    """Extract a page's main text with trafilatura, formulas kept as LaTeX; on forum and Q&A threads,
    every post (:mod:`megamath.web.posts`). ``Extraction.layout`` says which: ``thread``,
    ``comments`` (a page of comments and little else) or ``article``.

    :param html: the decoded page.
    :param url: the page's address (trafilatura uses it for some site rules).
    :param math: rewrite math markup to LaTeX first (False: trafilatura alone).
    :param favor_precision: trafilatura's precision mode: less boilerplate, sometimes less text.
    :param include_tables: keep tables' text.
    :param max_dom_depth: refuse pages nested deeper than this (0: no limit).
    :param keep_posts: read forum and Q&A threads post by post, and comment-only pages' comments
        (False: trafilatura alone, which keeps one post of a thread and drops the replies as comments).
    :raise DomTooDeepError: when the page is nested deeper than ``max_dom_depth``.
    """
    import trafilatura

    page = parse_page(html, math=math, max_dom_depth=max_dom_depth, display_tag="p")
    if math:  # stage 2 runs on few pages: hide code's TeX delimiters up front
        hide_code_delimiters(page)
    document = page.tree.document
    posts = thread_posts(document) if keep_posts else []
    if posts:
        return Extraction(finish_text(posts_text(document, posts), html, page), page.counts, "thread")
    rewritten = str(page.tree) if page.counts or page.unmasked or page.code_hidden else without_sentinel(html)
    if math and might_contain_tex(rewritten):
        rewritten = _FORMULA_DIV.sub(r"<p>\2</p>", rewritten)
    text = trafilatura.extract(rewritten, url=url, favor_precision=favor_precision, include_tables=include_tables,
                               include_comments=False, include_formatting=False, deduplicate=False,
                               output_format="txt") or ""
    if keep_posts and len(text) < _LITTLE_ELSE:
        # a page of comments and little else (reviews, guest books): the comments are its content. An
        # article keeps its text however long its comments (a news page's 1,000 characters of article
        # under 7,000 of comments had been replaced by them)
        listed = comments(document)
        if listed:
            listed_text = posts_text(document, listed)
            if len(text) < len(listed_text) / 5:
                return Extraction(finish_text(listed_text, html, page), page.counts, "comments")
    return Extraction(finish_text(text, html, page), page.counts, "article")


@dataclass(frozen=True)
class ReextractConfig:
    """``min_chars``: documents whose new text is shorter are dropped (``too_short``).
    ``min_kept``: where the new text is shorter than this share of the stage-1 text, the stage-1
    text is kept (precision mode sometimes keeps a reprint notice or one reply of a thread); counted
    as ``kept_stage1_text``. 0 turns it off. See :func:`extract_precise` for the rest."""

    math: bool = True
    favor_precision: bool = True
    include_tables: bool = True
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH
    keep_posts: bool = True
    min_chars: int = 1
    min_kept: float = 0.2


class Reextract(RecordStage):
    """Replaces ``text`` with the precise extraction; ``meta.stage1_chars`` keeps the old length and
    ``meta.stage2`` how the text was found (``thread``, ``comments``, ``article``, or ``stage1`` where
    the stage-1 text was kept). The counters count each."""

    name = "reextract"

    def __init__(self, config: ReextractConfig | None = None):
        self.config = config or ReextractConfig()
        self.counters: Counter = Counter()

    def process(self, record: Record) -> Record | Drop:
        html = record.get("html")
        if not html:
            try:
                html = read_html_at(record.get("source", ""), record.get("id"))
            except WarcLookupError as exc:
                log.warning("reextract: %s", exc)
                return Drop(record, "html_unavailable")
        try:
            extraction = extract_precise(html, record.get("url"), math=self.config.math,
                                         favor_precision=self.config.favor_precision,
                                         include_tables=self.config.include_tables,
                                         max_dom_depth=self.config.max_dom_depth,
                                         keep_posts=self.config.keep_posts)
        except DomTooDeepError:
            return Drop(record, "dom_too_deep")
        text, layout = extraction.text.strip(), extraction.layout
        stage1 = (record.get("text") or "").strip()
        if stage1 and len(text) < self.config.min_kept * len(stage1):
            text, layout = stage1, "stage1"
            self.counters["kept_stage1_text"] += 1
        if len(text) < self.config.min_chars:
            return Drop(record, "empty_text" if not text else "too_short")
        self.counters[f"layout_{layout}"] += 1
        meta = record.setdefault("meta", {})
        meta["stage1_chars"] = len(record.get("text") or "")
        meta["stage2"] = layout
        record["text"] = text
        return record
