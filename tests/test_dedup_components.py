"""Dedup's partitioned passes: connected components in rounds of tasks (the same clusters, bit for bit,
as the single-task pass, on chains, stars and random graphs; a killed run resumes at its round), and
verification, which splits clusters that band collisions chained together."""

import os

import numpy as np
import pytest

from megamath.dedup import minhash
from megamath.dedup.lsh import node_partition, split_columns
from megamath.dedup.store import load_arrays, save_arrays
from megamath.dedup.verify import EXACT_DUPLICATE, KEPT, NEAR_DUPLICATE, verify_clusters
from megamath.pipelines.dedup import PartitionedPhases
from megamath.runtime.executor import SerialExecutor
from megamath.runtime.resume import RunFolder

from fixtures.dedup_oracle import single_task_components


def random_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    keys = np.unique(rng.integers(0, 2**64 - 1, size=2 * n, dtype=np.uint64))[:n]
    return keys[rng.permutation(n)]


def graphs(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    chain = random_keys(rng, 3000)
    ordered = np.sort(random_keys(rng, 2000))
    star = random_keys(rng, 1500)
    many = random_keys(rng, 4000)
    a, b = rng.integers(0, 4000, 3000), rng.integers(0, 4000, 3000)
    return {
        "chain in random key order": (chain[:-1], chain[1:]),
        "chain in key order": (ordered[:-1], ordered[1:]),
        "chain in reverse key order": (ordered[::-1][:-1], ordered[::-1][1:]),
        "star": (np.repeat(star[:1], len(star) - 1), star[1:]),
        "random graph": (many[a], many[b]),
        "repeated edges and loops": (np.concatenate((star[:50], star[:50], star[:5])),
                                     np.concatenate((star[50:100], star[50:100], star[:5]))),
    }


def write_edges(path, u: np.ndarray, v: np.ndarray, partitions: int) -> str:
    """An edge file as the band-edge pass writes it: both ways, split by the partition of the source."""
    src, dst = np.concatenate((u, v)), np.concatenate((v, u))
    save_arrays(path, **split_columns(node_partition(src, partitions), partitions, "p", src=src, dst=dst))
    return str(path)


def labels_of(files: list[str]) -> dict[int, int]:
    labels = {}
    for path in files:
        arrays = load_arrays(path, ("labels.keys", "labels.representative"))
        labels.update(zip(arrays["labels.keys"].tolist(), arrays["labels.representative"].tolist()))
    return labels


def components(tmp_path, name: str, u: np.ndarray, v: np.ndarray, partitions: int):
    folder = RunFolder(str(tmp_path / name))
    # the edges split over two files, as two bands would give them
    half = len(u) // 2
    files = [write_edges(tmp_path / f"{name}-edges-{i}", a, b, partitions)
             for i, (a, b) in enumerate(((u[:half], v[:half]), (u[half:], v[half:])))]
    phases = PartitionedPhases(folder, partitions, SerialExecutor(), show_progress=False)
    return folder, phases, files, phases.components(files, "edges-v1")


@pytest.mark.parametrize("partitions", [1, 3])
def test_rounds_give_the_single_task_clusters_bit_for_bit(tmp_path, partitions):
    rng = np.random.default_rng(partitions)
    for name, (u, v) in graphs(rng).items():
        _, _, _, result = components(tmp_path, f"{name}-{partitions}".replace(" ", "-"), u, v, partitions)
        nodes, representative = single_task_components(np.concatenate((u, v)), u, v)
        expected = dict(zip(nodes.tolist(), representative.tolist()))
        got = labels_of(result.outputs)
        linked = set(u[u != v].tolist()) | set(v[u != v].tolist())
        assert set(got) == linked, name  # a node with no edge but a loop is a cluster of its own, in no file
        assert all(got[n] == expected[n] for n in linked), name
        assert all(expected[n] == n for n in set(expected) - linked), name
        assert result.rounds <= 2 * np.log2(len(nodes)) + 2, (name, result.rounds)


def test_a_killed_run_resumes_at_the_round_it_was_in(tmp_path):
    rng = np.random.default_rng(7)
    chain = random_keys(rng, 2000)
    folder, phases, files, first = components(tmp_path, "chain", chain[:-1], chain[1:], 2)
    assert first.rounds >= 4
    steps = sorted(os.listdir(os.path.join(folder.root, "work", "components")))
    # as if the run had been killed in round 3's small step: its tasks and everything after them gone
    lost = [s for s in steps if s >= "03-small"]
    kept = [s for s in steps if s < "03-small"]
    for step in lost:
        RunFolder(os.path.join(folder.root, "work", "components", step)).reset()
    before = {step: _done_times(folder, step) for step in kept}
    again = phases.components(files, "edges-v1")
    assert labels_of(again.outputs) == labels_of(first.outputs) and again.rounds == first.rounds
    assert {step: _done_times(folder, step) for step in kept} == before  # nothing before the kill ran again
    assert all(_done_times(folder, step) for step in lost)


def _done_times(folder: RunFolder, step: str) -> dict[str, float]:
    done = os.path.join(folder.root, "work", "components", step, ".megamath", "done")
    return {name: os.stat(os.path.join(done, name)).st_mtime_ns for name in sorted(os.listdir(done))} \
        if os.path.isdir(done) else {}


def members(rows: list[tuple[int, int, bool, list[int]]], exact: bool = False) -> dict[str, np.ndarray]:
    """Cluster members with sketches (the values of ``rows``) or, ``exact``, shingle sets."""
    sets = [sorted(set(r[3])) for r in rows]
    return {"keys": np.array([r[0] for r in rows], dtype=np.uint64),
            "representative": np.array([r[1] for r in rows], dtype=np.uint64),
            "shard": np.zeros(len(rows), dtype=np.uint32), "exact": np.array([r[2] for r in rows]),
            "sketches": np.zeros((len(rows), 0), np.uint8) if exact else np.array([r[3] for r in rows], dtype=np.uint8),
            "counts": np.array([len(s) if exact else 0 for s in sets], dtype=np.uint32),
            "shingles": np.array([v for s in sets for v in s] if exact else [], dtype=np.uint32)}


def test_verification_splits_a_chained_cluster(monkeypatch):
    a = list(range(100))
    b = a[:80] + [100 + i for i in range(20)]  # 0.80 of a
    c = b[:60] + [130 + i for i in range(40)]  # 0.60 of a, 0.60 of b
    rows = [(4, 1, True, c), (3, 1, False, c), (2, 1, False, b), (1, 1, False, a), (8, 8, False, a), (9, 8, False, a)]
    decided, counts = verify_clusters(members(rows), threshold=0.75)
    got = {int(k): (int(r), int(s), int(why)) for k, r, s, why in
           zip(decided["keys"], decided["representative"], decided["size"], decided["reason"])}
    # 2 is near 1; 3 is not: it starts a cluster of its own, and its exact copy 4 goes with it
    assert got == {1: (1, 2, KEPT), 2: (1, 2, NEAR_DUPLICATE), 3: (3, 2, KEPT), 4: (3, 2, EXACT_DUPLICATE),
                   8: (8, 2, KEPT), 9: (8, 2, NEAR_DUPLICATE)}
    assert counts["refused"] == 2 and counts["refused_then_removed"] == 1 and counts["clusters_split"] == 1
    assert counts["examples"][0]["similarity"] == pytest.approx(0.6, abs=0.005) and counts["near_duplicates"] == 2
    # the same with whole shingle sets: b shares 90 of a's 100 and c 80 (Jaccard 0.82 and 0.67), c is near b
    a, b = list(range(100)), list(range(90)) + list(range(1000, 1010))
    c = list(range(10, 90)) + list(range(1000, 1010)) + list(range(3000, 3010))
    rows = [(4, 1, True, c), (3, 1, False, c), (2, 1, False, b), (1, 1, False, a), (8, 8, False, a), (9, 8, False, a)]
    decided, counts = verify_clusters(members(rows, exact=True), threshold=0.75)
    assert {int(k): (int(r), int(s), int(why)) for k, r, s, why in
            zip(decided["keys"], decided["representative"], decided["size"], decided["reason"])} == got
    assert counts["examples"][0]["similarity"] == pytest.approx(80 / 120, abs=0.001)
    monkeypatch.setattr(minhash, "_PAIR_ELEMENTS", 150)  # the pairs compared in batches: the same decisions
    again, _ = verify_clusters(members(rows, exact=True), threshold=0.75)
    assert all(np.array_equal(again[name], decided[name]) for name in decided)
    unverified, _ = verify_clusters(members(rows, exact=True), threshold=None)
    assert {int(k): int(r) for k, r in zip(unverified["keys"], unverified["representative"])} == \
        {1: 1, 2: 1, 3: 1, 4: 1, 8: 8, 9: 8}
