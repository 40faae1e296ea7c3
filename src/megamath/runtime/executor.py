"""Executors run tasks and report their results; the local one uses worker processes on this machine.

Each task runs in a process of its own (forked from a preloaded fork server, so starting one costs
milliseconds). A task that kills its process (a native crash, the hard time limit, the OOM killer)
therefore takes nothing else down: it is retried, skipping the document it died on, up to
``max_attempts`` times, and then reported as failed while the other tasks finish.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue as queue_module
import signal
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator

import orjson

from megamath.runtime.pipeline import Pipeline, Task, run_task
from megamath.runtime.resume import RunFolder

log = logging.getLogger(__name__)

ProgressSink = Callable[[int, int], None]


class Executor(ABC):
    """Runs every task of a run and yields each task's result dict as soon as it is known."""

    @abstractmethod
    def run(
        self, tasks: list[Task], pipeline: Pipeline, run_dir: str, on_progress: ProgressSink | None = None
    ) -> Iterator[dict]: ...


@dataclass
class _Running:
    task: Task
    process: mp.process.BaseProcess
    attempt: int


class LocalExecutor(Executor):
    def __init__(self, workers: int | None = None, max_attempts: int = 3, log_level: int = logging.INFO):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_attempts = max(1, max_attempts)
        self.log_level = log_level
        if sys.platform.startswith("linux"):
            self._context = mp.get_context("forkserver")
            self._context.set_forkserver_preload(["megamath.runtime.pipeline", "megamath.web.pipeline"])
        else:
            self._context = mp.get_context("spawn")

    def run(
        self, tasks: list[Task], pipeline: Pipeline, run_dir: str, on_progress: ProgressSink | None = None
    ) -> Iterator[dict]:
        folder = RunFolder(run_dir)
        progress_queue = self._context.Queue()
        waiting = [(task, 1) for task in tasks]
        waiting.reverse()  # pop() from the end keeps input order
        running: list[_Running] = []
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    task, attempt = waiting.pop()
                    process = self._context.Process(
                        target=_worker_main,
                        args=(task, pipeline, run_dir, progress_queue, self.log_level),
                        name=f"megamath-{task.task_id}",
                        daemon=False,
                    )
                    process.start()
                    running.append(_Running(task, process, attempt))
                _forward_progress(progress_queue, on_progress, timeout=0.1)
                for entry in [r for r in running if not r.process.is_alive()]:
                    running.remove(entry)
                    entry.process.join()
                    result = self._collect(folder, entry)
                    if result is not None:
                        yield result
                    elif entry.attempt < self.max_attempts:
                        waiting.append((entry.task, entry.attempt + 1))
                    else:
                        yield _failed(entry.task, _describe_exit(entry.process.exitcode, entry.attempt))
            _forward_progress(progress_queue, on_progress, timeout=0)
        finally:
            for entry in running:
                entry.process.kill()
                entry.process.join()
            progress_queue.close()

    def _collect(self, folder: RunFolder, entry: _Running) -> dict | None:
        code = entry.process.exitcode
        if code == 0 and folder.is_done(entry.task.task_id):
            return orjson.loads(folder.done_path(entry.task.task_id).read_bytes())
        log.warning(
            "task %s (attempt %d/%d) ended with exit code %s; %s",
            entry.task.task_id, entry.attempt, self.max_attempts, code,
            "retrying" if entry.attempt < self.max_attempts else "giving up",
        )
        return None


_TASK_RAISED = 3


def _describe_exit(code: int | None, attempts: int) -> str:
    if code == _TASK_RAISED:
        return f"the task raised an error {attempts} time(s); the traceback is in logs/run.log"
    return f"the worker died {attempts} time(s) (last exit code {code}); see logs/run.log"


def _failed(task: Task, error: str) -> dict:
    return {"task_id": task.task_id, "source": task.source, "output": None, "failed": error}


def _forward_progress(progress_queue, on_progress: ProgressSink | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            docs, nbytes = progress_queue.get(timeout=remaining) if remaining > 0 else progress_queue.get_nowait()
        except queue_module.Empty:
            return
        if on_progress is not None:
            on_progress(docs, nbytes)


def _worker_main(task: Task, pipeline: Pipeline, run_dir: str, progress_queue, log_level: int) -> None:
    _die_with_parent()
    folder = RunFolder(run_dir)
    handler = logging.FileHandler(folder.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{task.task_id}] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    try:
        run_task(task, pipeline, run_dir, progress=lambda docs, nbytes: progress_queue.put((docs, nbytes)))
    except BaseException:
        logging.getLogger(__name__).exception("task %s failed", task.task_id)
        handler.flush()
        os._exit(_TASK_RAISED)
    progress_queue.close()
    progress_queue.join_thread()


def _die_with_parent() -> None:
    """Ask Linux to end this worker if the driver process dies, so no orphan keeps writing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
