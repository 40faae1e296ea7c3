"""Executors run a phase's tasks and report each task's result as soon as it is known.

Every executor ships the same thing, :func:`~megamath.runtime.task.run_task` over a task and the
phase's job, and honours the same contract (``tests/test_executors.py`` holds all of them to it):

* the records out are the same whatever the executor, the number of workers or the order of tasks;
* a task whose worker dies (a native crash, the hard time limit, the OOM killer, a lost node) or that
  raises :class:`~megamath.runtime.task.TransientError` is retried, up to ``max_attempts`` attempts;
  any other exception fails the task at once (the same input fails the same way again);
* a failed task fails alone: the others finish, and the summary names it;
* only results (counters) come back to the driver, never records; a rerun resumes through the run
  folder's done records.

:class:`SerialExecutor` runs tasks in the driver's own process, one at a time (debugging, notebooks,
tiny inputs; a worker death there is the driver's death, so the hard time limit is off).
:class:`LocalExecutor` runs them in worker processes of this machine. ``RayExecutor``
(:mod:`megamath.runtime.ray_executor`) runs them on a Ray cluster. :func:`make_executor` builds one
from an :class:`ExecutorConfig`, which every command fills from the same options.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import select
import signal
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterator

from megamath.runtime.guard import out_of_memory
from megamath.runtime.task import Job, Task, TransientError, failed_result, run_task

log = logging.getLogger(__name__)

ProgressSink = Callable[[int, int], None]
EXECUTORS = ("local", "ray", "serial")


class ExecutorError(RuntimeError):
    """The executor itself cannot work (no cluster to connect to, a cluster without CPUs, a stall)."""


@dataclass(frozen=True)
class ExecutorConfig:
    """``kind``: ``local`` (worker processes on this machine), ``ray`` (a Ray cluster) or ``serial``
    (in the driver's process). ``workers``: tasks at a time (None: every core of this machine, or of
    the Ray cluster). ``max_attempts``: attempts per task when its worker dies. ``ray_address``: a
    running Ray cluster to connect to (None: ``RAY_ADDRESS``, else start one on this machine).
    ``stall_timeout_s``: a Ray run fails, saying so, when no task finishes or reports progress for
    this long."""

    kind: str = "local"
    workers: int | None = None
    max_attempts: int = 3
    ray_address: str | None = None
    stall_timeout_s: float = 1800.0

    def __post_init__(self):
        if self.kind not in EXECUTORS:
            raise ValueError(f"unknown executor {self.kind!r}: choose one of {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class Executor(ABC):
    """Runs every task of a phase and yields each task's result dict as soon as it is known."""

    max_attempts: int = 1

    @abstractmethod
    def run(self, tasks: list[Task], job: Job, run_dir: str, on_progress: ProgressSink | None = None
            ) -> Iterator[dict]: ...

    def close(self) -> None:
        """Release what the executor holds (worker pools, a Ray cluster it started)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def make_executor(config: ExecutorConfig) -> Executor:
    if config.kind == "serial":
        return SerialExecutor(max_attempts=config.max_attempts)
    if config.kind == "ray":
        from megamath.runtime.ray_executor import RayExecutor

        return RayExecutor(workers=config.workers, max_attempts=config.max_attempts, address=config.ray_address,
                           stall_timeout_s=config.stall_timeout_s)
    return LocalExecutor(workers=config.workers, max_attempts=config.max_attempts)


def describe_failure(exc: BaseException) -> str:
    return f"raised {type(exc).__name__}: {exc}"


class SerialExecutor(Executor):
    """Tasks one after another in this process (a retry only after :class:`TransientError`)."""

    def __init__(self, max_attempts: int = 3):
        self.max_attempts = max(1, max_attempts)

    def run(self, tasks: list[Task], job: Job, run_dir: str, on_progress: ProgressSink | None = None
            ) -> Iterator[dict]:
        for task in tasks:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    result = run_task(task, job, run_dir, on_progress, disposable=False)
                except TransientError as exc:
                    log.warning("task %s %s (attempt %d/%d)", task.task_id, describe_failure(exc), attempt,
                                self.max_attempts)
                    if attempt == self.max_attempts:
                        result = failed_result(task, _gave_up(attempt, describe_failure(exc)))
                    else:
                        continue
                except Exception as exc:
                    log.error("task %s failed:\n%s", task.task_id, traceback.format_exc())
                    result = failed_result(task, describe_failure(exc))
                yield result
                break


def _gave_up(attempts: int, what_happened: str) -> str:
    return f"failed {attempts} time(s), the last time it {what_happened}; see logs/run.log"


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    task: Task | None = None
    attempt: int = 0
    retiring: bool = False


class LocalExecutor(Executor):
    """Worker processes on this machine, each running one task at a time.

    Workers receive tasks over a pipe and keep their loaded models between tasks. They are forked
    from a preloaded fork server, so replacing one costs milliseconds. A task that kills its worker
    takes nothing else down: the driver knows which task that worker held, starts a new worker, and
    retries the task (which then skips the document it died on).
    """

    def __init__(self, workers: int | None = None, max_attempts: int = 3, log_level: int = logging.INFO):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_attempts = max(1, max_attempts)
        self.log_level = log_level
        if sys.platform.startswith("linux"):
            self._context = mp.get_context("forkserver")
            self._context.set_forkserver_preload(["megamath.runtime.pipeline", "megamath.pipelines.web"])
        else:
            self._context = mp.get_context("spawn")

    def run(self, tasks: list[Task], job: Job, run_dir: str, on_progress: ProgressSink | None = None
            ) -> Iterator[dict]:
        waiting = [(task, 1) for task in reversed(tasks)]  # pop() from the end keeps input order
        workers: list[_Worker] = []
        try:
            while waiting or any(w.task for w in workers):
                for worker in [w for w in workers if w.retiring]:
                    worker.process.join()
                    workers.remove(worker)
                while waiting and len(workers) < self.workers:
                    workers.append(self._start_worker(job, run_dir))
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

    def _start_worker(self, job: Job, run_dir: str) -> _Worker:
        driver_end, worker_end = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(worker_end, job, run_dir, self.log_level, os.getpid()), name="megamath-worker"
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
        if kind == "transient":
            return self._retry_or_fail(worker, waiting, message[1])
        if kind == "retire":  # the worker is ending itself (out of memory): another attempt on a fresh one
            worker.retiring = True
            return self._retry_or_fail(worker, waiting, message[1])
        # "error": the task raised; the worker itself is fine and takes the next task
        task, worker.task = worker.task, None
        return failed_result(task, message[1])

    def _retry_or_fail(self, worker: _Worker, waiting: list, what_happened: str) -> dict | None:
        """Requeue the worker's task for another attempt, or give up on it; frees the worker."""
        task, attempt = worker.task, worker.attempt
        worker.task = None
        log.warning("task %s %s (attempt %d/%d)", task.task_id, what_happened, attempt, self.max_attempts)
        if attempt < self.max_attempts:
            waiting.append((task, attempt + 1))
            return None
        return failed_result(task, _gave_up(attempt, what_happened))


def _describe_death(exitcode: int | None) -> str:
    if exitcode == -signal.SIGPROF:
        return "exceeded the hard time limit on one document"
    if exitcode is not None and exitcode < 0:
        return f"was killed by signal {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


def configure_worker_logging(log_path, level: int) -> None:
    """Send this worker process's log records, and what native code writes to its stderr (an allocator
    that gives up prints a line per failed allocation), to the run's log file and nowhere else: the
    terminal gets the driver's one line per failure."""
    from pathlib import Path

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    with open(log_path, "ab") as log_file:
        os.dup2(log_file.fileno(), 2)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [worker %(process)d] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _worker_main(conn: Connection, job: Job, run_dir: str, log_level: int, driver_pid: int) -> None:
    from megamath.runtime.resume import RunFolder

    _die_with_driver(driver_pid)
    # Ctrl-C and SIGTERM reach the whole process group: the driver answers them and ends the workers,
    # which would otherwise each print a KeyboardInterrupt or BrokenPipeError traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(128 + signal.SIGTERM))
    configure_worker_logging(RunFolder(run_dir).log_path, log_level)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result = run_task(task, job, run_dir, progress=lambda docs, nbytes: conn.send(("progress", docs, nbytes)))
        except TransientError as exc:
            logging.getLogger(__name__).warning("task %s: %s", task.task_id, describe_failure(exc))
            conn.send(("transient", describe_failure(exc)))
        except Exception as exc:
            if out_of_memory(exc):
                # whatever it held is in an unknown state: this worker ends, a fresh one takes the next task
                logging.getLogger(__name__).error("task %s ran out of memory:\n%s", task.task_id, traceback.format_exc())
                conn.send(("retire", f"ran out of memory ({describe_failure(exc)})"))
                os._exit(_EXIT_OUT_OF_MEMORY)
            logging.getLogger(__name__).error("task %s failed:\n%s", task.task_id, traceback.format_exc())
            conn.send(("error", describe_failure(exc)))
        else:
            conn.send(("done", result))


_EXIT_OUT_OF_MEMORY = 75


def _die_with_driver(driver_pid: int) -> None:
    """End this worker the moment the driver is gone, so no orphan keeps writing without the run's lock.

    The driver is not the worker's parent (the forkserver is, and it stays up while any worker holds its
    descriptor), and a task may run for minutes without a word to the driver (a model training, a
    components pass): a thread waits on a descriptor of the driver's process instead."""
    try:
        driver = os.pidfd_open(driver_pid)
    except (AttributeError, OSError):  # not Linux 5.3+: look every second
        def watch() -> None:
            while True:
                time.sleep(1.0)
                try:
                    os.kill(driver_pid, 0)
                except ProcessLookupError:
                    os._exit(128 + signal.SIGKILL)
    else:
        def watch() -> None:
            select.select([driver], [], [])  # readable once the driver's process has ended
            os._exit(128 + signal.SIGKILL)
    threading.Thread(target=watch, name="megamath-driver-watch", daemon=True).start()
