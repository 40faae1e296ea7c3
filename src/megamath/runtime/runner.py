"""Run a phase into a run folder: lock it, plan tasks, skip finished ones, execute, report.

:func:`run_phase` is the one way any job runs (a pipeline over input files, a pass of dedup, a
global step): it holds the folder's lock, refuses a changed configuration, removes what a killed run
left, drops the results of tasks whose input or output changed since they ran and of inputs that left
the run (so stale output is never served), runs the rest on the executor with a progress bar, and
writes ``stats.json``. The contract it keeps is written down in ``docs/run-folder.md``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field

import orjson

from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.lock import RunLock
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder, config_fingerprint
from megamath.runtime.stats import StageStats, merge_funnels
from megamath.runtime.task import Job, Task

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIX = re.compile(r"(\.(warc|arc|jsonl|json|parquet|html?))?(\.(gz|zst|bz2|lz4))?$", re.IGNORECASE)


class NoInputError(ValueError):
    """A phase was given nothing to do."""


def task_id_for(source: str) -> str:
    """A readable, collision-free name for the task of one input: ``<file stem>-<hash of source>``."""
    stem = _ARCHIVE_SUFFIX.sub("", source.rstrip("/").rsplit("/", 1)[-1]) or "input"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80]
    return f"{stem}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"


def combine_fingerprints(*parts: str) -> str:
    """One fingerprint from several (an input file's and the files its stages depend on)."""
    parts = tuple(p for p in parts if p)
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def write_manifest(folder: RunFolder, name: str, content: dict) -> tuple[str, str]:
    """Write the list of inputs of a global step (``folder/manifests/<name>.json``); returns its
    location and fingerprint (a digest of the content, which should carry the inputs' fingerprints)."""
    data = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    location = storage.join(folder.root, "manifests", f"{name}.json")
    storage.makedirs(storage.parent_of(location))
    storage.write_bytes(location, data)
    return location, hashlib.sha1(data).hexdigest()[:16]


@dataclass
class RunSummary:
    run_dir: str
    funnel: list[StageStats]
    tasks_total: int
    tasks_skipped: int
    docs_written: int
    shards: list[str]
    input_errors: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    tasks_changed: int = 0
    results: list[dict] = field(default_factory=list)
    funnel_this_run: list[StageStats] = field(default_factory=list)  # the tasks this run finished

    def to_dict(self, state: str = "finished") -> dict:
        return {
            "state": state,
            "run_dir": self.run_dir,
            "tasks_total": self.tasks_total,
            "tasks_resumed": self.tasks_skipped,
            "tasks_rerun_input_changed": self.tasks_changed,
            "docs_written": self.docs_written,
            "shards": self.shards,
            "input_errors": self.input_errors,
            "failed_tasks": self.failed,
            "seconds": round(self.seconds, 2),
            "funnel": [stage.to_dict() for stage in self.funnel],
        }


def plan_tasks(sources: list[str], folder: RunFolder, suffix: str, depends_on: str = "") -> list[Task]:
    """One task per input file, its output ``data/<task><suffix>``, its fingerprint the input's
    content fingerprint combined with ``depends_on`` (the fingerprint of models and indexes)."""
    tasks = []
    for source in sources:
        task_id = task_id_for(source)
        fingerprint, size = input_fingerprint(source)
        tasks.append(Task(task_id, source, folder.shard_path(task_id, suffix),
                          combine_fingerprints(fingerprint, depends_on), size=size))
    return tasks


def input_fingerprint(source: str) -> tuple[str, int | None]:
    """(fingerprint, size in bytes) of an input; see :func:`megamath.runtime.storage.fingerprint`."""
    if storage.is_http(source):
        return "url", None
    details = storage.info(source)
    return f"{details['size']}:{details['version']}", details["size"]


def run_pipeline(pipeline: Pipeline, sources: list[str], run_dir: RunFolder | str | os.PathLike[str],
                 executor: Executor, *, force: bool = False, show_progress: bool = True, desc: str | None = None
                 ) -> RunSummary:
    """Run every source not yet finished in ``run_dir`` through ``pipeline`` (see :func:`run_phase`)."""
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    return run_phase(pipeline, lambda: plan_tasks(sources, folder, pipeline.output_suffix,
                                                  pipeline.dependencies_fingerprint()),
                     folder, executor, force=force, show_progress=show_progress, desc=desc)


def run_phase(job: Job, tasks, folder: RunFolder | str, executor: Executor, *, force: bool = False,
              show_progress: bool = True, desc: str | None = None) -> RunSummary:
    """Run the unfinished ``tasks`` of ``job`` in ``folder`` (``tasks`` may be a function that plans
    them, called under the folder's lock). Finished tasks that are not among ``tasks`` are forgotten
    with their output, so the folder's output, and the summary, are exactly the results of ``tasks``."""
    started = time.monotonic()
    folder = folder if isinstance(folder, RunFolder) else RunFolder(folder)
    with folder.lock():
        folder.check_config(job.config(), force=force)
        if removed := folder.clear_interrupted():
            log.info("%s: removed %d partial shard(s) left by an interrupted run", folder.root, removed)
        job.prepare()  # before planning: a task's identity includes the models and indexes prepare() checks
        tasks = tasks() if callable(tasks) else tasks
        if not tasks:
            raise NoInputError(f"{desc or job.name}: no input to process")
        _forget_others(folder, {task.task_id for task in tasks})
        pending, changed = _pending(folder, tasks, config_fingerprint(job.config()))
        if len(pending) < len(tasks):
            log.info("resuming: %d of %d task(s) already finished", len(tasks) - len(pending), len(tasks))
        failed: dict[str, str] = {}
        finished_now: list[dict] = []
        if pending:
            for line in job.describe():
                log.info("%s", line)
            log.info("running %d task(s) with %s", len(pending), type(executor).__name__)
            live = _LiveStats(folder, len(tasks), started)
            try:
                with _ProgressBar(pending, desc or job.name, enabled=show_progress) as bar:
                    def progress(docs: int, nbytes: int) -> None:
                        RunLock.check_still_held()  # a lost lease ends the run while long tasks still run
                        bar.update(docs, nbytes)

                    for result in executor.run(pending, job, folder.root, on_progress=progress):
                        RunLock.check_still_held()  # a lost lease: stop before anything more is written
                        bar.task_finished(result["task_id"])
                        if result.get("failed"):
                            failed[result["source"]] = result["failed"]
                            log.info("task %s failed: %s", result["task_id"], result["failed"])
                        else:
                            finished_now.append(result)
                            live.task_finished(result)
            except BaseException as exc:
                # the executor or the driver stopped (a lost cluster, Ctrl-C, a lost lease): stats.json
                # says so instead of "running" for ever; what finished is kept for the rerun
                live.stopped(_describe_stop(exc))
                raise
        if removed := folder.remove_partial_shards():
            log.info("%s: removed %d partial shard(s) of attempts that died", folder.root, removed)
        summary = summarize(folder, len(tasks), len(tasks) - len(pending), failed)
        summary.tasks_changed = changed
        summary.funnel_this_run = merge_funnels(result["funnel"] for result in finished_now)
        summary.seconds = time.monotonic() - started
        RunLock.check_still_held()
        storage.write_bytes(folder.stats_path, orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2))
    return summary


class _LiveStats:
    """``stats.json`` while a phase runs (``"state": "running"``), rewritten at most every few seconds as
    tasks finish, so that ``megamath report`` on a running run shows where it is. The funnel is merged
    as tasks finish, not summed again for every write."""

    INTERVAL_S = 5.0

    def __init__(self, folder: RunFolder, total: int, started: float):
        self.folder, self.total, self.started = folder, total, started
        finished = list(folder.finished_results())
        self.funnel = {stage.name: stage for stage in merge_funnels(r["funnel"] for r in finished)}
        self.docs = sum(r["docs_written"] for r in finished)
        self.shards = [r["output"] for r in finished]
        self.written = 0.0

    def stopped(self, why: str) -> None:
        summary = RunSummary(self.folder.root, list(self.funnel.values()), self.total, 0, self.docs,
                             sorted(self.shards), seconds=time.monotonic() - self.started)
        try:
            storage.write_bytes(self.folder.stats_path,
                                orjson.dumps({**summary.to_dict("stopped"), "stopped_by": why}, option=orjson.OPT_INDENT_2))
        except OSError as exc:  # the store may be what stopped the run
            log.warning("could not record in %s that the run stopped: %s", self.folder.stats_path, exc)

    def task_finished(self, result: dict) -> None:
        for stage in merge_funnels([result["funnel"]]):
            if stage.name in self.funnel:
                self.funnel[stage.name].merge(stage)
            else:
                self.funnel[stage.name] = stage
        self.docs += result["docs_written"]
        self.shards.append(result["output"])
        now = time.monotonic()
        if now - self.written < self.INTERVAL_S:
            return
        self.written = now
        summary = RunSummary(self.folder.root, list(self.funnel.values()), self.total, 0, self.docs,
                             sorted(self.shards), seconds=now - self.started)
        storage.write_bytes(self.folder.stats_path, orjson.dumps(summary.to_dict("running"), option=orjson.OPT_INDENT_2))


def _describe_stop(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _pending(folder: RunFolder, tasks: list[Task], configuration: str) -> tuple[list[Task], int]:
    """(tasks to run, how many of them ran before on an input that has changed since). A task whose
    output has disappeared or no longer matches its seal since it finished runs again too."""
    pending, changed = [], 0
    shards = set(storage.list_files(folder.data))
    finished = set(storage.list_files(folder.done, ".json"))  # one listing instead of a lookup per task
    for task in tasks:
        done = folder.done_result(task.task_id) if folder.done_path(task.task_id) in finished else None
        if done is not None and done.get("fingerprint") == task.fingerprint and done.get("config") == configuration:
            if (damage := _output_damage(done, shards)) is None:
                continue
            log.warning("the output of %s %s: processing it again", task.task_id, damage)
            folder.forget(task.task_id, done.get("output"))
            pending.append(task)
            continue
        if done is not None:
            changed += 1
            if done.get("fingerprint") != task.fingerprint:
                log.warning("%s changed since it was processed (%s -> %s): processing it again",
                            task.source, done.get("fingerprint"), task.fingerprint)
            else:
                log.warning("%s was processed with another configuration: processing it again", task.source)
            folder.forget(task.task_id, done.get("output"))
        pending.append(task)
    return pending, changed


def _output_damage(done: dict, shards: set[str]) -> str | None:
    """Why a finished task's output cannot be trusted (missing, or changed since its seal), or None."""
    output = done.get("output")
    if not output:
        return None
    if output not in shards and not storage.exists(output):
        return f"is missing ({output})"
    expected = done.get("output_seal")
    if expected and storage.seal(output) != expected:
        return f"is damaged ({output} no longer matches the seal of its done record)"
    return None


def _forget_others(folder: RunFolder, current: set[str]) -> None:
    """The run-folder contract: a phase's output is exactly the results of its current tasks, so the
    done records and shards of inputs that left the run go."""
    for result in list(folder.finished_results()):
        if result["task_id"] not in current:
            log.warning("%s: forgetting %s, which is no longer among the inputs, and its output",
                        folder.root, result["source"])
            folder.forget(result["task_id"], result.get("output"))


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
        results=results,
    )


class _ProgressBar:
    """Input bytes with ETA when every task's input size is known, else tasks; documents per second always."""

    def __init__(self, tasks: list[Task], desc: str, enabled: bool):
        self.tasks_total = len(tasks)
        self.tasks_done = 0
        self.docs = 0
        self.started = time.monotonic()
        self._sizes = {t.task_id: t.size for t in tasks}
        self.by_bytes = bool(tasks) and None not in self._sizes.values()
        self._finished_bytes = 0
        self._bar = None
        if enabled and tasks:
            from tqdm import tqdm

            if self.by_bytes:
                self._bar = tqdm(total=sum(self._sizes.values()), unit="B", unit_scale=True, unit_divisor=1024,
                                 desc=desc, dynamic_ncols=True, mininterval=0.5)
            else:
                self._bar = tqdm(total=len(tasks), unit="task", desc=desc, dynamic_ncols=True, mininterval=0.5)
            self._refresh()

    def update(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        if self._bar is not None:
            if self.by_bytes:
                self._bar.update(nbytes)
            self._refresh()

    def task_finished(self, task_id: str) -> None:
        self.tasks_done += 1
        if self._bar is None:
            return
        if self.by_bytes:  # a task that reports no bytes (a pass over signatures) counts whole when done
            self._finished_bytes += self._sizes.get(task_id) or 0
            if self._bar.n < self._finished_bytes:
                self._bar.update(self._finished_bytes - self._bar.n)
        else:
            self._bar.update(1)
        self._refresh()

    def _refresh(self) -> None:
        rate = self.docs / max(time.monotonic() - self.started, 1e-9)
        self._bar.set_postfix_str(f"{self.docs:,} docs, {rate:,.0f} docs/s, tasks {self.tasks_done}/{self.tasks_total}",
                                  refresh=False)

    def __enter__(self) -> "_ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()
