"""The stage-2 extractor as the mathfidelity scorer calls it: ``(html, url=...) -> text``."""

from megamath.web.reextract import extract_precise


def text(html: str, url: str | None = None) -> str:
    return extract_precise(html, url).text
