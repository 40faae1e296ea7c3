"""Shard files: zstd-compressed JSON Lines for intermediate data, Parquet for final output.

The format is chosen by the file name (``.jsonl.zst``, ``.jsonl.gz``, ``.jsonl``, ``.parquet``). Readers and
writers stream: a writer holds at most one Parquet row group, a reader one line or row group.

Writers write a local file (the runtime publishes it atomically through
:func:`megamath.runtime.storage.atomic_output`); readers read any location, local or remote.

Parquet columns are ``id``, ``text``, ``url``, ``source`` (strings), ``meta`` (the meta mapping as
a JSON string, queryable with DuckDB's ``json_extract``) and ``extra`` (any other top-level fields
as a JSON object, null when there are none). Reading a shard back gives the records that were written.
A release's shard (``megamath release``) has ``meta`` as a struct of typed fields and the rest in
``meta_rest``: it reads back with both in ``meta``.
"""

from __future__ import annotations

import gzip
import io
import logging
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from megamath.runtime import storage
from megamath.runtime.stage import Drop, Record

log = logging.getLogger(__name__)

CORE_FIELDS = ("id", "text", "url", "source")
PARQUET_SCHEMA = pa.schema(
    [(name, pa.string()) for name in CORE_FIELDS] + [("meta", pa.string()), ("extra", pa.string())]
)
SUFFIXES = (".jsonl.zst", ".jsonl.gz", ".jsonl", ".parquet")


class NotAShardError(ValueError):
    """A file given as a corpus shard has another format (a WARC file given to ``dedup run``, say)."""


def shard_format(path: str | Path) -> str:
    name = str(path)
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return suffix
    raise NotAShardError(f"{name} is not a corpus shard: expected a file ending in {', '.join(SUFFIXES)}")


def check_shards(paths: Iterable[str]) -> None:
    """Refuse, naming the first, inputs that are not shards (before any work is done on them)."""
    for path in paths:
        if not str(path).endswith(SUFFIXES):
            hint = (" (WARC files are read by `megamath web extract`, whose output shards this command takes)"
                    if ".warc" in str(path) or ".arc" in str(path) else "")
            raise NotAShardError(f"{path} is not a corpus shard: expected a file ending in "
                                 f"{', '.join(SUFFIXES)}{hint}")


def _dumps(record: Record) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)


class ShardWriter:
    """Append records to a shard; ``close()`` finishes the file. Usable as a context manager.

    ``fmt`` overrides the format implied by the name (for temporary names such as ``x.parquet.tmp-1``).
    """

    def __init__(
        self, path: str | Path, *, fmt: str | None = None, drop_fields: tuple[str, ...] = (), row_group_size: int = 2000
    ):
        self.path = Path(path)
        self.format = fmt or shard_format(path)
        self.drop_fields = drop_fields
        self.row_group_size = row_group_size
        self.count = 0
        self._rows: list[Record] = []
        self._parquet: pq.ParquetWriter | None = None
        self._raw = None
        self._stream = None
        if self.format == ".parquet":
            self._parquet = pq.ParquetWriter(self.path, PARQUET_SCHEMA, compression="zstd")
        else:
            self._raw = open(self.path, "wb")
            if self.format == ".jsonl.zst":
                self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._raw)
            elif self.format == ".jsonl.gz":
                self._stream = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)
            else:
                self._stream = self._raw

    def write(self, record: Record) -> None:
        if self.drop_fields:
            record = {k: v for k, v in record.items() if k not in self.drop_fields}
        self.count += 1
        if self._parquet is not None:
            self._rows.append(record)
            if len(self._rows) >= self.row_group_size:
                self._flush_rows()
        else:
            self._stream.write(_dumps(record) + b"\n")

    def _flush_rows(self) -> None:
        if not self._rows:
            return
        columns: dict[str, list[Any]] = {name: [] for name in PARQUET_SCHEMA.names}
        for row in self._rows:
            for name in CORE_FIELDS:
                value = row.get(name)
                columns[name].append(None if value is None else str(value))
            columns["meta"].append(_dumps(row.get("meta") or {}).decode())
            extra = {k: v for k, v in row.items() if k not in CORE_FIELDS and k != "meta"}
            columns["extra"].append(_dumps(extra).decode() if extra else None)
        self._parquet.write_table(pa.table(columns, schema=PARQUET_SCHEMA))
        self._rows.clear()

    def close(self) -> None:
        if self._parquet is not None:
            self._flush_rows()
            self._parquet.close()
            self._parquet = None
        elif self._stream is not None:
            self._stream.close()
            if not self._raw.closed:  # GzipFile leaves the file it wraps open
                self._raw.close()
            self._stream = None

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_shard(path: str | Path) -> Iterator[Record | Drop]:
    """Stream the records of a shard (a local path or URL). A malformed JSON line is yielded as
    ``Drop(..., 'bad_json')``."""
    fmt = shard_format(path)
    with storage.open_input(str(path)) as raw:
        if fmt == ".parquet":
            yield from _read_parquet(raw)
        else:
            yield from _read_jsonl(raw, str(path), fmt)


def read_records(paths: Iterable[str | Path]) -> Iterator[Record]:
    """The records of several shards in order; unreadable lines are skipped, counted and logged per file
    (for commands that read shards directly instead of through a pipeline's funnel)."""
    for path in paths:
        skipped = 0
        for item in read_shard(path):
            if type(item) is Drop:
                skipped += 1
            else:
                yield item
        if skipped:
            log.warning("%s: skipped %d unreadable line(s)", path, skipped)


def _read_parquet(raw) -> Iterator[Record]:
    parquet = pq.ParquetFile(raw)
    for group in range(parquet.num_row_groups):
        # one thread: a worker is one core (the executor owns parallelism), and a process that reads a
        # few shards and exits must not leave Arrow's pool threads starting up behind it
        for row in parquet.read_row_group(group, use_threads=False).to_pylist():
            record: Record = {name: row.get(name) for name in CORE_FIELDS}
            meta = row.get("meta")
            if isinstance(meta, dict):  # a release's shard (megamath.release.dataset): typed fields, then the rest
                record["meta"] = {key: value for key, value in meta.items() if value is not None}
                record["meta"].update(orjson.loads(row["meta_rest"]) if row.get("meta_rest") else {})
            else:
                record["meta"] = orjson.loads(meta) if meta else {}
            if row.get("extra"):
                record.update(orjson.loads(row["extra"]))
            yield record


def _read_jsonl(raw, path: str, fmt: str) -> Iterator[Record | Drop]:
    if fmt == ".jsonl.zst":
        stream = zstandard.ZstdDecompressor().stream_reader(raw)
    elif fmt == ".jsonl.gz":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    else:
        stream = raw
    for lineno, line in enumerate(io.BufferedReader(stream, 1 << 20), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a line is not a JSON object")
        except ValueError as exc:
            log.warning("%s line %d: malformed JSON (%s); skipped", path, lineno, exc)
            yield Drop({"source": f"{path}:{lineno}"}, "bad_json")
            continue
        yield record
