"""Text from bytes that are almost right: shared by the readers of web pages and of source files."""

from __future__ import annotations


def mostly_utf8(body: bytes) -> str | None:
    """``body`` decoded as UTF-8 with its invalid bytes replaced, when most of its non-ASCII bytes
    are valid UTF-8 sequences; None when it reads as another charset."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - invalid
    return text if multibyte >= max(invalid, 1) else None
