"""Per-core rates of every phase, for docs/scaling.md: one worker, real pages from ../shared.

Stage 1 runs on a crawl-like mix (real non-math pages, 5% math pages); the classifier, dedup,
decontamination and stage 2 run on stage-1 documents (dedup, classifier and decontamination on an
enlarged set: every stage-1 document again with a tenth of its words replaced, so near duplicates are
realistic and the fixed costs of a pass do not dominate). For each phase: documents in, the seconds its
tasks took (the sum over done records, one worker), documents per second per core, and the peak
resident memory of one worker process. Printed as a table and as JSON (``--json FILE``).

    python bench/scaling.py [--files 20] [--pages-per-file 250] [--copies 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import require_shared  # noqa: E402
from _measure import TreeSampler  # noqa: E402

from fixtures.warc_writer import Fetch, write_warc  # noqa: E402


def crawl_mix(out: Path, files: int, pages_per_file: int, math_share: float = 0.05) -> list[str]:
    """WARC files of real pages: non-math pages with ``math_share`` of math pages, distinct URLs."""
    data = require_shared()
    nonmath = [p.read_bytes() for p in sorted((data / "html-nonmath").rglob("*.htm*"))]
    math = [p.read_bytes() for folder in ("html-math", "math-zoo-dev") for p in sorted((data / folder).rglob("*.htm*"))]
    rng = random.Random(0)
    out.mkdir(parents=True)
    paths = []
    for f in range(files):
        fetches = [Fetch(f"https://crawl{f}.example/{i}", rng.choice(math if rng.random() < math_share else nonmath))
                   for i in range(pages_per_file)]
        write_warc(out / f"crawl-{f:03d}.warc.gz", fetches)
        paths.append(str(out / f"crawl-{f:03d}.warc.gz"))
    return paths


def enlarged(shards: list[str], out: Path, copies: int) -> list[str]:
    """Every document of ``shards`` ``copies`` times, each copy with a tenth of its words replaced."""
    from megamath.runtime.shards import ShardWriter, read_records

    rng = random.Random(1)
    docs = list(read_records(shards))
    out.mkdir(parents=True)
    paths = []
    for c in range(copies):
        path = out / f"copy-{c:03d}.parquet"
        with ShardWriter(path) as writer:
            for doc in docs:
                words = doc["text"].split()
                for i in rng.sample(range(len(words)), len(words) // 10):
                    words[i] = f"w{rng.randrange(10**6)}"
                writer.write({**doc, "id": f"{doc['id']}-{c}", "text": " ".join(words)})
        paths.append(str(path))
    return paths


def measured(name: str, run, rows: list[dict]):
    """Run one phase workflow; record documents in, task seconds and peak worker memory."""
    with TreeSampler() as tree:
        summary = run()
    summaries = summary if isinstance(summary, list) else [summary]
    seconds = sum(r["seconds"] for s in summaries for r in s.results)
    read = summaries[-1].funnel[0]
    docs = read.docs_in
    rows.append({"phase": name, "docs_in": docs, "avg_chars_in": round(read.chars_out / docs) if read.chars_out else None,
                 "task_seconds": round(seconds, 2),
                 "docs_per_core_second": round(docs / seconds, 1) if seconds else None,
                 "tree_cpu_seconds": round(tree.cpu_seconds, 2), "peak_worker_rss_mib": round(tree.peak_child_rss / 2**20)})
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--pages-per-file", type=int, default=250)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from megamath.classify.model import NEGATIVE, POSITIVE, TrainConfig
    from megamath.classify.stage import ClassifierConfig
    from megamath.decontam.index import BenchmarkSpec, locate_benchmarks
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.classify import run_classifier, train_classifier
    from megamath.pipelines.decontam import run_decontaminate
    from megamath.pipelines.dedup import deduplicate
    from megamath.pipelines.web import WebExtractConfig, run_reextract, run_stage1
    from megamath.runtime.executor import LocalExecutor
    from megamath.runtime.resume import RunFolder
    from megamath.web.reextract import ReextractConfig

    data = require_shared()
    one = LocalExecutor(workers=1)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="megamath-scaling-") as tmp:
        tmp = Path(tmp)
        warcs = crawl_mix(tmp / "in", args.files, args.pages_per_file)
        s1 = measured("stage 1 (URL filter, math-aware extraction, language ID)",
                      lambda: run_stage1(WebExtractConfig(), warcs, str(tmp / "s1"), one, show_progress=False).summary,
                      rows)
        docs = enlarged(s1.shards, tmp / "docs", args.copies)

        seeds = data / "seeds"
        paragraphs = [" ".join(p.split()) for tex in sorted((seeds / "math").rglob("*.tex"))
                      for p in tex.read_text(encoding="utf-8", errors="replace").split("\n\n") if len(p.split()) > 10]
        (tmp / "math.txt").write_text("\n".join(paragraphs) + "\n")
        examples = [(POSITIVE, str(tmp / "math.txt"), ("text",))]
        examples += [(NEGATIVE, str(p), ("text",)) for p in sorted((seeds / "nonmath").rglob("*.jsonl.gz"))]
        model = train_classifier(examples, RunFolder(tmp / "train"), TrainConfig(), one, show_progress=False).model
        measured("math classifier (fastText, dim 256, folded)",
                 lambda: run_classifier(docs, str(tmp / "cls"), ClassifierConfig(model, threshold=0.0), one,
                                        show_progress=False), rows)

        def dedup_passes():
            result = deduplicate(docs, str(tmp / "dedup"), LshConfig(), one, show_progress=False)
            folder = RunFolder(tmp / "dedup")
            from megamath.runtime.runner import summarize

            return [summarize(folder.sub("work", sub), 0, 0, {}) for sub in ("sign", "bands", "components")] + \
                [result.summary]

        passes = measured("dedup (all four passes)", dedup_passes, rows)
        for label, summary in zip(("dedup: sign", "dedup: band edges (12 tasks)", "dedup: components (1 task)",
                                   "dedup: filter"), passes):
            seconds = sum(r["seconds"] for r in summary.results)
            docs_in = passes[-1].funnel[0].docs_in
            rows.append({"phase": label, "docs_in": docs_in, "task_seconds": round(seconds, 2),
                         "docs_per_core_second": round(docs_in / seconds, 1) if seconds else None})

        recipe = data / "benchmarks" / "LLM360__MegaMath" / "web_pipeline" / "utils" / "decont_utils" / "data"
        files = locate_benchmarks(str(recipe))
        files["math"] = str(data / "benchmarks" / "ZubinGou__math-evaluation-harness" / "data" / "math" / "test.jsonl")
        spec = BenchmarkSpec(tuple(sorted(files.items())))
        measured("decontamination (12 benchmarks, 13-grams)",
                 lambda: run_decontaminate(docs, str(tmp / "decontam"), spec, one, show_progress=False).summary, rows)
        measured("stage 2 (trafilatura precision, HTML re-read from the WARC)",
                 lambda: run_reextract(s1.shards, str(tmp / "s2"), ReextractConfig(), one, show_progress=False), rows)

    sizes = f"stage 1: {args.files * args.pages_per_file:,} pages; later phases: {rows[1]['docs_in']:,} documents"
    print(f"per-core rates, one worker ({sizes})\n")
    print(f"{'phase':62s} {'docs in':>9s} {'chars/doc':>9s} {'task s':>8s} {'docs/core-s':>12s} {'worker RSS':>11s}")
    for row in rows:
        rss = f"{row['peak_worker_rss_mib']} MiB" if "peak_worker_rss_mib" in row else ""
        chars = f"{row['avg_chars_in']:,}" if row.get("avg_chars_in") else ""
        print(f"{row['phase']:62s} {row['docs_in']:9,d} {chars:>9s} {row['task_seconds']:8.1f} "
              f"{row['docs_per_core_second'] or 0:12,.0f} {rss:>11s}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
