"""What deduplicating N documents costs, pass by pass: the memory of one task and the bytes each pass
writes (what the next one reads: the shuffle volume), for ``megamath dedup plan`` and docs/scaling.md.

The sizes of what is stored are exact (bytes per document or per pair); how many edges and clustered
documents a corpus has depends on its duplicates, so those are scaled from runs of
``bench/dedup_scale.py`` (10^7 documents, 30% of them in clusters, 11 x 10 bands, 16 partitions),
and memory adds a task's working copies (sorting holds about three of what it sorts) to what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from megamath.dedup.lsh import LshConfig

# measured per document of the corpus (at 30% of documents in clusters), see the module docstring
EDGE_BYTES_PER_DOC = 51.2  # the band-edge files: edges both ways, 16 bytes each
STEP_BYTES_PER_DOC = 8.6  # one step of the connected components (the graph shrinks to stars)
ROUNDS = 6  # large/small star rounds on that corpus; O(log² n) at worst, 18 for a chain of 10^5
WORKER_BYTES = 80 * 2**20  # a worker process before it holds any data (Python, numpy)


@dataclass(frozen=True)
class PassCost:
    name: str
    tasks: int
    task_memory: float  # bytes, one task at its peak
    written: float  # bytes the pass writes in all


def dedup_costs(docs: int, partitions: int, shards: int, config: LshConfig, duplicated: float = 0.3,
                words: int = 1_000) -> list[PassCost]:
    """The cost of every pass for ``docs`` documents of ``words`` words in ``shards`` shards,
    ``duplicated`` of them in clusters."""
    bands, permutations = config.minhash.bands, config.minhash.permutations
    values = 4 * words + 4 if config.exact else config.sketch  # a document's shingle set (and its count), or sketch
    scale = duplicated / 0.3
    per_shard, per_partition = docs / shards, docs / partitions
    clustered = docs * duplicated
    member = 8 + 8 + 4 + 1 + values  # key, representative, shard, exact flag, what verification compares
    blocks = min(shards, 64)
    edges = docs * EDGE_BYTES_PER_DOC * scale
    step = docs * STEP_BYTES_PER_DOC * scale
    return [
        PassCost("sign", shards, WORKER_BYTES + per_shard * (8 + 16 * (bands + 1) + 8 + values + 4 * permutations),
                 docs * (8 + 16 * (bands + 1) + (8 + values if config.verify else 0))),
        PassCost("band edges", (bands + 1) * partitions, WORKER_BYTES + per_partition * 16 * 3, edges),
        PassCost(f"components (~{ROUNDS} rounds of 2 steps)", 2 * ROUNDS * partitions,
                 WORKER_BYTES + max(edges, step) / partitions * 3, 2 * ROUNDS * step),  # round 1 reads every band's edges
        PassCost("gather", partitions, WORKER_BYTES + per_shard / partitions * (8 + values) * 2  # a file's slice
                 + clustered / partitions * member,
                 clustered * member),
        PassCost("verify", partitions, WORKER_BYTES + clustered / partitions * member * 3, clustered * 25),
        PassCost("filter", shards, WORKER_BYTES + per_shard * 8 + clustered / blocks * 25, 0),
    ]
