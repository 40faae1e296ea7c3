"""Runs that cannot go stale or collide, and bad options that end in a message, never a traceback.

Each case was found by running the commands as a new user would; each exited 0 (or with a
traceback) before the run folder was locked, tasks were identified by their inputs' content and
options were checked up front.
"""

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.corpus import english_page, ids_in, make_batch
from fixtures.warc_writer import Fetch, write_warc
from megamath.runtime.shards import ShardWriter, read_shard

from conftest import EXAMPLE_WARC, ROOT, run_cli


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# -- two runs, one folder ------------------------------------------------------------------------

def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_loses_nothing(tmp_path):
    make_batch(tmp_path / "in", files=6, pages=500)
    command = [sys.executable, "-m", "megamath.cli", "web", "extract", str(tmp_path / "in" / "*.warc.gz"), "-q",
               "-w", "1", "-o", str(tmp_path / "run")]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = tmp_path / "run" / ".megamath" / "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (done.is_dir() and any(done.glob("*.json"))):
        time.sleep(0.02)
    assert first.poll() is None, "the first run should still be running"
    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    forced = subprocess.run(command + ["--force"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    still_running = first.poll() is None
    out, err = first.communicate(timeout=300)
    for refused in (second, forced):
        assert refused.returncode == 1 and "is in use by another run" in refused.stderr, refused.stderr
        assert f"pid {first.pid}" in refused.stderr
        no_traceback(refused)
    assert still_running and first.returncode == 0, err
    ids = ids_in(tmp_path / "run")
    assert len(ids) == len(set(ids)) == 3000


# -- an input changed in place -------------------------------------------------------------------

def test_an_input_changed_in_place_is_processed_again(tmp_path):
    warc = tmp_path / "crawl.warc.gz"
    write_warc(warc, [Fetch(f"https://old.example/{i}", english_page(i)) for i in range(40)])
    args = ["web", "extract", str(warc), "-o", str(tmp_path / "run"), "-q"]
    assert run_cli(*args).returncode == 0
    old = {r["url"] for r in _records(tmp_path / "run")}
    write_warc(warc, [Fetch(f"https://new.example/{i}", english_page(100 + i)) for i in range(57)])
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert "0 of 1 input(s) resumed, 1 redone because their input changed" in rerun.stdout
    new = {r["url"] for r in _records(tmp_path / "run")}
    assert len(new) == 57 and not (new & old)
    assert all(u.startswith("https://new.example/") for u in new)
    again = run_cli(*args)
    assert "1 of 1 input(s) resumed" in again.stdout  # unchanged now: nothing redone


def _distinct_text(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(f"word{rng.randrange(50_000)}" for _ in range(200))


def test_a_changed_shard_reruns_dedup_from_its_signature(tmp_path):
    shards = []
    for s in range(3):
        path = tmp_path / f"in-{s}.jsonl"
        _write(path, [{"id": f"{s}-{i}", "text": _distinct_text(s * 10 + i), "source": f"{s}:{i}"} for i in range(10)])
        shards.append(str(path))
    args = ["dedup", "run", *shards, "-o", str(tmp_path / "dedup"), "-q"]
    first = run_cli(*args)
    assert first.returncode == 0 and "30 documents: 0 exact and 0 near duplicates removed, 30 kept" in first.stdout
    signed = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "dedup" / "work" / "sign" / ".megamath" / "done").glob("*")}
    _write(Path(shards[1]), [{"id": "copy", "text": _distinct_text(0), "source": "copy"}])  # a duplicate of 0-0
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert "21 documents: 1 exact and 0 near duplicates removed, 20 kept" in rerun.stdout
    kept = {r["id"] for shard in sorted((tmp_path / "dedup" / "data").glob("*.parquet")) for r in read_shard(shard)}
    assert len(kept) == 20 and not any(i.startswith("1-") or i == "copy" for i in kept)
    resigned = {p.name for p in (tmp_path / "dedup" / "work" / "sign" / ".megamath" / "done").glob("*")
                if p.stat().st_mtime_ns != signed[p.name]}
    assert resigned == {n for n in signed if n.startswith("in-1-")}  # only the changed shard was signed again


def _records(run_dir: Path) -> list[dict]:
    return [r for shard in sorted((run_dir / "data").glob("*.parquet")) for r in read_shard(shard)]


def _write(path: Path, records: list[dict]) -> None:
    with ShardWriter(path) as writer:
        for record in records:
            writer.write(record)


# -- bad options end in a message -----------------------------------------------------------------

@pytest.fixture
def shard(tmp_path) -> str:
    path = tmp_path / "docs.jsonl"
    _write(path, [{"id": str(i), "text": english_page(i).decode(), "source": str(i)} for i in range(5)])
    return str(path)


def test_an_impossible_minhash_configuration_is_refused(tmp_path, shard):
    result = run_cli("dedup", "run", shard, "-o", str(tmp_path / "out"), "--bands", "100000", "--rows", "100000")
    assert result.returncode == 2 and "10,000,000,000 permutations" in result.stderr and "at most" in result.stderr
    no_traceback(result)
    assert not (tmp_path / "out").exists()


def test_a_warc_given_to_dedup_is_refused(tmp_path):
    result = run_cli("dedup", "run", str(EXAMPLE_WARC), "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and "is not a corpus shard" in result.stderr and "web extract" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("output", ["/proc/nope", "/dev/null/x"])
def test_an_output_folder_that_cannot_be_written_is_refused(output):
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", output)
    assert result.returncode == 2 and "cannot write the run folder" in result.stderr
    no_traceback(result)


def test_a_lid_model_that_is_not_fasttext_is_refused_up_front(tmp_path):
    model = tmp_path / "lid.bin"
    model.write_bytes(b"not a model at all\n" * 10)
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "out"), "--lid-model", str(model))
    assert result.returncode == 1 and "is not a fastText model" in result.stderr
    no_traceback(result)
    assert not list((tmp_path / "out").rglob("*.parquet"))  # refused before any document was read


@pytest.mark.parametrize("languages, message", [("", "no language to keep"),
                                                ("en,xx", "does not know the language code(s) xx")])
def test_languages_that_cannot_match_are_refused_up_front(tmp_path, languages, message):
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "out"), "--languages", languages)
    assert result.returncode == 1 and message in result.stderr
    no_traceback(result)
    assert not list((tmp_path / "out").rglob("*.parquet"))


# -- benchmarks that cannot decontaminate ----------------------------------------------------------

def test_a_benchmark_without_items_is_an_error_with_counts(tmp_path, shard):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": 1, "problem": "2+2"}\n{"id": 2, "question": "Compute 3 x 3."}\n\n')
    result = run_cli("decontaminate", shard, "-o", str(tmp_path / "out"), "--benchmark", f"tiny={empty}")
    assert result.returncode == 1
    assert "benchmark tiny" in result.stderr and "yields no item" in result.stderr
    assert "2 line(s), 0 item(s) indexed, 2 too short, 0 malformed" in result.stderr
    no_traceback(result)


def test_a_benchmark_with_malformed_lines_is_an_error_with_counts(tmp_path, shard):
    broken = tmp_path / "broken.jsonl"
    item = {"id": 1, "problem": "A train travels 120 miles in 2 hours. What is its average speed in miles per hour?"}
    broken.write_text(json.dumps(item) + "\n" + '{"id": 2, "problem": "cut off\n' + "[1, 2]\n")
    result = run_cli("decontaminate", shard, "-o", str(tmp_path / "out"), "--benchmark", f"trains={broken}")
    assert result.returncode == 1 and "malformed lines" in result.stderr
    assert "3 line(s), 1 item(s) indexed, 0 too short, 2 malformed" in result.stderr
    no_traceback(result)


def test_web_extract_decontaminates_like_decontaminate_does(tmp_path):
    extracted = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "plain"), "-q", "--format", "jsonl")
    assert extracted.returncode == 0
    quadratic = next(r for r in read_shard(next((tmp_path / "plain" / "data").glob("*.jsonl")))
                     if "quadratic" in r["url"])
    words = quadratic["text"].split()
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "gsm8k.jsonl").write_text(json.dumps({"id": "q1", "question": " ".join(words[20:60])}) + "\n")
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "run"), "-q",
                     "--benchmark-dir", str(benchmarks))
    assert result.returncode == 0, result.stderr
    assert "benchmark items indexed: 1 — gsm8k 1" in result.stdout
    assert "decontamination removed 1 document(s): gsm8k 1" in result.stdout
    report = [json.loads(line) for line in (tmp_path / "run" / "contamination.jsonl").read_text().splitlines()]
    assert [r["item"] for r in report] == ["q1"] and "quadratic" in report[0]["url"]
    assert "benchmark_gsm8k 1" in result.stdout
