"""First-run mistakes end in one line with the right exit code, before any phase runs where they can
be known up front: recipe values out of range, paths that do not exist, an interrupted run, nothing
to deduplicate. Each case ended in a traceback, ran for a while first, or passed unseen before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fixtures.corpus import make_batch
from megamath.runtime.shards import ShardWriter

from conftest import EXAMPLE_WARC, ROOT, run_cli


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["report", "{run}", "-o", "/missing/dir/x.html"],
                                     ["recipe", "init", "/missing/dir/r.toml"]])
def test_an_output_path_that_cannot_exist_is_one_line(tmp_path, command):
    run = tmp_path / "run"
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(run), "-q").returncode == 0
    result = run_cli(*[part.format(run=run) for part in command])
    assert result.returncode == 1
    assert "cannot use /missing/dir/" in one_line_error(result)


@pytest.mark.parametrize("signal_number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_ends_in_one_line_and_the_signals_exit_code(tmp_path, signal_number, code):
    make_batch(tmp_path / "in", files=8, pages=1500)
    # a terminal's command: SIGINT at its default even where this suite was started in the background
    # (a shell ignores SIGINT in background jobs, their children inherit that, and Python keeps it ignored)
    running = subprocess.Popen([sys.executable, "-m", "megamath.cli", "web", "extract", str(tmp_path / "in" / "*.warc.gz"),
                                "-q", "-w", "2", "-o", str(tmp_path / "run")], cwd=ROOT, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    done = tmp_path / "run" / ".megamath" / "done"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (done.is_dir() and any(done.glob("*.json"))):
        time.sleep(0.02)
    finished_at_kill = len(list(done.glob("*.json")))
    os.killpg(running.pid, signal_number)  # as a terminal's Ctrl-C does: the driver and every worker
    out, err = running.communicate(timeout=120)
    log = (tmp_path / "run" / "logs" / "run.log").read_text()
    assert running.returncode == code, (f"{finished_at_kill} of 8 tasks done at the kill\n{err}\n{out}\n"
                                        f"{log[-3000:]}")
    result = subprocess.CompletedProcess(running.args, running.returncode, out, err)
    assert "Interrupted" in one_line_error(result) and "rerun the same command to resume" in err
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["state"] == "stopped" and stats["stopped_by"]  # not "running" for ever
    resumed = run_cli("web", "extract", str(tmp_path / "in" / "*.warc.gz"), "-q", "-w", "2", "-o", str(tmp_path / "run"))
    assert resumed.returncode == 0 and "input(s) resumed" in resumed.stdout


def test_dedup_of_no_document_writes_an_empty_result(tmp_path):
    empty = tmp_path / "empty.jsonl"
    ShardWriter(empty).close()
    result = run_cli("dedup", "run", str(empty), "-o", str(tmp_path / "run"), "-q")
    assert "Traceback" not in result.stderr and "IndexError" not in result.stderr
    assert "0 documents: 0 exact and 0 near duplicates removed, 0 kept" in result.stdout
    assert "the output is empty" in result.stderr  # like every phase whose output is empty (exit 1)


def _recipe(tmp_path, **sections) -> str:
    lines = ["[run]", f'inputs = ["{EXAMPLE_WARC}"]', f'output = "{tmp_path / "run"}"']
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    path = tmp_path / "recipe.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("section, key, value, says", [
    ("classifier", "threshold", "1.5", "[classifier] threshold = 1.5 should be between 0 and 1"),
    ("reextract", "min_kept", "5.0", "[reextract] min_kept = 5.0 should be between 0 and 1"),
    ("executor", "workers", "-2", "[executor] workers = -2 should be at least 0"),
    ("executor", "max_attempts", "0", "[executor] max_attempts = 0 should be at least 1"),
    ("dedup", "ngram", "0", "[dedup] ngram = 0 should be at least 1"),
    ("decontaminate", "ngram", "0", "[decontaminate] ngram = 0 should be at least 1"),
])
def test_recipe_values_out_of_range_are_refused_before_any_phase(tmp_path, section, key, value, says):
    result = run_cli("run", _recipe(tmp_path, **{section: {key: value}}), "-q")
    assert result.returncode == 1 and says in one_line_error(result)
    assert not (tmp_path / "run").exists()


def test_an_input_on_a_host_that_does_not_resolve_is_refused_at_once(tmp_path):
    result = run_cli("web", "extract", "https://no-such-host.invalid/crawl/a.warc.gz", "-o", str(tmp_path / "run"), "-q",
                     timeout=60)
    assert result.returncode == 1
    assert "cannot resolve no-such-host.invalid" in one_line_error(result)
    assert not (tmp_path / "run" / "data").exists()


def test_an_endpoint_that_does_not_answer_leaves_no_run_folder(tmp_path):
    shard = tmp_path / "in.jsonl"
    shard.write_text('{"id": "a", "text": "Solve $x^2 = 4$.", "source": "s", "meta": {}}\n')
    result = run_cli("llm", "score", str(shard), "-o", str(tmp_path / "run"), "--model", "m", "-q",
                     "--base-url", "http://127.0.0.1:9/v1", timeout=120)
    assert result.returncode == 1 and "does not answer" in one_line_error(result)
    assert not (tmp_path / "run").exists()


def test_failures_of_one_kind_are_one_line_whatever_their_wording():
    from megamath.cli.common import grouped

    down = {f"s{i}.parquet": f"raised EndpointUnavailable: nothing but failures for 30s (the last: {why})"
            for i, why in enumerate(["timeout", "timeout", "reset", "500"])}
    down["s0.parquet"] = "raised EndpointUnavailable: gave up after 1 attempt(s) in 31s"
    assert grouped(down) == ["4 inputs (s0.parquet, s1.parquet, ...): raised EndpointUnavailable: gave up after 1 "
                             "attempt(s) in 31s"]
    retried = {**down, "s1.parquet": "failed 3 time(s), the last time it raised EndpointUnavailable: reset"}
    assert len(grouped(retried)) == 1  # tried again by the executor, or not: the same kind of failure
    few = {"a": "raised ValueError: x", "b": "raised ValueError: y"}
    assert grouped(few) == ["a: raised ValueError: x", "b: raised ValueError: y"]  # a few: each in full
    memory = {f"w{i}": "ran out of memory" for i in range(400)}
    assert grouped({**memory, "z": "raised OSError: disk full"}) == ["400 inputs (w0, w1, ...): ran out of memory",
                                                                      "z: raised OSError: disk full"]
