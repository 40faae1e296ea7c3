"""Faults against the whole recipe: is anything lost, duplicated, stale or corrupted, and does every
failure end in one clear line?

The recipe (extract → classify → dedup → decontaminate → reextract, with the example's seeds and
benchmark) runs over real WARC files of ../shared plus generated ones, so that each phase lasts long
enough to be hit. A clean run is the reference. Each trial damages a run in one way, lets it finish
(reruns where a user would rerun), and compares the final corpus with the reference of the same
inputs. Documents are compared by id and text:

* lost: in the reference, not in the result; stale: in the result, not in the reference;
* duplicated: an id more than once; corrupted: an id whose text differs from the reference's.

Trials:
* kill: every phase, three times, SIGKILL to the whole process group at a random moment within it;
* race: two runs started together into one folder;
* inputs: one deleted; one replaced by another of the same size with its mtime copied; one with its
  records reordered in place and its mtime put back;
* damage: a byte flipped in a finished shard of each phase, a done record cut, config.json cut;
* full disk: the output on a tmpfs too small to hold the run, then made larger (needs root);
* memory: the run under an address-space limit too small for it, then without.

    python bench/run_faults.py [--quick]        # --quick: one kill per phase
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.corpus import english_page  # noqa: E402
from fixtures.warc_writer import Fetch, write_warc  # noqa: E402
from megamath.runtime.shards import read_shard  # noqa: E402

SHARED_WARCS = ["allenai__dolma/tests/data/warc/sample-0000.warc.gz", "allenai__dolma/tests/data/warc/sample-0001.warc.gz",
                "chatnoir-eu__chatnoir-resiliparse/tests/data/warcfile.warc.gz",
                "pypi__pywb/sample_archive/warcs/iana.warc.gz"]
PHASES = ("extract", "classify", "dedup", "decontaminate", "reextract")


@dataclass
class Outcome:
    trial: str
    lost: int = 0
    stale: int = 0
    duplicated: int = 0
    corrupted: int = 0
    messages: list[str] = field(default_factory=list)  # the failures' stderr, as a user saw it
    tracebacks: int = 0
    broken: str = ""  # what else the trial required and did not get (two runs in one folder, a stall not ended)

    def clean(self) -> bool:
        return not (self.lost or self.stale or self.duplicated or self.corrupted or self.tracebacks or self.broken)


def make_inputs(folder: Path, generated: int) -> None:
    folder.mkdir(parents=True)
    shared = ROOT.parent / "shared" / "data" / "warc"
    for name in SHARED_WARCS:
        if (shared / name).is_file():
            shutil.copy(shared / name, folder / name.replace("/", "__"))
    rng = random.Random(7)
    for f in range(generated):  # pages of their own, with math in some: every phase keeps something
        fetches = []
        for i in range(400):
            page = english_page(f * 1000 + i).decode()
            if rng.random() < 0.5:
                page = page.replace("</article>", f"<p>Solve $x^2 + {i}x = {f}$ for $x$ and prove the lemma.</p></article>")
            fetches.append(Fetch(f"https://gen{f}.example/{i}", page.encode()))
        write_warc(folder / f"generated-{f:02d}.warc.gz", fetches)


def write_recipe(path: Path, inputs: Path, output: Path, workers: int = 2) -> None:
    examples = ROOT / "examples"
    path.write_text(f"""[run]
inputs = ["{inputs}/*.warc.gz"]
output = "{output}"
[executor]
workers = {workers}
[classifier]
positive = ["{examples}/seeds/math.txt"]
negative = ["{examples}/seeds/other.txt"]
dim = 16
bucket = 100000
epoch = 50
min_count = 1
threshold = 0.3
[decontaminate]
benchmarks = {{ example = "{examples}/benchmarks/example.jsonl" }}
""")


def run(recipe: Path, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "megamath.cli", "run", str(recipe), "-q"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, **popen)


def corpus(output: Path) -> list[tuple[str, str]]:
    """(id, text) of every document of the final phase; a shard that cannot be read at all counts as
    one document with an id of its own, so it shows as corrupted (served, but not the corpus)."""
    phases = json.loads((output / "recipe.json").read_text())["phases"]
    last = [p for p in phases if p.get("summary")][-1]
    documents = []
    for shard in sorted(Path(last["folder"], "data").glob("*.parquet")):
        try:
            documents += [(r["id"], r["text"]) for r in read_shard(shard)]
        except Exception as exc:  # noqa: BLE001 - whatever a damaged shard raises
            documents.append((f"unreadable shard {shard.name}", repr(exc)))
    return documents


def compare(trial: str, result: list[tuple[str, str]], reference: list[tuple[str, str]]) -> Outcome:
    want = dict(reference)
    ids = [i for i, _ in result]
    got = dict(result)
    unreadable = sum(1 for i in got if i.startswith("unreadable shard "))
    return Outcome(trial, lost=len(want.keys() - got.keys()), stale=len(got.keys() - want.keys()) - unreadable,
                   duplicated=len(ids) - len(set(ids)),
                   corrupted=unreadable + sum(1 for i, text in got.items() if i in want and want[i] != text))


def finish(recipe: Path, output: Path, reference, trial: str, failures: list[str]) -> Outcome:
    """Rerun until the recipe succeeds (as a user would), then compare."""
    for _ in range(3):
        result = run(recipe)
        if result.returncode == 0:
            break
        failures.append(result.stderr)
    outcome = compare(trial, corpus(output), reference)
    outcome.messages = [m.strip() for m in failures if m.strip()]
    outcome.tracebacks = sum("Traceback" in m for m in failures) + ("Traceback" in result.stderr)
    return outcome


def kill_during(recipe: Path, output: Path, phase: str, rng: random.Random) -> bool:
    """SIGKILL the run at a random moment of ``phase``; whether the kill landed before the run ended."""
    number = PHASES.index(phase) + 1
    marker = output / f"{number}-{phase}" / ".megamath" / "config.json"
    driver = subprocess.Popen([sys.executable, "-m", "megamath.cli", "run", str(recipe), "-q"], cwd=ROOT,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not marker.exists() and driver.poll() is None:
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.8))
    landed = driver.poll() is None
    if landed:
        os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    return landed


def fresh(work: Path, name: str, inputs: Path) -> tuple[Path, Path]:
    output = work / "runs" / name
    recipe = work / f"{name}.toml"
    write_recipe(recipe, inputs, output)
    return recipe, output


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one kill per phase instead of three")
    parser.add_argument("--generated", type=int, default=40, help="generated WARC files beside ../shared's")
    args = parser.parse_args()
    rng = random.Random(0)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("MEGAMATH_BENCH_TMP")) as scratch:
        work = Path(scratch)
        inputs = work / "inputs"
        make_inputs(inputs, args.generated)
        recipe, output = fresh(work, "reference", inputs)
        started = time.monotonic()
        clean = run(recipe)
        assert clean.returncode == 0, clean.stderr
        reference = corpus(output)
        print(f"reference: {len(reference)} documents from {len(list(inputs.iterdir()))} WARC files "
              f"({time.monotonic() - started:.0f}s)")

        for phase in PHASES:
            for attempt in range(1 if args.quick else 3):
                recipe, output = fresh(work, f"kill-{phase}-{attempt}", inputs)
                landed = kill_during(recipe, output, phase, rng)
                trial = f"kill during {phase} #{attempt + 1}" + ("" if landed else " (the run had ended: no kill)")
                outcomes.append(finish(recipe, output, reference, trial, []))

        recipe, output = fresh(work, "race", inputs)
        command = [sys.executable, "-m", "megamath.cli", "run", str(recipe), "-q"]
        racers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                  for _ in range(2)]
        errors = [p.communicate(timeout=900)[1] for p in racers]
        refused = [e for p, e in zip(racers, errors) if p.returncode != 0]
        outcome = finish(recipe, output, reference, "two runs into one folder", refused)
        outcome.messages = [e.strip() for e in refused]
        outcomes.append(outcome)

        for change in ("deleted", "replaced", "reordered"):
            changed_inputs = work / f"inputs-{change}"
            shutil.copytree(inputs, changed_inputs)
            recipe, output = fresh(work, f"input-{change}", changed_inputs)
            assert run(recipe).returncode == 0
            victim = sorted(changed_inputs.glob("generated-*.warc.gz"))[0]
            stat = victim.stat()
            if change == "deleted":
                victim.unlink()
            elif change == "replaced":
                other = work / "other.warc.gz"
                write_warc(other, [Fetch(f"https://other.example/{i}", english_page(90_000 + i)) for i in range(400)])
                data = other.read_bytes()  # cut or padded to the size of the file it replaces
                other.write_bytes(data[:stat.st_size].ljust(stat.st_size, b"\0"))
                os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                os.replace(other, victim)
            else:
                members = _members(victim.read_bytes())
                head, rest = members[:1], members[1:]
                rng.shuffle(rest)
                with open(victim, "r+b") as fh:
                    fh.write(b"".join(head + rest))
                os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            truth_recipe, truth_output = fresh(work, f"input-{change}-truth", changed_inputs)
            assert run(truth_recipe).returncode == 0
            outcomes.append(finish(recipe, output, corpus(truth_output), f"an input {change}", []))

        recipe, output = fresh(work, "damage", inputs)
        assert run(recipe).returncode == 0
        for number, phase in enumerate(PHASES, 1):
            shard = next((output / f"{number}-{phase}" / "data").glob("*.parquet"), None)
            if shard is not None:
                flip_byte(shard)
        done = next((output / "1-extract" / ".megamath" / "done").glob("*.json"))
        done.write_bytes(done.read_bytes()[:30])
        config = output / "3-dedup" / ".megamath" / "config.json"
        config.write_bytes(config.read_bytes()[:30])
        outcomes.append(finish(recipe, output, reference, "a byte flipped in a shard of each phase, a done record "
                                                          "and a config.json cut", []))

        if os.geteuid() == 0 and shutil.which("mount"):
            small = work / "small"
            small.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)], check=True)
            try:
                recipe, output = work / "disk.toml", small / "run"
                write_recipe(recipe, inputs, output)
                full = run(recipe)
                subprocess.run(["mount", "-o", "remount,size=512m", str(small)], check=True)
                outcomes.append(finish(recipe, output, reference, "a full disk, then room made",
                                       [full.stderr] if full.returncode else []))
            finally:
                subprocess.run(["umount", str(small)], check=False)

        for megabytes in (1200, 900, 700, 500):  # the largest limit the run does not fit in
            recipe, output = fresh(work, f"memory-{megabytes}", inputs)
            limited = subprocess.run(["bash", "-c", f"ulimit -v {megabytes * 1000}; "
                                                    f"exec {sys.executable} -m megamath.cli run {recipe} -q"],
                                     cwd=ROOT, capture_output=True, text=True, timeout=900)
            if limited.returncode:
                outcomes.append(finish(recipe, output, reference, f"an address-space limit of {megabytes} MB, then none",
                                       [limited.stderr]))
                break

    print_outcomes(outcomes)


def print_outcomes(outcomes: list[Outcome]) -> None:
    print(f"\n{'trial':62} {'lost':>5} {'stale':>5} {'dup':>5} {'corrupt':>7} {'tracebacks':>10}")
    for o in outcomes:
        print(f"{o.trial:62} {o.lost:5d} {o.stale:5d} {o.duplicated:5d} {o.corrupted:7d} {o.tracebacks:10d}")
        if o.broken:
            print(f"    NOT AS REQUIRED: {o.broken}")
        for message in o.messages:
            lines = [line for line in message.splitlines() if line.strip()]
            print(f"    failure ({len(lines)} line(s)): {lines[-1][:150] if lines else ''}")
    bad = [o.trial for o in outcomes if not o.clean()]
    print(f"\n{len(outcomes) - len(bad)} of {len(outcomes)} trials lost, duplicated, served stale and corrupted nothing"
          " and held every other requirement"
          + (f"; not: {', '.join(bad)}" if bad else ""))


def _members(data: bytes) -> list[bytes]:
    import zlib

    members, offset = [], 0
    while offset < len(data):
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[offset:])
        end = len(data) - len(inflater.unused_data)
        members.append(data[offset:end])
        offset = end
    return members


if __name__ == "__main__":
    main()
