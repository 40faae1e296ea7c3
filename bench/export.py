"""`megamath export` against the tokenizer's own batch speed, in one run.

The texts are the real pages of ../shared (html-nonmath, html-math, math-zoo-dev) as stage 1 extracts
them, repeated with a counter so that no two documents are equal, into one Parquet shard of about
--megabytes of text. Three measurements, CPU seconds of this process, alternating, best of --repeats:

* the peer: the tokenizer's own batch encoding of the same texts, already in memory
  (`encode_ordinary_batch`, 512 a batch);
* `export_tokenized(..., "megatron")` and `export_tokenized(..., "mds")`: reading the shard, the same
  encoding, the end-of-document token, the writing.

The issue's target is ≥ 0.8× the tokenizer's speed.

    python bench/export.py [--megabytes 40] [--tokenizer qwen2.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import real_page_texts  # noqa: E402
from _measure import best_cpu_seconds, print_against_peer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=40.0)
    parser.add_argument("--tokenizer", default="qwen2.5")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from megamath.profile.tokenizer import load_tokenizer
    from megamath.release.tokenized import export_tokenized
    from megamath.runtime.shards import ShardWriter, read_records

    texts = real_page_texts()
    tokenizer = load_tokenizer(args.tokenizer)
    with tempfile.TemporaryDirectory() as scratch:
        shard = Path(scratch) / "corpus.parquet"
        total, n = 0, 0
        with ShardWriter(shard) as writer:
            while total < args.megabytes * 1e6:
                text = f"{texts[n % len(texts)]}\n\n({n})"
                writer.write({"id": f"d{n}", "text": text, "source": "bench", "meta": {}})
                total += len(text.encode())
                n += 1
        print(f"{n:,} documents, {total / 1e6:.1f} MB of text from {len(texts)} real pages; tokenizer {tokenizer.name}")

        in_memory = [record["text"] for record in read_records([str(shard)])]

        def peer() -> None:  # the texts already in memory: the export reads them from the shard on top
            for start in range(0, len(in_memory), 512):
                tokenizer.encode(in_memory[start:start + 512])

        runs = {"tokenizer batch (peer)": peer,
                "export megatron": lambda: export_tokenized([str(shard)], f"{scratch}/m", "megatron", args.tokenizer),
                "export mds": lambda: export_tokenized([str(shard)], f"{scratch}/d", "mds", args.tokenizer)}
        print_against_peer(best_cpu_seconds(runs, args.repeats), "tokenizer batch (peer)", total / 1e6,
                           "the tokenizer's speed")


if __name__ == "__main__":
    main()
