"""MinHash-LSH near-duplicate clustering as runtime jobs, each task holding a bounded slice in memory.

1. :class:`SignShards` (a task per input shard): each document's key (64-bit hash of its id and
   source), its normalized-content hash and its band hashes. For every band (and the exact-content
   "band") the (key, hash) pairs are split into ``partitions`` by hash and stored as separate arrays
   with checksums, so a later task reads only its own slice of every file.
2. :class:`BandEdges` (a task per band × partition): the slice of that band from every signature
   file; documents with equal hashes are joined by edges. The exact-content hash is one more such
   band, so exact duplicates come first and cheaply. Equal hashes always fall in the same partition,
   so partitions are independent.
3. :class:`Components` (one global task between the barriers): connected components over all edges;
   each component's representative is the document with the smallest key. Keys depend only on
   record ids, so the kept set is the same whatever the number of workers, shards or partitions.

Tasks get their list of files from a manifest the workflow writes (``source``), and return counts
only; their outputs are files of the run folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from megamath.dedup.minhash import MinHashConfig, Signer
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


@dataclass(frozen=True)
class LshConfig:
    """``minhash``: signatures and bands; ``partitions``: slices of each band, so that one band task
    holds 1/partitions of the corpus's (key, hash) pairs (1 is right up to ~10^8 documents)."""

    minhash: MinHashConfig = dataclasses.field(default_factory=MinHashConfig)
    partitions: int = 1
    batch_size: int = 10_000

    def __post_init__(self):
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be between 1 and {MAX_PARTITIONS}, got {self.partitions}")


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
    """Write the keys and the partitioned exact and band hashes of every record of ``shard`` to ``out``."""
    signer = Signer(config.minhash)
    keys, exact, nonempty, bands = [], [], [], []
    batch: list[dict] = []
    unreadable = 0

    def flush() -> None:
        texts = [record.get("text") or "" for record in batch]
        signatures, has_ngrams, content = signer.signatures(texts)
        bands.append(signer.band_hashes(signatures))
        nonempty.append(has_ngrams)
        keys.extend(document_key(record) for record in batch)
        exact.append(content)
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
    bands_count = config.minhash.bands
    key_array = np.array(keys, dtype=np.uint64)
    band_matrix = np.concatenate(bands) if bands else np.zeros((0, bands_count), dtype=np.uint64)
    usable = np.concatenate(nonempty) if nonempty else np.zeros(0, dtype=bool)
    columns = {EXACT: (key_array, np.concatenate(exact) if exact else np.zeros(0, dtype=np.uint64))}
    for band in range(bands_count):  # documents without a single n-gram have no band hashes
        columns[band] = (key_array[usable], band_matrix[usable, band])
    arrays = {"keys": key_array}
    for band, (band_keys, hashes) in columns.items():
        part = hashes % np.uint64(config.partitions)
        for partition in range(config.partitions):
            chosen = part == partition
            key_name, hash_name = slice_names(band, partition)
            arrays[key_name], arrays[hash_name] = band_keys[chosen], hashes[chosen]
    save_arrays(out, **arrays)
    return {"read": len(keys) + unreadable, "signed": len(keys)}


class BandEdges(_LshJob):
    """Task: one band's partition across every signature file of the manifest → an edges file."""

    name = "dedup_band_edges"

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        band, partition = divmod(task.part, self.lsh.partitions)
        u, v = band_edges(manifest["signatures"], band - 1, partition)  # part 0.. = exact, band 0, ...
        save_arrays(task.output, u=u, v=v)
        return {"docs_written": int(len(u)), "funnel": []}


def band_edges(signature_files: list[str], band: int, partition: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Edges (u, v) between documents sharing the hash of ``band`` (an index, or ``EXACT``) in one partition."""
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
    linked = ~starts
    return first_of_run[linked], keys_sorted[linked]


class Components(Job):
    """The global step: every edge file of the manifest → the components file (representative and
    cluster size per key). Its result carries the corpus counts."""

    name = "dedup_components"

    def config(self) -> dict:
        return {}

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        counts = write_components(manifest["signatures"], manifest["exact_edges"], manifest["band_edges"], task.output)
        return {"docs_written": counts["documents"], "funnel": [], "counts": counts}


def connect(keys: np.ndarray, edges: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted unique keys, representative key of each, component size of each)."""
    unique = np.unique(keys)
    labels = np.arange(len(unique), dtype=np.int64)
    edges = [e for e in edges if len(e[0])]
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


def _load_edges(paths: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    loaded = [load_arrays(path) for path in paths]
    return [(arrays["u"], arrays["v"]) for arrays in loaded]


def write_components(signature_files: list[str], exact_edge_files: list[str], band_edge_files: list[str],
                     out: str) -> dict:
    keys = (np.concatenate([load_arrays(p, ("keys",))["keys"] for p in signature_files]) if signature_files
            else np.zeros(0, dtype=np.uint64))
    exact_edges = _load_edges(exact_edge_files)
    unique, representative, size = connect(keys, exact_edges + _load_edges(band_edge_files))
    _, exact_representative, _ = connect(keys, exact_edges)
    save_arrays(out, keys=unique, representative=representative, size=size, exact_representative=exact_representative)
    return {"documents": int(len(unique)), "kept": int((representative == unique).sum()),
            "exact_duplicates": int((exact_representative != unique).sum()),
            "near_duplicates": int(((representative != unique) & (exact_representative == unique)).sum())}
