"""A pipeline is a reader, an ordered list of stages and an output format; a task runs one input
through it into one output shard.

``run_task`` is a plain module-level function over picklable arguments, so any executor (the local
process pool, Ray) can ship it to a worker. It owns the per-task guard, counters, atomic output and
completion record; the stages stay pure.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from megamath.runtime.guard import DocumentGuard, GuardConfig, InflightSlot, guarding
from megamath.runtime.resume import RunFolder
from megamath.runtime.shards import ShardWriter, shard_format
from megamath.runtime.stage import Drop, Record, Stage
from megamath.runtime.stats import StageStats, counted

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
"""Called from a task with (documents read, input bytes read) since the previous call."""


class InputError(Exception):
    """An input file is corrupt or truncated; records read before the damage are kept."""


class Reader(Protocol):
    """Turns one input (a path or URL) into records; non-records come out as :class:`Drop`.

    A reader keeps ``bytes_read`` up to date for progress reporting and raises :class:`InputError`
    when the input is damaged.
    """

    name: str
    bytes_read: int

    def __call__(self, source: str) -> Iterator[Record | Drop]: ...


@dataclass
class Pipeline:
    reader: Reader
    stages: list[Stage]
    output_suffix: str = ".parquet"
    drop_fields: tuple[str, ...] = ()
    guard: GuardConfig = field(default_factory=GuardConfig)
    # Dropped records whose reason starts with one of these are kept in OUT/excluded/<task>.jsonl.zst,
    # so that a report can list what was removed and why.
    excluded_reasons: tuple[str, ...] = ()

    def config(self) -> dict:
        """What determines the output: used to refuse resuming a run with a changed configuration.

        Plain JSON types (tuples become lists), so it compares equal to the copy stored in the run folder.
        """
        config = {
            "reader": {"name": self.reader.name, **_config_of(self.reader)},
            "stage_order": [stage.name for stage in self.stages],
            "stages": {stage.name: _config_of(stage) for stage in self.stages},
            "output_suffix": self.output_suffix,
            "drop_fields": list(self.drop_fields),
        }
        return json.loads(json.dumps(config))


def _config_of(component: object) -> dict:
    config = getattr(component, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}


@dataclass(frozen=True)
class Task:
    task_id: str
    source: str
    output: str


def run_task(task: Task, pipeline: Pipeline, run_dir: str, progress: ProgressFn | None = None) -> dict:
    """Run one input through the pipeline into one shard; returns (and records) the task's result."""
    folder = RunFolder(run_dir)
    started = time.monotonic()
    poison = folder.poisoned(task.task_id)
    if poison:
        log.warning("%s: skipping %d document(s) that crashed or hung an earlier attempt: %s",
                    task.task_id, len(poison), ", ".join(sorted(poison)[:5]))
    read_stats = StageStats(pipeline.reader.name)
    stage_stats = [StageStats(stage.name) for stage in pipeline.stages]
    output = Path(task.output)
    tmp = output.with_name(f"{output.name}.tmp-{os.getpid()}")
    input_error = None

    # a stage's counters live as long as its worker; this task's share is the difference
    counters_before = [Counter(getattr(stage, "counters", ())) for stage in pipeline.stages]
    slot = InflightSlot(folder.inflight_path(task.task_id))
    excluded = _ExclusionWriter(folder, task, pipeline)
    with guarding(DocumentGuard(pipeline.guard, slot)), ShardWriter(
        tmp, fmt=shard_format(output), drop_fields=pipeline.drop_fields
    ) as writer:
        items = _reporting(pipeline.reader(task.source), pipeline.reader, progress)
        stream: Iterable[Record] = counted(_skip_poisoned(items, poison), read_stats)
        for stage, stats in zip(pipeline.stages, stage_stats):
            stream = counted(stage(stream), stats, excluded.add if pipeline.excluded_reasons else None)
        try:
            for record in stream:
                writer.write(record)
        except InputError as exc:
            input_error = str(exc)
            log.error("%s: %s (kept the %d records read before it)", task.source, exc, read_stats.docs_out)
    slot.close()
    excluded.finish()
    for stage, stats, before in zip(pipeline.stages, stage_stats, counters_before):
        stats.counters = Counter(getattr(stage, "counters", ())) - before
    os.replace(tmp, output)

    result = {
        "task_id": task.task_id,
        "source": task.source,
        "output": str(output),
        "docs_written": writer.count,
        "input_error": input_error,
        "seconds": round(time.monotonic() - started, 3),
        "funnel": [read_stats.to_dict()] + [stats.to_dict() for stats in stage_stats],
    }
    folder.mark_done(task.task_id, result)
    return result


class _ExclusionWriter:
    """Writes the dropped records a pipeline asks to keep, with their reason, atomically."""

    def __init__(self, folder: RunFolder, task: Task, pipeline: Pipeline):
        self.reasons = pipeline.excluded_reasons
        self.path = folder.excluded / f"{task.task_id}.jsonl.zst"
        self._writer: ShardWriter | None = None
        self._drop_fields = pipeline.drop_fields

    def add(self, drop: Drop) -> None:
        if not drop.reason.startswith(self.reasons):
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = ShardWriter(self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}"), fmt=".jsonl.zst",
                                       drop_fields=self._drop_fields)
        self._writer.write({**drop.record, "drop_reason": drop.reason})

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            os.replace(self._writer.path, self.path)


def _skip_poisoned(items: Iterable[Record | Drop], poison: set[str]) -> Iterator[Record | Drop]:
    if not poison:
        yield from items
        return
    for item in items:
        if type(item) is not Drop and item.get("source") in poison:
            yield Drop(item, "hard_timeout")
        else:
            yield item


def _reporting(items: Iterable[Record | Drop], reader: Reader, progress: ProgressFn | None):
    """Pass items through, telling ``progress`` about documents and bytes read twice a second."""
    if progress is None:
        yield from items
        return
    docs = reported_bytes = 0
    next_report = time.monotonic() + 0.5
    for item in items:
        docs += 1
        yield item
        now = time.monotonic()
        if now >= next_report:
            progress(docs, reader.bytes_read - reported_bytes)
            docs, reported_bytes, next_report = 0, reader.bytes_read, now + 0.5
    progress(docs, reader.bytes_read - reported_bytes)
