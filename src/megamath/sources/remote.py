"""Fetching remote inputs: HTTP(S) downloads with retries and resume, Common Crawl path resolution.

Inputs on object stores (``s3://commoncrawl/crawl-data/...`` among them) need no download: they are
streamed through :mod:`megamath.runtime.storage`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from megamath.runtime.task import TransientError

log = logging.getLogger(__name__)

COMMON_CRAWL_BASE = "https://data.commoncrawl.org/"


def common_crawl_base() -> str:
    """Where ``crawl-data/...`` paths are read from: HTTPS by default; ``MEGAMATH_COMMON_CRAWL_BASE=
    s3://commoncrawl/`` reads the same files from the bucket (faster inside AWS us-east-1)."""
    return os.environ.get("MEGAMATH_COMMON_CRAWL_BASE", COMMON_CRAWL_BASE).rstrip("/") + "/"


def resolve_common_crawl(path: str) -> str:
    """``crawl-data/CC-MAIN-2024-46/...`` is a path in the public Common Crawl bucket."""
    return common_crawl_base() + path.lstrip("/") if path.lstrip("/").startswith("crawl-data/") else path


class DownloadError(OSError):
    """A download that cannot succeed (404, 403...): the task fails at once."""


class HostNotFound(DownloadError):
    """The host of an HTTP(S) input does not resolve (no network, a mistyped URL)."""


def check_hosts(urls: list[str]) -> None:
    """Refuse HTTP(S) inputs whose host does not resolve, once per host, before any work: otherwise
    every file's download would retry for a minute and a half before failing."""
    for host in sorted({urllib.parse.urlsplit(url).hostname or "" for url in urls if url.startswith(("http:", "https:"))}):
        try:
            socket.getaddrinfo(host, 443)
        except (socket.gaierror, UnicodeError) as exc:
            hint = (" (MEGAMATH_COMMON_CRAWL_BASE=s3://commoncrawl/ reads crawl-data/ paths from the bucket instead)"
                    if host == urllib.parse.urlsplit(COMMON_CRAWL_BASE).hostname else "")
            raise HostNotFound(f"cannot resolve {host or 'an empty host'} ({exc}): is this machine offline, or "
                               f"the URL mistyped?{hint}") from None


class DownloadInterrupted(DownloadError, TransientError):
    """Retries ran out on errors that another attempt may not meet (timeouts, resets, 5xx)."""


def download(
    url: str,
    directory: str | os.PathLike[str],
    *,
    attempts: int = 6,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
) -> Path:
    """Download ``url`` into ``directory`` and return the local path.

    A partial download (``*.part``) is continued with an HTTP Range request, both across retries in
    this call and across runs, so a crash or a dropped connection never starts a large file over.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    target = directory / f"{hashlib.sha1(url.encode()).hexdigest()[:10]}-{name}"
    if target.exists():
        return target
    part = target.with_name(target.name + ".part")
    for attempt in range(1, attempts + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                if have and response.status != 206:
                    have = 0  # the server ignored the range: start over
                expected = response.headers.get("Content-Length")
                expected_total = have + int(expected) if expected is not None else None
                with open(part, "ab" if have else "wb") as fh:
                    while chunk := response.read(1 << 20):
                        fh.write(chunk)
            got = part.stat().st_size
            if expected_total is not None and got < expected_total:
                raise DownloadError(f"connection closed after {got} of {expected_total} bytes")
            os.replace(part, target)
            return target
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # range past the end: the partial file is already complete
                os.replace(part, target)
                return target
            if exc.code < 500 and exc.code != 429:
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
            error: Exception = exc
        except (OSError, urllib.error.URLError) as exc:
            error = exc
        if attempt < attempts:
            delay = backoff_s * 2 ** (attempt - 1)
            log.warning("download of %s failed (%s); retry %d/%d in %.0fs", url, error, attempt, attempts - 1, delay)
            time.sleep(delay)
    raise DownloadInterrupted(f"{url}: gave up after {attempts} attempts: {error}")
