"""Connected components of the LSH graph as rounds of partitioned tasks: the large-star and
small-star steps of Kiveris et al. ("Connected Components in MapReduce and Beyond", SoCC 2014).

The graph is kept as directed edges in files of ``partitions`` slices, each slice holding the edges
that start at a node of that partition. A step's task reads its slice of every file of the step before
and writes one file of slices for the next, so no task holds more than its partition's edges, and a
killed run resumes at the step it was in (every step is a phase of the run folder).

- **large star**, at node u with neighbours Γ(u): m = min(Γ(u) ∪ {u}); each neighbour v > u is linked
  to m (edges written from v to m, for the small star).
- **small star**, at node u with its neighbours v < u: m = the smallest of them; each of them, and u,
  is linked to m (written both ways, for the large star).

Alternated, they end in a forest of stars centred on each component's smallest key, in O(log² n)
rounds at worst and a handful on real graphs. The large star checks for that on its way: when every
node of every partition is a centre (all its neighbours larger) or a leaf (one neighbour, smaller),
the labels it writes (each node's smallest neighbour, or itself) are the components, and the rounds
stop. Nodes without an edge are components of their own and appear nowhere.
"""

from __future__ import annotations

import json

import numpy as np

from megamath.dedup.lsh import node_partition, read_slices, split_columns
from megamath.dedup.store import save_arrays
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.task import Job, ProgressFn, Task

STEPS = ("large", "small")


def _distinct(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges without repeats or loops, sorted by (src, dst), and the index where each src starts."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    order = np.lexsort((dst, src))
    src, dst = src[order], dst[order]
    if len(src):
        fresh = np.concatenate(([True], (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])))
        src, dst = src[fresh], dst[fresh]
    starts = np.flatnonzero(np.concatenate(([True], src[1:] != src[:-1]))) if len(src) else np.zeros(0, np.int64)
    return src, dst, starts


def large_star(src: np.ndarray, dst: np.ndarray) -> dict:
    """One partition's large star: the next edges (from the larger end), each node's label, and how
    many nodes are neither a centre nor a leaf (0 everywhere: the labels are the components)."""
    src, dst, starts = _distinct(src, dst)
    nodes, smallest = src[starts], dst[starts]  # dst is sorted within each node's run
    degree = np.diff(np.append(starts, len(src)))
    labels = np.minimum(nodes, smallest)
    settled = (smallest > nodes) | ((degree == 1) & (smallest < nodes))
    node_of_edge = np.repeat(np.arange(len(nodes)), degree)
    up = dst > src
    return {"src": dst[up], "dst": labels[node_of_edge[up]], "nodes": nodes, "labels": labels,
            "unsettled": int(np.count_nonzero(~settled))}


def small_star(src: np.ndarray, dst: np.ndarray) -> dict:
    """One partition's small star over edges from their larger end: the next edges, both ways."""
    src, dst, starts = _distinct(src, dst)
    nodes, smallest = src[starts], dst[starts]
    degree = np.diff(np.append(starts, len(src)))
    centre = np.repeat(smallest, degree)
    moved = dst != centre
    ends = np.concatenate((dst[moved], nodes))
    centres = np.concatenate((centre[moved], smallest))
    return {"src": np.concatenate((ends, centres)), "dst": np.concatenate((centres, ends))}


class StarStep(Job):
    """Task: one partition of one step (``large`` or ``small``) over the slices of the step before.
    The manifest (``task.source``) lists the files of the step before."""

    name = "dedup_components"

    def __init__(self, step: str, partitions: int):
        if step not in STEPS:
            raise ValueError(f"step must be one of {STEPS}, got {step!r}")
        self.step, self.partitions = step, partitions

    def config(self) -> dict:
        return {"step": self.step, "partitions": self.partitions}

    def describe(self) -> list[str]:
        return [f"connected components: {self.step} star over {self.partitions} partition(s)"]

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        manifest = json.loads(storage.read_bytes(task.source))
        edges = read_slices(manifest["edges"], f"p{task.part}", ("src", "dst"))
        empty = np.zeros(0, dtype=np.uint64)
        src, dst = edges.get("src", empty), edges.get("dst", empty)
        step = large_star(src, dst) if self.step == "large" else small_star(src, dst)
        arrays = split_columns(node_partition(step["src"], self.partitions), self.partitions, "p",
                               src=step["src"], dst=step["dst"])
        result = {"docs_written": int(len(step["src"])), "funnel": []}
        if self.step == "large":
            arrays.update({"labels.keys": step["nodes"], "labels.representative": step["labels"]})
            result["unsettled"] = step["unsettled"]
        save_arrays(task.output, **arrays)
        if progress is not None:
            progress(int(len(src)), 0)
        return result
