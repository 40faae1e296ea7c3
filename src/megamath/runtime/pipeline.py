"""A pipeline is a reader, an ordered list of stages and an output format: the job whose task runs
one input through the stages into one output shard.

The task owns the per-document guard, the counters, the atomic output and the kept drops; the stages
stay pure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

from megamath.runtime import storage
from megamath.runtime.guard import DocumentGuard, GuardConfig, InflightSlot, guarding
from megamath.runtime.resume import RunFolder
from megamath.runtime.shards import ShardWriter, shard_format
from megamath.runtime.stage import Drop, Record, Stage
from megamath.runtime.stats import StageStats, counted
from megamath.runtime.task import Job, ProgressFn, Task

log = logging.getLogger(__name__)


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
class Pipeline(Job):
    reader: Reader
    stages: list[Stage]
    output_suffix: str = ".parquet"
    drop_fields: tuple[str, ...] = ()
    guard: GuardConfig = field(default_factory=GuardConfig)

    name = "pipeline"

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

    def prepare(self) -> None:
        for stage in self.stages:
            stage.prepare()

    def describe(self) -> list[str]:
        return [getattr(self.reader, "name", "read")] + [stage.describe() for stage in self.stages]

    def dependencies_fingerprint(self) -> str:
        """A digest of the content of every file a stage depends on (models, indexes), '' if none."""
        files = sorted({path for stage in self.stages for path in stage.dependencies()})
        if not files:
            return ""
        return hashlib.sha1("|".join(f"{p}={storage.fingerprint(p)}" for p in files).encode()).hexdigest()[:16]

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        """Run one input through the stages into one shard."""
        poison = folder.poisoned(task.task_id)
        if poison:
            log.warning("%s: skipping %d document(s) that crashed or hung two earlier attempts: %s",
                        task.task_id, len(poison), ", ".join(sorted(poison)[:5]))
        read_stats = StageStats(self.reader.name)
        stage_stats = [StageStats(stage.name) for stage in self.stages]
        input_error = None

        # a stage's counters live as long as its worker; this task's share is the difference
        counters_before = [Counter(getattr(stage, "counters", ())) for stage in self.stages]
        slot = InflightSlot(folder.inflight_path(task.task_id))
        guard = DocumentGuard(self.guard, slot, may_end_process=disposable)
        with ExitStack() as outputs:  # published together when the task ends well, discarded otherwise
            tmp = outputs.enter_context(storage.atomic_output(task.output))
            drops = _DropWriter(folder, task, outputs, self.drop_fields)
            with guarding(guard), ShardWriter(tmp, fmt=shard_format(task.output), drop_fields=self.drop_fields) as writer:
                for stage in self.stages:
                    stage.begin_input(task.source)
                items = _reporting(self.reader(task.source), self.reader, progress)
                stream: Iterable[Record] = counted(_skip_poisoned(items, poison), read_stats)
                for stage, stats in zip(self.stages, stage_stats):
                    stream = counted(stage(stream), stats, drops.callback(stage))
                try:
                    for record in stream:
                        writer.write(record)
                except InputError as exc:
                    input_error = str(exc)
                    log.error("%s: %s (kept the %d records read before it)", task.source, exc, read_stats.docs_out)
            slot.close()
        for stage, stats, before, upstream in zip(self.stages, stage_stats, counters_before, [read_stats, *stage_stats]):
            stats.counters = Counter(getattr(stage, "counters", ())) - before
            if hasattr(stage, "task_counters"):  # counted per task, not kept for the worker's life
                stats.counters.update(stage.task_counters())
            stats.records_in = upstream.docs_out
        return {
            "docs_written": writer.count,
            "input_error": input_error,
            "funnel": [read_stats.to_dict()] + [stats.to_dict() for stats in stage_stats],
        }


def _config_of(component: object) -> dict:
    config = getattr(component, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}


class _DropWriter:
    """Where stages' drops are written, published with the task's shard (``outputs`` closes them):
    whole records that stages keep (``Stage.keeps_dropped``), with their reason, in
    ``excluded/<task>.jsonl.zst``; the id, source, stage and reason of each drop of a stage that
    ``lists_dropped`` in ``dropped/<task>.jsonl.zst``."""

    def __init__(self, folder: RunFolder, task: Task, outputs: ExitStack, drop_fields: tuple[str, ...]):
        self._locations = {"excluded": storage.join(folder.excluded, f"{task.task_id}.jsonl.zst"),
                           "dropped": storage.join(folder.dropped, f"{task.task_id}.jsonl.zst")}
        self._outputs = outputs
        self._drop_fields = drop_fields
        self._writers: dict[str, ShardWriter] = {}

    def _write(self, kind: str, row: dict) -> None:
        if kind not in self._writers:
            tmp = self._outputs.enter_context(storage.atomic_output(self._locations[kind]))
            fields = self._drop_fields if kind == "excluded" else ()
            self._writers[kind] = self._outputs.enter_context(ShardWriter(tmp, fmt=".jsonl.zst", drop_fields=fields))
        self._writers[kind].write(row)

    def callback(self, stage: Stage):
        """The drop callback for ``stage`` (None when it keeps and lists nothing)."""
        kept, listed = stage.keeps_dropped, stage.lists_dropped
        if not kept and not listed:
            return None

        def on_drop(drop: Drop) -> None:
            if kept and drop.reason.startswith(kept):
                self._write("excluded", {**drop.record, "drop_reason": drop.reason})
            if listed:
                record = drop.record
                self._write("dropped", {"id": record.get("id"), "source": record.get("source"), "stage": stage.name,
                                        "reason": drop.reason})

        return on_drop


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
