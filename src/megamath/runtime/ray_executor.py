"""Running a phase's tasks on a Ray cluster (the optional ``ray`` extra: ``pip install 'megamath[ray]'``).

Each task is a plain Ray task running :func:`~megamath.runtime.task.run_task`, exactly as a local
worker runs it: it reads its input and writes its output through the run folder (which every node
must reach: a shared filesystem or an object store, see :mod:`megamath.runtime.storage`) and returns
only its counters. So:

* resume is the run folder's, as locally: only tasks without a matching done record are submitted,
  and a rerun after the driver died continues where the folder says;
* Ray retries a task whose worker process or node is lost (``max_retries``) and one that raised
  :class:`~megamath.runtime.task.TransientError` (``retry_exceptions``), never one that failed
  deterministically; a retried task that had already finished returns its done record;
* the job (the pipeline with its configuration) is put in the object store once; each worker process
  keeps the copy it deserialized, with the models its stages loaded, for the tasks it runs next;
* progress comes back through a small actor the tasks report to; every wait has a timeout, and a run
  in which nothing finishes or reports progress for ``stall_timeout_s`` fails with a message (a
  cluster without free CPUs, a task stuck in a dead node's queue) instead of hanging;
* the driver asks the cluster's head (its GCS) every few seconds whether it is there: Ray itself ends a
  driver whose head has been gone for 60 s, at once and without a word, so after ``_HEAD_LOST_S`` of
  silence the run stops first, saying so, with its finished tasks kept.

The driver connects to a running cluster (``address``, or ``RAY_ADDRESS``) or starts a local one with
``workers`` CPUs, no dashboard and a small object store (only jobs and counters travel through it).
Environment variables that configure storage (``FSSPEC_*``, ``AWS_*``, ``MEGAMATH_*``) are passed on
to the workers.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Iterator

from megamath.runtime.executor import Executor, ExecutorError, ProgressSink, configure_worker_logging, describe_failure
from megamath.runtime.task import Job, Task, TransientError, failed_result, run_task

log = logging.getLogger(__name__)

_FORWARDED_ENV = ("FSSPEC_", "AWS_", "MEGAMATH_", "OPENAI_", "GOOGLE_APPLICATION_CREDENTIALS")
_LOCAL_OBJECT_STORE_BYTES = 256 * 2**20
_STALL_NOTICE_S = 60.0  # a line to the log this often while nothing happens, before the stall timeout ends the run
_HEAD_PROBE_S = 5.0  # how often the driver asks the head whether it is there (each question waits at most this)
_HEAD_LOST_S = 25.0  # no answer for this long: the head is gone (well before Ray's own 60 s exit)


class _HeadWatch:
    """Asks the head (the GCS) a trivial question every ``_HEAD_PROBE_S``; raises
    :class:`ExecutorError` once none has been answered for ``_HEAD_LOST_S``."""

    def __init__(self, ray):
        self._gcs = ray._private.worker.global_worker.gcs_client
        self._asked = self._answered = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if now - self._asked < _HEAD_PROBE_S:
            return
        self._asked = now
        try:
            self._gcs.internal_kv_get(b"megamath-head-probe", b"megamath", timeout=_HEAD_PROBE_S)
            self._answered = time.monotonic()
        except Exception as exc:  # any failure to answer (timeout, unavailable, connection reset) is silence
            silent = time.monotonic() - self._answered
            log.warning("the Ray cluster's head did not answer (%s) for %.0fs", type(exc).__name__, silent)
            if silent >= _HEAD_LOST_S:
                raise ExecutorError(f"lost the Ray cluster's head: no answer from it for {silent:.0f}s; finished "
                                    "tasks are kept: rerun once the cluster is back") from exc


def _require_ray():
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError("--executor ray needs Ray: pip install 'megamath[ray]'") from exc
    return ray


class RayExecutor(Executor):
    def __init__(self, workers: int | None = None, max_attempts: int = 3, address: str | None = None,
                 stall_timeout_s: float = 1800.0, log_level: int = logging.INFO, poll_s: float = 0.5):
        self._requested_workers = workers
        self.max_attempts = max(1, max_attempts)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.stall_timeout_s = stall_timeout_s
        self.log_level = log_level
        self.poll_s = poll_s
        self._started_cluster = False
        self._ray = None
        self._progress = None

    # -- the cluster -----------------------------------------------------------------------------
    def _connect(self):
        if self._ray is not None:
            return self._ray
        ray = _require_ray()
        env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_ENV)}
        if not ray.is_initialized():
            options = dict(include_dashboard=False, log_to_driver=True, namespace="megamath",
                           runtime_env={"env_vars": env} if env else None, configure_logging=False)
            if self.address:
                log.info("connecting to the Ray cluster at %s", self.address)
                _probe(self.address)
                try:
                    ray.init(address=self.address, **options)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise ExecutorError(f"cannot connect to the Ray cluster at {self.address}: {exc}") from exc
            else:
                cpus = self._requested_workers or os.cpu_count() or 1
                log.info("starting a local Ray cluster with %d CPU(s)", cpus)
                # idle workers are kept a minute (Ray's default: a second), so that the phases of a recipe
                # reuse warm workers instead of importing the package and loading models again
                ray.init(num_cpus=cpus, object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                         _system_config={"idle_worker_killing_time_threshold_ms": 60_000}, **options)
                self._started_cluster = True
        self._ray = ray
        return ray

    def _cluster_cpus(self) -> int:
        ray = self._connect()
        deadline = time.monotonic() + 30
        while True:
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not cpus:
            raise ExecutorError("the Ray cluster has no CPUs to run tasks on (is every worker node down?)")
        return cpus

    def close(self) -> None:
        if self._progress is not None:
            try:
                self._ray.kill(self._progress)
            except Exception:  # the cluster may be gone already; nothing is left to release then
                pass
            self._progress = None
        if self._ray is not None and self._started_cluster:
            self._ray.shutdown()
        self._ray = None
        self._started_cluster = False

    def _progress_sink(self, ray):
        """The progress actor, one per executor (starting an actor is a process start), on the driver's
        own node: losing a worker node must not lose it."""
        if self._progress is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
            self._progress = _progress_actor(ray).options(scheduling_strategy=here).remote()
        ray.get(self._progress.take.remote(), timeout=60)  # start from zero
        return self._progress

    # -- running ---------------------------------------------------------------------------------
    def run(self, tasks: list[Task], job: Job, run_dir: str, on_progress: ProgressSink | None = None
            ) -> Iterator[dict]:
        if not tasks:
            return
        ray = self._connect()
        # twice the workers: Ray starts the next task the moment a worker frees up, not a driver round-trip later
        in_flight_limit = 2 * (self._requested_workers or self._cluster_cpus())
        job_ref = ray.put(job)
        job_key = uuid.uuid4().hex
        progress = self._progress_sink(ray) if on_progress is not None else None
        remote = _remote_task(ray).options(max_retries=self.max_attempts - 1, retry_exceptions=[TransientError])
        waiting = list(tasks)
        in_flight: dict = {}
        last_event = time.monotonic()
        next_notice = _STALL_NOTICE_S
        head = _HeadWatch(ray)
        try:
            while waiting or in_flight:
                head.check()
                while waiting and len(in_flight) < in_flight_limit:
                    task = waiting.pop(0)
                    ref = remote.remote(task, [job_ref], job_key, run_dir, progress, self.log_level)
                    in_flight[ref] = task
                try:
                    ready, rest = ray.wait(list(in_flight), num_returns=1, timeout=self.poll_s)
                except (ray.exceptions.RaySystemError, ConnectionError) as exc:
                    raise ExecutorError(f"lost the Ray cluster ({type(exc).__name__}: {exc}): finished tasks are "
                                        "kept; rerun once the cluster is back") from exc
                if ready and rest:  # and whatever else finished meanwhile
                    ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
                if progress is not None and (reported := self._drain(ray, progress)):
                    on_progress(*reported)
                    last_event = time.monotonic()
                for ref in ready:
                    task = in_flight.pop(ref)
                    last_event = time.monotonic()
                    yield self._result(ray, ref, task)
                quiet_s = time.monotonic() - last_event
                if quiet_s >= next_notice:
                    log.warning("no task has finished or reported progress for %.0fs (%d running, %d waiting); "
                                "the run stops after %.0fs of this (--stall-timeout)", quiet_s, len(in_flight),
                                len(waiting), self.stall_timeout_s)
                    next_notice = quiet_s + _STALL_NOTICE_S
                elif quiet_s < _STALL_NOTICE_S:
                    next_notice = _STALL_NOTICE_S
                if quiet_s > self.stall_timeout_s:
                    raise ExecutorError(
                        f"no task finished or reported progress for {self.stall_timeout_s:.0f}s "
                        f"({len(in_flight)} running, {len(waiting)} waiting): check the cluster "
                        f"(ray status) and the run's log; rerun to resume")
        finally:
            for ref in in_flight:
                ray.cancel(ref, force=True)

    def _drain(self, ray, progress) -> tuple[int, int] | None:
        try:
            docs, nbytes = ray.get(progress.take.remote(), timeout=30)
        except ray.exceptions.RayError as exc:  # progress is a convenience: never let it fail the run
            log.warning("progress from the Ray tasks unavailable: %s", exc)
            return None
        return (docs, nbytes) if docs or nbytes else None

    def _result(self, ray, ref, task: Task) -> dict:
        try:
            return ray.get(ref, timeout=60)
        except ray.exceptions.RayTaskError as exc:  # the task raised (after retries, if transient)
            cause = exc.cause if exc.cause is not None else exc
            attempts = f"failed {self.max_attempts} time(s), the last time it " if isinstance(cause, TransientError) else ""
            log.error("task %s failed: %s", task.task_id, describe_failure(cause))
            return failed_result(task, attempts + describe_failure(cause))
        except ray.exceptions.RayError as exc:  # worker or node lost, and Ray's retries used up
            log.error("task %s failed: %s", task.task_id, exc)
            return failed_result(task, f"failed {self.max_attempts} time(s), the last time its worker was lost "
                                       f"({type(exc).__name__}); see logs/run.log")


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on an address nobody listens at (Ray's own connection attempts go on for ever)."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray resolves them itself
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster answers at {address} ({exc}): start one with `ray start --head`, "
                            "or check the address (ray status prints it)") from exc


# Ray's decorators are applied lazily, so that importing this module does not need Ray.
_remote_cache: dict[str, object] = {}


def _remote_task(ray):
    if "task" not in _remote_cache:
        _remote_cache["task"] = ray.remote(num_cpus=1)(_ray_task)
    return _remote_cache["task"]


def _progress_actor(ray):
    if "progress" not in _remote_cache:
        _remote_cache["progress"] = ray.remote(num_cpus=0)(_Progress)
    return _remote_cache["progress"]


class _Progress:
    """Sums the (documents, bytes) tasks report; the driver takes the sums twice a second."""

    def __init__(self):
        self.docs = self.nbytes = 0

    def add(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        self.nbytes += nbytes

    def take(self) -> tuple[int, int]:
        taken = (self.docs, self.nbytes)
        self.docs = self.nbytes = 0
        return taken


# per worker process: the job deserialized for this run, with whatever its stages loaded
_jobs: dict[str, Job] = {}
_logging_for: set[str] = set()


def _ray_task(task: Task, job_ref: list, job_key: str, run_dir: str, progress, log_level: int) -> dict:
    import ray

    from megamath.runtime.resume import RunFolder

    if run_dir not in _logging_for:
        configure_worker_logging(RunFolder(run_dir).log_path, log_level)
        _logging_for.add(run_dir)
    job = _jobs.get(job_key)
    if job is None:
        _jobs.clear()  # one run's job at a time per worker process
        job = _jobs[job_key] = ray.get(job_ref[0])
    log.info("task %s: an attempt starts on %s (pid %d)", task.task_id, socket.gethostname(), os.getpid())
    report = None
    if progress is not None:
        def report(docs: int, nbytes: int) -> None:
            progress.add.remote(docs, nbytes)
    return run_task(task, job, run_dir, report)
