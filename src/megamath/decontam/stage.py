"""The decontamination stage: drop documents that share a word n-gram with a benchmark's test item.

Documents are hashed in batches with the same normalization and hasher as deduplication and looked
up in the index that :class:`~megamath.decontam.index.BuildIndex` saved, with one vectorized probe.
A removed document records the benchmark, the item and the matching n-gram in
``meta.contamination``, and is kept in the run folder's ``excluded/`` for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from megamath.decontam.index import MIN_SHORT_WORDS, BenchmarkIndex
from megamath.dedup.ngrams import NgramHasher, words
from megamath.runtime.stage import Drop, Record, Stage, resource


class HashLookup:
    """Membership of 64-bit hashes in a sorted array, behind a bitmap of their low bits: almost every
    document n-gram is absent, and one bitmap probe is much cheaper than a binary search."""

    def __init__(self, sorted_hashes: np.ndarray, bits: int = 27):
        self.sorted = sorted_hashes
        self._mask = np.uint64((1 << bits) - 1)
        self._bitmap = np.zeros(1 << (bits - 3), dtype=np.uint8)
        low = (sorted_hashes & self._mask).astype(np.int64)
        np.bitwise_or.at(self._bitmap, low >> 3, (1 << (low & 7)).astype(np.uint8))

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit mask, position in the sorted array) for each of ``hashes``."""
        positions = np.zeros(len(hashes), dtype=np.int64)
        if not len(self.sorted):
            return np.zeros(len(hashes), dtype=bool), positions
        low = (hashes & self._mask).astype(np.int64)
        maybe = np.flatnonzero(self._bitmap[low >> 3] & (1 << (low & 7)).astype(np.uint8))
        found = np.minimum(np.searchsorted(self.sorted, hashes[maybe]), len(self.sorted) - 1)
        hit = np.zeros(len(hashes), dtype=bool)
        hit[maybe] = self.sorted[found] == hashes[maybe]
        positions[maybe] = found
        return hit, positions


@dataclass(frozen=True)
class DecontaminateConfig:
    """``index``: the index file (:class:`~megamath.decontam.index.BuildIndex`'s output);
    ``batch_size``: documents hashed at once."""

    index: str
    batch_size: int = 2000


@dataclass
class _Tables:
    index: BenchmarkIndex
    hasher: NgramHasher
    main: dict          # {n: (lookup, items)}
    prefixes: HashLookup  # the first words of short items
    short: dict         # {k: (lookup, items)}


class Decontaminate(Stage):
    name = "decontaminate"
    keeps_dropped = ("benchmark_",)

    def __init__(self, config: DecontaminateConfig):
        self.config = config

    def dependencies(self) -> tuple[str, ...]:
        return (self.config.index,)

    @resource
    def tables(self) -> _Tables:
        """The index and its lookups, built once per process."""
        index = BenchmarkIndex.load(self.config.index)
        return _Tables(index, NgramHasher(index.n, seed=index.seed), {index.n: (HashLookup(index.hashes), index.item_of_hash)},
                       HashLookup(index.short_prefixes),
                       {k: (HashLookup(h), owners) for k, (h, owners) in index.short.items()})

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        batch: list[Record] = []
        for record in records:
            batch.append(record)
            if len(batch) >= self.config.batch_size:
                yield from self._check(batch)
                batch = []
        if batch:
            yield from self._check(batch)

    def _check(self, batch: list[Record]) -> Iterator[Record | Drop]:
        tables = self.tables
        index, hasher = tables.index, tables.hasher
        texts = [record.get("text") or "" for record in batch]
        batch_words = hasher.word_hashes(texts)
        grams = hasher.ngrams_many(batch_words, (index.n, MIN_SHORT_WORDS))
        matches = _matches(tables.main, grams)
        # Short items are matched whole, one n-gram size per item length; only the few documents that
        # contain the first words of some short item pay for those sizes.
        prefix_hashes, prefix_offsets = grams[MIN_SHORT_WORDS]
        prefix_hit = tables.prefixes.find(prefix_hashes)[0]
        candidates = [i for i in np.flatnonzero(_per_document(prefix_hit, prefix_offsets, len(batch)))
                      if matches[i] is None]
        if candidates and tables.short:
            sub_words = hasher.word_hashes([texts[i] for i in candidates])
            for i, found in zip(candidates, _matches(tables.short, hasher.ngrams_many(sub_words, tables.short.keys()))):
                matches[i] = found
        for i, record in enumerate(batch):
            if matches[i] is None:
                yield record
                continue
            k, window, item_index, count = matches[i]
            benchmark, item = index.items[item_index]
            record.setdefault("meta", {})["contamination"] = {
                "benchmark": benchmark, "item": item, "ngram": " ".join(words(texts[i])[window:window + k]),
                "matching_ngrams": count,
            }
            yield Drop(record, f"benchmark_{benchmark}")


def _per_document(hit: np.ndarray, offsets: np.ndarray, documents: int) -> np.ndarray:
    """Whether each document has at least one hit (documents without n-grams have none)."""
    counts = np.zeros(documents, dtype=np.int64)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    if len(nonempty):
        counts[nonempty] = np.add.reduceat(hit.astype(np.int64), offsets[nonempty])
    return counts > 0


def _matches(tables: dict, grams: dict) -> list[tuple[int, int, int, int] | None]:
    """Per document, the first match (size, window, item, matching windows) over ``tables``, or None."""
    lookups = []
    for k, (table, owners) in tables.items():
        hashes, offsets = grams[k]
        hit, positions = table.find(hashes)
        lookups.append((k, offsets, hit, owners[positions] if len(owners) else positions))
    documents = len(next(iter(grams.values()))[1]) - 1
    any_hit = np.zeros(documents, dtype=bool)
    for _, offsets, hit, _ in lookups:
        any_hit |= _per_document(hit, offsets, documents)
    found: list[tuple[int, int, int, int] | None] = [None] * documents
    for i in np.flatnonzero(any_hit):
        for k, offsets, hit, owner in lookups:
            where = np.flatnonzero(hit[offsets[i]:offsets[i + 1]])
            if len(where):
                found[i] = (k, int(where[0]), int(owner[offsets[i] + where[0]]), len(where))
                break
    return found
