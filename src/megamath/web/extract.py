"""Math-aware text extraction: formulas rewritten to LaTeX, then resiliparse's main-content extractor.

``extract_text`` is the single entry point every stage uses. A page is parsed once; when it carries
math markup (MathML, KaTeX, MathJax, formula images) the DOM is rewritten so each formula is LaTeX
text; resiliparse extracts the text; TeX written in the text itself is normalized to ``$...$`` and
``$$...$$``. Pages without math pay only for a few substring checks.
"""

from __future__ import annotations

import html as html_entities
import re
from collections import Counter
from dataclasses import dataclass, field

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from megamath.runtime.stage import Drop, Record, RecordStage
from megamath.web.main_content import MISREAD, misread_among, unmask_main_content
from megamath.web.math.markup import MATHML_TOKENS, find_math_markup, formulas_in, rewrite_math
from megamath.web.math.tex import (
    Delimiters,
    asciimath_in_backticks,
    code_with_tex_delimiters,
    might_contain_tex,
    normalize_tex,
    page_delimiters,
    protect_code,
    restore_code,
    without_sentinel,
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
    layout: str = ""
    """How the text was found, where extractors differ by layout (stage 2: thread, comments, article)."""


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
    if main_content:
        html = keep_lone_symbols(html)
    page = parse_page(html, math=math, max_dom_depth=max_dom_depth)
    from_markup = Counter(page.counts)
    text = finish_text(_plain_text(page.tree, main_content), html, page)
    if math and page.counts != from_markup and hide_code_delimiters(page):
        # the text held TeX, and the page has code with TeX delimiters (rare): read the text again
        # with the code's delimiters hidden, as MathJax and KaTeX skip code
        page.counts = from_markup
        text = finish_text(_plain_text(page.tree, main_content), html, page)
    return Extraction(text, page.counts)


def _plain_text(tree: HTMLTree, main_content: bool) -> str:
    return extract_plain_text(tree, preserve_formatting=True, main_content=main_content, list_bullets=True,
                              alt_texts=True, links=False, noscript=False, comments=True)


@dataclass
class ParsedPage:
    """A page's DOM, its formulas rewritten to LaTeX (``counts`` per family), whether elements the
    main-content pass misreads were set right (``unmasked``, :mod:`megamath.web.main_content`), and
    whether the TeX delimiters of its code were hidden from the text pass (:func:`hide_code_delimiters`;
    :func:`finish_text` restores them)."""

    tree: HTMLTree
    counts: Counter
    math: bool
    unmasked: bool = False
    code_hidden: bool = False


def parse_page(html: str, *, math: bool, max_dom_depth: int, display_tag: str = "div") -> ParsedPage:
    """Parse a page and rewrite every formula of its markup to LaTeX.

    :raise DomTooDeepError: when the page, its formulas rewritten, is nested deeper than ``max_dom_depth``.
    """
    tree = HTMLTree.parse(without_sentinel(html))
    too_deep = bool(max_dom_depth) and nested_deeper_than(tree, max_dom_depth)
    found = find_math_markup(tree, also=MISREAD)
    misread = misread_among(found)
    unmask_main_content(tree, misread)
    with_math = math and len(misread) < len(found)
    if too_deep and not with_math:
        raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
    page = ParsedPage(tree, Counter(), math, unmasked=bool(misread))
    if with_math:
        page.counts = rewrite_math(tree, display_tag, html)
        # the depth may have been the formulas' (deep MathML): each one is a text node now
        if too_deep and nested_deeper_than(tree, max_dom_depth):
            raise DomTooDeepError(f"DOM deeper than {max_dom_depth} levels")
    return page


def hide_code_delimiters(page: ParsedPage) -> bool:
    """Hide the TeX delimiters in the page's code from the text pass (MathJax and KaTeX skip code);
    returns whether there were any (then the text must be extracted again)."""
    codes = code_with_tex_delimiters(page.tree.document)
    if codes:
        protect_code(codes)
        page.code_hidden = True
    return bool(codes)


# resiliparse's main-content pass drops every text node (and element of one text) whose text, spaces
# aside, is three UTF-8 bytes ending in a continuation byte (its test for an icon font's private-use
# glyph reads the bytes as a little-endian number): one character of U+0800–U+FFFF, or an ASCII
# character before one of two bytes. A proof assistant's highlighted ∀ and ℕ, a prose
# <i>a</i>≤<i>b</i>, the /σ of S<sup>2</sup>/σ<sup>2</sup>, a table cell's € vanished. A private-use
# character after such a text keeps it, and leaves with every other (finish_text); private-use glyphs
# themselves are still dropped. Formula markup is left as it is: its rewriters read those elements.
_THREE_BYTES = "[\u0800-\ud7ff\uf900-\uffff]"  # one character of three bytes, private use aside
_TWO_BYTES = "[\u0080-\u07ff]"
_ASCII_PRINTABLE = "[!-%'-;=?-~]"  # but & < >
# An entity (whether it writes a character of two or three bytes is read when one matches); a table's
# empty cell (&nbsp;, two bytes alone) is no match, and costs no call.
_ENTITY = r"&(?!nbsp;)(?:#\d{2,7}|#[xX][0-9a-fA-F]{2,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_LONE_TEXT = re.compile(
    r">[ \t\r\n]*+(" + "|".join((_THREE_BYTES, f"{_ASCII_PRINTABLE}(?:{_TWO_BYTES}|{_ENTITY})", _ENTITY))
    + r")(?=[ \t\r\n]*+<)")
# Where such a text may start (a non-ASCII character or an entity among its first two): one pass of this
# costs what one alternative of the exact pattern costs at every tag's end.
_LONE_TEXT_START = re.compile(r">[ \t\r\n]*+[!-%'-;=?-~]?[^\x00-\x25\x27-\x7f]")
_KEEP = "\ue000"
_TAG_BEFORE = re.compile(r"</?(?:[A-Za-z][\w-]*:)?([A-Za-z][\w-]*)([^<>]*)")  # <mml:mo>: a prefix
_FORMULA_MARKUP = re.compile(r"katex|mjx|MathJax|math|\bm(?:ord|bin|rel|open|close|punct|inner|op|i|o|n)\b")


def keep_lone_symbols(html: str) -> str:
    """The page with a private-use character after each text of three bytes (outside formula markup),
    which resiliparse's main-content pass would drop."""
    parts, done = [], 0
    for candidate in _LONE_TEXT_START.finditer(html):
        match = _LONE_TEXT.match(html, candidate.start())
        if match is not None and _dropped_by_resiliparse(match):
            parts += (html[done:match.end()], _KEEP)
            done = match.end()
    return "".join(parts) + html[done:] if parts else html


def _dropped_by_resiliparse(match: re.Match) -> bool:
    text = match.group(1)
    if "&" in text:
        decoded = html_entities.unescape(text)
        if (decoded.isascii() or len(decoded.encode("utf-8", "surrogatepass")) != 3 or decoded[-1] < "\x80"
                or 0xE000 <= ord(decoded[-1]) <= 0xF8FF):
            return False
    tag = _TAG_BEFORE.fullmatch(match.string, match.string.rfind("<", 0, match.start()), match.start())
    return not (tag is None or tag.group(1).lower() in MATHML_TOKENS or _FORMULA_MARKUP.search(tag.group(2)))


# Private-use code points are glyphs of a page's own fonts (icon fonts, renderers' math fonts):
# without the font they mean nothing, and no output may carry them.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U0010ffff]+")
# The UTF-8 lead bytes of those code points (U+E000–U+FFFF, planes 15 and 16): a byte search of the
# encoded text is a tenth of the cost of the pattern's search, and most texts hold none of them.
_PRIVATE_USE_LEADS = (b"\xee", b"\xef", b"\xf3", b"\xf4")


def _may_hold_private_use(text: str) -> bool:
    if text.isascii():
        return False
    encoded = text.encode("utf-8", "surrogatepass")
    return any(lead in encoded for lead in _PRIVATE_USE_LEADS)


def finish_text(text: str, html: str, page: ParsedPage) -> str:
    """The extracted text with the TeX the page wrote in it read (:func:`tex_in_text`, counted in
    ``page.counts``), its code as written, and no private-use glyph."""
    if page.math:
        text = tex_in_text(text, html, page.counts)
    if page.code_hidden:
        text = restore_code(text, escape_dollars=bool(formulas_in(page.counts)))
    if _may_hold_private_use(text):
        text = _PRIVATE_USE.sub("", text)
    return text


def tex_in_text(text: str, html: str, counts: Counter) -> str:
    """The TeX a page wrote in its text, as ``$…$``/``$$…$$``: AsciiMath backticks (where the page
    loads AsciiMath), TeX delimiters (the page's own MathJax delimiters too) and BBCode.
    ``counts`` gains the formulas found there (the markup rewrite's own are counted already)."""
    if "`" in text and ("asciimath" in html or "AsciiMath" in html):
        text, converted = asciimath_in_backticks(text)
        if converted:
            counts["asciimath"] += converted
    if might_contain_tex(text):
        delimiters = page_delimiters(html) if ("inlineMath" in html or "displayMath" in html) else Delimiters()
        text, spans, bbcode = normalize_tex(text, delimiters)
        if bbcode:
            counts["bbcode"] += bbcode
        if spans > bbcode:
            counts["tex_text"] += spans - bbcode
    return text


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
