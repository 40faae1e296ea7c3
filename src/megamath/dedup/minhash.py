"""MinHash signatures, LSH band hashes, and the detection-probability arithmetic behind (bands, rows).

Signatures are computed by ``rensa`` (Rust) from the vectorized 5-gram hashes of :mod:`.ngrams`; a
band's hash is a 64-bit mix of its ``rows`` signature values. Two documents of Jaccard similarity s
share at least one band with probability ``1 - (1 - s**rows)**bands``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rensa import RMinHash

from megamath.dedup.ngrams import NgramHasher, _splitmix64

# A signature is computed per document in memory for a whole batch (batch × permutations × 4 bytes):
# beyond this, one batch alone would need gigabytes, and LSH gains nothing from more permutations.
MAX_PERMUTATIONS = 4096


@dataclass(frozen=True)
class MinHashConfig:
    """Defaults follow the published recipe: 11 bands × 10 rows (110 permutations), word 5-grams."""

    bands: int = 11
    rows: int = 10
    ngram: int = 5
    seed: int = 42

    def __post_init__(self):
        if self.bands < 1 or self.rows < 1 or self.ngram < 1:
            raise ValueError(f"bands, rows and ngram must be at least 1 (got {self.bands}, {self.rows}, {self.ngram})")
        if self.bands * self.rows > MAX_PERMUTATIONS:
            raise ValueError(f"{self.bands} bands x {self.rows} rows = {self.bands * self.rows:,} permutations: at most "
                             f"{MAX_PERMUTATIONS:,} are supported (the recipe uses 11 x 10; see `megamath dedup plan`)")

    @property
    def permutations(self) -> int:
        return self.bands * self.rows


_SKETCH_SEED = 7919  # the verification sketch's permutations are not the bands'
# Texts are signed in chunks of about this many characters: the arrays of a chunk's words stay in the
# processor's cache (a 10,000-document batch of 2 KB texts signs at half the speed of 500-document chunks).
_CHUNK_CHARACTERS = 1 << 20
_PAIR_ELEMENTS = 1 << 23  # shingles of the pairs one exact comparison holds at once (128 MiB)
_BIG_ENDIAN = sys.byteorder == "big"  # where the high half of a uint64 lies among its two uint32 halves


class Signed(NamedTuple):
    values: np.ndarray  # [docs, permutations] uint32: the MinHash signatures the bands are made of
    has_ngrams: np.ndarray  # [docs] bool
    content: np.ndarray  # [docs] uint64: the hash of the normalized words (exact duplicates)
    sketches: np.ndarray  # [docs, sketch] uint8: the low byte of each value of the verification MinHash
    shingle_counts: np.ndarray  # [docs] uint32: shingles of each document, repeats included (0 without ``shingles``)
    shingles: np.ndarray  # the 32-bit shingle hashes of every document in turn


def _digest(hashes: np.ndarray, offsets: np.ndarray, permutations: int, seed: int) -> np.ndarray:
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, permutations, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, permutations)


def _row_packed(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(row, value) packed in 64 bits, row high: rows of ``counts`` 32-bit ``values`` each, written
    through a 32-bit view (no 64-bit temporaries)."""
    packed = np.empty(len(values), dtype=np.uint64)
    halves = packed.view(np.uint32).reshape(-1, 2)[:, ::-1] if _BIG_ENDIAN else packed.view(np.uint32).reshape(-1, 2)
    halves[:, 0] = values
    halves[:, 1] = np.repeat(np.arange(len(counts), dtype=np.uint32), counts)
    return packed


def shingle_sets(counts: np.ndarray, shingles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Documents' shingles (``counts`` of them each, in turn in ``shingles``) as sets: (distinct
    shingles per document, their hashes sorted within each document), by one sort of (document, hash)
    packed in 64 bits."""
    packed = np.sort(_row_packed(counts, shingles))
    packed = packed[np.concatenate(([True], packed[1:] != packed[:-1]))] if len(packed) else packed
    row_ends = np.searchsorted(packed, np.arange(1, len(counts) + 1, dtype=np.uint64) << np.uint64(32))
    return np.diff(row_ends, prepend=0).astype(np.uint32), packed.astype(np.uint32)


def row_starts(counts: np.ndarray) -> np.ndarray:
    """Where each row of a flat array of variable-length rows (``counts`` elements each) starts."""
    return np.cumsum(counts.astype(np.int64)) - counts


def rows_of(counts: np.ndarray, starts: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Indexes, into a flat array of variable-length rows, of the elements of the rows ``chosen``."""
    sizes = counts[chosen].astype(np.int64)
    return np.arange(int(sizes.sum())) + np.repeat(starts[chosen] - (np.cumsum(sizes) - sizes), sizes)


def shingle_similarity(counts: np.ndarray, starts: np.ndarray, flat: np.ndarray, a: np.ndarray,
                       b: np.ndarray) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of documents ``a[i]`` and ``b[i]`` (rows of ``flat``
    of ``counts`` elements from ``starts``, each sorted), the pairs taken in batches of at most
    ``_PAIR_ELEMENTS`` elements (a batch holds about 16 bytes an element)."""
    sizes = np.cumsum(counts[a].astype(np.int64) + counts[b])
    bounds = np.searchsorted(sizes, np.arange(_PAIR_ELEMENTS, int(sizes[-1]) if len(sizes) else 0, _PAIR_ELEMENTS))
    return np.concatenate([_pairs_similarity(counts, starts, flat, a[lo:hi], b[lo:hi])
                           for lo, hi in zip([0, *bounds], [*bounds, len(a)]) if hi > lo] or [np.zeros(0)])


def _pairs_similarity(counts: np.ndarray, starts: np.ndarray, flat: np.ndarray, a: np.ndarray,
                      b: np.ndarray) -> np.ndarray:
    """Each side's sets packed with their pair's index in 64 bits are sorted already (sets are sorted
    rows): an element of ``a``'s side found in ``b``'s by binary search is in both sets of its pair."""
    side_a = _row_packed(counts[a], flat[rows_of(counts, starts, a)])
    side_b = _row_packed(counts[b], flat[rows_of(counts, starts, b)])
    shared = np.zeros(len(a), dtype=np.int64)
    if len(side_a) and len(side_b):
        found = side_a[side_b[np.minimum(np.searchsorted(side_b, side_a), len(side_b) - 1)] == side_a]
        shared = np.bincount((found >> np.uint64(32)).astype(np.int64), minlength=len(a))
    union = counts[a].astype(np.int64) + counts[b] - shared
    return np.where(union > 0, shared / np.maximum(union, 1), 1.0)


def sketch_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of documents from their sketches (rows): the share of equal bytes,
    less the 1/256 chance that two different values share their low byte."""
    equal = (a == b).mean(axis=-1)
    return np.clip((equal - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)


class Signer:
    def __init__(self, config: MinHashConfig):
        self.config = config
        self._ngrams = NgramHasher(config.ngram, seed=config.seed)
        rng = np.random.default_rng(config.seed + 1)
        self._row_weights = rng.integers(1, 2**63, size=(config.bands, config.rows), dtype=np.uint64) | np.uint64(1)

    def signatures(self, texts: list[str], sketch: int = 0, shingles: bool = False) -> Signed:
        """The signatures of ``texts``; with ``sketch``, also a second MinHash of that many permutations
        (other ones), of which one byte per value is kept: the verification sketch; with ``shingles``,
        every document's 32-bit shingle hashes, in text order (for exact verification, which makes sets
        of them only for the documents it compares: see :func:`shingle_sets`)."""
        chunks, size, start = [], 0, 0
        for end, text in enumerate(texts, 1):
            size += len(text)
            if size >= _CHUNK_CHARACTERS:
                chunks.append(self._signatures(texts[start:end], sketch, shingles))
                size, start = 0, end
        if start < len(texts) or not chunks:
            chunks.append(self._signatures(texts[start:], sketch, shingles))
        return chunks[0] if len(chunks) == 1 else Signed(*(np.concatenate(column) for column in zip(*chunks)))

    def _signatures(self, texts: list[str], sketch: int, shingles: bool) -> Signed:
        words = self._ngrams.word_hashes(texts)
        hashes, offsets = self._ngrams.ngrams(words, self.config.ngram)
        values = _digest(hashes, offsets, self.config.permutations, self.config.seed)
        sketches = (_digest(hashes, offsets, sketch, self.config.seed + _SKETCH_SEED).astype(np.uint8) if sketch
                    else np.zeros((len(texts), 0), dtype=np.uint8))
        counts = np.diff(offsets).astype(np.uint32) if shingles else np.zeros(len(texts), np.uint32)
        short = (hashes >> np.uint64(32)).astype(np.uint32) if shingles else np.zeros(0, np.uint32)
        return Signed(values, np.diff(offsets) > 0, self._ngrams.sequence_hashes(words), sketches, counts, short)

    def band_hashes(self, signatures: np.ndarray) -> np.ndarray:
        """[docs, bands] uint64: each band's rows mixed into one hash (band index included)."""
        config = self.config
        rows = signatures.reshape(len(signatures), config.bands, config.rows).astype(np.uint64)
        with np.errstate(over="ignore"):
            mixed = (rows * self._row_weights[None, :, :]).sum(axis=2, dtype=np.uint64)
            mixed += np.arange(config.bands, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
        return _splitmix64(mixed)


def detection_probability(similarity: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - similarity ** rows) ** bands


def threshold_at_half(bands: int, rows: int) -> float:
    """The similarity detected with probability 1/2: (1 - 0.5**(1/bands))**(1/rows)."""
    return (1.0 - 0.5 ** (1.0 / bands)) ** (1.0 / rows)


def suggest_parameters(threshold: float, max_permutations: int = 256, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted area of false positives below ``threshold`` and false
    negatives above it, among bands × rows ≤ ``max_permutations``."""
    grid = np.linspace(0.0, 1.0, 401)
    below, above = grid <= threshold, grid > threshold
    best, best_cost = (1, 1), math.inf
    for bands in range(1, max_permutations + 1):
        for rows in range(1, max_permutations // bands + 1):
            probability = 1.0 - (1.0 - grid ** rows) ** bands
            cost = fp_weight * np.trapezoid(probability[below], grid[below]) + \
                (1 - fp_weight) * np.trapezoid(1.0 - probability[above], grid[above])
            if cost < best_cost - 1e-12:
                best, best_cost = (bands, rows), cost
    return best
