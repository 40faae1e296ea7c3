"""Formula images: TeX from ``alt``/``title`` or from the image URL of a LaTeX rendering service."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, unquote

from megamath.web.math.tex import without_comments

# Services that put the TeX in the query string, and the parameter that holds it.
_QUERY_SERVICES = (
    ("latex.php", "latex"),          # WordPress.com / Jetpack
    ("cht=tx", "chl"),               # Google Chart API formulas
    ("/mathtex.cgi", ""),
    ("/mimetex.cgi", ""),
    ("mimetex", ""),
)
# Services that put the TeX in the path after a marker (codecogs: /gif.latex?TEX, /svg.image?TEX).
_PATH_SERVICES = ("codecogs.com", "/math/render/", "latex.codecogs", "quicklatex", "/tex2img")
_CODECOGS_QUERY = re.compile(r"\.(?:latex|image)\?(.*)$")
_SIZE_PREFIX = re.compile(r"^\\(?:dpi\{\d+\}|bg_\w+|fg_\w+|inline|large|Large|small|tiny|huge|normalsize)\s*")
_ALT_LOOKS_LIKE_TEX = re.compile(r"[\\^_{}=+<>]|^\w$|\d")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")


def is_formula_image(src: str, classes: str, alt: str | None = None) -> bool:
    lowered = src.lower()
    if "latex" in classes.split() or "mwe-math-fallback-image" in classes or (alt and _TEX_COMMAND.search(alt)):
        return True
    return (any(marker in lowered for marker, _ in _QUERY_SERVICES) or any(m in lowered for m in _PATH_SERVICES)
            or "%5c" in lowered)


# HTML that editors leave inside alt/title TeX (escaped, so it survives as text): line breaks,
# paragraphs, inline formatting. Only tags with attribute syntax, so "a<b" in TeX stays.
_MARKUP_IN_ATTRIBUTE = re.compile(
    r"""<\s*/?\s*(?:br|p|div|span|font|b|i|em|strong|sup|sub)(?:\s+[\w-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))*\s*/?\s*>""",
    re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def clean_attribute_tex(text: str) -> str:
    """TeX from an attribute as editors write it: entities escaped twice (``&amp;lt;``) decoded,
    markup (``<br />``) dropped."""
    for _ in range(2):  # the parser decoded one level already
        if not _ENTITY.search(text):
            break
        text = html.unescape(text)
    if "<" in text:
        text = _MARKUP_IN_ATTRIBUTE.sub(" ", text)
    return " ".join(without_comments(text).split())


def tex_from_image(src: str, alt: str | None, title: str | None) -> str | None:
    """The TeX of a formula image: ``alt`` or ``title`` when they look like TeX, else the URL."""
    alt, title = (clean_attribute_tex(text) if text else text for text in (alt, title))
    for text in (alt, title):
        if text and text.strip() and _ALT_LOOKS_LIKE_TEX.search(text):
            return text.strip()
    tex = _tex_from_url(src)
    if tex:
        return tex
    for text in (alt, title):
        if text and text.strip():
            return text.strip()
    return None


def _tex_from_url(src: str) -> str | None:
    # the URL's path and query by hand: urlsplit cost a fifth of a formula image's rewrite
    address, _, query = src.partition("#")[0].partition("?")
    lowered = src.lower()
    for marker, parameter in _QUERY_SERVICES:
        if marker in lowered:
            if parameter:
                values = parse_qs(query, keep_blank_values=False).get(parameter)
                if values:
                    return values[0].strip() or None
            elif query:  # mimeTeX/mathTeX take raw TeX, where "+" is a plus sign
                return unquote(query).strip() or None
    last_segment = unquote(address.rsplit("/", 1)[-1])
    if _TEX_COMMAND.search(last_segment):  # an unknown service with the TeX as the file name
        return last_segment.strip()
    match = _CODECOGS_QUERY.search(src)
    if match:
        tex = unquote(match.group(1))
        while True:
            stripped = _SIZE_PREFIX.sub("", tex)
            if stripped == tex:
                break
            tex = stripped
        return tex.strip() or None
    return None
