"""Word n-gram hashes for a batch of documents, vectorized with numpy.

Text is normalized (NFKC, lower-cased, punctuation to spaces) and split on whitespace; every word is
hashed from its length and its first and last 8 bytes, and an n-gram's hash combines its words' hashes
with per-position random multipliers and a final mix (splitmix64). Everything is computed over the
whole batch at once, so a document costs a few numpy passes over its words instead of a Python loop
per n-gram.
Hashes depend only on the text and ``seed``: the same in every process, run and shard layout.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

import numpy as np

# ASCII punctuation and control bytes (the batch buffer's document separator among them) become spaces,
# by a 256-byte table over the UTF-8 bytes (str.translate with a dict is 20x slower on non-ASCII text);
# the few non-ASCII punctuation marks NFKC leaves are replaced first, only in non-ASCII text.
_BYTE_TABLE = bytes(32 if (b < 32 or chr(b) in string.punctuation) else b for b in range(256))
_UNICODE_PUNCTUATION = re.compile("[“”‘’«»—–·•¡¿„‚‹›]")
_DOC_BREAK = 1  # byte that separates documents in the batch buffer (never left in normalized text)


_SEPARATORS = re.compile(r"[\x00-\x20]+")


def normalize_bytes(text: str) -> bytes:
    """NFKC, lower-case, punctuation and control characters as spaces; as UTF-8."""
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if not text.isascii():
        text = _UNICODE_PUNCTUATION.sub(" ", text)
    return text.encode("utf-8", "replace").translate(_BYTE_TABLE)


def normalize(text: str) -> str:
    return normalize_bytes(text).decode("utf-8")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


MAX_N = 64


@dataclass(frozen=True)
class WordHashes:
    """The words of a batch of documents: one hash per word, and the document each word belongs to."""

    hashes: np.ndarray
    doc_of_word: np.ndarray
    words_per_doc: np.ndarray

    @property
    def docs(self) -> int:
        return len(self.words_per_doc)


def words(text: str) -> list[str]:
    """The words the hasher sees: the normalized text split on ASCII whitespace and control bytes."""
    return [word for word in _SEPARATORS.split(normalize(text)) if word]


class NgramHasher:
    """Word n-gram hashes; the hash of a k-word text equals its k-gram hash for every k ≤ ``MAX_N``."""

    def __init__(self, n: int, seed: int = 0):
        if not 1 <= n <= MAX_N:
            raise ValueError(f"n-gram size must be between 1 and {MAX_N}")
        self.n = n
        rng = np.random.default_rng(seed)
        self._byte_weights = rng.integers(1, 2**63, size=4, dtype=np.uint64) | np.uint64(1)
        self._position_weights = rng.integers(1, 2**63, size=MAX_N, dtype=np.uint64) | np.uint64(1)

    def hash_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, offsets): document i's n-gram hashes are ``hashes[offsets[i]:offsets[i+1]]``.

        A document with fewer than n words gets one hash of all its words; an empty one gets none.
        """
        return self.ngrams(self.word_hashes(texts), self.n)

    def word_hashes(self, texts: list[str]) -> WordHashes:
        joined = b"\x01".join(normalize_bytes(t) for t in texts) + b"\x01"
        buffer = np.frombuffer(joined + bytes(8), dtype=np.uint8)
        in_word = np.zeros(len(joined) + 2, dtype=bool)  # padded with a non-word byte at both ends
        in_word[1:-1] = buffer[: len(joined)] > 32
        changes = np.flatnonzero(in_word[1:] != in_word[:-1])  # word starts and ends, alternately
        starts, ends = changes[0::2], changes[1::2]
        words_per_doc = np.diff(np.searchsorted(starts, np.flatnonzero(buffer[: len(joined)] == _DOC_BREAK)),
                                prepend=0)[: len(texts)]  # an empty batch is one break alone
        doc_of_word = np.repeat(np.arange(len(texts)), words_per_doc)
        return WordHashes(self._word_hashes(buffer, starts, ends), doc_of_word, words_per_doc)

    def _word_hashes(self, buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Hash each word from its length and its first and last 8 bytes."""
        windows = np.lib.stride_tricks.as_strided(buffer, shape=(len(buffer) - 7, 8), strides=(1, 1))
        lengths = (ends - starts).astype(np.uint64)
        kept_bits = np.minimum(lengths, np.uint64(8)) * np.uint64(8)
        with np.errstate(over="ignore"):
            mask = np.where(kept_bits == 64, np.uint64(2**64 - 1), (np.uint64(1) << kept_bits) - np.uint64(1))
            head = np.ascontiguousarray(windows[starts]).view("<u8").ravel() & mask
            tail = np.ascontiguousarray(windows[np.maximum(ends - 8, starts)]).view("<u8").ravel() & mask
            mixed = _splitmix64(head ^ self._byte_weights[0]) + _splitmix64(tail ^ self._byte_weights[1]) * \
                self._byte_weights[2] + lengths * self._byte_weights[3]
        return _splitmix64(mixed)

    def sequence_hashes(self, batch: WordHashes) -> np.ndarray:
        """One hash per document of its whole word sequence (equal for texts that normalize to the same
        words), from the word hashes already computed: the exact-duplicate key, at no second pass."""
        words_per_doc = batch.words_per_doc
        word_offsets = np.concatenate(([0], np.cumsum(words_per_doc)))
        sums = np.zeros(batch.docs, dtype=np.uint64)
        if len(batch.hashes):
            position = np.arange(len(batch.hashes)) - word_offsets[batch.doc_of_word]
            with np.errstate(over="ignore"):
                powers = np.cumprod(np.full(int(position.max()) + 1, self._byte_weights[3], dtype=np.uint64))
                values = batch.hashes * powers[position]
            nonempty = np.flatnonzero(words_per_doc)
            sums[nonempty] = np.add.reduceat(values, word_offsets[nonempty])
        with np.errstate(over="ignore"):
            return _splitmix64(sums ^ (words_per_doc.astype(np.uint64) * self._byte_weights[2]))

    def ngrams(self, batch: WordHashes, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, offsets) of the n-grams of a batch's words (see :meth:`hash_batch`)."""
        return self.ngrams_many(batch, (n,))[n]

    def ngrams_many(self, batch: WordHashes, sizes) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """:meth:`ngrams` for several sizes at once: the k-gram sums grow from the (k-1)-gram sums."""
        word_hash, count = batch.hashes, len(batch.hashes)
        wanted = sorted(set(sizes))
        out = {}
        combined = np.zeros(count, dtype=np.uint64)
        for k in range(1, wanted[-1] + 1):
            if count < k:
                break
            with np.errstate(over="ignore"):
                combined = combined[: count - k + 1] + word_hash[k - 1:] * self._position_weights[k - 1]
            if k in wanted:
                out[k] = self._finish(batch, combined, k)
        for k in wanted:
            if k not in out:
                out[k] = self._finish(batch, np.zeros(0, dtype=np.uint64), k)
        return out

    def _finish(self, batch: WordHashes, combined: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Keep the windows inside one document; documents shorter than n get one hash of all words."""
        word_hash, doc_of_word, docs, words_per_doc = batch.hashes, batch.doc_of_word, batch.docs, batch.words_per_doc
        word_offsets = np.concatenate(([0], np.cumsum(words_per_doc)))
        if len(combined):
            window_doc = doc_of_word[: len(combined)]
            valid = window_doc == doc_of_word[n - 1:]
            grams = _splitmix64(combined[valid])
            gram_doc = window_doc[valid]
        else:
            grams = np.zeros(0, dtype=np.uint64)
            gram_doc = np.zeros(0, dtype=np.int64)
        grams_per_doc = np.bincount(gram_doc, minlength=docs)[:docs]
        short = np.flatnonzero((grams_per_doc == 0) & (words_per_doc > 0))
        if len(short):  # fewer words than n: one hash over all the words
            with np.errstate(over="ignore"):
                extra = np.array([
                    int(_splitmix64((word_hash[word_offsets[d]:word_offsets[d + 1]]
                                     * self._position_weights[: words_per_doc[d]]).sum(dtype=np.uint64)
                                    .reshape(1))[0])
                    for d in short], dtype=np.uint64)
            grams = np.concatenate((grams, extra))
            gram_doc = np.concatenate((gram_doc, short))
            order = np.argsort(gram_doc, kind="stable")
            grams, gram_doc = grams[order], gram_doc[order]
            grams_per_doc = np.bincount(gram_doc, minlength=docs)[:docs]
        offsets = np.concatenate(([0], np.cumsum(grams_per_doc))).astype(np.int64)
        return grams, offsets
