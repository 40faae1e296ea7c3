"""MinHash-LSH near-duplicate clustering in passes that each hold at most one band in memory.

1. ``sign_shard``: per input shard, each document's key (64-bit hash of its id), normalized-content
   hash and band hashes, saved with checksums (one file per shard, one array per band).
2. ``band_edges``: per band, the band's hashes of every shard; documents with equal hashes are joined
   by edges. The exact-content hash is one more such "band", so exact duplicates come first and cheaply.
3. ``connect``: connected components over all edges; each component's representative is the document
   with the smallest key. Keys depend only on record ids, so the kept set is the same whatever the
   number of workers or shards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import numpy as np

from megamath.dedup.minhash import MinHashConfig, Signer
from megamath.dedup.store import load_arrays, save_arrays
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop

EXACT = "exact"


def document_key(record: dict) -> int:
    """64-bit key from the record's id and source (unique per record, independent of sharding)."""
    identity = f"{record.get('id')}|{record.get('source')}"
    return int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "little")


def sign_shard(shard: str, out: str, config: MinHashConfig, batch_size: int = 10_000) -> int:
    """Write the keys, content hashes and band hashes of every record of ``shard`` to ``out``."""
    signer = Signer(config)
    keys, exact, nonempty, bands = [], [], [], []
    batch: list[dict] = []

    def flush() -> None:
        texts = [record.get("text") or "" for record in batch]
        signatures, has_ngrams, content = signer.signatures(texts)
        bands.append(signer.band_hashes(signatures))
        nonempty.append(has_ngrams)
        keys.extend(document_key(record) for record in batch)
        exact.append(content)
        batch.clear()

    for item in read_shard(shard):
        if type(item) is Drop:
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    band_matrix = np.concatenate(bands) if bands else np.zeros((0, config.bands), dtype=np.uint64)
    save_arrays(out, keys=np.array(keys, dtype=np.uint64),
                exact=np.concatenate(exact) if exact else np.zeros(0, dtype=np.uint64),
                nonempty=np.concatenate(nonempty) if nonempty else np.zeros(0, dtype=bool),
                **{f"band_{b}": band_matrix[:, b] for b in range(config.bands)})
    return len(keys)


def band_edges(signature_files: Iterable[str], band: int | str) -> tuple[np.ndarray, np.ndarray]:
    """Edges (u, v) between documents sharing the hash of ``band`` (an index, or ``EXACT``)."""
    column = EXACT if band == EXACT else f"band_{band}"
    keys, hashes = [], []
    for path in signature_files:
        arrays = load_arrays(path, ("keys", "nonempty", column))
        usable = arrays["nonempty"] if band != EXACT else np.ones(len(arrays["keys"]), dtype=bool)
        keys.append(arrays["keys"][usable])
        hashes.append(arrays[column][usable])
    if not keys:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
    keys_all, hashes_all = np.concatenate(keys), np.concatenate(hashes)
    order = np.lexsort((keys_all, hashes_all))
    keys_sorted, hashes_sorted = keys_all[order], hashes_all[order]
    starts = np.concatenate(([True], hashes_sorted[1:] != hashes_sorted[:-1]))
    first_of_run = keys_sorted[np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))]
    linked = ~starts
    return first_of_run[linked], keys_sorted[linked]


def connect(keys: np.ndarray, edges: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted unique keys, representative key of each, component size of each)."""
    unique = np.unique(keys)
    labels = np.arange(len(unique), dtype=np.int64)
    if edges:
        u = np.searchsorted(unique, np.concatenate([e[0] for e in edges]))
        v = np.searchsorted(unique, np.concatenate([e[1] for e in edges]))
        while True:  # min-label propagation with pointer jumping: labels end at each component's smallest index
            before = labels.copy()
            np.minimum.at(labels, u, labels[v])
            np.minimum.at(labels, v, labels[u])
            labels = labels[labels]
            if np.array_equal(labels, before):
                break
    sizes = np.bincount(labels, minlength=len(unique))[labels]
    return unique, unique[labels], sizes


def write_components(signature_files: list[str], out: str | Path, config: MinHashConfig,
                     edges_by_band: list[tuple[np.ndarray, np.ndarray]],
                     exact_edges: tuple[np.ndarray, np.ndarray]) -> dict:
    keys = np.concatenate([load_arrays(p, ("keys",))["keys"] for p in signature_files]) if signature_files \
        else np.zeros(0, dtype=np.uint64)
    unique, representative, size = connect(keys, [exact_edges] + edges_by_band)
    _, exact_representative, _ = connect(keys, [exact_edges])
    save_arrays(out, keys=unique, representative=representative, size=size, exact_representative=exact_representative)
    return {"documents": int(len(unique)), "kept": int((representative == unique).sum()),
            "exact_duplicates": int((exact_representative != unique).sum()),
            "near_duplicates": int(((representative != unique) & (exact_representative == unique)).sum())}
