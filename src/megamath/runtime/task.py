"""Tasks and jobs: the unit every executor runs.

A *phase* (stage 1, a dedup pass, a classifier run) is a :class:`Job` and a list of :class:`Task`. A
job says what each task does (a :class:`~megamath.runtime.pipeline.Pipeline` of stages over one input
file, or one pass of deduplication over one band); a task names its input, its output and the
fingerprint of what it reads. :func:`run_task` is a plain module-level function over picklable
arguments, so the serial, local and Ray executors ship the same thing: it runs the job on the task,
which writes its output atomically, then records the task as done, with the fingerprints of its input
and of the job's configuration and a seal of its output. A task is finished exactly when its done
record exists with those fingerprints and its output still matches the seal, whatever killed what,
wherever it ran.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

from megamath.runtime import storage
from megamath.runtime.errors import TransientError  # noqa: F401 - raised by jobs, retried by executors
from megamath.runtime.resume import RunFolder, config_fingerprint

ProgressFn = Callable[[int, int], None]
"""Called from a task with (documents read, input bytes read) since the previous call."""


@dataclass(frozen=True)
class Task:
    """``source``: the input (a path or URL, or a manifest of inputs for a global step).
    ``output``: where the task's result goes. ``fingerprint``: what identifies the content of what it
    reads (input files, models, indexes); a done record with another fingerprint is stale.
    ``part``: which part of the input this task covers, for jobs that split one input (a band).
    ``size``: input bytes when known, for progress."""

    task_id: str
    source: str
    output: str
    fingerprint: str = ""
    part: int = 0
    size: int | None = None


class Job(ABC):
    """What every task of a phase does. Jobs pickle to workers; heavy state is built lazily there."""

    name: ClassVar[str] = "job"

    @abstractmethod
    def config(self) -> dict:
        """What determines the output (plain JSON types): a run folder refuses to resume another."""

    @abstractmethod
    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        """Do the task: write ``task.output`` atomically and return the task's result, at least
        ``docs_written`` and ``funnel`` (a list of stage statistics dicts). ``disposable``: whether
        this process may be ended by a hard time limit (a worker, not the driver)."""

    def prepare(self) -> None:
        """Checks the driver runs once before any task (refuse what cannot work up front)."""

    def describe(self) -> list[str]:
        """Lines for the run's log: what this job does with its configuration."""
        return [f"{self.name}: {self.config()}"]


def run_task(task: Task, job: Job, run_dir: str, progress: ProgressFn | None = None, *,
             disposable: bool = True) -> dict:
    """Run one task of ``job`` and record it as done in ``run_dir``; returns the task's result.

    A task already done with the same fingerprint (a retry of an attempt that finished just before
    its worker or node was lost) returns its recorded result without running again.
    """
    folder = RunFolder(run_dir)
    configuration = config_fingerprint(job.config())
    done = folder.done_result(task.task_id)
    if done is not None and (done.get("fingerprint"), done.get("config")) == (task.fingerprint, configuration):
        return done
    started = time.monotonic()
    outcome = job.run(task, folder, progress, disposable=disposable)
    result = {"task_id": task.task_id, "source": task.source, "output": task.output,
              "fingerprint": task.fingerprint, "config": configuration, "input_error": None, **outcome,
              "seconds": round(time.monotonic() - started, 3)}
    if task.output and storage.exists(task.output):
        result["output_seal"] = storage.seal(task.output)
    folder.mark_done(task.task_id, result)
    return result


def failed_result(task: Task, error: str) -> dict:
    return {"task_id": task.task_id, "source": task.source, "output": None, "failed": error}
