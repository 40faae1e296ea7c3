"""`megamath release` resharding against a plain Parquet copy, in one run, one core.

The texts are the real pages of ../shared (html-nonmath, html-math, math-zoo-dev) as stage 1 extracts
them, repeated with a counter so that no two documents are equal, with the meta stage 1, the classifier,
dedup and the token count write, into run shards of --megabytes of text in all. Measured, CPU seconds of
this process (Arrow limited to one thread), alternating, best of --repeats:

* the peer: Arrow reading the same shards and writing them again (zstd), with no change to any row;
* the release of them as one subset (`write_release`): every record read, its meta typed into the struct,
  the rest kept as JSON, written into shards of 64 MB of text.

The issue's target is ≥ 50 MB/s of text per core.

    python bench/release.py [--megabytes 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import real_page_texts  # noqa: E402
from _measure import best_cpu_seconds, print_against_peer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    from megamath.release.dataset import ReleaseConfig, write_release
    from megamath.runtime.shards import ShardWriter

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    texts = real_page_texts()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        shards, total, n = [], 0, 0
        while total < args.megabytes * 1e6:
            shard = Path(scratch) / f"in-{len(shards):03d}.parquet"
            with ShardWriter(shard) as writer:
                part = 0
                while part < 50e6 and total < args.megabytes * 1e6:
                    text = f"{texts[n % len(texts)]}\n\n({n})"
                    meta = {"warc_date": "2024-05-20T10:00:00Z", "crawl": "CC-MAIN-2024-22", "charset": "utf-8",
                            "math": {"tex_text": rng.randrange(40)}, "lang": "en", "lang_score": rng.random(),
                            "math_score": rng.random(), "dedup_cluster": f"{rng.getrandbits(64):016x}",
                            "dedup_cluster_size": 1, "stage1_chars": len(text), "tokens": len(text) // 4}
                    writer.write({"id": f"d{n}", "text": text, "url": f"https://site{n % 997}.example/{n}",
                                  "source": f"crawl.warc.gz@{n}", "meta": meta})
                    size = len(text.encode())
                    part += size
                    total += size
                    n += 1
            shards.append(str(shard))
        print(f"{n:,} documents, {total / 1e6:.1f} MB of text in {len(shards)} shards, from {len(texts)} real pages")

        def peer() -> None:
            for i, shard in enumerate(shards):
                pq.write_table(pq.read_table(shard, use_threads=False), f"{scratch}/copy-{i}.parquet", compression="zstd")

        config = ReleaseConfig(shard_bytes=64 << 20)
        runs = {"Arrow read + write (peer)": peer,
                "release (typed meta)": lambda: write_release({"web": shards}, f"{scratch}/release", config)}
        print_against_peer(best_cpu_seconds(runs, args.repeats), "Arrow read + write (peer)", total / 1e6,
                           "the peer's speed")


if __name__ == "__main__":
    main()
