"""Build examples/example.warc.gz from the pages in examples/pages (all written for this project).

The archive mimics a Common Crawl WARC: a warcinfo record, then a request and a response record per
fetch, one gzip member per record. Besides the HTML pages it holds a 404, an image and a redirect, so
the example run shows every early drop reason. The output is byte-for-byte reproducible.

    python examples/make_example_warc.py [--out examples/example.warc.gz]
"""

from __future__ import annotations

import argparse
import gzip
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATE = "2024-05-20T10:00:00Z"

# (page file or literal body, URL, HTTP status, content type, charset the body is served in)
FETCHES = [
    ("quadratic-raw-tex.html", "https://mathnotes.example.org/algebra/quadratic-equations", 200, "text/html", "utf-8"),
    ("geometric-series-katex.html", "https://calculus.example.edu/notes/geometric-series", 200, "text/html", "utf-8"),
    ("pythagoras-mathml.html", "https://geometry.example.com/pythagoras", 200, "application/xhtml+xml", "utf-8"),
    ("derivatives-mathjax2.html", "https://forum.example.net/q/1234/product-rule", 200, "text/html", "iso-8859-1"),
    ("bread-recipe.html", "https://recipes.example.com/bread/country-loaf", 200, "text/html", "utf-8"),
    ("german-news.html", "https://nachrichten.example.de/stadt/bruecke", 200, "text/html", "utf-8"),
    ("wikipedia-euler.html", "https://en.wikipedia.org/wiki/Euler%27s_identity", 200, "text/html", "utf-8"),
    ("navigation-only.html", "https://app.example.com/", 200, "text/html", "utf-8"),
    (b"<html><body><h1>Not Found</h1></body></html>", "https://mathnotes.example.org/missing", 404, "text/html", None),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "https://mathnotes.example.org/figure.png", 200, "image/png", None),
    (b"", "http://mathnotes.example.org/", 301, "text/html", None),
]


def _record(warc_type: str, uri: str, block: bytes, content_type: str, concurrent_to: str | None = None) -> bytes:
    record_id = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, warc_type + uri)}>"
    headers = [
        "WARC/1.1",
        f"WARC-Type: {warc_type}",
        f"WARC-Date: {DATE}",
        f"WARC-Record-ID: {record_id}",
    ]
    if uri:
        headers.append(f"WARC-Target-URI: {uri}")
    if concurrent_to:
        headers.append(f"WARC-Concurrent-To: {concurrent_to}")
    headers += [f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    raw = ("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n"
    return gzip.compress(raw, mtime=0)


def _http_response(status: int, content_type: str, charset: str | None, body: bytes, uri: str) -> bytes:
    reason = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}[status]
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines.append(f"Content-Type: {content_type}" + (f"; charset={charset}" if charset else ""))
    if status == 301:
        lines.append(f"Location: {uri.replace('http://', 'https://')}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def build(out: Path) -> int:
    info = b"software: megamath examples/make_example_warc.py\r\nformat: WARC File Format 1.1\r\n"
    parts = [_record("warcinfo", "", info, "application/warc-fields")]
    for page, uri, status, content_type, charset in FETCHES:
        if isinstance(page, bytes):
            body = page
        else:
            body = (HERE / "pages" / page).read_text(encoding="utf-8").encode(charset)
        request = f"GET / HTTP/1.1\r\nHost: {uri.split('/')[2]}\r\nUser-Agent: megamath-example\r\n\r\n".encode()
        parts.append(_record("request", uri, request, "application/http; msgtype=request"))
        parts.append(_record("response", uri, _http_response(status, content_type, charset, body, uri),
                             "application/http; msgtype=response"))
    out.write_bytes(b"".join(parts))
    return len(FETCHES)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "example.warc.gz")
    args = parser.parse_args()
    count = build(args.out)
    print(f"wrote {args.out} with {count} fetches")
