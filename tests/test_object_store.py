"""Inputs, run folders and outputs on an object store, through the same s3fs code users run, against
an S3-compatible server on 127.0.0.1 (moto): Common Crawl's s3://commoncrawl/crawl-data/... paths,
resume, a changed object re-run, dedup and stage 2 reading WARCs back by offset, the lease lock."""

import importlib.util
import json
import os
import subprocess
import sys

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
