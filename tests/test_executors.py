"""One contract for every executor: the serial one, local processes and Ray pass the same tests.

Same records out; a task whose worker dies, or that raises TransientError, is retried up to
max_attempts (a serial executor has no worker to lose: the driver is the worker); any other error
fails its task alone; a run killed at any moment resumes with only the unfinished tasks. Ray tests
need the ``ray`` extra and skip without it.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.corpus import ids_in, make_batch
from fixtures.jobs import ScriptedJob, attempts
from megamath.pipelines.web import WebExtractConfig, stage1_pipeline
from megamath.runtime.executor import LocalExecutor, SerialExecutor
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import run_phase, run_pipeline
from megamath.runtime.shards import read_shard
from megamath.runtime.task import Task

from conftest import ROOT

KINDS = ["serial", "local", pytest.param("ray", marks=pytest.mark.ray)]


@pytest.fixture(scope="session")
def ray_address():
    """A local Ray cluster for the session (2 CPUs, no dashboard, a small object store, its own temp
    folder); its workers can import the test fixtures."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 2**20, _temp_dir=temp,
             namespace="megamath-tests", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def make(kind: str, request, max_attempts: int = 3):
    if kind == "serial":
        return SerialExecutor(max_attempts=max_attempts)
    if kind == "local":
        return LocalExecutor(workers=2, max_attempts=max_attempts)
    request.getfixturevalue("ray_address")
    from megamath.runtime.ray_executor import RayExecutor

    return RayExecutor(workers=2, max_attempts=max_attempts, poll_s=0.1)


def scripted_tasks(folder: RunFolder, behaviours: dict[str, str]) -> list[Task]:
    return [Task(name, f"{name}:{behaviour}", folder.shard_path(name, ".jsonl"), "v1")
            for name, behaviour in behaviours.items()]


def records_of(run_dir) -> list[tuple]:
    return sorted((r["id"], r["text"]) for shard in sorted(Path(run_dir, "data").glob("*")) for r in read_shard(shard))


@pytest.fixture(scope="module")
def warcs(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("warcs") / "in"
    make_batch(folder, files=4, pages=30)
    return sorted(str(p) for p in folder.glob("*.warc.gz"))


@pytest.fixture(scope="module")
def reference(warcs, tmp_path_factory) -> list[tuple]:
    out = tmp_path_factory.mktemp("reference")
    run_pipeline(stage1_pipeline(WebExtractConfig()), warcs, out, SerialExecutor(), show_progress=False)
    return records_of(out)


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_records_come_out(kind, request, warcs, reference, tmp_path):
    summary = run_pipeline(stage1_pipeline(WebExtractConfig()), warcs, tmp_path / "run", make(kind, request),
                           show_progress=False)
    assert summary.failed == {} and summary.tasks_total == 4
    assert len(reference) == 120 and records_of(tmp_path / "run") == reference


@pytest.mark.parametrize("kind", KINDS)
def test_retries_what_another_attempt_can_cure(kind, request, tmp_path):
    folder = RunFolder(tmp_path / "run")
    behaviours = {"a": "ok", "b": "transient-once", "c": "ok"}
    if kind != "serial":
        behaviours["d"] = "die-once"  # the worker process is killed: only a separate worker can be retried
    job = ScriptedJob(str(tmp_path / "markers"))
    summary = run_phase(job, scripted_tasks(folder, behaviours), folder, make(kind, request, max_attempts=2),
                        show_progress=False)
    assert summary.failed == {} and summary.docs_written == 5 * len(behaviours)
    assert {name: attempts(tmp_path / "markers", name) for name in behaviours} == \
        {name: 1 if behaviour == "ok" else 2 for name, behaviour in behaviours.items()}


@pytest.mark.parametrize("kind", KINDS)
def test_gives_up_after_max_attempts(kind, request, tmp_path):
    folder = RunFolder(tmp_path / "run")
    behaviours = {"a": "ok", "b": "transient-once"} | ({} if kind == "serial" else {"d": "die-once"})
    summary = run_phase(ScriptedJob(str(tmp_path / "markers")), scripted_tasks(folder, behaviours), folder,
                        make(kind, request, max_attempts=1), show_progress=False)
    assert set(summary.failed) == set(f"{name}:{b}" for name, b in behaviours.items() if b != "ok")
    assert all("failed 1 time(s)" in error for error in summary.failed.values())
    assert folder.is_done("a")


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_task_fails_alone_and_a_rerun_retries_only_it(kind, request, tmp_path):
    folder = RunFolder(tmp_path / "run")
    tasks = scripted_tasks(folder, {"a": "ok", "b": "fail", "c": "slow"})
    job = ScriptedJob(str(tmp_path / "markers"), slow_s=0.5)
    summary = run_phase(job, tasks, folder, make(kind, request), show_progress=False)
    assert list(summary.failed) == ["b:fail"] and "ValueError: b: always fails" in summary.failed["b:fail"]
    assert attempts(tmp_path / "markers", "b") == 1  # a deterministic error is not retried
    assert folder.is_done("a") and folder.is_done("c") and summary.docs_written == 10
    rerun = run_phase(job, tasks, folder, make(kind, request), show_progress=False)
    assert rerun.tasks_skipped == 2 and list(rerun.failed) == ["b:fail"]
    assert [attempts(tmp_path / "markers", n) for n in "abc"] == [1, 2, 1]


@pytest.mark.parametrize("kind", KINDS)
def test_resumes_after_the_driver_is_killed(kind, request, tmp_path):
    make_batch(tmp_path / "in", files=8, pages=300)
    command = [sys.executable, "-m", "megamath.cli", "web", "extract", str(tmp_path / "in" / "*.warc.gz"), "-q",
               "-w", "2", "--executor", kind, "-o", str(tmp_path / "run")]
    if kind == "ray":
        command += ["--ray-address", request.getfixturevalue("ray_address")]
    victim = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    done = tmp_path / "run" / ".megamath" / "done"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(done.glob("*.json")) if done.exists() else []) < 2:
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    time.sleep(1.0 if kind == "ray" else 0)  # Ray ends the tasks of a dead driver on its own schedule
    finished_before = len(list(done.glob("*.json")))
    assert 2 <= finished_before < 8, "the kill should land mid-run"

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    skipped = int(resumed.stdout.split(" of 8 input(s) resumed")[0].rsplit("(", 1)[1])
    assert skipped >= finished_before
    log = (tmp_path / "run" / "logs" / "run.log").read_text()
    assert f"running {8 - skipped} task(s)" in log.rsplit("resuming:", 1)[1]  # only the unfinished ones ran
    ids = ids_in(tmp_path / "run")
    assert len(ids) == len(set(ids)) == 2400
    assert not list((tmp_path / "run" / "data").glob("*.tmp-*"))
