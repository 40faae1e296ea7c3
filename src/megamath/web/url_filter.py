"""URL filter: block lists in UT1 format, a shipped list of banned URL words, banned URL substrings,
an allow list, curated sources.

UT1 (the Université Toulouse 1 Capitole blacklists) is a folder with one sub-folder per category,
each holding a ``domains`` file and a ``urls`` file (either may be gzipped), one entry per line. A host is blocked when it
or any parent domain is listed; a URL when it is listed without its scheme. An allowed host (or any
of its parents) is always kept, whatever else matches.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from megamath.runtime.stage import Filter, Record, StageConfigError, resource

log = logging.getLogger(__name__)

# Sources the published recipe collects on their own (arXiv, Wikipedia, Q&A sites, code hosts), so
# their pages are removed from the web crawl to avoid duplicating them.
CURATED_DOMAINS = (
    "arxiv.org",
    "wikipedia.org",
    "wikibooks.org",
    "wikimedia.org",
    "stackexchange.com",
    "stackoverflow.com",
    "mathoverflow.net",
    "github.com",
    "githubusercontent.com",
    "gitlab.com",
    "proofwiki.org",
)

# The UT1 categories a pre-training corpus removes (adult content, scams, malware, gambling...).
DEFAULT_CATEGORIES = ("adult", "agressif", "arjel", "chat", "dating", "ddos", "filehosting", "gambling",
                      "malware", "mixed_adult", "phishing")


@dataclass(frozen=True)
class UrlFilterConfig:
    """
    ``blocklist_dir``: a UT1-format folder; None disables block lists.
    ``categories``: the UT1 categories used from that folder.
    ``banned_words``: drop URLs holding a word of the shipped adult-content list
    (``banned_url_words.txt``: whole words of the URL, and a few inside the host's glued names).
    ``banned_substrings``: a URL containing any of these (lower-cased) is dropped.
    ``allow_domains``: hosts that are always kept; ``allow_list_file`` adds more, one a line.
    ``exclude_curated``: drop pages of the curated sources in ``CURATED_DOMAINS``.
    """

    blocklist_dir: str | None = None
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    banned_words: bool = True
    banned_substrings: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] = ()
    allow_list_file: str | None = None
    exclude_curated: bool = True


def _host_and_parents(host: str) -> list[str]:
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)] or [host]


_WORD = re.compile(r"[a-z0-9]+")


@cache
def banned_url_words() -> tuple[frozenset[str], tuple[str, ...]]:
    """The shipped list: (whole words, words also looked for inside the host's longer words)."""
    lines = _read_lines(Path(__file__).with_name("banned_url_words.txt"))
    return frozenset(w.rstrip("*") for w in lines), tuple(sorted(w[:-1] for w in lines if w.endswith("*")))


def _read_lines(path: Path) -> set[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return {line.strip().lower() for line in fh if line.strip() and not line.startswith("#")}


class UrlFilter(Filter):
    name = "url_filter"

    def __init__(self, config: UrlFilterConfig | None = None):
        self.config = config or UrlFilterConfig()

    def prepare(self) -> None:
        self.lists  # a missing block-list folder or allow list is refused before the run

    @resource
    def lists(self) -> "_Lists":
        config = self.config
        blocked_domains: set[str] = set()
        blocked_urls: set[str] = set()
        if config.blocklist_dir:
            root = Path(config.blocklist_dir)
            if not root.is_dir():
                raise StageConfigError(f"block list folder not found: {root}")
            found = [category for category in config.categories if (root / category).is_dir()]
            if not found:
                raise StageConfigError(f"{root} holds none of the block-list categories {', '.join(config.categories)} "
                                       "(UT1 format: a folder per category with `domains` and `urls` files)")
            for category in found:
                for kind, target in (("domains", blocked_domains), ("urls", blocked_urls)):
                    for path in (root / category / kind, root / category / f"{kind}.gz"):  # big lists come gzipped
                        if path.is_file():
                            target |= _read_lines(path)
        allowed = {d.lower() for d in config.allow_domains}
        if config.allow_list_file:
            allowed |= _read_lines(Path(config.allow_list_file))
        curated = set(CURATED_DOMAINS) if config.exclude_curated else set()
        if not (blocked_domains or blocked_urls or config.banned_substrings or config.banned_words or curated):
            log.info("url_filter: no block list, banned substring or curated exclusion configured: passing all URLs")
        else:
            log.info(
                "url_filter: %d blocked domains, %d blocked URLs, banned words %s, %d banned substrings, "
                "%d allowed domains, curated sources %s",
                len(blocked_domains), len(blocked_urls), "on" if config.banned_words else "off",
                len(config.banned_substrings), len(allowed), "excluded" if curated else "kept",
            )
        banned = tuple(s.lower() for s in config.banned_substrings)
        words, glued = banned_url_words() if config.banned_words else (frozenset(), ())
        return _Lists(blocked_domains, blocked_urls, allowed, curated, banned, words, glued)

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        lists = self.lists
        url = (record.get("url") or "").strip()
        try:
            host = (urlsplit(url).hostname or "").lower().rstrip(".")
        except ValueError:
            return False, "bad_url"
        hosts = _host_and_parents(host)
        if lists.allowed and any(h in lists.allowed for h in hosts):
            return True
        if lists.curated and any(h in lists.curated for h in hosts):
            return False, "curated_source"
        if lists.blocked_domains and any(h in lists.blocked_domains for h in hosts):
            return False, "blocked_domain"
        lowered = url.lower()
        if lists.blocked_urls and lowered.split("://", 1)[-1] in lists.blocked_urls:
            return False, "blocked_url"
        if any(s in lowered for s in lists.banned):
            return False, "banned_substring"
        if lists.words and (not lists.words.isdisjoint(_WORD.findall(lowered)) or any(w in host for w in lists.glued)):
            return False, "banned_word"
        return True


@dataclass(frozen=True)
class _Lists:
    blocked_domains: set[str]
    blocked_urls: set[str]
    allowed: set[str]
    curated: set[str]
    banned: tuple[str, ...]
    words: frozenset[str]
    glued: tuple[str, ...]
