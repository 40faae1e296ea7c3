"""What token counting costs, against stage 1's throughput.

Tokens are counted once per record where its text is final: in the recipe that is after stage 2 (and
after refinement), over what the math classifier and dedup kept, never over every stage-1 document;
`megamath web extract` run on its own counts its output. This script measures, on real pages of
../shared (the crawl-like WARC of bench/web_stage1.py: 5% math pages, and a math-heavy one):

* stage 1 (`megamath web extract -w 1 --no-token-count`), CPU seconds of the process tree less its
  start-up (a one-page run), best of N;
* the CPU time of counting with the default tokenizer (Qwen2.5's BPE) in process, best of 5: over
  every stage-1 document (what `web extract` alone pays), and over the documents with formulas (the
  stand-in for what the recipe's classifier keeps, where the recipe counts);
* as a cross-check, `web extract` with its default token count, end to end.

    python bench/tokens.py [--pages 1200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import crawl_like_warc  # noqa: E402
from web_stage1 import megamath_cpu  # noqa: E402


def count_cpu(texts: list[str], repeats: int = 5) -> float:
    from megamath.profile.tokenizer import load_tokenizer

    counter = load_tokenizer("qwen2.5")
    counter.count(texts[:1])
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        counter.count(texts)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from megamath.runtime.shards import read_shard

    with tempfile.TemporaryDirectory(prefix="megamath-tokens-") as tmp:
        tmp = Path(tmp)
        startup = crawl_like_warc(tmp / "one.warc.gz", 1, 1.0)  # a math page: the math modules load too
        inputs = {"crawl-like (5% math)": (crawl_like_warc(tmp / "crawl.warc.gz", args.pages, 0.05), args.pages),
                  "math-heavy (every page math)": (crawl_like_warc(tmp / "math.warc.gz", args.pages // 3, 1.0, seed=1),
                                                   args.pages // 3)}
        for name, (path, pages) in inputs.items():
            best = {"none": float("inf"), "count": float("inf")}
            start = dict(best)
            for _ in range(args.repeats):
                for key, options in (("none", ("--no-token-count",)), ("count", ())):
                    start[key] = min(start[key], megamath_cpu(startup, tmp / key, *options))
                    best[key] = min(best[key], megamath_cpu(path, tmp / key, *options))
            stage1 = best["none"] - start["none"]
            records = [r for shard in sorted((tmp / "none" / "data").glob("*.parquet")) for r in read_shard(str(shard))]
            texts = [r["text"] for r in records]
            math = [r["text"] for r in records if (r.get("meta") or {}).get("math")]
            every, kept = count_cpu(texts), count_cpu(math)
            print(f"\n{name}: {pages:,} pages, {len(texts):,} stage-1 documents, {len(math):,} with formulas")
            print(f"  stage 1 (web extract -w 1 --no-token-count)         {stage1:6.2f} CPU s, {pages / stage1:6.1f} pages/s")
            print(f"  counting every stage-1 document (web extract alone)  {every:6.3f} CPU s: {100 * every / stage1:4.1f}% "
                  "of stage 1")
            print(f"  counting the documents with formulas (the recipe)    {kept:6.3f} CPU s: {100 * kept / stage1:4.1f}% "
                  "of stage 1")
            print(f"  cross-check, web extract -w 1 with its token count   {best['count'] - start['count']:6.2f} CPU s "
                  f"({100 * (best['count'] - start['count'] - stage1) / stage1:+.1f}%, end to end, noisy)")


if __name__ == "__main__":
    main()
