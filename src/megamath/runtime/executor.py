"""Executors run tasks and report their results; the local one uses worker processes on this machine.

Each worker process runs one task at a time, receiving tasks over a pipe and keeping its loaded
models between tasks. Workers are forked from a preloaded fork server, so replacing one costs
milliseconds. A task that kills its worker (a native crash, the hard time limit, the OOM killer) takes
nothing else down: the driver knows which task that worker held, starts a new worker, and retries
the task (which then skips the document it died on) up to ``max_attempts`` times before reporting
it as failed while the other tasks finish.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterator


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


def failed_result(task: Task, error: str) -> dict:
    return {"task_id": task.task_id, "source": task.source, "output": None, "failed": error}


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    task: Task | None = None
    attempt: int = 0


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
        waiting = [(task, 1) for task in reversed(tasks)]  # pop() from the end keeps input order
        workers: list[_Worker] = []
        try:
            while waiting or any(w.task for w in workers):
                while waiting and len(workers) < self.workers:
                    workers.append(self._start_worker(pipeline, run_dir))
                for worker in workers:
                    if worker.task is None and waiting:
                        worker.task, worker.attempt = waiting.pop()
                        worker.conn.send(worker.task)
                busy = [w for w in workers if w.task]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for worker in busy:
                    message = None
                    if worker.conn in ready:
                        try:
                            message = worker.conn.recv()
                        except (EOFError, OSError):
                            pass  # the worker died; handled below
                    elif worker.process.sentinel not in ready:
                        continue
                    if message is None:
                        worker.process.join()
                        workers.remove(worker)
                        result = self._retry_or_fail(worker, waiting, _describe_death(worker.process.exitcode))
                    else:
                        result = self._handle(worker, message, waiting, on_progress)
                    if result is not None:
                        yield result
        finally:
            for worker in workers:
                if worker.task is None and worker.process.is_alive():
                    try:
                        worker.conn.send(None)
                    except OSError:
                        pass
                else:
                    worker.process.kill()
            for worker in workers:
                worker.process.join(timeout=10)
                if worker.process.is_alive():
                    worker.process.kill()

    def _start_worker(self, pipeline: Pipeline, run_dir: str) -> _Worker:
        driver_end, worker_end = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(worker_end, pipeline, run_dir, self.log_level), name="megamath-worker"
        )
        process.start()
        worker_end.close()
        return _Worker(process, driver_end)

    def _handle(self, worker: _Worker, message: tuple, waiting: list, on_progress: ProgressSink | None) -> dict | None:
        kind = message[0]
        if kind == "progress":
            if on_progress is not None:
                on_progress(message[1], message[2])
            return None
        if kind == "done":
            worker.task = None
            return message[1]
        # "error": the task raised an exception; the worker itself is fine and takes the next task
        return self._retry_or_fail(worker, waiting, f"raised {message[1]}")

    def _retry_or_fail(self, worker: _Worker, waiting: list, what_happened: str) -> dict | None:
        """Requeue the worker's task for another attempt, or give up on it; frees the worker."""
        task, attempt = worker.task, worker.attempt
        worker.task = None
        log.warning("task %s %s (attempt %d/%d)", task.task_id, what_happened, attempt, self.max_attempts)
        if attempt < self.max_attempts:
            waiting.append((task, attempt + 1))
            return None
        return failed_result(task, f"failed {attempt} time(s), the last time it {what_happened}; see logs/run.log")


def _describe_death(exitcode: int | None) -> str:
    if exitcode == -signal.SIGPROF:
        return "exceeded the hard time limit on one document"
    if exitcode is not None and exitcode < 0:
        return f"was killed by signal {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


def _worker_main(conn: Connection, pipeline: Pipeline, run_dir: str, log_level: int) -> None:
    _die_with_parent()
    folder = RunFolder(run_dir)
    handler = logging.FileHandler(folder.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [worker %(process)d] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result = run_task(task, pipeline, run_dir, progress=lambda docs, nbytes: conn.send(("progress", docs, nbytes)))
        except Exception as exc:
            logging.getLogger(__name__).error("task %s failed:\n%s", task.task_id, traceback.format_exc())
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            conn.send(("done", result))


def _die_with_parent() -> None:
    """Ask Linux to end this worker if its parent dies, so no orphan keeps writing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
