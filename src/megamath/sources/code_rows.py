"""Source files listed as rows: Stack-v2-style Parquet and JSON Lines, contents inline or in a store.

A row names one file. Its text is the ``content`` column when the row has one; otherwise the row has
a ``blob_id`` and the content is fetched from a content store, a location template such as Software
Heritage's ``s3://softwareheritage/content/{blob_id}`` (gzip blobs, as The Stack v2 is distributed) or
a local folder laid out the same way, read through the same storage as every other input. Fields
kept in ``meta.code`` when present: ``repo`` (``repo_name``), ``path``, ``language``, ``licenses``
(``detected_licenses``), ``license_type``, ``blob_id``. The language comes from the row (The Stack's
names: ``C++``, ``JavaScript``, …) or, when absent or unknown, from the path. A row The Stack marks
``is_vendor`` or ``is_generated`` (a boolean, 0/1 or "true"/"false") is dropped with that reason; a
blob the store does not have, or cannot decompress, and a ``content`` cell that is not text (a number,
a struct) are counted drops (``content_missing``, ``content_unreadable``, ``content_not_text``), never a
crash; no blob is held or inflated past the size limit.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterator

from megamath.runtime import storage
from megamath.runtime.stage import Drop

ROW_SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst")
# The Stack v2's language names, lower-cased, for the languages MegaMath-Code keeps.
STACK_LANGUAGES = {"c": "c", "c++": "c++", "c#": "c#", "go": "go", "java": "java", "javascript": "javascript",
                   "python": "python", "r": "r", "rust": "rust", "shell": "shell", "sql": "sql", "cpp": "c++",
                   "csharp": "c#", "c-sharp": "c#", "js": "javascript", "bash": "shell"}


@dataclass(frozen=True)
class ContentStoreConfig:
    """
    ``location``: where rows without a ``content`` column find their file, ``{blob_id}`` standing for
    the row's blob id (e.g. ``s3://softwareheritage/content/{blob_id}``; None: such rows are dropped
    as ``content_missing``).
    ``compression``: ``gzip`` (Software Heritage's blobs), ``none``, or ``auto`` (gzip when the blob
    starts with gzip's magic bytes).
    ``concurrency``: blobs fetched at once (object stores answer one request slowly and many well).
    """

    location: str | None = None
    compression: str = "auto"
    concurrency: int = 16

    def __post_init__(self):
        if self.compression not in ("gzip", "none", "auto"):
            raise ValueError(f"content store compression must be gzip, none or auto, not {self.compression!r}")
        if self.location is not None and "{blob_id}" not in self.location:
            raise ValueError(f"the content store location {self.location!r} has no {{blob_id}} in it")
        if self.concurrency < 1:
            raise ValueError("content store concurrency must be at least 1")


def is_row_file(location: str) -> bool:
    return location.lower().endswith(ROW_SUFFIXES)


def iter_rows(location: str) -> Iterator[dict | Drop]:
    """The rows of a Parquet or JSON Lines file, as dicts (a malformed JSON line is a ``bad_json`` drop)."""
    if location.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        with storage.open_input(location) as raw:
            for batch in pq.ParquetFile(raw).iter_batches(batch_size=1024):
                yield from batch.to_pylist()
        return
    from megamath.runtime.shards import read_shard

    yield from read_shard(location)


def row_meta(row: dict, language_from_path: Callable[[str], str | None]) -> dict:
    """``meta.code`` of a row: its repository, path, language and licence fields (see the module docstring)."""
    path = str(row.get("path") or row.get("max_stars_repo_path") or "")
    named = str(row.get("language") or row.get("lang") or "").lower()
    meta = {"repo": row.get("repo_name") or row.get("repo") or "", "path": path,
            "language": STACK_LANGUAGES.get(named) or language_from_path(path)}
    for field, key in (("detected_licenses", "licenses"), ("licenses", "licenses"), ("license_type", "license_type"),
                       ("license", "license"), ("blob_id", "blob_id")):
        value = row.get(field)
        if value is not None and key not in meta:
            meta[key] = list(value) if isinstance(value, (list, tuple)) else value
    return meta


class ContentStore:
    """Fetches the contents of rows that carry only a ``blob_id``; ``max_bytes``: a blob larger than this
    (compressed or not) is ``too_large``, found out without holding more than ``max_bytes`` + 1 bytes of it."""

    def __init__(self, config: ContentStoreConfig, max_bytes: int):
        self.config = config
        self.max_bytes = max_bytes

    def fetch(self, blob_id: str) -> bytes | str:
        """The blob's bytes, or the drop reason (``content_missing``, ``content_unreadable``)."""
        if self.config.location is None or not blob_id:
            return "content_missing"
        location = self.config.location.format(blob_id=blob_id)
        try:
            with storage.open_input(location) as blob:
                data = blob.read(self.max_bytes + 1)
        except (FileNotFoundError, storage.StorageError):
            return "content_missing"
        except OSError:
            return "content_unreadable"
        if len(data) > self.max_bytes:
            return "too_large"
        compression = self.config.compression
        if compression == "gzip" or (compression == "auto" and data[:2] == b"\x1f\x8b"):
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                data = inflater.decompress(data, self.max_bytes + 1)  # a blob that inflates without end stops here
            except zlib.error:
                return "content_unreadable"
            if len(data) > self.max_bytes:
                return "too_large"
            if not inflater.eof:
                return "content_unreadable"
        return data

    def contents(self, rows: Iterator[dict | Drop]) -> Iterator[tuple[dict | Drop, bytes | str | None]]:
        """(row, content) in order: a row's own ``content`` (as bytes), a fetched blob, or a drop reason;
        rows that are drops pass through with None. Blobs are fetched ``concurrency`` at a time."""
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            while True:
                chunk = list(islice(rows, self.config.concurrency * 4))
                if not chunk:
                    return
                yield from zip(chunk, pool.map(self._content, chunk))

    def _content(self, row: dict | Drop) -> bytes | str | None:
        if type(row) is Drop:
            return None
        content = row.get("content")
        if content is None:
            return self.fetch(str(row.get("blob_id") or ""))
        if isinstance(content, str):
            return content.encode("utf-8", "surrogatepass")
        if isinstance(content, (bytes, bytearray, memoryview)):
            return bytes(content)
        return "content_not_text"  # a float, a number, a struct: one bad cell, one counted drop


def row_drop(row: dict) -> str | None:
    """The reason The Stack's own flags give for not using a row."""
    if _flag(row.get("is_vendor")):
        return "vendored"
    if _flag(row.get("is_generated")):
        return "generated"
    return None


def _flag(value) -> bool:
    """A yes/no column as exports write it: a boolean, 0/1, or text ("false" is no)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y", "t")
    return bool(value) if isinstance(value, (bool, int, float)) else False
