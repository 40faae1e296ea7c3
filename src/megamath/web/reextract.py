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

from resiliparse.parse.html import HTMLTree

from megamath.runtime.stage import Drop, Record, RecordStage
from megamath.sources.warc import WarcLookupError, read_html_at
from megamath.web.extract import DEFAULT_MAX_DOM_DEPTH, DomTooDeepError, Extraction, nested_deeper_than
from megamath.web.math.markup import has_math_markup, rewrite_math
from megamath.web.math.tex import Delimiters, might_contain_tex, normalize_tex, page_delimiters

log = logging.getLogger(__name__)

# A <div> that holds nothing but a formula (TeX written by the page, or one the math rewrite put
# there): trafilatura's precision mode discards such divs, so they are made paragraphs.
_FORMULA_DIV = re.compile(r"<div(\s[^>]*)?>(\s*(?:\$|\\\[|\\begin\{)[^<]*)</div>")


def extract_precise(
    html: str,
    url: str | None = None,
    *,
    math: bool = True,
    favor_precision: bool = True,
    include_tables: bool = True,
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH,
) -> Extraction:
    """Extract a page's main text with trafilatura, formulas kept as LaTeX.

    :param html: the decoded page.
    :param url: the page's address (trafilatura uses it for some site rules).
    :param math: rewrite math markup to LaTeX first (False: trafilatura alone).
    :param favor_precision: trafilatura's precision mode: less boilerplate, sometimes less text.
    :param include_tables: keep tables' text.
    :param max_dom_depth: refuse pages nested deeper than this (0: no limit).
    :raise DomTooDeepError: when the page is nested deeper than ``max_dom_depth``.
    """
    import trafilatura

    counts: Counter = Counter()
    if math or max_dom_depth:
        tree = HTMLTree.parse(html)
        if max_dom_depth and nested_deeper_than(tree, max_dom_depth):
            raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
        if math and has_math_markup(tree):
            counts = rewrite_math(tree, display_tag="p")
            html = str(tree)
    if math and might_contain_tex(html):
        html = _FORMULA_DIV.sub(r"<p>\2</p>", html)
    text = trafilatura.extract(html, url=url, favor_precision=favor_precision, include_tables=include_tables,
                               include_comments=False, include_formatting=False, deduplicate=False,
                               output_format="txt") or ""
    if math and might_contain_tex(text):
        delimiters = page_delimiters(html) if ("inlineMath" in html or "displayMath" in html) else Delimiters()
        text, _ = normalize_tex(text, delimiters)
    return Extraction(text, counts)


@dataclass(frozen=True)
class ReextractConfig:
    """``min_chars``: documents whose new text is shorter are dropped (``too_short``); see
    :func:`extract_precise` for the rest."""

    math: bool = True
    favor_precision: bool = True
    include_tables: bool = True
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH
    min_chars: int = 1


class Reextract(RecordStage):
    """Replaces ``text`` with the precise extraction; ``meta.stage1_chars`` keeps the old length."""

    name = "reextract"

    def __init__(self, config: ReextractConfig | None = None):
        self.config = config or ReextractConfig()

    def process(self, record: Record) -> Record | Drop:
        html = record.get("html")
        if not html:
            try:
                html = read_html_at(record.get("source", ""))
            except WarcLookupError as exc:
                log.warning("reextract: %s", exc)
                return Drop(record, "html_unavailable")
        try:
            extraction = extract_precise(html, record.get("url"), math=self.config.math,
                                         favor_precision=self.config.favor_precision,
                                         include_tables=self.config.include_tables,
                                         max_dom_depth=self.config.max_dom_depth)
        except DomTooDeepError:
            return Drop(record, "dom_too_deep")
        text = extraction.text.strip()
        if len(text) < self.config.min_chars:
            return Drop(record, "empty_text" if not text else "too_short")
        record.setdefault("meta", {})["stage1_chars"] = len(record.get("text") or "")
        record["text"] = text
        return record
