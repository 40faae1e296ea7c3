"""A Ray cluster of a head and two worker nodes on this machine, in a network namespace with only
loopback up (Ray binds the machine's address otherwise): a worker node lost halfway through stage 1
and dedup loses and duplicates nothing; a driver killed halfway leaves only unfinished tasks to its
rerun; a lost head stops the driver with one line. Needs the ray extra and `unshare` (root); skipped without them."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.ray


def in_namespace(*args: str) -> dict:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("the ray extra is not installed: pip install -e '.[ray]'")
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--net", "true"]).returncode != 0:
        pytest.skip("cannot make a network namespace here (unshare --net needs root)")
    script = " ".join([sys.executable, str(ROOT / "tests" / "fixtures" / "ray_cluster.py"), *args])
    result = subprocess.run(["unshare", "--net", "--fork", "sh", "-c", f"ip link set lo up; {script}"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_lost_worker_node_loses_and_duplicates_nothing(tmp_path):
    got = in_namespace("node-loss", "--out", str(tmp_path), "--files", "6", "--pages", "150", "--kill-after", "2")
    assert got["failed"] == {} and got["killed_node"]["done_at_kill"] >= 2
    assert got["records"] == got["distinct"] == got["expected"] == 900
    assert got["dedup_counts"]["documents"] == 900 and got["dedup_records"] == got["dedup_distinct"] == \
        got["dedup_counts"]["kept"]


def test_dedup_gives_the_same_result_with_a_node_lost_in_a_round_of_its_components(tmp_path):
    got = in_namespace("dedup-node-loss", "--out", str(tmp_path), "--files", "4", "--pages", "150", "--kill-after", "1")
    assert got["failed"] == {} and got["killed_node"]["done_at_kill"] >= 1
    assert got["same_kept_set"] and got["counts_equal"] and got["records"] == got["distinct"] == got["kept"] > 0


def test_a_killed_driver_leaves_only_unfinished_tasks(tmp_path):
    got = in_namespace("driver-loss", "--out", str(tmp_path), "--files", "6", "--pages", "300", "--kill-after", "2")
    assert got["rerun_exit"] == 0 and got["done_before_rerun"] >= 2
    assert got["rerun_ran_tasks"] == 6 - got["done_before_rerun"]
    assert got["records"] == got["distinct"] == got["expected"] == 1800


def test_a_lost_head_stops_the_driver_with_one_line_before_ray_ends_it(tmp_path):
    """Ray ends a driver whose head has been gone 60 s at once and without a word (exit 1, stats.json
    left "running"); the executor notices first, stops the run saying so, and a rerun on a new cluster
    gives every record once."""
    got = in_namespace("head-loss", "--out", str(tmp_path), "--files", "80", "--pages", "300", "--kill-after", "3")
    assert got["driver_exit"] == 1 and got["driver_stopped_after_s"] < 50
    assert got["stats_state"] == "stopped"
    assert len(got["messages"]) == 1 and re.fullmatch(
        r"Error: lost the Ray cluster's head: no answer from it for \d+s; finished tasks are kept: rerun once the "
        r"cluster is back", got["messages"][0])
    assert got["rerun_exit"] == 0 and got["records"] == got["distinct"] == got["expected"] == 24000
