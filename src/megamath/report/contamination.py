"""The decontamination report: every removed document with the benchmark item and n-gram it matched."""

from __future__ import annotations

from collections import Counter

import orjson

from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.shards import read_shard


def write_contamination_report(folder: RunFolder) -> tuple[str, Counter]:
    """Write one JSON line per removed document to ``OUT/contamination.jsonl`` (from the documents
    the decontamination stage kept in ``excluded/``); return its location and removals per benchmark."""
    per_benchmark: Counter = Counter()
    lines = []
    for shard in storage.list_files(folder.excluded, ".jsonl.zst"):
        for record in read_shard(shard):
            found = (record.get("meta") or {}).get("contamination") if isinstance(record, dict) else None
            if not found:
                continue
            per_benchmark[found["benchmark"]] += 1
            lines.append(orjson.dumps({"id": record.get("id"), "url": record.get("url"),
                                       "source": record.get("source"), **found}) + b"\n")
    report = storage.join(folder.root, "contamination.jsonl")
    storage.write_bytes(report, b"".join(lines))
    return report, per_benchmark


def format_removals(per_benchmark: Counter, report: str) -> str:
    """The line every decontaminating command prints."""
    listed = ", ".join(f"{b} {n:,}" for b, n in per_benchmark.most_common()) or "none"
    return f"decontamination removed {sum(per_benchmark.values()):,} document(s): {listed}; listed in {report}"


def format_index_counts(counts: dict[str, dict[str, int]], shipped: bool = False) -> str:
    """Items indexed per benchmark (printed before a decontamination run's results); ``shipped``: the
    index is the one shipped with megamath, which the line says."""
    parts = [f"{name} {c['items']:,}" + (f" ({c['too_short']:,} too short)" if c.get("too_short") else "")
             for name, c in sorted(counts.items())]
    total = sum(c["items"] for c in counts.values())
    head = (f"the shipped index of the recipe's {len(counts)} benchmarks: {total:,} items" if shipped
            else f"benchmark items indexed: {total:,}")
    return f"{head} — " + ", ".join(parts)
