"""The decontamination report: every removed document with the benchmark item and n-gram it matched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from megamath.runtime.shards import read_shard


def write_contamination_report(excluded_dir: Path, out: Path) -> Counter:
    """Write one JSON line per removed document to ``out``; return removals per benchmark."""
    per_benchmark: Counter = Counter()
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as fh:
        for shard in sorted(excluded_dir.glob("*.jsonl.zst")) if excluded_dir.is_dir() else []:
            for record in read_shard(shard):
                found = (record.get("meta") or {}).get("contamination") if isinstance(record, dict) else None
                if not found:
                    continue
                per_benchmark[found["benchmark"]] += 1
                fh.write(orjson.dumps({"id": record.get("id"), "url": record.get("url"), "source": record.get("source"),
                                       **found}) + b"\n")
    tmp.replace(out)
    return per_benchmark
