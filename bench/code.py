"""MegaMath-Code's model, proven on packages it never saw: real registry packages fetched at bench
time (never committed), labelled by their purpose — a math library or not — as the stand-in for LLM
labels that this machine cannot give. Trained on one set of packages, evaluated on others, per language.

Packages (pinned; fetched into bench/.code-packages on first use, PyPI sdists with pip, npm tarballs
with npm pack):

    python      math: sympy (train), mpmath (test)   other: requests, flask, django (train), click, rich (test)
    javascript  math: mathjs (train), simple-statistics (test)   other: express, axios (train), commander, chalk (test)

Languages beyond these two are not fetched yet (Debian source packages: see issue 13).
Recall throughput: CPU seconds of `megamath code recall -w 1` over every file read, as files/s.

    python bench/code.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT  # noqa: E402
from _measure import TreeSampler  # noqa: E402

CACHE = ROOT / "bench" / ".code-packages"
PACKAGES = {
    "python": {"math": {"train": ["sympy==1.12"], "test": ["mpmath==1.3.0"]},
               "other": {"train": ["requests==2.31.0", "flask==3.0.0", "django==4.2.7"],
                         "test": ["click==8.1.7", "rich==13.7.0"]}},
    "javascript": {"math": {"train": ["mathjs@12.2.1"], "test": ["simple-statistics@7.8.3"]},
                   "other": {"train": ["express@4.18.2", "axios@1.6.2"], "test": ["commander@11.1.0", "chalk@5.3.0"]}},
}


def fetch(language: str, spec: str) -> Path:
    """The package's source archive, downloaded once."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if language == "python":
        name, version = spec.split("==")
        found = sorted(CACHE.glob(f"{name}-{version}.tar.gz")) + sorted(CACHE.glob(f"{name.capitalize()}-{version}.tar.gz"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", spec,
                            "-d", str(CACHE)], check=True)
            found = sorted(CACHE.glob(f"{name}-{version}.tar.gz")) + sorted(CACHE.glob(f"{name.capitalize()}-{version}.tar.gz"))
        return found[0]
    name, version = spec.rsplit("@", 1)
    target = CACHE / f"{name}-{version}.tgz"
    if not target.exists():
        subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", str(CACHE)], check=True,
                       capture_output=True)
    return target


def megamath(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "megamath.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"megamath {' '.join(args[:2])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="megamath-code-") as tmp:
        tmp = Path(tmp)
        shards: dict[tuple[str, str], list[str]] = {}
        for language, labels in PACKAGES.items():
            for label, splits in labels.items():
                for split, specs in splits.items():
                    archives = [str(fetch(language, spec)) for spec in specs]
                    out = tmp / f"{split}-{label}-{language}"
                    megamath("code", "read", *archives, "-o", str(out), "-q", "--languages", language, "--executor", "serial")
                    shards.setdefault((split, label), []).append(str(out / "data" / "*.parquet"))
        files = {key: sum(len(json.loads((Path(g).parent.parent / "stats.json").read_text())["shards"]) for g in globs)
                 for key, globs in shards.items()}
        print("packages read:", ", ".join(f"{split}/{label}: {n} shard(s)" for (split, label), n in files.items()))
        print(megamath("code", "train", *[a for g in shards["train", "math"] for a in ("--positive", g)],
                       *[a for g in shards["train", "other"] for a in ("--negative", g)], "-o", str(tmp / "model"),
                       "-q", "--executor", "serial").strip())
        model = tmp / "model" / "model.bin"
        report = megamath("code", "eval", str(model), *[a for g in shards["test", "math"] for a in ("--positive", f"math={g}")],
                          *[a for g in shards["test", "other"] for a in ("--negative", f"other={g}")])
        print("\n== packages never seen in training ==\n" + report)

        tests = [glob for globs in shards.values() for glob in globs]  # every file read, for the throughput
        sizes = []
        for glob in tests:
            for shard in Path(glob).parent.glob("*.parquet"):
                import pyarrow.parquet as pq

                sizes += [len(text.encode()) for text in pq.read_table(shard, columns=["text"]).column("text").to_pylist()]
        with TreeSampler() as tree:
            megamath("code", "recall", *tests, "-o", str(tmp / "recall"), "--model", str(model), "-w", "1", "-q")
        print(f"== recall, one worker: {len(sizes):,} files (median {statistics.median(sizes):,.0f} bytes) in "
              f"{tree.cpu_seconds:.2f} CPU s (start-up included): {len(sizes) / tree.cpu_seconds:,.0f} files/s ==")


if __name__ == "__main__":
    main()
