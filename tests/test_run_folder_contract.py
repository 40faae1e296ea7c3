"""The run-folder contract (docs/run-folder.md): a phase's output is exactly the results of its current
tasks, a task's identity covers what it reads, a finished output is checked against its seal before it is
trusted, files are published on the output's own filesystem, and damage is redone with one line.

Each case was found by a user's fault trials; each served stale or foreign records, lost records, or
ended every rerun in a traceback before.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.corpus import english_page, make_batch
from fixtures.warc_writer import Fetch, write_warc
from megamath.runtime.shards import read_shard

from conftest import ROOT, run_cli


def _urls(run_dir: Path) -> list[str]:
    return [r["url"] for shard in sorted((run_dir / "data").glob("*.parquet")) for r in read_shard(shard)]


def _plain_warc(path: Path, host: str, pages: range) -> Path:
    """An uncompressed WARC, so that two hosts of one length give files of one size."""
    packed = path.with_suffix(".gz")
    write_warc(packed, [Fetch(f"https://{host}/{i}", english_page(i)) for i in pages])
    path.write_bytes(gzip.decompress(packed.read_bytes()))
    packed.unlink()
    return path


def _extract(inputs: list[str], run: Path) -> subprocess.CompletedProcess:
    result = run_cli("web", "extract", *inputs, "-o", str(run), "-q", "-w", "1")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_an_input_that_left_the_run_leaves_its_output_too(tmp_path):
    inputs = [_plain_warc(tmp_path / f"in-{k}.warc", f"site{k}.example", range(k * 10, k * 10 + 10)) for k in range(3)]
    run = tmp_path / "run"
    _extract([str(p) for p in inputs], run)
    assert len(_urls(run)) == 30
    rerun = _extract([str(p) for p in inputs[:2]], run)
    urls = _urls(run)
    assert len(urls) == 20 and not any("site2.example" in u for u in urls)
    assert len(list((run / "data").glob("*.parquet"))) == 2 and len(list((run / ".megamath" / "done").glob("*"))) == 2
    assert "2 of 2 input(s) resumed" in rerun.stdout
    assert "no longer among the inputs" in (run / "logs" / "run.log").read_text()


@pytest.mark.parametrize("how", ["replaced by another file", "rewritten in place"])
def test_an_input_changed_under_the_same_size_and_mtime_is_processed_again(tmp_path, how):
    """Another file moved over it with the first one's mtime copied, or the same inode rewritten and
    touched back: size and mtime alone would call it unchanged."""
    warc = _plain_warc(tmp_path / "in.warc", "aaa.example", range(20))
    run = tmp_path / "run"
    _extract([str(warc)], run)
    stat = warc.stat()
    time.sleep(0.01)  # a change time that differs from the first write's
    if how == "replaced by another file":
        other = _plain_warc(tmp_path / "other.warc", "bbb.example", range(20))
        os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(other, warc)
    else:
        rewritten = warc.read_bytes().replace(b"aaa.example", b"bbb.example")
        with open(warc, "r+b") as fh:
            fh.write(rewritten)
        os.utime(warc, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert warc.stat().st_size == stat.st_size and warc.stat().st_mtime_ns == stat.st_mtime_ns
    rerun = _extract([str(warc)], run)
    assert "1 redone because their input changed" in rerun.stdout
    assert {u.split("/")[2] for u in _urls(run)} == {"bbb.example"}


def test_a_damaged_shard_is_redone_with_one_line(tmp_path):
    warc = _plain_warc(tmp_path / "in.warc", "aaa.example", range(20))
    run = tmp_path / "run"
    _extract([str(warc)], run)
    urls = _urls(run)
    shard = next((run / "data").glob("*.parquet"))
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, the size unchanged
    shard.write_bytes(bytes(data))
    rerun = _extract([str(warc)], run)
    assert "0 of 1 input(s) resumed" in rerun.stdout
    assert _urls(run) == urls
    log = (run / "logs" / "run.log").read_text()
    assert f"is damaged ({shard} no longer matches the seal of its done record)" in log


@pytest.mark.parametrize("damaged", ["done", "config"])
def test_a_cut_done_record_or_configuration_is_redone_not_a_traceback(tmp_path, damaged):
    warcs = [str(_plain_warc(tmp_path / f"in-{k}.warc", f"site{k}.example", range(k * 10, k * 10 + 10)))
             for k in range(2)]
    run = tmp_path / "run"
    _extract(warcs, run)
    target = (next((run / ".megamath" / "done").glob("*.json")) if damaged == "done"
              else run / ".megamath" / "config.json")
    target.write_bytes(target.read_bytes()[:25])
    rerun = _extract(warcs, run)
    assert sorted(_urls(run)) == sorted(f"https://site{k}.example/{i}" for k in range(2) for i in range(k * 10, k * 10 + 10))
    assert ("1 of 2 input(s) resumed" if damaged == "done" else "2 of 2 input(s) resumed") in rerun.stdout
    assert "is damaged" in (run / "logs" / "run.log").read_text()


def test_the_recipe_trains_its_classifier_with_tmpdir_on_another_filesystem(tmp_path):
    """`megamath run` with TMPDIR on a tmpfs (Fedora's and Arch's /tmp) and the output elsewhere: the
    model trained under TMPDIR is published beside its output, not renamed across devices."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's folder")
    scratch = Path(tempfile.mkdtemp(dir=shm))
    examples = ROOT / "examples"
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"""[run]
inputs = ["{examples / 'example.warc.gz'}"]
output = "{tmp_path / 'run'}"
[classifier]
positive = ["{examples / 'seeds' / 'math.txt'}"]
negative = ["{examples / 'seeds' / 'other.txt'}"]
dim = 16
bucket = 100000
epoch = 50
min_count = 1
""")
    try:
        result = run_cli("run", str(recipe), "-q", env={"TMPDIR": str(scratch)})
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "run" / "2-classify" / "model.bin").is_file()
        assert (tmp_path / "run" / "2-classify" / "model.bin.folded.bin").is_file()
        assert not list(scratch.rglob("*.bin"))  # nothing left behind on the other filesystem
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_recipe_holds_every_phase_folder_while_it_runs(tmp_path):
    make_batch(tmp_path / "in", files=4, pages=1500)
    recipe = tmp_path / "recipe.toml"
    init = run_cli("recipe", "init", str(recipe), "--input", str(tmp_path / "in" / "*.warc.gz"),
                   "--output", str(tmp_path / "run"))
    assert init.returncode == 0, init.stderr
    running = subprocess.Popen([sys.executable, "-m", "megamath.cli", "run", str(recipe), "-q"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    extracted = tmp_path / "run" / "1-extract" / "data"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(extracted.glob("*.parquet")):
        time.sleep(0.02)
    assert running.poll() is None, "the recipe should still be extracting"
    shard = next(extracted.glob("*.parquet"))
    intruder = run_cli("web", "reextract", str(shard), "-o", str(tmp_path / "run" / "5-reextract"), "-q")
    out, err = running.communicate(timeout=600)
    assert running.returncode == 0, err
    assert intruder.returncode == 1 and "is in use by another run" in intruder.stderr, intruder.stderr


def test_report_on_a_damaged_stats_file_is_built_from_the_done_records(tmp_path):
    warc = _plain_warc(tmp_path / "in.warc", "aaa.example", range(20))
    run = tmp_path / "run"
    _extract([str(warc)], run)
    (run / "stats.json").write_text('{"state": "fini')
    result = run_cli("report", str(run), "-o", str(tmp_path / "r.html"))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "stats.json is damaged" in result.stderr and (tmp_path / "r.html").stat().st_size > 0


def test_workers_die_with_a_killed_driver_and_write_nothing_after_it(tmp_path):
    """Tasks that report no progress for a long while (a model training, a components pass) never touch
    the driver's pipe, so nothing told their workers it was gone: they ran on, without the lock."""
    driver_script = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from fixtures.jobs import ScriptedJob
from megamath.runtime.executor import LocalExecutor
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import run_phase
from megamath.runtime.task import Task
folder = RunFolder({str(tmp_path / "run")!r})
tasks = [Task(name, name + ":slow", folder.shard_path(name, ".jsonl"), "v1") for name in ("a", "b")]
run_phase(ScriptedJob({str(tmp_path / "markers")!r}, slow_s=30), tasks, folder, LocalExecutor(workers=2),
          show_progress=False)
"""
    driver = subprocess.Popen([sys.executable, "-c", driver_script], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    markers = tmp_path / "markers"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(markers.glob("*.1")) if markers.is_dir() else []) < 2:
        time.sleep(0.02)  # both tasks started: each sleeps 30 s before it writes anything
    workers = [int(m.read_text()) for m in markers.glob("*.1")]
    assert len(workers) == 2, "the driver should have started both tasks"
    driver.kill()  # the driver alone, as the OOM killer or `kill -9 PID` would
    driver.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)], "workers outlived their driver"
    assert not list((tmp_path / "run" / ".megamath" / "done").glob("*.json"))  # nothing written without the lock


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = []
    for child in (int(c) for c in children.read_text().split()) if children.exists() else []:
        found += [child, *_descendants(child)]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # gone before the read, or while it read (ProcessLookupError)
        return False
    return state != "Z"
