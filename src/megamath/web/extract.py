"""Math-aware text extraction: formulas rewritten to LaTeX, then resiliparse's main-content extractor.

``extract_text`` is the single entry point every stage uses. A page is parsed once; when it carries
math markup (MathML, KaTeX, MathJax, formula images) the DOM is rewritten so each formula is LaTeX
text; resiliparse extracts the text; TeX written in the text itself is normalized to ``$...$`` and
``$$...$$``. Pages without math pay only for a few substring checks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from megamath.runtime.stage import Drop, Record, RecordStage
from megamath.web.math.markup import NOT_FORMULAS, has_math_markup, rewrite_math
from megamath.web.math.tex import (
    Delimiters,
    asciimath_in_backticks,
    might_contain_tex,
    normalize_tex,
    page_delimiters,
)

DEFAULT_MAX_DOM_DEPTH = 512


class DomTooDeepError(ValueError):
    """The page nests elements deeper than the limit; main-content extraction would take minutes."""


def nested_deeper_than(tree: HTMLTree, limit: int) -> bool:
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


@dataclass
class Extraction:
    text: str
    math: Counter = field(default_factory=Counter)
    """Formulas per markup family (``katex``, ``mathml``, ``tex_text``...) and ``<family>_failed``."""


def extract(
    html: str | bytes,
    url: str | None = None,
    *,
    main_content: bool = True,
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH,
    math: bool = True,
) -> Extraction:
    """Extract a page's text, keeping its formulas as LaTeX; see :func:`extract_text`."""
    if isinstance(html, bytes):
        html = bytes_to_str(html, detect_encoding(html, from_html_meta=True))
    tree = HTMLTree.parse(html)
    too_deep = bool(max_dom_depth) and nested_deeper_than(tree, max_dom_depth)
    with_math = math and has_math_markup(tree)
    if too_deep and not with_math:
        raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
    counts: Counter = Counter()
    delimiters = Delimiters()
    if with_math:
        counts = rewrite_math(tree)
        # the depth may have been the formulas' (deep MathML): each one is a text node now
        if too_deep and nested_deeper_than(tree, max_dom_depth):
            raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
    text = extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=main_content,
        list_bullets=True,
        alt_texts=True,
        links=False,
        noscript=False,
        comments=True,
    )
    if math and "`" in text and ("asciimath" in html or "AsciiMath" in html):
        text, converted = asciimath_in_backticks(text)
        if converted:
            counts["asciimath"] += converted
    if math and might_contain_tex(text):
        if "inlineMath" in html or "displayMath" in html:
            delimiters = page_delimiters(html)
        text, spans = normalize_tex(text, delimiters)
        from_markup = sum(n for family, n in counts.items()
                          if family not in NOT_FORMULAS and not family.endswith("_failed"))
        if spans > from_markup:
            counts["tex_text"] = spans - from_markup
    return Extraction(text, counts)


def extract_text(
    html: str | bytes,
    url: str | None = None,
    *,
    main_content: bool = True,
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH,
    math: bool = True,
) -> str:
    """Return the readable text of a page, paragraphs separated by blank lines and formulas as LaTeX
    (inline ``$...$``, display ``$$...$$`` on its own lines).

    :param html: the page as text, or as bytes in any encoding (detected).
    :param url: the page's address; site-specific extraction rules key on it.
    :param main_content: keep only the main content (drop navigation, footers, ads).
    :param max_dom_depth: refuse pages whose first- or last-child chain is deeper than this (0: no
        limit): main-content heuristics cost grows with depth × size, and hostile pages nest
        100,000 levels. Formulas do not count: the depth is measured again after they are rewritten.
    :param math: rewrite math markup and TeX delimiters to LaTeX (False: plain resiliparse text).
    :raise DomTooDeepError: when the page is nested deeper than ``max_dom_depth``.
    """
    return extract(html, url, main_content=main_content, max_dom_depth=max_dom_depth, math=math).text


@dataclass(frozen=True)
class ExtractConfig:
    """
    ``main_content``: keep only the main content of each page.
    ``max_dom_depth``: pages nested deeper are dropped as ``dom_too_deep`` (0: no limit).
    ``min_chars``: pages whose text is shorter are dropped as ``too_short``.
    ``math``: rewrite formulas to LaTeX (counts per markup family go to ``meta.math``).
    """

    main_content: bool = True
    max_dom_depth: int = DEFAULT_MAX_DOM_DEPTH
    min_chars: int = 1
    math: bool = True


class ExtractText(RecordStage):
    """Sets ``text`` from the record's ``html``, and ``meta.math`` to the formulas per markup family."""

    name = "extract"

    def __init__(self, config: ExtractConfig | None = None):
        self.config = config or ExtractConfig()

    def process(self, record: Record) -> Record | Drop:
        try:
            extraction = extract(
                record["html"],
                record.get("url"),
                main_content=self.config.main_content,
                max_dom_depth=self.config.max_dom_depth,
                math=self.config.math,
            )
        except DomTooDeepError:
            return Drop(record, "dom_too_deep")
        if extraction.math:
            record.setdefault("meta", {})["math"] = dict(extraction.math)
        text = extraction.text.strip()
        if len(text) < self.config.min_chars:
            return Drop(record, "empty_text" if not text else "too_short")
        record["text"] = text
        return record
