"""Build the shipped index of the recipe's 12 benchmarks: src/megamath/decontam/data/recipe_benchmarks.arrays.zst.

The index holds 64-bit hashes of the benchmarks' word 13-grams and the (benchmark, item id) each one
comes from, never their text (docs/benchmarks.md lists the sources and their licences). Its input is
a folder holding the 12 files under the names megamath/decontam/benchmarks.toml looks for; they come
from two public repositories:

    git -C MegaMath show HEAD:web_pipeline/utils/decont_utils/data/gsm8k.jsonl > bench/gsm8k.jsonl   # and the
    # other ten of LLM360/MegaMath (Apache-2.0) but math.jsonl, which its mirror lacks; MATH's 5,000 test items:
    git -C math-evaluation-harness show HEAD:data/math/test.jsonl > bench/math.jsonl  # ZubinGou/..., MIT

    python tools/build_benchmark_index.py bench/

It writes the index and recipe_benchmarks.json (each file's SHA-1, the counts, the n-gram size).
tests/test_decontaminate.py rebuilds it from ../shared's copies of the same files and compares.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import zstandard

from megamath.decontam.index import SHIPPED_INDEX, BenchmarkIndex, locate_benchmarks, recipe_benchmarks

DATA = Path(__file__).resolve().parents[1] / "src" / "megamath" / "decontam" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=DATA / SHIPPED_INDEX)
    args = parser.parse_args()
    files = locate_benchmarks(str(args.benchmark_dir))
    missing = sorted(set(recipe_benchmarks()) - set(files))
    if missing:
        raise SystemExit(f"{args.benchmark_dir} lacks {', '.join(missing)}")
    index = BenchmarkIndex.build(files)
    with tempfile.TemporaryDirectory() as scratch:
        plain = Path(scratch) / "index.arrays"
        index.save(str(plain))
        args.output.write_bytes(zstandard.ZstdCompressor(level=19).compress(plain.read_bytes()))
    sources = {name: {"file": Path(path).name, "sha1": hashlib.sha1(Path(path).read_bytes()).hexdigest(),
                      **index.counts[name]} for name, path in sorted(files.items())}
    summary = {"n": index.n, "seed": index.seed, "hashes": int(len(index.hashes)), "items": len(index.items),
               "benchmarks": sources}
    args.output.with_name("recipe_benchmarks.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{args.output}: {len(index.items):,} items, {len(index.hashes):,} hashes, "
          f"{args.output.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
