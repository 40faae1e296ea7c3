"""MinHash-LSH dedup: correctness against a brute-force Jaccard oracle, determinism, speed, memory.

1. Oracle (needs ../shared): the 697 real Common Crawl documents of the dolma sample plus near-duplicates
   made from them (1-30% of words replaced). Every pair's exact Jaccard of 5-gram sets is computed; the
   LSH candidate pairs (sharing a band) give precision and recall at the threshold, and the detection
   rate per similarity bin beside the theoretical S-curve 1-(1-s^r)^b with its binomial error.
2. Determinism: the kept set for 1, 2 and 7 workers and 3, 5 and 7 input shards.
3. Speed on synthetic 2 KB documents (one core, end to end: shingling, signatures, band hashes, edges,
   clustering) against datasketch fed the same shingles, timed in the same run.
4. Peak memory of `megamath dedup run` (process tree) on --docs documents (1M by default).

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


def oracle(records: list[dict], bands: int, rows: int) -> None:
    from megamath.dedup.minhash import MinHashConfig, Signer, detection_probability, threshold_at_half
    from megamath.dedup.ngrams import words

    signer = Signer(MinHashConfig(bands=bands, rows=rows))
    signatures, _, _ = signer.signatures([r["text"] for r in records])
    band_hash = signer.band_hashes(signatures)
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


def speed(docs: list[str]) -> None:
    from datasketch import MinHash

    from megamath.dedup.lsh import connect
    from megamath.dedup.minhash import MinHashConfig, Signer
    from megamath.dedup.ngrams import words

    config = MinHashConfig()
    signer = Signer(config)
    started = time.perf_counter()
    keys = np.arange(len(docs), dtype=np.uint64)
    band_columns = []
    for start in range(0, len(docs), 10_000):
        signatures, _, _ = signer.signatures(docs[start:start + 10_000])
        band_columns.append(signer.band_hashes(signatures))
    bands = np.concatenate(band_columns)
    edges = []
    for b in range(config.bands):
        order = np.argsort(bands[:, b], kind="stable")
        sorted_hashes = bands[order, b]
        same = np.flatnonzero(sorted_hashes[1:] == sorted_hashes[:-1])
        edges.append((keys[order][same], keys[order][same + 1]))
    unique, representative, _ = connect(keys, edges)
    ours = time.perf_counter() - started
    sample = docs[:3000]
    shingles = []
    for text in sample:
        w = words(text)
        shingles.append([" ".join(w[i:i + 5]).encode() for i in range(len(w) - 4)])
    started = time.perf_counter()
    for doc_shingles in shingles:
        m = MinHash(num_perm=config.permutations, seed=config.seed)
        m.update_batch(doc_shingles)
    theirs = (time.perf_counter() - started) / len(sample) * len(docs)
    size = sum(len(d) for d in docs) / len(docs)
    print(f"speed, one core, {len(docs):,} documents of {size:,.0f} characters:")
    print(f"  megamath: shingles + signatures + bands + edges + clustering  {len(docs) / ours:10,.0f} docs/s "
          f"({int((representative != unique).sum()):,} duplicates)")
    print(f"  datasketch MinHash.update_batch on the same shingles (signatures only)  "
          f"{len(docs) / theirs:10,.0f} docs/s")
    print(f"  ratio {theirs / ours:.1f}x  (targets: >= 15,000 docs/s, >= 4x datasketch)")


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
        speed(synthetic_documents(args.speed_docs))
        if not args.skip_memory:
            memory(args.docs, Path(tmp))


if __name__ == "__main__":
    main()
