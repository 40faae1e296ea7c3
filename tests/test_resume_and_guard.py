"""Crash safety: SIGKILL mid-run, a worker stuck in native code, a document too slow for Python."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from megamath.runtime.executor import LocalExecutor
from megamath.runtime.guard import GuardConfig
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.task import Task, run_task
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import run_pipeline
from megamath.runtime.stage import RecordStage
from megamath.sources.warc import WarcReader
from fixtures.corpus import english_page, ids_in, make_batch
from fixtures.warc_writer import Fetch, write_warc
from megamath.web.extract import ExtractConfig, ExtractText

from conftest import ROOT

def test_sigkill_mid_run_then_resume_has_no_duplicates_or_gaps(tmp_path):
    make_batch(tmp_path / "in", files=8, pages=600)
    command = [sys.executable, "-m", "megamath.cli", "web", "extract", str(tmp_path / "in" / "*.warc.gz"), "-q", "-w", "2"]
    reference = subprocess.run(command + ["-o", str(tmp_path / "ref")], capture_output=True, text=True, cwd=ROOT)
    assert reference.returncode == 0, reference.stderr
    expected = ids_in(tmp_path / "ref")
    assert len(expected) == 4800 and len(set(expected)) == 4800

    run_dir = tmp_path / "run"
    victim = subprocess.Popen(command + ["-o", str(run_dir)], cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = run_dir / ".megamath" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(done.glob("*.json")) if done.exists() else []) < 2:
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    finished_before = len(list(done.glob("*.json")))
    assert 2 <= finished_before < 8, "the kill should land mid-run"

    resumed = subprocess.run(command + ["-o", str(run_dir)], capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished_before} of 8 input(s) resumed" in resumed.stdout
    got = ids_in(run_dir)
    assert len(got) == len(set(got)) == 4800 and set(got) == set(expected)
    assert not list((run_dir / "data").glob("*.tmp-*"))
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["docs_written"] == 4800 and stats["funnel"][0]["docs_in"] == 4800


def test_worker_stuck_in_native_code_is_restarted_without_the_document(tmp_path, caplog):
    deep = b"<html><body>" + b"<div>" * 60_000 + b"deep" + b"</div>" * 60_000 + b"</body></html>"
    fetches = [Fetch("https://a.example/", english_page(1)), Fetch("https://deep.example/", deep),
               Fetch("https://b.example/", english_page(2))]
    write_warc(tmp_path / "in.warc.gz", fetches)
    # No depth limit: main-content extraction of this page runs for many minutes inside native code,
    # where neither SIGALRM nor any Python thread can interrupt it.
    pipeline = Pipeline(WarcReader(), [ExtractText(ExtractConfig(max_dom_depth=0))],
                        guard=GuardConfig(doc_timeout_s=0.5, hard_timeout_s=3))
    started = time.monotonic()
    summary = run_pipeline(pipeline, [str(tmp_path / "in.warc.gz")], tmp_path / "run", LocalExecutor(workers=1),
                           show_progress=False)
    assert time.monotonic() - started < 60
    assert summary.failed == {} and summary.docs_written == 2
    funnel = {stage.name: stage for stage in summary.funnel}
    assert dict(funnel["read"].dropped) == {"hard_timeout": 1}
    folder = RunFolder(tmp_path / "run")
    # each dead attempt names the document it was on; the document is skipped once it ended two
    deaths = (Path(folder.poison) / f"{summary.shards[0].rsplit('/', 1)[-1].removesuffix('.parquet')}.txt").read_text()
    assert deaths.splitlines() == [deaths.splitlines()[0]] * 2 and "in.warc.gz@" in deaths
    log = folder.log_path.read_text()
    assert "exceeded the hard time limit on one document (attempt 1/3)" in caplog.text
    assert "exceeded the hard time limit on one document (attempt 2/3)" in caplog.text
    assert "skipping 1 document(s) that crashed or hung two earlier attempts" in log


class KilledOnce(RecordStage):
    """Its worker is killed from outside (a lost node, the OOM killer) while on the second document."""

    name = "killed_once"

    def __init__(self, marker: str):
        self.marker = marker

    def process(self, record):
        if record["url"].endswith("/2") and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return record


def test_a_worker_lost_once_loses_no_document(tmp_path):
    write_warc(tmp_path / "in.warc.gz", [Fetch(f"https://a.example/{i}", english_page(i)) for i in range(4)])
    pipeline = Pipeline(WarcReader(), [ExtractText(), KilledOnce(str(tmp_path / "killed"))])
    summary = run_pipeline(pipeline, [str(tmp_path / "in.warc.gz")], tmp_path / "run", LocalExecutor(workers=1),
                           show_progress=False)
    assert (tmp_path / "killed").exists() and summary.failed == {}
    assert summary.docs_written == 4 and dict(summary.funnel[0].dropped) == {}
    assert not list((tmp_path / "run" / "data").glob("*.tmp-*"))  # the dead attempt's partial shard is gone


class SlowOnSomeDocuments(RecordStage):
    name = "slow"

    def process(self, record):
        if "slow" in record["url"]:
            time.sleep(30)
        return record


def test_slow_python_code_hits_the_soft_limit_and_the_task_continues(tmp_path):
    fetches = [Fetch("https://fast.example/1", english_page(1)), Fetch("https://slow.example/", english_page(2)),
               Fetch("https://fast.example/2", english_page(3))]
    write_warc(tmp_path / "in.warc.gz", fetches)
    pipeline = Pipeline(WarcReader(), [ExtractText(), SlowOnSomeDocuments()],
                        guard=GuardConfig(doc_timeout_s=0.3, hard_timeout_s=0))
    folder = RunFolder(tmp_path / "run")
    folder.create()
    started = time.monotonic()
    result = run_task(Task("t", str(tmp_path / "in.warc.gz"), folder.shard_path("t", ".jsonl")), pipeline, str(folder.root))
    assert time.monotonic() - started < 10
    assert result["docs_written"] == 2
    assert result["funnel"][-1]["dropped"] == {"timeout": 1}
    assert folder.is_done("t")


class FailsOnSomeDocuments(RecordStage):
    name = "flaky"

    def process(self, record):
        if "bad" in record["url"]:
            raise KeyError("missing field")
        return record


def test_an_exception_on_one_document_is_a_counted_drop(tmp_path):
    write_warc(tmp_path / "in.warc.gz", [Fetch("https://bad.example/", english_page(1)),
                                         Fetch("https://ok.example/", english_page(2))])
    pipeline = Pipeline(WarcReader(), [FailsOnSomeDocuments()])
    folder = RunFolder(tmp_path / "run")
    folder.create()
    result = run_task(Task("t", str(tmp_path / "in.warc.gz"), folder.shard_path("t", ".parquet")), pipeline, str(folder.root))
    assert result["docs_written"] == 1 and result["funnel"][-1]["dropped"] == {"error_KeyError": 1}


@functools.lru_cache(maxsize=None)
def convert_or_fall_back(text: str) -> str:
    """A converter that degrades on any error, as formula converters do (`except Exception`)."""
    try:
        if "slow" in text:
            time.sleep(5)
        return text.upper()
    except Exception:
        return ""


class ConvertsText(RecordStage):
    name = "convert"

    def process(self, record):
        record["text"] = convert_or_fall_back(record["url"])
        return record


def test_a_timeout_is_not_swallowed_by_graceful_degradation_nor_cached(tmp_path):
    write_warc(tmp_path / "in.warc.gz", [Fetch("https://slow.example/", english_page(1)),
                                         Fetch("https://fast.example/", english_page(2))])
    pipeline = Pipeline(WarcReader(), [ConvertsText()], guard=GuardConfig(doc_timeout_s=0.3, hard_timeout_s=0))
    folder = RunFolder(tmp_path / "run")
    folder.create()
    result = run_task(Task("t", str(tmp_path / "in.warc.gz"), folder.shard_path("t", ".jsonl")), pipeline,
                      str(folder.root))
    assert result["docs_written"] == 1 and result["funnel"][-1]["dropped"] == {"timeout": 1}
    assert convert_or_fall_back.cache_info().currsize == 1  # the interrupted call left nothing in the cache


class OutOfMemoryOn(RecordStage):
    """Runs out of memory on the documents whose URL ends with one of ``suffixes`` (all: "")."""

    name = "out_of_memory_on"

    def __init__(self, suffixes: tuple[str, ...]):
        self.suffixes = suffixes

    def process(self, record):
        if record["url"].endswith(self.suffixes):
            raise MemoryError()
        record["meta"]["worker"] = os.getpid()
        return record


def test_a_document_that_runs_out_of_memory_ends_its_worker_and_is_skipped_after_two(tmp_path):
    write_warc(tmp_path / "in.warc.gz", [Fetch(f"https://a.example/{i}", english_page(i)) for i in range(6)])
    pipeline = Pipeline(WarcReader(), [ExtractText(), OutOfMemoryOn(("/3",))])
    summary = run_pipeline(pipeline, [str(tmp_path / "in.warc.gz")], tmp_path / "run", LocalExecutor(workers=1),
                           show_progress=False)
    assert summary.failed == {} and summary.docs_written == 5
    assert dict(summary.funnel[0].dropped) == {"hard_timeout": 1}  # skipped as a document two workers died on


def test_running_out_of_memory_everywhere_fails_the_task_saying_so_and_drops_nothing(tmp_path):
    write_warc(tmp_path / "in.warc.gz", [Fetch(f"https://a.example/{i}", english_page(i)) for i in range(6)])
    pipeline = Pipeline(WarcReader(), [ExtractText(), OutOfMemoryOn(("",))])
    summary = run_pipeline(pipeline, [str(tmp_path / "in.warc.gz")], tmp_path / "run",
                           LocalExecutor(workers=1, max_attempts=3), show_progress=False)
    (error,) = summary.failed.values()
    assert "failed 3 time(s), the last time it ran out of memory (raised MemoryError" in error
    assert summary.docs_written == 0 and not summary.results  # no document dropped as if it were bad
