"""Text extraction from HTML: resiliparse's main-content extractor behind one stable function.

``extract_text`` is the single entry point every stage uses, so improving extraction (the math-aware
rewrite) changes one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from megamath.runtime.stage import Drop, Record, RecordStage

DEFAULT_MAX_DOM_DEPTH = 512


class DomTooDeepError(ValueError):
    """The page nests elements deeper than the limit; main-content extraction would take minutes."""


def _nested_deeper_than(tree: HTMLTree, limit: int) -> bool:
    """Whether the first-child or last-child chain from the root is longer than ``limit``.

    Runaway nesting (unclosed inline tags, generated ``<div>`` towers) builds exactly these chains,
    and walking two chains costs microseconds where an exact depth query over every element costs
    a tenth of the extraction itself. Deep nesting elsewhere is left to the runtime's time guard.
    """
    for step in ("first_element_child", "last_element_child"):
        node, depth = tree.document, 0
        while node is not None:
            depth += 1
            if depth > limit:
                return True
            node = getattr(node, step)
    return False


def parse_html(html: str | bytes) -> HTMLTree:
    if isinstance(html, bytes):
        html = bytes_to_str(html, detect_encoding(html, from_html_meta=True))
    return HTMLTree.parse(html)


def extract_text(
    html: str | bytes,
    url: str | None = None,
    *,
    main_content: bool = True,
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH,
) -> str:
    """Return the readable text of a page, paragraphs separated by blank lines.

    :param html: the page as text, or as bytes in any encoding (detected).
    :param url: the page's address; site-specific extraction rules key on it.
    :param main_content: keep only the main content (drop navigation, footers, ads).
    :param max_dom_depth: refuse pages whose first- or last-child chain is deeper than this (0: no
        limit): main-content heuristics cost grows with depth × size, and hostile pages nest
        100,000 levels.
    :raise DomTooDeepError: when the page is nested deeper than ``max_dom_depth``.
    """
    tree = parse_html(html)
    if max_dom_depth and _nested_deeper_than(tree, max_dom_depth):
        raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
    return extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=main_content,
        list_bullets=True,
        alt_texts=True,
        links=False,
        noscript=False,
        comments=True,
    )


@dataclass(frozen=True)
class ExtractConfig:
    """
    ``main_content``: keep only the main content of each page.
    ``max_dom_depth``: pages nested deeper are dropped as ``dom_too_deep`` (0: no limit).
    ``min_chars``: pages whose text is shorter are dropped as ``too_short``.
    """

    main_content: bool = True
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH
    min_chars: int = 1


class ExtractText(RecordStage):
    """Sets ``text`` from the record's ``html``."""

    name = "extract"

    def __init__(self, config: ExtractConfig | None = None):
        self.config = config or ExtractConfig()

    def process(self, record: Record) -> Record | Drop:
        try:
            text = extract_text(
                record["html"],
                record.get("url"),
                main_content=self.config.main_content,
                max_dom_depth=self.config.max_dom_depth,
            )
        except DomTooDeepError:
            return Drop(record, "dom_too_deep")
        text = text.strip()
        if len(text) < self.config.min_chars:
            return Drop(record, "empty_text" if not text else "too_short")
        record["text"] = text
        return record
