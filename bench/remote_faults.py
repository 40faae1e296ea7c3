"""Remote faults: a run folder on an object store that fails, a Ray cluster that loses nodes, an LLM
endpoint that stalls. Is anything lost, duplicated, stale or corrupted; do two runs ever share a
folder; does every stall end within its stated bound, with one clear line?

1. **s3**: the whole recipe (extract → classify → dedup → decontaminate → reextract) with its inputs and
   run folder on an S3-compatible server on 127.0.0.1 (moto), through a proxy that fails, delays, cuts
   and lies (tests/fixtures/fault_proxy.py). A clean run is the reference; each trial's final corpus is
   compared with it by document id and text (as bench/run_faults.py does locally). Trials: failed,
   cut and empty WARC reads; failed and lied-about shard and done-record writes; a slow store; lease
   renewals refused for a while; a driver cut off from its lease (its lease PUTs fail for longer than
   the lease lives) while a second driver takes the folder over; two drivers racing; a driver killed,
   then rerun at once. The lease-loss trial runs with a lease of 8 s (heartbeat 2 s) instead of 120 s
   (30 s), so that it takes seconds, not minutes; the code path is the same.
2. **ray** (needs the ray extra and a network namespace, see below): stage 1 + dedup on a head and two
   worker nodes with a worker node removed halfway; a driver killed halfway, then rerun; the head
   killed halfway (the driver must stop within a stated bound saying so, leave `stats.json` "stopped",
   and a rerun on a new cluster must give the reference's records).
3. **llm**: `megamath web pro` against an endpoint that lists its models and never answers a chat:
   the time to a failed exit, against the bound `--max-retry-time` + `--timeout`, with 1 and 2 workers.

    unshare --net --fork sh -c 'ip link set lo up; python bench/remote_faults.py'      # all three
    python bench/remote_faults.py --parts s3,llm                                       # no Ray
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_faults  # noqa: E402
from run_faults import ROOT, Outcome, compare  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))

SHORT_LEASE = ("from megamath.runtime import lock; lock.RunLock.__init__.__kwdefaults__.update(ttl_s=8.0, heartbeat_s=2.0)\n"
               "import sys; from megamath.cli.main import main; sys.argv[0] = 'megamath'; main()")


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("[")]
    return lines[-1] if lines else ""


class Store:
    """The S3 server and proxy, the inputs uploaded once, and what each trial needs around them."""

    def __init__(self, server, work: Path):
        self.server, self.work, self.proxy = server, work, server.proxy
        self.env = {**os.environ, **server.env}
        self.direct_env = {**self.env, "FSSPEC_S3_ENDPOINT_URL": server.direct_endpoint}

    def recipe(self, name: str) -> Path:
        path = self.work / f"{name}.toml"
        run_faults.write_recipe(path, "s3://runs/in", f"s3://runs/{name}")
        return path

    def start(self, recipe: Path, env: dict | None = None, short_lease: bool = False) -> subprocess.Popen:
        entry = ["-c", SHORT_LEASE] if short_lease else ["-m", "megamath.cli"]
        return subprocess.Popen([sys.executable, *entry, "run", str(recipe), "-q"], cwd=ROOT, env=env or self.env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def run(self, recipe: Path, **start) -> tuple[int, str]:
        driver = self.start(recipe, **start)
        _, err = driver.communicate(timeout=900)
        return driver.returncode, err

    def corpus(self, name: str) -> list[tuple[str, str]]:
        from megamath.runtime.shards import read_shard

        phases = json.loads(self.server.fs.cat_file(f"runs/{name}/recipe.json"))["phases"]
        folder = [p for p in phases if p.get("summary")][-1]["folder"]
        documents = []
        for key in sorted(self.server.fs.glob(folder.removeprefix("s3://") + "/data/*.parquet")):
            try:
                documents += [(r["id"], r["text"]) for r in read_shard("s3://" + key)]
            except Exception as exc:  # noqa: BLE001 - whatever a damaged shard raises
                documents.append((f"unreadable shard {key}", repr(exc)))
        return documents

    def wait_for(self, key: str, driver: subprocess.Popen, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and driver.poll() is None and not self.server.fs.exists(key):
            time.sleep(0.05)

    def finish(self, name: str, reference, trial: str, failures: list[str], rule_hits: int | None = None) -> Outcome:
        """Rerun until the recipe succeeds (as a user would), then compare with the reference."""
        self.proxy.clear()
        recipe = self.recipe(name)
        for _ in range(3):
            code, err = self.run(recipe)
            if code == 0:
                break
            failures.append(err)
        outcome = compare(trial, self.corpus(name), reference)
        outcome.messages = [m.strip() for m in failures if m.strip()]
        outcome.tracebacks = sum("Traceback" in m for m in failures) + ("Traceback" in err)
        if rule_hits is not None:
            outcome.trial += f" ({rule_hits} fault(s) served)"
        return outcome


def s3_trials(work: Path, generated: int) -> list[Outcome]:
    import logging

    from fixtures.s3 import S3Server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    inputs = work / "inputs"
    run_faults.make_inputs(inputs, generated)
    outcomes: list[Outcome] = []
    with S3Server(buckets=["runs"], proxy=True) as server:
        for path in sorted(inputs.iterdir()):
            server.fs.put_file(str(path), f"runs/in/{path.name}")
        store = Store(server, work)
        started = time.monotonic()
        code, err = store.run(store.recipe("reference"))
        assert code == 0, err
        reference = store.corpus("reference")
        print(f"s3 reference: {len(reference)} documents from {len(list(inputs.iterdir()))} WARC files on the store "
              f"({time.monotonic() - started:.0f}s)", flush=True)

        def faulted(name: str, trial: str, rules: list[tuple[str, str, str, int | None, float | None]]) -> None:
            store.proxy.clear()
            for method, path, action, times, seconds in rules:
                store.proxy.add(method, path, action, times=times, seconds=seconds)
            code, err = store.run(store.recipe(name))
            hits = sum(store.proxy.seen.values())
            store.proxy.seen.clear()
            outcomes.append(store.finish(name, reference, trial, [err] if code else [], hits))

        faulted("warc-reads", "WARC reads: 500 x4, cut x3, empty x3",
                [("GET", ".warc.gz", "500", 4, None), ("GET", ".warc.gz", "cut", 3, None),
                 ("GET", ".warc.gz", "lie", 3, None)])
        faulted("shard-writes", "shard writes: 500 x4, stored-but-500 x3",
                [("PUT", "/data/", "500", 4, None), ("PUT", "/data/", "done-then-500", 3, None)])
        faulted("shard-lies", "shard writes answered 200, nothing stored x3", [("PUT", "/data/", "lie", 3, None)])
        faulted("done-records", "done-record writes: 500 x4, lied x2; reads 500 x4",
                [("PUT", "/.megamath/done/", "500", 4, None), ("PUT", "/.megamath/done/", "lie", 2, None),
                 ("GET", "/.megamath/done/", "500", 4, None)])
        faulted("slow-store", "a slow store: every request 0.3 s late for 20 s",
                [(method, "/", "delay:0.3", None, 20.0) for method in ("GET", "PUT", "HEAD")])

        # lease renewals refused for longer than a heartbeat (30 s) but less than the lease lives
        name = "lease-renewals"
        store.proxy.clear()
        driver = store.start(store.recipe(name))
        store.wait_for(f"runs/{name}/1-extract/.megamath/config.json", driver)
        store.proxy.add("PUT", "lock.json", "500", seconds=45.0)
        _, err = driver.communicate(timeout=900)
        hits = sum(store.proxy.seen.values())
        store.proxy.seen.clear()
        outcomes.append(store.finish(name, reference, "lease renewals refused for 45 s", [err] if driver.returncode else [],
                                     hits))

        outcomes.append(lease_taken_over(store, reference))
        outcomes.append(race(store, reference))

        name = "driver-killed"
        store.proxy.clear()
        driver = store.start(store.recipe(name))
        store.wait_for(f"runs/{name}/3-dedup/.megamath/config.json", driver)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        begun = time.monotonic()
        outcome = store.finish(name, reference, "driver killed in dedup, rerun at once", [])
        outcome.trial += f" (rerun {time.monotonic() - begun:.0f}s, no lease wait)"
        outcomes.append(outcome)
    return outcomes


def lease_taken_over(store: Store, reference) -> Outcome:
    """Driver A's lease writes fail (it alone is cut off from them); driver B, talking to the store
    directly, takes the folder over once A's lease is old. A must stop writing, saying so."""
    name = "lease-lost"
    recipe = store.recipe(name)
    store.proxy.clear()
    a = store.start(recipe, short_lease=True)
    store.wait_for(f"runs/{name}/1-extract/.megamath/config.json", a)
    store.proxy.add("PUT", "lock.json", "500", seconds=120.0)
    cut_off = time.monotonic()
    time.sleep(9.0)  # A's lease is older than its 8 s now
    b_code, b_err = store.run(recipe, env=store.direct_env, short_lease=True)
    _, a_err = a.communicate(timeout=900)
    a_stopped_after = time.monotonic() - cut_off
    store.proxy.clear()
    outcome = store.finish(name, reference, "A cut off from its lease, B takes over", [] if b_code == 0 else [b_err])
    a_line = last_line(a_err)
    outcome.messages = [f"A exit {a.returncode}: {a_line}"] + outcome.messages
    outcome.tracebacks += "Traceback" in a_err
    outcome.trial += f" (B exit {b_code}; A stopped {a_stopped_after:.0f}s after the cut-off)"
    if a.returncode == 0 and b_code == 0:
        outcome.broken = "both drivers ran to the end in one folder"
    return outcome


def race(store: Store, reference) -> Outcome:
    name = "race"
    recipe = store.recipe(name)
    store.proxy.clear()
    store.proxy.add("PUT", "lock.json", "slow500:1.5", times=1)
    drivers = [store.start(recipe) for _ in range(2)]
    errors = [d.communicate(timeout=900)[1] for d in drivers]
    winners = sum(d.returncode == 0 for d in drivers)
    refused = [e for d, e in zip(drivers, errors) if d.returncode != 0]
    outcome = store.finish(name, reference, f"two drivers racing ({winners} ran to the end)", refused)
    if winners != 1:
        outcome.broken = f"{winners} drivers ran to the end in one folder"
    return outcome


# -- Ray ------------------------------------------------------------------------------------------------

def ray_trials(work: Path) -> list[Outcome]:
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("ray: skipped (pip install -e '.[ray]')")
        return []
    script = ROOT / "tests" / "fixtures" / "ray_cluster.py"
    outcomes = []
    # the head-loss run must outlast the 25 s the driver waits for a silent head
    for scenario, files, pages in (("node-loss", 8, 300), ("driver-loss", 8, 300), ("head-loss", 80, 300)):
        out = work / f"ray-{scenario}"
        result = subprocess.run([sys.executable, str(script), scenario, "--out", str(out), "--files", str(files),
                                 "--pages", str(pages), "--kill-after", "3"], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            outcomes.append(Outcome(f"ray {scenario}", messages=[result.stderr[-2000:]], tracebacks=1))
            continue
        got = json.loads(result.stdout.strip().splitlines()[-1])
        expected = got["expected"]
        outcome = Outcome(f"ray {scenario}", lost=expected - got["distinct"], duplicated=got["records"] - got["distinct"])
        outcome.trial += " (" + ", ".join(f"{k} {v}" for k, v in got.items()
                                          if k not in ("scenario", "records", "distinct", "expected", "messages")) + ")"
        outcome.messages = got.get("messages", [])
        outcome.tracebacks = sum("Traceback" in m for m in outcome.messages)
        if scenario == "head-loss" and (got["stats_state"] != "stopped" or got["driver_stderr_lines"] != 1):
            outcome.broken = "the driver did not stop with one line and stats.json 'stopped'"
        outcomes.append(outcome)
    return outcomes


# -- LLM ------------------------------------------------------------------------------------------------

class StalledEndpoint:
    """Lists its models, accepts every chat request and never answers it."""

    def __enter__(self) -> "StalledEndpoint":
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                stop.wait(3600)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def llm_trials(work: Path) -> list[Outcome]:
    from megamath.runtime.shards import ShardWriter

    shards = []
    (work / "llm-in").mkdir()
    for s in range(4):
        path = work / "llm-in" / f"shard-{s}.parquet"
        with ShardWriter(path) as writer:
            for i in range(50):
                writer.write({"id": f"d{s}-{i}", "text": f"Prove that {i} + {s} is an integer. " * 20, "source": "x",
                              "meta": {"crawl": "CC-MAIN-2024-10"}})
        shards.append(str(path))
    outcomes = []
    with StalledEndpoint() as endpoint:
        for workers, timeout, budget in ((1, 5, 20), (2, 5, 20), (1, 300, 30)):
            begun = time.monotonic()
            result = subprocess.run([sys.executable, "-m", "megamath.cli", "web", "pro", *shards, "-o",
                                     str(work / f"llm-{workers}-{timeout}"), "-q", "--model", "m", "--base-url",
                                     endpoint.base_url, "-w", str(workers), "--timeout", str(timeout),
                                     "--max-retry-time", str(budget), "--concurrency", "8"],
                                    cwd=ROOT, capture_output=True, text=True, timeout=900)
            seconds = time.monotonic() - begun
            bound = budget + min(timeout, budget) + 10  # the budget, one request in flight, start-up
            outcome = Outcome(f"stalled LLM endpoint, -w {workers} --timeout {timeout} --max-retry-time {budget}: "
                              f"exit {result.returncode} after {seconds:.0f}s (bound {bound}s)",
                              messages=[result.stderr.strip()], tracebacks=int("Traceback" in result.stderr))
            if result.returncode == 0 or seconds > bound:
                outcome.broken = "the stall was not ended within its bound"
            outcomes.append(outcome)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="s3,ray,llm", help="comma-separated: s3, ray, llm")
    parser.add_argument("--generated", type=int, default=8, help="generated WARC files beside ../shared's")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("MEGAMATH_BENCH_TMP")) as scratch:
        work = Path(scratch)
        if "s3" in parts:
            outcomes += s3_trials(work, args.generated)
        if "ray" in parts:
            outcomes += ray_trials(work)
        if "llm" in parts:
            outcomes += llm_trials(work)
    run_faults.print_outcomes(outcomes)


if __name__ == "__main__":
    main()
