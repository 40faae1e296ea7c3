"""Benchmark decontamination: drop documents that share a word n-gram (13 by default) with a test item.

The index holds the n-gram hashes of every item's problem and solution text (see
:class:`BenchmarkIndex`; items shorter than n words are matched whole). Documents are hashed in batches with the same normalization and hasher as deduplication,
and looked up with one vectorized binary search. A removed document records the benchmark, the item
and the matching n-gram in ``meta.contamination``.
"""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from megamath.dedup.ngrams import MAX_N, NgramHasher, words
from megamath.runtime.stage import Drop, Record, Stage

log = logging.getLogger(__name__)

AUTO_FIELDS = ("problem", "question", "Question", "body", "Body", "input", "query", "solution", "cot",
               "rationale", "Rationale", "options", "answer", "Answer", "target")


def recipe_benchmarks() -> dict[str, dict]:
    """The shipped configuration of the recipe's 12 benchmarks."""
    return tomllib.loads(resources.files("megamath.dedup").joinpath("benchmarks.toml").read_text())


def locate_benchmarks(benchmark_dir: str, config: dict[str, dict] | None = None) -> dict[str, str]:
    """{benchmark: file} for every configured benchmark found under ``benchmark_dir``."""
    config = config or recipe_benchmarks()
    found = {}
    for name, entry in config.items():
        path = next((Path(benchmark_dir) / f for f in entry.get("files", []) if (Path(benchmark_dir) / f).is_file()),
                    None)
        if path is None:
            log.warning("benchmark %s: none of %s under %s", name, entry.get("files"), benchmark_dir)
        else:
            found[name] = str(path)
    return found


MIN_SHORT_WORDS = 8


@dataclass
class BenchmarkIndex:
    """Sorted n-gram hashes of benchmark items, and whole-text hashes of items shorter than n words.

    An item contributes the n-grams of each text field and of all its fields together (a page that
    copies a solved problem runs from the problem into its solution). An item whose text is shorter
    than n words, but at least ``MIN_SHORT_WORDS``, is matched as a whole: its k-word hash equals the
    k-gram hash of the same words in a document. Shorter items are counted in ``too_short``.
    """

    n: int
    hashes: np.ndarray                       # sorted n-gram hashes
    item_of_hash: np.ndarray                 # index into ``items`` for each hash
    items: list[tuple[str, str]]             # (benchmark, item id)
    short: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # k -> (hashes, items)
    short_prefixes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # sorted
    too_short: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, files: dict[str, str], n: int = 13, seed: int = 0, fields: dict[str, list[str]] | None = None
              ) -> "BenchmarkIndex":
        hasher = NgramHasher(n, seed=seed)
        texts, owners, items, too_short = [], [], [], {}
        short_texts: list[str] = []
        short_owners: list[int] = []
        for benchmark, path in sorted(files.items()):
            with open(path, encoding="utf-8") as fh:
                for line_number, line in enumerate(fh):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:
                        log.warning("%s line %d: malformed JSON; skipped", path, line_number + 1)
                        continue
                    item_id = str(row.get("id", row.get("idx", row.get("ID", line_number))))
                    chosen = (fields or {}).get(benchmark) or [f for f in AUTO_FIELDS if isinstance(row.get(f), str)]
                    values = [row[f] for f in chosen if isinstance(row.get(f), str) and row[f].strip()]
                    whole = "\n".join(values)
                    length = len(words(whole))
                    if length < MIN_SHORT_WORDS or not _informative(words(whole)):
                        too_short[benchmark] = too_short.get(benchmark, 0) + 1
                        continue
                    items.append((benchmark, item_id))
                    if length < n:
                        short_texts.append(whole)
                        short_owners.append(len(items) - 1)
                        continue
                    long_enough = [v for v in values if len(words(v)) >= n] + ([whole] if len(values) > 1 else [])
                    texts.extend(long_enough)
                    owners.extend([len(items) - 1] * len(long_enough))
        hashes, offsets = hasher.hash_batch(texts)
        item_of_hash = np.repeat(np.array(owners, dtype=np.int64), np.diff(offsets))
        informative = _informative_windows(texts, n)
        hashes, item_of_hash = hashes[informative], item_of_hash[informative]
        order = np.argsort(hashes, kind="stable")
        short: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        prefixes = np.zeros(0, dtype=np.uint64)
        if short_texts:
            heads = [" ".join(words(t)[:MIN_SHORT_WORDS]) for t in short_texts]
            prefixes = np.unique(hasher.ngrams(hasher.word_hashes(heads), MIN_SHORT_WORDS)[0])
            whole_hashes, _ = hasher.ngrams(hasher.word_hashes(short_texts), MAX_N)  # one hash per text
            lengths = np.array([len(words(t)) for t in short_texts])
            for k in np.unique(lengths):
                chosen_k = np.flatnonzero(lengths == k)
                k_order = np.argsort(whole_hashes[chosen_k], kind="stable")
                short[int(k)] = (whole_hashes[chosen_k][k_order], np.array(short_owners)[chosen_k][k_order])
        return cls(n, hashes[order], item_of_hash[order], items, short, prefixes, too_short)


def _informative(item_words: list[str]) -> bool:
    return not all(word.isdigit() for word in item_words)


def _informative_windows(texts: list[str], n: int) -> np.ndarray:
    """Per n-gram of ``texts`` (in hash order), False for runs of bare numbers such as "1 2 3 ... 13",
    which real documents share with a benchmark without copying it."""
    masks = []
    for text in texts:
        numeric = np.array([word.isdigit() for word in words(text)], dtype=np.int64)
        if len(numeric) < n:
            continue
        run = np.convolve(numeric, np.ones(n, dtype=np.int64), mode="valid")
        masks.append(run < n)
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


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
    """``benchmarks``: {name: jsonl file}; ``ngram``: words per n-gram; ``batch_size``: documents hashed at once."""

    benchmarks: tuple[tuple[str, str], ...]
    ngram: int = 13
    seed: int = 0
    batch_size: int = 2000


class Decontaminate(Stage):
    name = "decontaminate"

    def __init__(self, config: DecontaminateConfig):
        self.config = config
        self._index: BenchmarkIndex | None = None

    def __getstate__(self) -> dict:
        return {"config": self.config, "_index": None, "_lookups": None}

    @property
    def index(self) -> BenchmarkIndex:
        if self._index is None:
            self._index = BenchmarkIndex.build(dict(self.config.benchmarks), self.config.ngram, self.config.seed)
            self._lookups = None
        return self._index

    def _tables(self) -> tuple[NgramHasher, dict, HashLookup, dict]:
        """(the hasher, {n: (lookup, items)}, the short items' first-words lookup, {k: (lookup, items)}),
        built once per process."""
        if getattr(self, "_lookups", None) is None:
            index = self.index
            self._lookups = (NgramHasher(self.config.ngram, seed=self.config.seed),
                             {index.n: (HashLookup(index.hashes), index.item_of_hash)},
                             HashLookup(index.short_prefixes),
                             {k: (HashLookup(h), owners) for k, (h, owners) in index.short.items()})
        return self._lookups

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
        index = self.index
        hasher, main, prefixes, short = self._tables()
        texts = [record.get("text") or "" for record in batch]
        batch_words = hasher.word_hashes(texts)
        grams = hasher.ngrams_many(batch_words, (index.n, MIN_SHORT_WORDS))
        matches = _matches(main, grams)
        # Short items are matched whole, one n-gram size per item length; only the few documents that
        # contain the first words of some short item pay for those sizes.
        prefix_hashes, prefix_offsets = grams[MIN_SHORT_WORDS]
        prefix_hit = prefixes.find(prefix_hashes)[0]
        candidates = [i for i in np.flatnonzero(_per_document(prefix_hit, prefix_offsets, len(batch)))
                      if matches[i] is None]
        if candidates and short:
            sub_words = hasher.word_hashes([texts[i] for i in candidates])
            for i, found in zip(candidates, _matches(short, hasher.ngrams_many(sub_words, short.keys()))):
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
