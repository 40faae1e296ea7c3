"""MinHash-LSH dedup: correctness against a brute-force Jaccard oracle, determinism, speed, memory.

1. Oracle (needs ../shared): the 697 real Common Crawl documents of the dolma sample plus near-duplicates
   made from them (1-30% of words replaced). Every pair's exact Jaccard of 5-gram sets is computed; the
   LSH candidate pairs (sharing a band) give precision and recall at the threshold, and the detection
   rate per similarity bin beside the theoretical S-curve 1-(1-s^r)^b with its binomial error.
2. Determinism: the kept set for 1, 2 and 7 workers and 3, 5 and 7 input shards.
3. Verification (needs ../shared): real documents and copies with 0-8% of their words replaced, copies
   of copies among them; without verification, with sketches of 512 (the default), 1024 and 2048
   values, and with whole shingle sets: the share of removed documents whose exact Jaccard to the document kept for them is below
   the threshold, and the share of pairs at or above it that are both kept.
4. Speed on synthetic 2 KB documents (one core, end to end: shingling, signatures, band hashes, edges,
   connected components, verification) against datasketch fed the same shingles: CPU seconds, the best of
   three runs of each, the runs alternating.
5. Peak memory of `megamath dedup run` (process tree) on --docs documents (1M by default).

    python bench/dedup.py [--docs 1000000] [--skip-memory]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _corpus import ROOT, require_shared  # noqa: E402
from _measure import best_cpu_seconds  # noqa: E402


def oracle(records: list[dict], bands: int, rows: int) -> None:
    from megamath.dedup.minhash import MinHashConfig, Signer, detection_probability, threshold_at_half
    from megamath.dedup.ngrams import words

    signer = Signer(MinHashConfig(bands=bands, rows=rows))
    band_hash = signer.band_hashes(signer.signatures([r["text"] for r in records]).values)
    candidates = set()
    for b in range(bands):
        groups: dict[int, list[int]] = {}
        for i, h in enumerate(band_hash[:, b].tolist()):
            groups.setdefault(h, []).append(i)
        for members in groups.values():
            candidates.update(itertools.combinations(members, 2))
    shingle_sets = []
    for record in records:
        w = words(record["text"])
        shingle_sets.append({" ".join(w[i:i + 5]) for i in range(max(1, len(w) - 4))})
    threshold = threshold_at_half(bands, rows)
    bins = np.linspace(0, 1, 11)
    seen, found = np.zeros(10), np.zeros(10)
    expected = np.zeros(10)
    true_pairs = predicted_true = 0
    for i, j in itertools.combinations(range(len(records)), 2):
        a, b = shingle_sets[i], shingle_sets[j]
        inter = len(a & b)
        if not inter:
            continue
        s = inter / len(a | b)
        k = min(int(s * 10), 9)
        hit = (i, j) in candidates
        seen[k] += 1
        found[k] += hit
        expected[k] += detection_probability(s, bands, rows)
        if s >= threshold:
            true_pairs += 1
            predicted_true += hit
    precision = predicted_true / max(1, len(candidates))
    print(f"oracle: {len(records)} documents, {len(candidates)} candidate pairs, {true_pairs} pairs with "
          f"Jaccard >= {threshold:.3f} (the 50% point of {bands}x{rows})")
    print(f"  precision {100 * precision:.1f}%  recall {100 * predicted_true / max(1, true_pairs):.1f}%  "
          "(pairs below the threshold detected with the S-curve's probability count against precision)")
    print("  Jaccard bin   pairs  detected  S-curve expects  (±2 binomial s.d.)")
    for k in range(10):
        if seen[k] == 0:
            continue
        p = expected[k] / seen[k]
        sd = math.sqrt(max(p * (1 - p), 1e-12) / seen[k])
        print(f"  {bins[k]:.1f}-{bins[k + 1]:.1f}  {int(seen[k]):7d}  {found[k] / seen[k]:8.3f}  {p:15.3f}  (±{2 * sd:.3f})")


def determinism(records: list[dict], tmp: Path) -> None:
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.dedup import deduplicate
    from megamath.runtime.executor import LocalExecutor
    from test_dedup import kept_ids, write_shards

    results = {}
    for workers, shards in ((1, 3), (2, 5), (7, 7)):
        paths = write_shards(records, tmp / f"in-{shards}", shards)
        deduplicate(paths, str(tmp / f"run-{workers}-{shards}"), LshConfig(), LocalExecutor(workers=workers),
                    show_progress=False)
        results[(workers, shards)] = kept_ids(tmp / f"run-{workers}-{shards}")
    first = next(iter(results.values()))
    print("determinism: kept " + ", ".join(f"{len(v)} with {w} workers/{s} shards" for (w, s), v in results.items())
          + f"; identical sets: {all(v == first for v in results.values())}")


def synthetic_documents(count: int, seed: int = 0, words_per_doc: int = 330) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    docs = []
    for i in range(count):
        if i % 5 == 4:  # every fifth document is a light edit of an earlier one
            base = docs[rng.randrange(len(docs))].split()
            for j in rng.sample(range(len(base)), len(base) // 50):
                base[j] = rng.choice(vocab)
            docs.append(" ".join(base))
        else:
            docs.append(" ".join(rng.choices(vocab, k=words_per_doc)))
    return docs


def clusters_in_memory(edges: list[tuple[np.ndarray, np.ndarray]], signed: dict[str, np.ndarray], threshold: float):
    """Dedup's clustering and verification on one process's arrays (keys are 0..n-1): the star rounds
    over every edge, then verification of each cluster (``signed``: every document's sketch, or its
    shingle set); the decided members."""
    from megamath.dedup.components import large_star, small_star
    from megamath.dedup.minhash import row_starts, rows_of, shingle_sets
    from megamath.dedup.verify import verify_clusters

    u, v = np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])
    src, dst = np.concatenate((u, v)), np.concatenate((v, u))
    while not (large := large_star(src, dst))["unsettled"] == 0:
        small = small_star(large["src"], large["dst"])
        src, dst = small["src"], small["dst"]
    nodes = large["nodes"].astype(np.int64)
    counts = signed["counts"]
    sets = shingle_sets(counts[nodes], signed["shingles"][rows_of(counts, row_starts(counts), nodes)])
    members = {"keys": large["nodes"], "representative": large["labels"], "shard": np.zeros(len(nodes), dtype=np.uint32),
               "exact": np.zeros(len(nodes), dtype=bool), "sketches": signed["sketches"][nodes], "counts": sets[0],
               "shingles": sets[1]}
    return verify_clusters(members, threshold)[0]


def speed(docs: list[str]) -> None:
    from datasketch import MinHash

    from megamath.dedup.lsh import LshConfig
    from megamath.dedup.minhash import MinHashConfig, Signer, threshold_at_half
    from megamath.dedup.ngrams import words

    config = MinHashConfig()
    signer = Signer(config)
    removed = {}
    signer.signatures(docs[:2_000], 512, shingles=True)  # first calls pay for loading: not any one run's cost

    def ours(name: str, lsh: LshConfig) -> None:
        keys = np.arange(len(docs), dtype=np.uint64)
        band_columns, parts = [], {"sketches": [], "counts": [], "shingles": []}
        for start in range(0, len(docs), 10_000):
            signed = signer.signatures(docs[start:start + 10_000], lsh.sketch, shingles=lsh.exact)
            band_columns.append(signer.band_hashes(signed.values))
            parts["sketches"].append(signed.sketches)
            parts["counts"].append(signed.shingle_counts)
            parts["shingles"].append(signed.shingles)
        bands = np.concatenate(band_columns)
        edges = []
        for b in range(config.bands):
            order = np.argsort(bands[:, b], kind="stable")
            sorted_hashes = bands[order, b]
            same = np.flatnonzero(sorted_hashes[1:] == sorted_hashes[:-1])
            edges.append((keys[order][same], keys[order][same + 1]))
        decided = clusters_in_memory(edges, {name: np.concatenate(chunks) for name, chunks in parts.items()},
                                     threshold_at_half(config.bands, config.rows) if lsh.verify else None)
        removed[name] = int((decided["reason"] > 0).sum())

    sample = docs[:3000]
    shingles = []
    for text in sample:
        w = words(text)
        shingles.append([" ".join(w[i:i + 5]).encode() for i in range(len(w) - 4)])

    def theirs() -> None:
        for doc_shingles in shingles:
            m = MinHash(num_perm=config.permutations, seed=config.seed)
            m.update_batch(doc_shingles)

    modes = {"no verification": LshConfig(verify=False), "shingle sets": LshConfig(),
             "sketch of 512": LshConfig(verify_sketch=512)}
    best = best_cpu_seconds({**{name: (lambda name=name, lsh=lsh: ours(name, lsh)) for name, lsh in modes.items()},
                             "datasketch": theirs}, repeats=3)
    their_rate = len(sample) / best["datasketch"]
    size = sum(len(d) for d in docs) / len(docs)
    print(f"speed, one core, {len(docs):,} documents of {size:,.0f} characters (CPU seconds, best of 3 alternating runs):")
    for name in modes:
        rate = len(docs) / best[name]
        print(f"  megamath, {name:15}: shingles, signatures, bands, edges, components, verification "
              f"{rate:8,.0f} docs/s ({removed[name]:,} removed), {rate / their_rate:.1f}x datasketch")
    print(f"  datasketch MinHash.update_batch on the same shingles (signatures only) {their_rate:8,.0f} docs/s")
    print("  (targets: >= 15,000 docs/s, >= 4x datasketch)")


def oracle_pairs(records: list[dict], threshold: float) -> tuple[dict[int, set], list[tuple[int, int]]]:
    """Each record's key → its set of 5-gram shingles, and the pairs whose exact Jaccard reaches ``threshold``."""
    from megamath.dedup.lsh import document_key
    from test_dedup import _shingles, jaccard

    shingles = {document_key(r): set(_shingles(r["text"])) for r in records}
    close = [(a, b) for a, b in itertools.combinations(shingles, 2) if jaccard(shingles[a], shingles[b]) >= threshold]
    return shingles, close


def removals_checked(decided: dict[int, tuple[int, int]], shingles: dict[int, set], close: list[tuple[int, int]],
                     threshold: float) -> tuple[int, int, int]:
    """Decisions (key → representative, reason) on the oracle's documents: (removed, removed below the
    threshold against the document kept for them, pairs at or above it both kept)."""
    from test_dedup import jaccard

    removed = [(key, rep) for key, (rep, reason) in decided.items() if reason and key in shingles]
    dropped = {key for key, _ in removed}
    below = sum(jaccard(shingles[key], shingles.get(rep, set())) < threshold for key, rep in removed)
    return len(removed), below, sum(a not in dropped and b not in dropped for a, b in close)


def verification(records: list[dict], tmp: Path) -> None:
    """Removals checked with the oracle, with and without verification: the share of removed documents
    whose exact Jaccard to the document kept for them is below the threshold, and of the pairs at or
    above it, the share left whole in the output (both kept: a duplicate missed)."""
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.dedup import deduplicate
    from megamath.runtime.executor import LocalExecutor
    from test_dedup import decisions_of, write_shards

    shards = write_shards(records, tmp / "verify-in", 3)
    threshold = LshConfig().similarity_threshold
    shingles, close = oracle_pairs(records, threshold)
    print(f"verification: {len(records)} documents, {len(close)} pairs at Jaccard >= {threshold:.3f}")
    for name, config in (("no verification", LshConfig(partitions=2, verify=False)),
                         *((f"sketch of {size}", LshConfig(partitions=2, verify_sketch=size)) for size in (512, 1024, 2048)),
                         ("shingle sets", LshConfig(partitions=2, verify_sketch=0))):
        run = tmp / f"verify-{name.replace(' ', '-')}"
        counts = deduplicate(shards, str(run), config, LocalExecutor(workers=2), show_progress=False).counts
        removed, below, missed = removals_checked(decisions_of(run), shingles, close, threshold)
        print(f"  {name:16} removed {removed:5,}  below the threshold against the kept document {below:4,} "
              f"({100 * below / max(1, removed):5.2f}%)  pairs at or above it both kept {missed:4,} "
              f"({100 * missed / max(1, len(close)):4.1f}%)  refused {counts.get('refused', 0):,}")


def near_duplicate_clusters(seed: int = 4, originals: int = 250, copies: int = 6) -> list[dict]:
    """Real Common Crawl documents and, for some, copies with 0–8% of their words replaced (so the pairs'
    Jaccard similarities spread around the threshold), copies of copies among them (chains)."""
    from test_dedup import edited, real_documents

    rng = random.Random(seed)
    docs = real_documents()
    records = [{"id": d["id"], "text": d["text"], "url": "", "source": f"orig:{d['id']}", "meta": {}} for d in docs]
    for d in rng.sample(docs, originals):
        text = d["text"]
        for c in range(copies):
            base = text if rng.random() < 0.5 else records[-1]["text"] if c else text
            records.append({"id": f"{d['id']}-copy{c}", "text": edited(base, rng.uniform(0, 0.08), rng), "url": "",
                            "source": f"copy:{d['id']}-{c}", "meta": {}})
    return records


def memory(count: int, tmp: Path) -> None:
    from megamath.runtime.shards import ShardWriter

    shard_count = max(1, count // 100_000)
    paths = []
    for s in range(shard_count):
        path = tmp / f"mem-{s:03d}.jsonl.zst"
        with ShardWriter(path) as writer:
            for i, text in enumerate(synthetic_documents(count // shard_count, seed=s)):
                writer.write({"id": f"{s}-{i}", "text": text, "url": "", "source": f"{s}:{i}", "meta": {}})
        paths.append(str(path))
    command = [sys.executable, "-m", "megamath.cli", "dedup", "run", *paths, "-o", str(tmp / "mem-run"), "-q",
               "--format", "jsonl.zst"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            peak = max(peak, sum(p.memory_info().rss for p in [root] + root.children(recursive=True)))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = process.communicate()
    if process.returncode:
        sys.exit(err.decode()[-2000:])
    print(f"memory: `megamath dedup run` on {count:,} documents in {shard_count} shards: peak RSS of the process "
          f"tree {peak / 2**20:,.0f} MiB, {time.perf_counter() - started:.0f} s wall")
    print("  " + out.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="documents for the memory run")
    parser.add_argument("--speed-docs", type=int, default=100_000)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    require_shared()
    from test_dedup import corpus_with_near_duplicates

    records, _ = corpus_with_near_duplicates(seed=3)
    oracle(records, 11, 10)
    with tempfile.TemporaryDirectory(prefix="megamath-dedup-") as tmp:
        determinism(records, Path(tmp))
        verification(near_duplicate_clusters(), Path(tmp))
        speed(synthetic_documents(args.speed_docs))
        if not args.skip_memory:
            memory(args.docs, Path(tmp))


if __name__ == "__main__":
    main()
