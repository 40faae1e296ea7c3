"""MinHash-LSH near-duplicate clustering as runtime jobs, each task holding a bounded slice in memory.

1. :class:`SignShards` (a task per input shard): each document's key (64-bit hash of its id and
   source), its normalized-content hash and its band hashes. For every band (and the exact-content
   "band") the (key, hash) pairs are split into ``partitions`` by hash and stored as separate arrays
   with checksums, so a later task reads only its own slice of every file. The keys are also split
   by partition, with what verification compares: each document's shingle hashes or (``verify_sketch``)
   its sketch, a second, larger MinHash of a byte per value.
2. :class:`BandEdges` (a task per band × partition): the slice of that band from every signature
   file; documents with equal hashes are joined by edges, written both ways and split by the
   partition of the node they start from. The exact-content hash is one more such band, so exact
   duplicates come first and cheaply. Equal hashes always fall in the same partition, so partitions
   are independent.
3. Connected components (:mod:`.components`), then verification and the filter (:mod:`.verify`,
   :mod:`.stage`): rounds of tasks over the same partitions. Each cluster's representative is the
   document with the smallest key. Keys depend only on record ids, so the kept set is the same
   whatever the number of workers, shards or partitions.

Tasks get their list of files from a manifest the workflow writes (``source``), and return counts
only; their outputs are files of the run folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from megamath.dedup.minhash import (
    MAX_PERMUTATIONS,
    MinHashConfig,
    Signer,
    threshold_at_half,
)
from megamath.dedup.store import load_arrays, save_arrays
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop
from megamath.runtime.stats import StageStats
from megamath.runtime.task import Job, ProgressFn, Task

EXACT = -1  # the band number of the exact-content hash
MAX_PARTITIONS = 4096


def document_key(record: dict) -> int:
    """64-bit key from the record's id and source (unique per record, independent of sharding). Of
    the source only the file's name and what follows it count (``x.warc.gz@1234``), not the folder or
    bucket it was read from: the kept set must not change when the same inputs are read from another
    place (a local copy, an object store)."""
    source = str(record.get("source") or "")
    identity = f"{record.get('id')}|{source.rsplit('/', 1)[-1]}"
    return int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "little")


def slice_names(band: int, partition: int) -> tuple[str, str]:
    """The arrays of one band's partition in a signature file: (keys, hashes)."""
    label = "exact" if band == EXACT else f"band{band}"
    return f"{label}.p{partition}.keys", f"{label}.p{partition}.hashes"


def node_partition(keys: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each document key (keys are uniform 64-bit hashes)."""
    return (keys % np.uint64(partitions)).astype(np.int64)


def split_columns(part: np.ndarray, count: int, prefix: str, **columns: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of ``columns`` split by ``part`` (0 ≤ part < count) into arrays named ``{prefix}{i}.{column}``."""
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(count + 1))
    arrays = {}
    for i in range(count):
        chosen = order[bounds[i]:bounds[i + 1]]
        for name, column in columns.items():
            arrays[f"{prefix}{i}.{name}"] = column[chosen]
    return arrays


def read_slices(paths: list[str], prefix: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``{prefix}.{name}`` of every file, concatenated per name (files read one at a time)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for path in paths:
        arrays = load_arrays(path, tuple(f"{prefix}.{name}" for name in names))
        for name in names:
            parts[name].append(arrays[f"{prefix}.{name}"])
    return {name: np.concatenate(chunks) for name, chunks in parts.items() if chunks}


@dataclass(frozen=True)
class LshConfig:
    """``minhash``: signatures and bands; ``partitions``: slices of the corpus, so that one task
    holds 1/partitions of its (key, hash) pairs or of its graph (1 is right up to ~10^7 documents).
    ``verify``: drop a document only if the Jaccard similarity of its shingle set to the document kept
    for it (or, with ``verify_sketch``, its estimate from sketches of that many MinHash values, for
    corpora whose shingle sets are too big to keep) is at least ``verify_threshold`` (default: the
    similarity the bands detect half the time), splitting clusters that band collisions chained together."""

    minhash: MinHashConfig = dataclasses.field(default_factory=MinHashConfig)
    partitions: int = 1
    batch_size: int = 10_000
    verify: bool = True
    verify_threshold: float | None = None
    verify_sketch: int = 0

    @property
    def sketch(self) -> int:
        """Values of the verification sketch each document is signed with (none without verification)."""
        return self.verify_sketch if self.verify else 0

    @property
    def exact(self) -> bool:
        """Verification compares whole shingle sets (``verify_sketch`` 0)."""
        return self.verify and self.verify_sketch == 0

    def __post_init__(self):
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be between 1 and {MAX_PARTITIONS}, got {self.partitions}")
        if self.verify_sketch and not 16 <= self.verify_sketch <= MAX_PERMUTATIONS:
            raise ValueError(f"verify_sketch must be 0 (exact) or between 16 and {MAX_PERMUTATIONS}, "
                             f"got {self.verify_sketch}")
        if self.verify_threshold is not None and not 0 < self.verify_threshold <= 1:
            raise ValueError(f"verify_threshold must be in (0, 1], got {self.verify_threshold}")

    @property
    def similarity_threshold(self) -> float:
        if self.verify_threshold is not None:
            return self.verify_threshold
        return threshold_at_half(self.minhash.bands, self.minhash.rows)


def _one_stage_funnel(name: str, docs_in: int, docs_out: int) -> list[dict]:
    stats = StageStats(name, docs_out=docs_out)
    if docs_in > docs_out:
        stats.dropped["unreadable"] = docs_in - docs_out
    return [stats.to_dict()]


class _LshJob(Job):
    """A pass whose output depends on the LSH configuration."""

    def __init__(self, config: LshConfig):
        self.lsh = config

    def config(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self.lsh)))


class SignShards(_LshJob):
    """Task: one corpus shard → its signature file."""

    name = "dedup_sign"

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        read = sign_shard(task.source, task.output, self.lsh, progress)
        return {"docs_written": read["signed"], "funnel": _one_stage_funnel("sign", read["read"], read["signed"])}


def sign_shard(shard: str, out: str, config: LshConfig, progress: ProgressFn | None = None) -> dict:
    """Write the signature file of every record of ``shard`` to ``out`` (see :func:`save_signatures`)."""
    signer = Signer(config.minhash)
    keys, exact, nonempty, bands, sketches, counts, shingles = [], [], [], [], [], [], []
    batch: list[dict] = []
    unreadable = 0

    def flush() -> None:
        texts = [record.get("text") or "" for record in batch]
        signed = signer.signatures(texts, config.sketch, shingles=config.exact)
        bands.append(signer.band_hashes(signed.values))
        sketches.append(signed.sketches)
        counts.append(signed.shingle_counts)
        shingles.append(signed.shingles)
        nonempty.append(signed.has_ngrams)
        keys.extend(document_key(record) for record in batch)
        exact.append(signed.content)
        if progress is not None:
            progress(len(batch), 0)
        batch.clear()

    for item in read_shard(shard):
        if type(item) is Drop:
            unreadable += 1
            continue
        batch.append(item)
        if len(batch) >= config.batch_size:
            flush()
    if batch:
        flush()
    save_signatures(out, config, np.array(keys, dtype=np.uint64),
                    np.concatenate(exact) if exact else np.zeros(0, dtype=np.uint64),
                    np.concatenate(bands) if bands else np.zeros((0, config.minhash.bands), dtype=np.uint64),
                    np.concatenate(nonempty) if nonempty else np.zeros(0, dtype=bool),
                    np.concatenate(sketches) if sketches else np.zeros((0, config.sketch), dtype=np.uint8),
                    np.concatenate(counts) if counts else np.zeros(0, dtype=np.uint32),
                    np.concatenate(shingles) if shingles else np.zeros(0, dtype=np.uint32))
    return {"read": len(keys) + unreadable, "signed": len(keys)}


def save_signatures(out: str, config: LshConfig, keys: np.ndarray, content: np.ndarray, bands: np.ndarray,
                    has_ngrams: np.ndarray, sketches: np.ndarray, shingle_counts: np.ndarray,
                    shingles: np.ndarray) -> None:
    """One shard's signature file: ``keys`` in the shard's order; the (key, hash) pairs of the exact
    hash and of every band split by hash into partitions (documents without a single n-gram have no
    band hashes); and the keys split by partition, with (``verify`` only) each document's verification
    sketch or (exact verification) its shingles (``shingle_counts`` of each, 0 without)."""
    columns = {EXACT: (keys, content)}
    for band in range(config.minhash.bands):
        columns[band] = (keys[has_ngrams], bands[has_ngrams, band])
    arrays = {"keys": keys}
    for band, (band_keys, hashes) in columns.items():
        part = hashes % np.uint64(config.partitions)
        for partition in range(config.partitions):
            chosen = part == partition
            key_name, hash_name = slice_names(band, partition)
            arrays[key_name], arrays[hash_name] = band_keys[chosen], hashes[chosen]
    part = node_partition(keys, config.partitions)
    arrays.update(split_columns(part, config.partitions, "node.p", keys=keys, sketches=sketches, counts=shingle_counts))
    arrays.update(split_columns(np.repeat(part, shingle_counts), config.partitions, "node.p", shingles=shingles))
    save_arrays(out, **arrays)


class BandEdges(_LshJob):
    """Task: one band's partition across every signature file of the manifest → an edges file, its
    edges written both ways and split by the partition of the node they start from."""

    name = "dedup_band_edges"

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        band, partition = divmod(task.part, self.lsh.partitions)
        u, v = band_edges(manifest["signatures"], band - 1, partition)  # part 0.. = exact, band 0, ...
        source, target = np.concatenate((u, v)), np.concatenate((v, u))
        save_arrays(task.output, **split_columns(node_partition(source, self.lsh.partitions), self.lsh.partitions,
                                                 "p", src=source, dst=target))
        return {"docs_written": int(len(u)), "funnel": []}


def band_edges(signature_files: list[str], band: int, partition: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Edges (u, v) between documents sharing the hash of ``band`` (an index, or ``EXACT``) in one
    partition: each document to the smallest key of its hash, so that ``u < v``."""
    key_name, hash_name = slice_names(band, partition)
    keys, hashes = [], []
    for path in signature_files:
        arrays = load_arrays(path, (key_name, hash_name))
        keys.append(arrays[key_name])
        hashes.append(arrays[hash_name])
    keys_all = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    if not keys_all.size:  # no document at all (a classifier that kept nothing): no edge
        return keys_all, keys_all.copy()
    hashes_all = np.concatenate(hashes)
    order = np.lexsort((keys_all, hashes_all))
    keys_sorted, hashes_sorted = keys_all[order], hashes_all[order]
    starts = np.concatenate(([True], hashes_sorted[1:] != hashes_sorted[:-1]))
    first_of_run = keys_sorted[np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))]
    linked = ~starts & (keys_sorted != first_of_run)  # a key read twice (the same record twice) is no edge
    return first_of_run[linked], keys_sorted[linked]
