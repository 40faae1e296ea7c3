"""Run a pipeline over many inputs into a run folder: plan tasks, skip finished ones, execute, report."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline, Task
from megamath.runtime.resume import RunFolder, atomic_write_bytes
from megamath.runtime.stats import StageStats, merge_funnels

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIX = re.compile(r"(\.(warc|arc|jsonl|json|parquet|html?))?(\.(gz|zst|bz2|lz4))?$", re.IGNORECASE)


def task_id_for(source: str) -> str:
    """A readable, collision-free name for the task of one input: ``<file stem>-<hash of source>``."""
    stem = _ARCHIVE_SUFFIX.sub("", source.rstrip("/").rsplit("/", 1)[-1]) or "input"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80]
    return f"{stem}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"


@dataclass
class RunSummary:
    run_dir: Path
    funnel: list[StageStats]
    tasks_total: int
    tasks_skipped: int
    docs_written: int
    shards: list[str]
    input_errors: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "tasks_total": self.tasks_total,
            "tasks_resumed": self.tasks_skipped,
            "docs_written": self.docs_written,
            "shards": self.shards,
            "input_errors": self.input_errors,
            "failed_tasks": self.failed,
            "seconds": round(self.seconds, 2),
            "funnel": [stage.to_dict() for stage in self.funnel],
        }


def plan_tasks(sources: list[str], pipeline: Pipeline, folder: RunFolder) -> list[Task]:
    return [
        Task(task_id, source, str(folder.data / f"{task_id}{pipeline.output_suffix}"))
        for source in sources
        for task_id in [task_id_for(source)]
    ]


def run_pipeline(
    pipeline: Pipeline,
    sources: list[str],
    run_dir: str | os.PathLike[str],
    executor: Executor,
    *,
    force: bool = False,
    show_progress: bool = True,
) -> RunSummary:
    """Run every source not yet finished in ``run_dir``; the summary covers the whole folder."""
    started = time.monotonic()
    folder = RunFolder(run_dir)
    folder.check_config(pipeline.config(), force=force)
    if removed := folder.clear_interrupted():
        log.info("removed %d partial shard(s) left by an interrupted run", removed)
    tasks = plan_tasks(sources, pipeline, folder)
    pending = [task for task in tasks if not folder.is_done(task.task_id)]
    if len(pending) < len(tasks):
        log.info("resuming: %d of %d input(s) already finished", len(tasks) - len(pending), len(tasks))
    log.info("running %d task(s) with %s", len(pending), type(executor).__name__)

    failed: dict[str, str] = {}
    with _ProgressBar(pending, enabled=show_progress) as bar:
        for result in executor.run(pending, pipeline, str(folder.root), on_progress=bar.update):
            bar.task_finished()
            if result.get("failed"):
                failed[result["source"]] = result["failed"]
                log.info("task %s failed: %s", result["task_id"], result["failed"])

    summary = summarize(folder, len(tasks), len(tasks) - len(pending), failed)
    summary.seconds = time.monotonic() - started
    atomic_write_bytes(folder.stats_path, orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2))
    return summary


def summarize(folder: RunFolder, total: int, skipped: int, failed: dict[str, str]) -> RunSummary:
    results = list(folder.finished_results())
    return RunSummary(
        run_dir=folder.root,
        funnel=merge_funnels(result["funnel"] for result in results),
        tasks_total=total,
        tasks_skipped=skipped,
        docs_written=sum(result["docs_written"] for result in results),
        shards=sorted(result["output"] for result in results),
        input_errors={r["source"]: r["input_error"] for r in results if r.get("input_error")},
        failed=failed,
    )


class _ProgressBar:
    """Input bytes with ETA when input sizes are known, documents per second always."""

    def __init__(self, tasks: list[Task], enabled: bool):
        self.tasks_total = len(tasks)
        self.tasks_done = 0
        self.docs = 0
        self.started = time.monotonic()
        sizes = [Path(t.source).stat().st_size if Path(t.source).is_file() else None for t in tasks]
        self.total_bytes = sum(sizes) if sizes and None not in sizes else None
        self._bar = None
        if enabled and tasks:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total_bytes, unit="B", unit_scale=True, unit_divisor=1024,
                             desc="web extract", dynamic_ncols=True, mininterval=0.5)
            self._refresh()

    def update(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        if self._bar is not None:
            self._bar.update(nbytes)
            self._refresh()

    def task_finished(self) -> None:
        self.tasks_done += 1
        if self._bar is not None:
            self._refresh()

    def _refresh(self) -> None:
        rate = self.docs / max(time.monotonic() - self.started, 1e-9)
        self._bar.set_postfix_str(f"{self.docs:,} docs, {rate:,.0f} docs/s, files {self.tasks_done}/{self.tasks_total}",
                                  refresh=False)

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()
