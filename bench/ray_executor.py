"""The Ray executor against the local one, on the same real pages from ../shared, in one run.

1. Stage 1 + dedup under the Ray executor and under the local executor: the same record ids and the
   same records, in stage 1's output and in dedup's.
2. A Ray cluster of a head and two worker nodes on this machine (``ray.cluster_utils.Cluster``): one
   worker node killed halfway through stage 1 + dedup (0 records lost, 0 duplicated against the local
   run); the driver killed halfway, then the same command again (only unfinished tasks run).
3. Overhead with 2 CPUs: stage-1 throughput under Ray against the local executor (both with 2
   workers, alternating, best of --repeats; Ray's cluster start-up is reported apart), in wall time
   and in CPU seconds of the whole process tree (Ray's own daemons included).
4. What a user pays per command: a whole `megamath web extract -w 2` with each executor, cluster
   start-up and shutdown included, in CPU seconds of the process tree.

Needs the ray extra and ../shared. Run inside a network namespace with only loopback up (``make
bench`` does), so that every Ray node binds 127.0.0.1:

    unshare --net --fork sh -c 'ip link set lo up; python bench/ray_executor.py'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, write_warc_batch  # noqa: E402
from _measure import TreeSampler  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import ray_cluster  # noqa: E402


def records(run_dir: Path) -> list[str]:
    from megamath.runtime.shards import read_shard

    return [json.dumps(r, sort_keys=True) for shard in sorted((run_dir / "data").glob("*.parquet"))
            for r in read_shard(shard)]


def stage1(warcs: list[str], out: Path, executor, dedup: bool = False):
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.web import WebExtractConfig, run_stage1

    return run_stage1(WebExtractConfig(), warcs, str(out), executor, dedup=LshConfig() if dedup else None,
                      force=True, show_progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--pages-per-file", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from megamath.runtime.executor import LocalExecutor
    from megamath.runtime.ray_executor import RayExecutor

    with tempfile.TemporaryDirectory(prefix="megamath-bench-ray-") as tmp:
        tmp = Path(tmp)
        warcs = [str(p) for p in write_warc_batch(tmp / "in", args.files, args.pages_per_file)]
        pages = args.files * args.pages_per_file
        print(f"input: {pages:,} real pages in {len(warcs)} WARC files")

        started = time.perf_counter()
        ray_executor = RayExecutor(workers=2)  # starts a local cluster of 2 CPUs, as `--executor ray -w 2` does
        ray_executor._connect()
        startup = time.perf_counter() - started
        local = LocalExecutor(workers=2)

        # 1. the same records
        stage1(warcs, tmp / "local", local, dedup=True)
        stage1(warcs, tmp / "ray", ray_executor, dedup=True)
        for label, sub in (("stage 1", ""), ("stage 1 + dedup", "dedup")):
            a, b = records(tmp / "local" / sub), records(tmp / "ray" / sub)
            ids_a = {json.loads(r)["id"] for r in a}
            ids_b = {json.loads(r)["id"] for r in b}
            print(f"{label}: local {len(a):,} records, ray {len(b):,}; same ids: {ids_a == ids_b}; "
                  f"same records: {sorted(a) == sorted(b)}")
        reference_ids = {json.loads(r)["id"] for r in records(tmp / "local")}
        reference_dedup = {json.loads(r)["id"] for r in records(tmp / "local" / "dedup")}

        # 3. overhead with 2 CPUs
        best = {"local": (float("inf"), 0.0), "ray": (float("inf"), 0.0)}
        for _ in range(args.repeats):
            for name, executor in (("local", local), ("ray", ray_executor)):
                wall = time.perf_counter()
                with TreeSampler() as tree:
                    stage1(warcs, tmp / f"speed-{name}", executor)
                best[name] = min(best[name], (time.perf_counter() - wall, tree.cpu_seconds))
        (wall_l, cpu_l), (wall_r, cpu_r) = best["local"], best["ray"]
        print(f"\nstage-1 throughput, 2 CPUs, best of {args.repeats}: local {pages / wall_l:,.0f} pages/s, "
              f"ray {pages / wall_r:,.0f} pages/s -> ratio {wall_l / wall_r:.3f} (target >= 0.85)")
        print(f"CPU seconds of the process tree: local {cpu_l:.1f}, ray {cpu_r:.1f} -> ratio {cpu_l / cpu_r:.3f}; "
              f"Ray cluster start-up (once per job) {startup:.1f}s")
        ray_executor.close()

        # 4. what a user pays per command: the whole `megamath web extract`, cluster start-up included
        command = [sys.executable, "-m", "megamath.cli", "web", "extract", *warcs, "-q", "-w", "2"]
        whole = {"local": float("inf"), "ray": float("inf")}
        for repeat in range(args.repeats):
            for name in whole:
                with TreeSampler() as tree:
                    subprocess.run(command + ["--executor", name, "-o", str(tmp / f"cmd-{name}-{repeat}")], check=True,
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                whole[name] = min(whole[name], tree.cpu_seconds)
        print(f"a whole `megamath web extract -w 2`, CPU seconds of the process tree, best of {args.repeats}: "
              f"local {whole['local']:.1f}, ray {whole['ray']:.1f} -> ratio {whole['local'] / whole['ray']:.3f}, "
              f"Ray's cost per command {whole['ray'] - whole['local']:+.1f} CPU-s")

        # 2. a lost worker node, a lost driver
        lost = ray_cluster.node_loss(warcs, tmp / "node-loss", kill_after=max(2, args.files // 3))
        got = {json.loads(r)["id"] for r in records(tmp / "node-loss" / "run")}
        got_dedup = {json.loads(r)["id"] for r in records(tmp / "node-loss" / "run" / "dedup")}
        print(f"\nworker node killed after {lost['killed_node']['done_at_kill']} of {len(warcs)} stage-1 tasks "
              f"({lost['killed_node']['seconds']}s in): {lost['records']:,} records, {lost['distinct']:,} distinct; "
              f"lost {len(reference_ids - got)}, duplicated {lost['records'] - lost['distinct']}, "
              f"unexpected {len(got - reference_ids)}; dedup: same kept set as local: {got_dedup == reference_dedup}; "
              f"failed tasks: {len(lost['failed'])}")
        driver = ray_cluster.driver_loss(warcs, tmp / "driver-loss", kill_after=max(2, args.files // 3))
        print(f"driver killed with {driver['done_before_rerun']} of {len(warcs)} tasks done; the rerun ran "
              f"{driver['rerun_ran_tasks']} task(s) (exit {driver['rerun_exit']}): {driver['records']:,} records, "
              f"{driver['distinct']:,} distinct (local: {len(reference_ids):,})")


if __name__ == "__main__":
    main()
