"""Reading the corpus shards a previous run wrote (JSONL, JSONL+zstd, Parquet) as a pipeline source."""

from __future__ import annotations

from typing import Iterator

from megamath.runtime import storage
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop, Record


class ShardReader:
    name = "read"

    def __init__(self):
        self.bytes_read = 0

    def __call__(self, source: str) -> Iterator[Record | Drop]:
        self.bytes_read = 0
        yield from read_shard(source)
        self.bytes_read = storage.size(source) or 0
