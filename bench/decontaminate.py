"""Decontamination against the recipe's 12 benchmarks: planted items found, no false hit on real
documents, and throughput on 5 KB documents (one core, index built beforehand).

    python bench/decontaminate.py
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _corpus import require_shared  # noqa: E402


def main() -> None:
    data = require_shared()
    from megamath.decontam.index import BenchmarkIndex, locate_benchmarks
    from megamath.decontam.stage import Decontaminate, DecontaminateConfig
    from megamath.runtime.stage import Drop
    from test_decontaminate import planted_documents
    from test_dedup import real_documents

    recipe = data / "benchmarks" / "LLM360__MegaMath" / "web_pipeline" / "utils" / "decont_utils" / "data"
    files = locate_benchmarks(str(recipe))
    files["math"] = str(data / "benchmarks" / "ZubinGou__math-evaluation-harness" / "data" / "math" / "test.jsonl")
    started = time.perf_counter()
    index = BenchmarkIndex.build(files)
    index_path = str(Path(tempfile.mkdtemp(prefix="megamath-index-")) / "index.arrays")
    index.save(index_path)
    stage = Decontaminate(DecontaminateConfig(index_path))
    print(f"index: {len(files)} benchmarks, {len(index.items):,} items, {len(index.hashes):,} 13-grams, "
          f"{sum(len(h) for h, _ in index.short.values()):,} short items matched whole, too short to match: "
          f"{index.too_short}; built in {time.perf_counter() - started:.1f} s")

    planted = planted_documents(files)
    found = sum(isinstance(o, Drop) for o in stage(planted))
    print(f"planted GSM8K + MATH test items found: {found:,} of {len(planted):,}")
    rng = random.Random(0)
    hosts = [d["text"] for d in real_documents()]
    clean = [{"id": d["id"], "text": d["text"]} for d in real_documents()]
    false_hits = [o.record["id"] for o in stage(clean) if isinstance(o, Drop)]
    print(f"false hits on {len(clean)} real Common Crawl documents: {len(false_hits)}")

    for words_per_doc in (330, 800):  # about 2 KB (the dedup benchmark's size) and 5 KB of real text
        docs = []
        while len(docs) < 20_000:
            picks = rng.sample(hosts, 6)
            docs.append({"id": str(len(docs)), "text": " ".join(" ".join(picks).split()[:words_per_doc])})
        size = sum(len(d["text"]) for d in docs) / len(docs)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in stage(docs):
                pass
            best = min(best, time.perf_counter() - started)
        print(f"throughput, one core, {len(docs):,} documents of {size:,.0f} characters against all {len(files)} "
              f"benchmarks: {len(docs) / best:,.0f} docs/s (target >= 5,000)")


if __name__ == "__main__":
    main()
