"""From components to the decision for every clustered document, in two partitioned passes.

1. :class:`GatherMembers` (a task per node partition): the partition's labels (node → its
   component's smallest key) joined with the documents' shard, shingle set (or sketch) and whether an
   exact duplicate with a smaller key exists; written split by the partition of the representative,
   so that a cluster's members meet in one task.
2. :class:`VerifyClusters` (a task per representative partition): in each cluster, a member is dropped
   only if the Jaccard similarity of its shingle set to the document kept for it (or its estimate from
   their sketches) is at least the threshold. Members below it are refused: among them the smallest key is kept and the
   others are checked against it, and so on, so a cluster that band collisions chained together is
   split into the near-duplicate groups it holds. The decisions are written split by block of shards
   (``shard % blocks``), so that the filter of one shard reads only its block of every file.

Without verification the clusters are the components as they are. The representative of a document
that stays is itself; singletons are in no file (the filter keeps a signed document it finds nowhere).
"""

from __future__ import annotations

import json

import numpy as np

from megamath.dedup.lsh import (
    LshConfig,
    _LshJob,
    node_partition,
    read_slices,
    split_columns,
)
from megamath.dedup.minhash import row_starts, rows_of, shingle_sets, shingle_similarity, sketch_similarity
from megamath.dedup.store import load_arrays, save_arrays
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.task import ProgressFn, Task

KEPT, EXACT_DUPLICATE, NEAR_DUPLICATE = 0, 1, 2
REASONS = {EXACT_DUPLICATE: "exact_duplicate", NEAR_DUPLICATE: "near_duplicate"}
MAX_SPLITS = 1000  # members still refused after this many representatives stay (counted as unverified)
EXAMPLES = 5

_MEMBER_COLUMNS = ("keys", "representative", "shard", "exact", "sketches", "counts")


class GatherMembers(_LshJob):
    """Task: one node partition's clustered documents, with what verification needs, by representative."""

    name = "dedup_gather"

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        labels = load_arrays(manifest["labels"][task.part], ("labels.keys", "labels.representative"))
        members = gather_members(labels["labels.keys"], labels["labels.representative"], manifest["signatures"],
                                 manifest["exact_edges"], task.part, self.lsh)
        part = node_partition(members["representative"], self.lsh.partitions)
        shingles = members.pop("shingles")
        save_arrays(task.output, **split_columns(part, self.lsh.partitions, "p", **members),
                    **split_columns(np.repeat(part, members["counts"]), self.lsh.partitions, "p", shingles=shingles))
        return {"docs_written": int(len(members["keys"])), "funnel": []}


def gather_members(nodes: np.ndarray, representatives: np.ndarray, signature_files: list[str],
                   exact_edge_files: list[str], partition: int, config: LshConfig) -> dict[str, np.ndarray]:
    """The documents of ``nodes`` (sorted keys of one partition) as found in the signature files:
    key, representative, shard (the file's index), exact flag, and what verification compares (the
    sketch, or the shingle set, made here: ``counts`` of each and the ``shingles`` of all in turn)."""
    found_columns: dict[str, list[np.ndarray]] = {name: [] for name in ("keys", "shard", "sketches", "counts",
                                                                         "shingles")}
    if not signature_files:
        return _no_members(config)
    names = ("keys", "sketches", "counts", "shingles")
    for shard, path in enumerate(signature_files):
        arrays = load_arrays(path, tuple(f"node.p{partition}.{name}" for name in names))
        columns = {name: arrays[f"node.p{partition}.{name}"] for name in names}
        # nodes are sorted: a search per key, where np.isin sorted the partition's nodes again for every
        # file (168 ms a file at 10⁸ documents and 64 partitions: nearly all of the gather pass's time)
        place = np.minimum(np.searchsorted(nodes, columns["keys"]), max(len(nodes) - 1, 0))
        found = nodes[place] == columns["keys"] if len(nodes) else np.zeros(len(columns["keys"]), bool)
        for name in ("keys", "sketches", "counts"):
            found_columns[name].append(columns[name][found])
        found_columns["shingles"].append(
            columns["shingles"][rows_of(columns["counts"], row_starts(columns["counts"]), np.flatnonzero(found))])
        found_columns["shard"].append(np.full(int(found.sum()), shard, dtype=np.uint32))
    members = {name: np.concatenate(chunks) for name, chunks in found_columns.items()}
    members["counts"], members["shingles"] = shingle_sets(members["counts"], members["shingles"])
    edges = read_slices(exact_edge_files, f"p{partition}", ("src", "dst"))
    exact_duplicates = edges["src"][edges["dst"] < edges["src"]] if edges else np.zeros(0, dtype=np.uint64)
    members["representative"] = representatives[np.searchsorted(nodes, members["keys"])]
    members["exact"] = np.isin(members["keys"], exact_duplicates)
    return members


def _no_members(config: LshConfig) -> dict[str, np.ndarray]:
    return {"keys": np.zeros(0, np.uint64), "representative": np.zeros(0, np.uint64), "shard": np.zeros(0, np.uint32),
            "exact": np.zeros(0, bool), "sketches": np.zeros((0, config.sketch), np.uint8),
            "counts": np.zeros(0, np.uint32), "shingles": np.zeros(0, np.uint32)}


class VerifyClusters(_LshJob):
    """Task: one representative partition's clusters → the decision for each member, by shard block."""

    name = "dedup_verify"

    def __init__(self, config: LshConfig, blocks: int):
        super().__init__(config)
        self.blocks = blocks

    def config(self) -> dict:
        return {**super().config(), "blocks": self.blocks}

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        members = read_slices(manifest["members"], f"p{task.part}", (*_MEMBER_COLUMNS, "shingles")) \
            or _no_members(self.lsh)
        threshold = self.lsh.similarity_threshold if self.lsh.verify else None
        decided, counts = verify_clusters(members, threshold)
        save_arrays(task.output, **split_columns((decided["shard"] % self.blocks).astype(np.int64), self.blocks,
                                                 "b", **decided))
        return {"docs_written": int(len(decided["keys"])), "funnel": [], "counts": counts}


def verify_clusters(members: dict[str, np.ndarray], threshold: float | None) -> tuple[dict[str, np.ndarray], dict]:
    """Each member's final representative, cluster size and reason (``KEPT`` for a representative).
    ``threshold`` None: no verification, every member goes with its component's representative."""
    order = np.lexsort((members["keys"], members["representative"]))
    keys, component, sketches = members["keys"][order], members["representative"][order], members["sketches"][order]
    shingle_counts, starts = members["counts"][order], row_starts(members["counts"])[order]
    group = np.cumsum(np.concatenate(([True], component[1:] != component[:-1]))) - 1
    final = keys.copy()  # a member that no representative accepts stays, itself
    first_similarity = np.ones(len(keys))
    refused = np.zeros(len(keys), dtype=bool)
    pending = np.arange(len(keys))
    for split in range(MAX_SPLITS):
        if not len(pending):
            break
        # the smallest pending key of each group is its next representative (rows are sorted by key)
        firsts = np.concatenate(([True], group[pending][1:] != group[pending][:-1]))
        head = pending[firsts][np.cumsum(firsts) - 1]
        if threshold is None:
            accepted = np.ones(len(pending), dtype=bool)
        else:
            itself = keys[pending] == keys[head]
            similarity = np.ones(len(pending))  # each representative is itself: not compared
            compared, against = pending[~itself], head[~itself]
            similarity[~itself] = (sketch_similarity(sketches[compared], sketches[against]) if sketches.shape[1]
                                   else shingle_similarity(shingle_counts, starts, members["shingles"], compared,
                                                           against))
            accepted = (similarity >= threshold) | itself
            if split == 0:
                first_similarity[pending], refused[pending] = similarity, ~accepted
        final[pending[accepted]] = keys[head[accepted]]
        pending = pending[~accepted]
    removed = final != keys
    reason = np.where(removed, np.where(members["exact"][order], EXACT_DUPLICATE, NEAR_DUPLICATE), KEPT)
    _, inverse, size = np.unique(final, return_inverse=True, return_counts=True)
    examples = np.flatnonzero(refused)[:EXAMPLES]
    counts = {"clustered": int(len(keys)), "exact_duplicates": int((reason == EXACT_DUPLICATE).sum()),
              "near_duplicates": int((reason == NEAR_DUPLICATE).sum()), "refused": int(refused.sum()),
              "refused_then_removed": int((refused & removed).sum()),
              "clusters_split": int(len(np.unique(group[refused]))), "unverified": int(len(pending)),
              "examples": [{"key": f"{int(keys[i]):016x}", "representative": f"{int(component[i]):016x}",
                            "similarity": round(float(first_similarity[i]), 3)} for i in examples]}
    return {"keys": keys, "shard": members["shard"][order], "representative": final,
            "size": size[inverse].astype(np.uint32), "reason": reason.astype(np.uint8)}, counts
