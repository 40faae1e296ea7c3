"""Counters per stage: documents in and out, characters out, documents dropped per reason (with the
first few of each reason as examples for the report), and the stage's own counters (requests, tokens
and cost of an LLM stage)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from megamath.runtime.stage import Drop, Record


@dataclass
class StageStats:
    name: str
    docs_out: int = 0
    chars_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    # records the stage received, where it may write more than one record per input (Q&A pairs of a
    # page); otherwise what it wrote and dropped
    records_in: int | None = None
    examples: dict[str, list[dict]] = field(default_factory=dict)  # reason -> the first EXAMPLES drops

    @property
    def docs_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def docs_in(self) -> int:
        return self.docs_out + self.docs_dropped if self.records_in is None else self.records_in

    def merge(self, other: "StageStats") -> None:
        self.records_in = self.docs_in + other.docs_in
        self.docs_out += other.docs_out
        self.chars_out += other.chars_out
        self.dropped.update(other.dropped)
        self.counters.update(other.counters)
        for reason, examples in other.examples.items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(examples[: EXAMPLES - len(kept)])

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "chars_out": self.chars_out,
            "dropped": dict(sorted(self.dropped.items(), key=lambda kv: -kv[1])),
            **({"counters": dict(sorted(self.counters.items()))} if self.counters else {}),
            **({"examples": self.examples} if self.examples else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "StageStats":
        return cls(data["name"], data["docs_out"], data.get("chars_out", 0), Counter(data.get("dropped", {})),
                   Counter(data.get("counters", {})), data.get("docs_in"),
                   {reason: list(examples) for reason, examples in data.get("examples", {}).items()})


def counted(items: Iterable[Record | Drop], stats: StageStats,
            on_drop: Callable[[Drop], None] | None = None) -> Iterator[Record]:
    """Pass records through, counting them and swallowing drops into ``stats`` (and ``on_drop``)."""
    for item in items:
        if type(item) is Drop:
            stats.dropped[item.reason] += 1
            if stats.dropped[item.reason] <= EXAMPLES:
                stats.examples.setdefault(item.reason, []).append(_example(item.record))
            if on_drop is not None:
                on_drop(item)
            continue
        stats.docs_out += 1
        text = item.get("text")
        if text:
            stats.chars_out += len(text)
        yield item


EXAMPLES = 3
_EXAMPLE_CHARS = 300


def _example(record: Record) -> dict:
    text = record.get("text") or ""
    return {"id": record.get("id"), "source": record.get("source"), "url": record.get("url"),
            "text": text[:_EXAMPLE_CHARS] + ("…" if len(text) > _EXAMPLE_CHARS else "")}


def merge_funnels(funnels: Iterable[list[dict]]) -> list[StageStats]:
    """Sum per-task funnels (lists of stage dicts in pipeline order) into one funnel."""
    merged: dict[str, StageStats] = {}
    for funnel in funnels:
        for stage in funnel:
            stats = StageStats.from_dict(stage)
            if stats.name in merged:
                merged[stats.name].merge(stats)
            else:
                merged[stats.name] = stats
    return list(merged.values())
