"""Inputs, run folders and outputs on an object store, through the same s3fs code users run, against
an S3-compatible server on 127.0.0.1 (moto): Common Crawl's s3://commoncrawl/crawl-data/... paths,
resume, a changed object re-run, dedup and stage 2 reading WARCs back by offset, the lease lock."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from megamath.runtime.lock import RunFolderLocked, RunLock
from megamath.runtime.shards import read_shard

from conftest import EXAMPLE_WARC, run_cli

if importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("moto") is None:
    pytest.skip("needs s3fs and moto[server] (the test extra)", allow_module_level=True)

from fixtures.s3 import S3Server  # noqa: E402

CRAWL_KEY = "commoncrawl/crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/example.warc.gz"


@pytest.fixture
def s3():
    with S3Server(buckets=["commoncrawl", "runs"]) as server:
        server.fs.put_file(str(EXAMPLE_WARC), CRAWL_KEY)
        yield server


def test_stage1_dedup_and_stage2_on_the_object_store(s3):
    source = f"s3://{CRAWL_KEY}"
    first = run_cli("web", "extract", source, "-o", "s3://runs/s1", "-q", env=s3.env)
    assert first.returncode == 0, first.stderr
    assert "5 documents in 1 shard(s) under s3://runs/s1/data" in first.stdout
    shards = s3.fs.glob("runs/s1/data/*.parquet")
    assert len(shards) == 1 and not s3.fs.glob("runs/s1/data/*.tmp-*")
    records = [r for r in read_shard(f"s3://{shards[0]}")]
    assert len(records) == 5 and {r["meta"]["crawl"] for r in records} == {"CC-MAIN-2024-22"}
    assert all(r["source"].startswith(source + "@") for r in records)
    assert json.loads(s3.fs.cat_file("runs/s1/stats.json"))["docs_written"] == 5

    again = run_cli("web", "extract", source, "-o", "s3://runs/s1", "-q", env=s3.env)
    assert again.returncode == 0 and "1 of 1 input(s) resumed" in again.stdout

    dedup = run_cli("dedup", "run", "s3://runs/s1/data/*.parquet", "-o", "s3://runs/dedup", "-q", env=s3.env)
    assert dedup.returncode == 0, dedup.stderr
    assert "5 documents: 0 exact and 0 near duplicates removed, 5 kept" in dedup.stdout
    stage2 = run_cli("web", "reextract", "s3://runs/dedup/data/*.parquet", "-o", "s3://runs/s2", "-q", env=s3.env)
    assert stage2.returncode == 0, stage2.stderr  # pages read back from the WARC on S3 at their offsets
    reextracted = [r for key in s3.fs.glob("runs/s2/data/*.parquet") for r in read_shard(f"s3://{key}")]
    assert len(reextracted) >= 4 and all(r["meta"]["stage1_chars"] > 0 for r in reextracted)


def test_common_crawl_paths_from_the_bucket_and_a_changed_object(s3, tmp_path):
    env = {**s3.env, "MEGAMATH_COMMON_CRAWL_BASE": "s3://commoncrawl/"}
    path = CRAWL_KEY.removeprefix("commoncrawl/")
    first = run_cli("web", "extract", path, "-o", str(tmp_path / "run"), "-q", env=env)
    assert first.returncode == 0 and "5 documents" in first.stdout, first.stderr
    # the object is replaced by another crawl's file under the same key: its ETag changes, the task is redone
    s3.fs.pipe_file(CRAWL_KEY, _one_page_warc(tmp_path))
    rerun = run_cli("web", "extract", path, "-o", str(tmp_path / "run"), "-q", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "1 redone because their input changed" in rerun.stdout and "1 documents in 1 shard(s)" in rerun.stdout


def _one_page_warc(tmp_path) -> bytes:
    from fixtures.warc_writer import Fetch, write_warc

    page = b"<html><body><article>" + b"<p>A single English page about the prime numbers and their gaps.</p>" * 20 \
        + b"</article></body></html>"
    write_warc(tmp_path / "one.warc.gz", [Fetch("https://one.example/", page)])
    return (tmp_path / "one.warc.gz").read_bytes()


def test_a_missing_bucket_is_a_clear_error(s3):
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", "s3://no-such-bucket/run", env=s3.env)
    assert result.returncode == 2 and "cannot write the run folder s3://no-such-bucket/run" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_lease_lock_refuses_another_driver(s3):
    second_driver = [sys.executable, "-c", "from megamath.runtime.lock import RunLock\n"
                     "with RunLock('s3://runs/busy/.megamath'): print('held')"]
    with RunLock("s3://runs/busy/.megamath"):
        lease = json.loads(s3.fs.cat_file("runs/busy/.megamath/lock.json"))
        assert lease["pid"] == os.getpid() and lease["heartbeat"]
        refused = subprocess.run(second_driver, capture_output=True, text=True, env={**os.environ, **s3.env})
        assert RunFolderLocked.__name__ in refused.stderr and "is in use by another run" in refused.stderr
        assert f"pid {os.getpid()}" in refused.stderr
    assert not s3.fs.exists("runs/busy/.megamath/lock.json")  # released
    free = subprocess.run(second_driver, capture_output=True, text=True, env={**os.environ, **s3.env})
    assert free.returncode == 0 and free.stdout.strip() == "held"


# -- faults between the run and the store (a proxy that fails, delays and lies) ----------------------

@pytest.fixture
def faulty_s3():
    with S3Server(buckets=["commoncrawl", "runs"], proxy=True) as server:
        server.fs.put_file(str(EXAMPLE_WARC), CRAWL_KEY)
        yield server


def test_a_lease_that_cannot_be_renewed_is_lost_and_the_run_stops_writing(faulty_s3):
    from megamath.runtime.lock import LeaseLost

    lock = RunLock("s3://runs/lease/.megamath", ttl_s=4.0, heartbeat_s=0.5, settle_s=0.1)
    with lock:
        faulty_s3.proxy.add("PUT", "lock.json", "500", times=2)  # two failed renewals: tried again, kept
        time.sleep(2.5)
        RunLock.check_still_held()
        assert faulty_s3.proxy.seen[("PUT", "lock.json")] == 2
        faulty_s3.proxy.add("PUT", "lock.json", "500", seconds=30)  # the store refuses every renewal
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and lock.lost() is None:
            time.sleep(0.1)
        with pytest.raises(LeaseLost, match="could not be renewed"):
            RunLock.check_still_held()
        faulty_s3.proxy.clear()


def test_a_damaged_lease_is_held_and_a_dead_local_holder_is_taken_over(faulty_s3):
    faulty_s3.fs.pipe_file("runs/cut/.megamath/lock.json", b'{"pid": 12, "host": "x", "heart')
    with pytest.raises(RunFolderLocked, match="damaged lease"):
        with RunLock("s3://runs/cut/.megamath", settle_s=0.1):
            pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease = {"pid": int(dead.stdout), "host": socket.gethostname(), "started": time.time(), "command": "megamath run",
             "token": "gone", "heartbeat": time.time()}
    faulty_s3.fs.pipe_file("runs/dead/.megamath/lock.json", json.dumps(lease).encode())
    with RunLock("s3://runs/dead/.megamath", settle_s=0.1):  # its process is gone: not 120 s of refusals
        assert json.loads(faulty_s3.fs.cat_file("runs/dead/.megamath/lock.json"))["pid"] == os.getpid()


def test_failed_reads_of_done_records_and_leases_are_tried_again(faulty_s3):
    args = ["web", "extract", "s3://" + CRAWL_KEY, "-o", "s3://runs/flaky", "-q"]
    first = run_cli(*args, env=faulty_s3.env)
    assert first.returncode == 0, first.stderr
    faulty_s3.proxy.add("GET", "/.megamath/done/", "500", times=2)
    faulty_s3.proxy.add("GET", "lock.json", "500", times=1)
    again = run_cli(*args, env=faulty_s3.env)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
    assert "1 of 1 input(s) resumed" in again.stdout
    assert faulty_s3.proxy.seen[("GET", "/.megamath/done/")] == 2


@pytest.fixture(scope="module")
def example_ids(tmp_path_factory) -> list[str]:
    """The ids a clean read of the example WARC gives (read locally: ids do not depend on where)."""
    run = tmp_path_factory.mktemp("clean") / "run"
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(run), "-q").returncode == 0
    return sorted(r["id"] for shard in (run / "data").glob("*.parquet") for r in read_shard(shard))


@pytest.mark.parametrize("faults", ["lie", "cut", "cut,lie"])
def test_a_warc_read_that_fails_midway_is_tried_again_not_recorded_as_damaged(faulty_s3, faults, example_ids):
    """No bytes, half of them, or half then none: the task is tried again (a short read is
    never taken for the file's end, nor for damage that loses its records)."""
    for fault in faults.split(","):
        faulty_s3.proxy.add("GET", "example.warc.gz", fault, times=1)
    result = run_cli("web", "extract", "s3://" + CRAWL_KEY, "-o", "s3://runs/lied", "-q", env=faulty_s3.env)
    assert result.returncode == 0, result.stderr
    assert faulty_s3.proxy.seen[("GET", "example.warc.gz")] == len(faults.split(","))
    assert json.loads(faulty_s3.fs.cat_file("runs/lied/stats.json"))["input_errors"] == {}  # not "truncated"
    lied = sorted(r["id"] for key in faulty_s3.fs.glob("runs/lied/data/*.parquet") for r in read_shard("s3://" + key))
    assert lied == example_ids and len(lied) == 5  # every page, as from a clean read


def test_a_write_the_store_answers_wrongly_is_checked_and_tried_again(faulty_s3):
    """Shard and done-record PUTs answered 200 with nothing kept, then kept but answered 500, then
    refused: every shard the run names is there, whole, and no traceback follows."""
    for fault in ("lie", "done-then-500", "500"):
        faulty_s3.proxy.add("PUT", "/data/", fault, times=1)
        faulty_s3.proxy.add("PUT", "/.megamath/done/", fault, times=1)
    result = run_cli("web", "extract", "s3://" + CRAWL_KEY, "-o", "s3://runs/written", "-q", env=faulty_s3.env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert faulty_s3.proxy.seen[("PUT", "/data/")] == faulty_s3.proxy.seen[("PUT", "/.megamath/done/")] == 3
    done = [json.loads(faulty_s3.fs.cat_file(key)) for key in faulty_s3.fs.glob("runs/written/.megamath/done/*.json")]
    assert len(done) == 1 and len(list(read_shard(done[0]["output"]))) == 5


def test_of_two_drivers_racing_for_a_folder_exactly_one_wins(faulty_s3):
    """One racer's lease PUT fails late and is retried after the other has read its own lease back:
    with conditional writes the retry is refused (reading back an unconditional lease let both
    through)."""
    racer = [sys.executable, "-c", "import sys, time\nfrom megamath.runtime.lock import RunLock\n"
             "with RunLock(sys.argv[1]): print('held'); time.sleep(4)"]
    for trial in range(4):
        faulty_s3.proxy.add("PUT", "lock.json", "slow500:1.5", times=1)
        folder = f"s3://runs/race-{trial}/.megamath"
        runs = [subprocess.Popen(racer + [folder], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, **faulty_s3.env}) for _ in range(2)]
        outputs = [run.communicate(timeout=120) for run in runs]
        held = [out.strip() == "held" for out, _ in outputs]
        assert sum(held) == 1, outputs
        refused = next(err for (out, err), won in zip(outputs, held) if not won)
        assert "is in use by another run" in refused


def test_a_lease_write_stored_but_answered_500_is_still_ours(faulty_s3):
    faulty_s3.proxy.add("PUT", "lock.json", "done-then-500", times=1)
    with RunLock("s3://runs/ours/.megamath", settle_s=0.1):
        lease = json.loads(faulty_s3.fs.cat_file("runs/ours/.megamath/lock.json"))
        assert lease["pid"] == os.getpid()
    assert faulty_s3.proxy.seen[("PUT", "lock.json")] == 1


def test_a_lease_taken_while_the_store_fails_waits_the_failure_out(faulty_s3):
    """A phase's lease taken during an outage (classifier training takes one mid-run) is tried again
    until the store answers, then held; one that never can be taken is one line, not a traceback."""
    faulty_s3.proxy.add("PUT", "lock.json", "500", seconds=3.0)
    faulty_s3.proxy.add("PUT", "lock.json", "done-then-500", times=1)  # then stored, but answered 500
    with RunLock("s3://runs/outage/.megamath", ttl_s=30.0, heartbeat_s=1.0, settle_s=0.1):
        assert json.loads(faulty_s3.fs.cat_file("runs/outage/.megamath/lock.json"))["pid"] == os.getpid()
    faulty_s3.proxy.clear()
    faulty_s3.proxy.add("PUT", "lock.json", "500", seconds=60.0)
    from megamath.runtime.storage import StorageError

    with pytest.raises(StorageError, match="cannot take the lease of s3://runs/down: the store kept failing for 3s"):
        with RunLock("s3://runs/down/.megamath", ttl_s=3.0, heartbeat_s=1.0, settle_s=0.1):
            pass
