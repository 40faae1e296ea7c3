"""Which crawl a record comes from, from what the WARC reader put in ``meta``: the Common Crawl id
(``crawl``, e.g. ``CC-MAIN-2024-10``) or, failing that, the WARC date."""

from __future__ import annotations

import re

from megamath.runtime.stage import Record

_YEAR = re.compile(r"(?:CC-MAIN-|^)((?:19|20)\d\d)")


def crawl_of(record: Record) -> str:
    """The crawl a record comes from: its CC-MAIN id, else the year of its WARC date, else ``unknown``."""
    meta = record.get("meta") or {}
    if meta.get("crawl"):
        return str(meta["crawl"])
    match = _YEAR.match(str(meta.get("warc_date") or ""))
    return match.group(1) if match else "unknown"


def crawl_year(record: Record) -> int | None:
    """The year of the crawl a record comes from: its CC-MAIN id, else its WARC date."""
    meta = record.get("meta") or {}
    for value in (meta.get("crawl"), meta.get("warc_date")):
        if value and (match := _YEAR.search(str(value))):
            return int(match.group(1))
    return None
