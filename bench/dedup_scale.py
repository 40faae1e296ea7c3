"""Dedup past one machine's memory: the partitioned passes on generated signatures of many documents.

Signature files are written as the sign pass writes them, for ``--docs`` documents in ``--shards`` shards,
with a duplicate structure like a crawl's: a share of the documents (``--duplicated``, 30% by default)
sits in clusters whose sizes follow a power law (P(size ≥ s) ~ 1/s, up to 10,000); each cluster is
exact copies (a fifth), near-duplicates of its first document (similarity drawn in 0.78–1.0 for each
member), or a chain (each member 0.85 like the one before it, so the far end of a long chain is unlike
the start). Band hashes and verification sketches are drawn as MinHash would give them at those
similarities (a band of r rows agrees with probability s^r), without texts. Then band edges, the rounds of connected components, gather
and verify run on local worker processes (``--workers``), and the script prints, per phase, the tasks,
seconds and bytes written (the shuffle volume), and the peak resident memory of one worker process (a
worker runs one task at a time); and the memory one shard's filter needs for its decisions.

``--real-sample`` adds one more shard: real Common Crawl documents of ../shared and near-duplicates made of
them (copies with 0–8% of their words replaced, copies of copies), signed by the sign pass itself; their
removals are checked against the oracle (exact Jaccard of their shingle sets), as bench/dedup.py checks them.
``--reference`` also runs the single-task clustering (every key and edge in this process) and checks
that the kept set is the same, bit for bit (with ``--no-verify``: verification changes the kept set).
``--ray-node-loss`` runs the same passes again on a Ray cluster of a head and two worker nodes, removes
a worker node once the first step of the components has a task done, and checks that the decisions
are the same as the local run's (inside a network namespace: see tests/fixtures/ray_cluster.py).

    python bench/dedup_scale.py --docs 10000000 --shards 50 --partitions 16 --no-verify --reference
    python bench/dedup_scale.py --docs 100000000 --shards 200 --partitions 64 --real-sample --work /big/disk
    unshare --net --fork sh -c 'ip link set lo up; python bench/dedup_scale.py --docs 1000000 --ray-node-loss'
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _measure import TreeSampler  # noqa: E402

from fixtures.dedup_oracle import read_decisions  # noqa: E402

EXACT_SHARE, CHAIN_SHARE = 0.2, 0.2  # of clusters; the rest are near-duplicates of their first member
CHAIN_STEP, MAX_CHAIN, MAX_CLUSTER = 0.85, 40, 10_000
MAX_COLUMNS = 1 << 20  # columns of one salt
_MIX = np.uint64(0x9E3779B97F4A7C15)


def mix(*columns) -> np.ndarray:
    """A 64-bit hash of equal-shaped uint64 columns (splitmix64 of a running combination)."""
    out = np.zeros(np.broadcast(*columns).shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns:
            z = (out ^ np.asarray(column, dtype=np.uint64)) + _MIX
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            out = z ^ (z >> np.uint64(31))
    return out


def uniform(*columns) -> np.ndarray:
    return (mix(*columns) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def duplicate_structure(docs: int, duplicated: float, seed: int) -> dict[str, np.ndarray]:
    """For each document (by global index): its cluster (-1: none), its place in it, the cluster's kind."""
    rng = np.random.default_rng(seed)
    sizes, kinds = [], []
    target, total = int(docs * duplicated), 0
    while total < target:
        size = np.minimum((1 / rng.random(100_000)).astype(np.int64) + 1, MAX_CLUSTER)
        kind = rng.choice(3, size=len(size), p=[1 - EXACT_SHARE - CHAIN_SHARE, EXACT_SHARE, CHAIN_SHARE])
        size[kind == 2] = np.minimum(size[kind == 2], MAX_CHAIN)
        sizes.append(size)
        kinds.append(kind)
        total += int(size.sum())
    sizes, kind = np.concatenate(sizes), np.concatenate(kinds)
    last = int(np.searchsorted(np.cumsum(sizes), target)) + 1
    sizes, kind = sizes[:last], kind[:last]
    clustered = int(sizes.sum())
    cluster = np.full(docs, -1, dtype=np.int64)
    place = np.zeros(docs, dtype=np.int64)
    members = rng.permutation(docs)[:clustered]  # spread over every shard
    cluster[members] = np.repeat(np.arange(len(sizes)), sizes)
    place[members] = np.arange(clustered) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return {"cluster": cluster, "place": place, "kind": np.where(cluster >= 0, kind[np.maximum(cluster, 0)], -1),
            "sizes": sizes}


def columns(index: np.ndarray, structure: dict, count: int, rows: int, salt: int) -> np.ndarray:
    """``count`` hash columns of the documents ``index``, each of which stands for ``rows`` MinHash values:
    a near-duplicate's column equals its cluster's with probability share**rows, a chain's changes
    at each step with probability 1 - CHAIN_STEP**rows, as MinHash bands of ``rows`` rows do."""
    cluster, place, kind = structure["cluster"][index], structure["place"][index], structure["kind"][index]
    slots = np.arange(count, dtype=np.uint64)[None, :] + np.uint64(salt * MAX_COLUMNS)
    doc = index.astype(np.uint64)[:, None]
    group = cluster.astype(np.uint64)[:, None]
    epoch = np.zeros((len(index), count), dtype=np.uint64)
    chain = kind == 2
    for step in range(1, MAX_CHAIN):
        later = chain & (place >= step)
        if not later.any():
            break
        epoch[later] += (uniform(group[later], slots, np.uint64(step)) > CHAIN_STEP ** rows).astype(np.uint64)
    share = (0.78 + 0.22 * uniform(doc, np.uint64(3))) ** rows  # a near duplicate's similarity to its first
    from_base = (kind[:, None] >= 1) | (place[:, None] == 0) | (uniform(doc, slots, np.uint64(4)) < share)
    return np.where((cluster[:, None] >= 0) & from_base, mix(group, slots, epoch, np.uint64(2)),
                    mix(doc, slots, np.uint64(1)))


def content_hashes(index: np.ndarray, structure: dict) -> np.ndarray:
    cluster, kind = structure["cluster"][index], structure["kind"][index]
    return np.where(kind == 1, mix(cluster.astype(np.uint64), np.uint64(5)), mix(index.astype(np.uint64), np.uint64(6)))


def write_signature_files(folder: Path, docs: int, shards: int, structure: dict, config, workers: int) -> list:
    from concurrent.futures import ProcessPoolExecutor

    from megamath.runtime.task import Task

    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, docs, shards + 1).astype(np.int64)
    tasks = [Task(f"shard-{s:05d}", f"synthetic:{s}", str(folder / f"shard-{s:05d}.sig"), f"{docs}-{shards}-{s}")
             for s in range(shards)]
    with ProcessPoolExecutor(workers, initializer=_share, initargs=(structure,)) as pool:
        jobs = [pool.submit(_write_one, task.output, bounds[s], bounds[s + 1], config)
                for s, task in enumerate(tasks)]
        for done, job in enumerate(jobs, 1):
            job.result()
            print(f"\rsignature files: {done}/{shards}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return tasks


_STRUCTURE: dict = {}


def _share(structure: dict) -> None:
    _STRUCTURE.update(structure)


def _write_one(path: str, start: int, stop: int, config) -> None:
    from megamath.dedup.lsh import save_signatures

    index = np.arange(start, stop)
    bands = columns(index, _STRUCTURE, config.minhash.bands, config.minhash.rows, salt=0)
    sketches = columns(index, _STRUCTURE, config.sketch, 1, salt=1).astype(np.uint8)
    keys = mix(index.astype(np.uint64), np.uint64(7))
    save_signatures(path, config, keys, content_hashes(index, _STRUCTURE), bands, np.ones(len(index), bool), sketches,
                    np.zeros(len(index), np.uint32), np.zeros(0, np.uint32))


def real_sample(folder: Path, config) -> tuple:
    """Real Common Crawl documents and near-duplicates made of them (bench/dedup.py's clusters: copies with
    0-8% of their words replaced, copies of copies among them) as one more shard, signed by the sign pass
    itself: (its task, its records)."""
    from dedup import near_duplicate_clusters

    from megamath.dedup.lsh import sign_shard
    from megamath.runtime.task import Task

    records = near_duplicate_clusters()
    shard = folder / "real-sample.jsonl"
    shard.write_text("".join(json.dumps(record) + "\n" for record in records))
    task = Task("real-sample", str(shard), str(folder / "real-sample.sig"), f"real-{len(records)}")
    sign_shard(task.source, task.output, config)
    return task, records


def real_sample_report(decisions, records: list[dict], threshold: float) -> dict:
    """The sample's removals checked with the oracle, as bench/dedup.py checks them (exact Jaccard of 5-gram
    shingle sets): removed documents below the threshold against the document kept for them, and pairs at
    or above it both kept."""
    from dedup import oracle_pairs, removals_checked

    shingles, close = oracle_pairs(records, threshold)
    decided = read_decisions(decisions.outputs)
    ours = np.isin(decided["keys"], np.fromiter(shingles, dtype=np.uint64))  # the corpus's decisions are many
    removed, below, missed = removals_checked(
        dict(zip(decided["keys"][ours].tolist(), zip(decided["representative"][ours].tolist(),
                                                     decided["reason"][ours].tolist()))), shingles, close, threshold)
    return {"real_sample_docs": len(records), "real_sample_removed": removed,
            "real_sample_removed_below_threshold": below, "real_sample_pairs_at_threshold": len(close),
            "real_sample_pairs_both_kept": missed}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "/.megamath/" not in str(p))


def phase_report(run: Path) -> list[dict]:
    rows = []
    for phase in ["bands", *sorted(p.name for p in (run / "work" / "components").iterdir()), "gather", "verify"]:
        folder = run / "work" / ("components/" + phase if phase[0].isdigit() else phase)
        done = [json.loads(p.read_text()) for p in (folder / ".megamath" / "done").glob("*.json")]
        rows.append({"phase": phase, "tasks": len(done), "task_seconds": round(sum(d.get("seconds", 0) for d in done), 1),
                     "written_bytes": folder_bytes(folder / "data")})
    return rows


def filter_memory(decisions, signatures: list[str]) -> int:
    """Peak bytes numpy allocates while one shard's filter loads its keys and decisions."""
    from megamath.dedup.stage import DedupFilter, DedupFilterConfig

    shards = tuple(f"shard-{i}" for i in range(len(signatures)))
    stage = DedupFilter(DedupFilterConfig(shards, tuple(signatures), decisions.outputs, decisions.blocks))
    tracemalloc.start()
    stage.begin_input(shards[0])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def ray_node_loss(work: Path, tasks: list, config, local) -> dict:
    """The passes on a Ray cluster, a worker node removed during the first components step."""
    import ray

    from megamath.pipelines.dedup import decide
    from megamath.runtime.ray_executor import RayExecutor
    from megamath.runtime.resume import RunFolder

    from fixtures.ray_cluster import remove_node_when_done, start_cluster

    cluster, nodes = start_cluster(2, tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    ray.init(address=cluster.address, log_to_driver=False)
    killed = remove_node_when_done(cluster, nodes[0], work / "ray-run" / "work" / "components" / "01-large"
                                   / ".megamath" / "done", 1)
    started = time.perf_counter()
    decisions = decide(RunFolder(str(work / "ray-run")), tasks, config, RayExecutor(max_attempts=3, poll_s=0.2),
                       show_progress=False)
    seconds = time.perf_counter() - started
    ray.shutdown()
    cluster.shutdown()
    got, expected = read_decisions(decisions.outputs), read_decisions(local.outputs)
    return {"ray_seconds": round(seconds, 1), "ray_killed_node": killed, "ray_rounds": decisions.rounds,
            "ray_same_decisions": all(np.array_equal(got[name], expected[name]) for name in got)}


def reference_kept(run: Path, signature_files: list[str]) -> np.ndarray:
    """The kept keys of the single-task clustering over every band-edge file."""
    from megamath.dedup.store import load_arrays

    from fixtures.dedup_oracle import single_task_components

    keys = np.concatenate([load_arrays(p, ("keys",))["keys"] for p in signature_files])
    u, v = [], []
    for path in sorted((run / "work" / "bands" / "data").glob("*.edges")):
        arrays = load_arrays(path)
        u += [a for name, a in arrays.items() if name.endswith(".src")]
        v += [a for name, a in arrays.items() if name.endswith(".dst")]
    nodes, representative = single_task_components(keys, np.concatenate(u), np.concatenate(v))
    return nodes[nodes == representative]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--duplicated", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--verify-sketch", type=int, default=512,
                        help="values of the verification sketch (a generated corpus has no shingle sets to compare)")
    parser.add_argument("--reference", action="store_true", help="compare with the single-task clustering")
    parser.add_argument("--work", type=Path, default=None, help="a folder for the files (kept; default: a temporary one)")
    parser.add_argument("--ray-node-loss", action="store_true", help="also on a Ray cluster, a node lost mid-round")
    parser.add_argument("--real-sample", action="store_true",
                        help="add real documents and near-duplicates of them (needs ../shared), checked with the oracle")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from megamath.dedup.lsh import LshConfig
    from megamath.dedup.store import load_arrays
    from megamath.pipelines.dedup import decide
    from megamath.runtime.executor import LocalExecutor
    from megamath.runtime.resume import RunFolder

    if args.verify_sketch < 16:
        parser.error("--verify-sketch must be at least 16: a generated corpus has no texts, so no shingle sets")
    config = LshConfig(partitions=args.partitions, verify=not args.no_verify, verify_sketch=args.verify_sketch)
    with tempfile.TemporaryDirectory(prefix="megamath-dedup-scale-", dir=args.work) as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        structure = duplicate_structure(args.docs, args.duplicated, seed=0)
        tasks = write_signature_files(work / "sign", args.docs, args.shards, structure, config, args.workers)
        if args.real_sample:
            sample_task, sample = real_sample(work / "sign", config)
            tasks.append(sample_task)
        generated = time.perf_counter() - started
        run = work / "run"
        started = time.perf_counter()
        with TreeSampler() as tree:
            decisions = decide(RunFolder(str(run)), tasks, config, LocalExecutor(workers=args.workers))
        wall = time.perf_counter() - started
        removed = sum(c["exact_duplicates"] + c["near_duplicates"] for c in decisions.verified)
        result = {
            "docs": args.docs, "shards": args.shards, "partitions": args.partitions, "verify": config.verify,
            "clustered_docs": int(structure["sizes"].sum()), "clusters": len(structure["sizes"]),
            "largest_cluster": int(structure["sizes"].max()), "generate_seconds": round(generated, 1),
            "signature_bytes": folder_bytes(work / "sign"), "rounds": decisions.rounds,
            "wall_seconds": round(wall, 1), "cpu_seconds": round(tree.cpu_seconds, 1),
            "peak_worker_rss_mib": round(tree.peak_child_rss / 2**20), "removed": removed,
            "kept": args.docs + (len(sample) if args.real_sample else 0) - removed,
            **{k: sum(c[k] for c in decisions.verified) for k in
                                            ("refused", "refused_then_removed", "clusters_split", "unverified")},
            "filter_decisions_mib_one_shard": round(filter_memory(decisions, [t.output for t in tasks]) / 2**20, 1),
            "phases": phase_report(run)}
        if args.real_sample:
            result.update(real_sample_report(decisions, sample, config.similarity_threshold))
        if args.reference:
            started = time.perf_counter()
            expected = reference_kept(run, [t.output for t in tasks])
            decided = read_decisions(decisions.outputs)
            removed_keys = decided["keys"][decided["reason"] > 0]
            all_keys = np.concatenate([load_arrays(t.output, ("keys",))["keys"] for t in tasks])
            got = np.setdiff1d(all_keys, removed_keys)
            result["reference_seconds"] = round(time.perf_counter() - started, 1)
            result["same_kept_set_as_single_task"] = bool(np.array_equal(np.sort(got), np.sort(expected)))
        if args.ray_node_loss:
            result.update(ray_node_loss(work, tasks, config, decisions))
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
