"""Write small WARC files (one gzip member per record), for examples, tests and fixtures.

Records are reproducible: record IDs derive from the URL and the date is fixed unless given.
"""

from __future__ import annotations

import gzip
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 500: "Internal Server Error"}


@dataclass(frozen=True)
class Fetch:
    """One crawled URL: the HTTP response a crawler would have stored."""

    url: str
    body: bytes
    status: int = 200
    content_type: str = "text/html"
    charset: str | None = "utf-8"


def warc_record(warc_type: str, uri: str, block: bytes, content_type: str, date: str) -> bytes:
    record_id = f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, warc_type + uri)}>"
    headers = ["WARC/1.1", f"WARC-Type: {warc_type}", f"WARC-Date: {date}", f"WARC-Record-ID: {record_id}"]
    if uri:
        headers.append(f"WARC-Target-URI: {uri}")
    headers += [f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    raw = ("\r\n".join(headers) + "\r\n\r\n").encode() + block + b"\r\n\r\n"
    return gzip.compress(raw, compresslevel=6, mtime=0)


def http_response(fetch: Fetch) -> bytes:
    lines = [f"HTTP/1.1 {fetch.status} {_REASONS.get(fetch.status, 'Status')}"]
    lines.append(f"Content-Type: {fetch.content_type}" + (f"; charset={fetch.charset}" if fetch.charset else ""))
    if 300 <= fetch.status < 400:
        lines.append(f"Location: {fetch.url.replace('http://', 'https://', 1)}")
    lines.append(f"Content-Length: {len(fetch.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + fetch.body


def write_warc(path: str | Path, fetches: Iterable[Fetch], *, date: str = "2024-05-20T10:00:00Z") -> int:
    """Write a warcinfo record, then a request and a response record per fetch. Returns the fetch count."""
    info = b"software: megamath\r\nformat: WARC File Format 1.1\r\n"
    count = 0
    with open(path, "wb") as out:
        out.write(warc_record("warcinfo", "", info, "application/warc-fields", date))
        for fetch in fetches:
            host = fetch.url.split("/")[2] if "//" in fetch.url else "localhost"
            request = f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: megamath\r\n\r\n".encode()
            out.write(warc_record("request", fetch.url, request, "application/http; msgtype=request", date))
            out.write(warc_record("response", fetch.url, http_response(fetch), "application/http; msgtype=response", date))
            count += 1
    return count
