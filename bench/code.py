"""MegaMath-Code's model, proven on packages it never saw: real registry packages fetched at bench
time (never committed), labelled by their purpose — a math library or not — as the stand-in for LLM
labels that this machine cannot give. Trained on one set of packages, evaluated on others, per language.

Packages (pinned; fetched into bench/.code-packages on first use: PyPI sdists with pip, npm tarballs with
npm pack, Debian bookworm source packages with apt-get through a private configuration):

    python      math: sympy | mpmath                         other: requests, flask, django | click, rich
    javascript  math: mathjs | simple-statistics             other: express, axios | commander, chalk
    c           math: gsl | mpfr4, glpk                      other: curl | jansson, libevent
    c++         math: eigen3 | armadillo                     other: yaml-cpp, fmtlib | nlohmann-json3, spdlog
    go          math: math/big | math/cmplx, bits, rand      other: net/http | encoding/json, archive/tar (Go 1.19)
    java        math: commons-math3 | jama, mtj              other: commons-io | jackson-core
    r           math: polynom, DEoptim, contfrac | numDeriv, hypergeo, elliptic, orthopolynom
                                                             other: httr, stringr | jsonlite, glue
    rust        math: num-bigint, num-traits | libm          other: serde_json, clap | regex, url
    sql         math: PostgreSQL's regression tests of numeric and geometric types | other: its JSON, DDL,
                privilege, rule, PL/pgSQL tests (train and test on different files)

    c#          math: OpenTK's Math | Mono's System.Numerics and .NET's System.Numerics.Vectors
                                                             other: OpenTK's Platform and Input, Json.NET, NUnit |
                                                             Mono's System.Net.Http and System.Json
    shell       math: the Advanced Bash-Scripting Guide's examples that compute (primes, factoring, GCD, bc,
                mortgage payments, standard deviation, ...) | Bash's shellmath library and bcalc
                                                             other: the guide's other examples (files, text,
                                                             system, network) | Bash's other examples and
                                                             its build and support scripts

(train | test). The guide's examples are labelled by their titles in the book: :data:`_code_sources.ABS_MATH` are math,
:data:`_code_sources.ABS_UNCLEAR` (games, random numbers, sorting, ciphers, text statistics) are left out, the rest
are not math.

Throughput, CPU seconds of the whole process tree (start-up included):
- `megamath code recall -w 1` over every file read (all sizes), and over 20,000 files of the corpus's
  median size (the files within 20% of it, repeated), also without the command's start-up (the CPU
  seconds of the same command over ten files); and, in one process, the scorer beside fastText's own
  `predict` on the files with only their whitespace folded;
- end to end, 100,000 median-size files in 10 tarballs: `megamath code read` then `code recall` with
  the default workers (every core), wall and CPU seconds of each.

    python bench/code.py [--skip-100k] [--work DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import megamath  # noqa: E402
from _measure import TreeSampler  # noqa: E402
from _code_sources import ABS, ABS_MATH, ABS_UNCLEAR, GO, regress, scoring_beside_fasttext  # noqa: E402
from _packages import fetch  # noqa: E402

# language -> label -> split -> sources, specs of bench/_packages.py (the Go and PostgreSQL sources hold
# both kinds of code, so folders or files of them are named)
PACKAGES = {
    "python": {"math": {"train": ["pypi:sympy==1.12"], "test": ["pypi:mpmath==1.3.0"]},
               "other": {"train": ["pypi:requests==2.31.0", "pypi:flask==3.0.0", "pypi:django==4.2.7"],
                         "test": ["pypi:click==8.1.7", "pypi:rich==13.7.0"]}},
    "javascript": {"math": {"train": ["npm:mathjs@12.2.1"], "test": ["npm:simple-statistics@7.8.3"]},
                   "other": {"train": ["npm:express@4.18.2", "npm:axios@1.6.2"],
                             "test": ["npm:commander@11.1.0", "npm:chalk@5.3.0"]}},
    "c": {"math": {"train": ["debian:gsl"], "test": ["debian:mpfr4", "debian:glpk"]},
          "other": {"train": ["debian:curl"], "test": ["debian:jansson", "debian:libevent"]}},
    "c++": {"math": {"train": ["debian:eigen3"], "test": ["debian:armadillo"]},
            "other": {"train": ["debian:yaml-cpp", "debian:fmtlib"], "test": ["debian:nlohmann-json3", "debian:spdlog"]}},
    "go": {"math": {"train": [GO + "src/math/big"], "test": [GO + "src/math/cmplx,src/math/bits,src/math/rand"]},
           "other": {"train": [GO + "src/net/http"], "test": [GO + "src/encoding/json,src/archive/tar"]}},
    "java": {"math": {"train": ["debian:commons-math3"], "test": ["debian:jama", "debian:mtj"]},
             "other": {"train": ["debian:commons-io"], "test": ["debian:jackson-core"]}},
    "r": {"math": {"train": ["debian:r-cran-polynom", "debian:r-cran-deoptim", "debian:r-cran-contfrac"],
                   "test": ["debian:r-cran-numderiv", "debian:r-cran-hypergeo", "debian:r-cran-elliptic",
                            "debian:r-cran-orthopolynom"]},
          "other": {"train": ["debian:r-cran-httr", "debian:r-cran-stringr"],
                    "test": ["debian:r-cran-jsonlite", "debian:r-cran-glue"]}},
    "rust": {"math": {"train": ["deb:librust-num-bigint-dev", "deb:librust-num-traits-dev"], "test": ["deb:librust-libm-dev"]},
             "other": {"train": ["deb:librust-serde-json-dev", "deb:librust-clap-dev"],
                       "test": ["deb:librust-regex-dev", "deb:librust-url-dev"]}},
    # C#: OpenTK's math types against its platform layer, Json.NET and NUnit; tested on Mono's numerics
    # (BigInteger and Complex, .NET's vectors and matrices) against its HTTP client and JSON
    "c#": {"math": {"train": ["debian:opentk/Source/OpenTK/Math,Source/Compatibility/Math"],
                    "test": ["debian:mono/mcs/class/referencesource/System.Numerics,"
                             "external/corefx/src/System.Numerics.Vectors/src"]},
           "other": {"train": ["debian:opentk/Source/OpenTK/Platform,Source/OpenTK/Input", "debian:newtonsoft-json",
                               "debian:nunit"],
                     "test": ["debian:mono/mcs/class/System.Net.Http,mcs/class/System.Json.Microsoft"]}},
    "shell": {"math": {"train": ["deb:abs-guide/" + ",".join(ABS + name for name in ABS_MATH)],
                       "test": ["debian:bash/examples/shellmath,examples/scripts/bcalc"]},
              "other": {"train": ["deb:abs-guide/" + ",".join([ABS, *("-" + ABS + name for name in ABS_MATH + ABS_UNCLEAR)])],
                        "test": ["debian:bash/examples,support,doc,CWRU,-examples/shellmath,-examples/scripts/bcalc"]}},
    # PostgreSQL's regression tests: the numeric types' against the others
    "sql": {"math": {"train": [regress("numeric", "float8", "int8", "numerology", "geometry", "point", "lseg")],
                     "test": [regress("float4", "int4", "int2", "numeric_big", "line", "box", "polygon", "circle")]},
            "other": {"train": [regress("json", "create_table", "privileges", "triggers", "create_index", "inherit",
                                         "update", "copy2")],
                      "test": [regress("jsonb", "alter_table", "rules", "foreign_key", "create_view", "plpgsql", "xml",
                                        "sequence")]}},
}


def median_files(shard_globs: list[str]) -> tuple[list[tuple[str, str]], float]:
    """(path, text) of the files within 20% of the median size of all files read, and that median."""
    import pyarrow.parquet as pq

    files = []
    for glob in shard_globs:
        for shard in Path(glob).parent.glob("*.parquet"):
            table = pq.read_table(shard, columns=["text", "meta"]).to_pylist()
            files += [(json.loads(row["meta"])["code"]["path"], row["text"]) for row in table]
    median = statistics.median(len(text.encode()) for _, text in files)
    return [(path, text) for path, text in files if 0.8 * median <= len(text.encode()) <= 1.2 * median], median


def write_tarballs(folder: Path, files: list[tuple[str, str]], total: int, per_tarball: int) -> list[str]:
    """``total`` files cycled from ``files`` into tarballs of ``per_tarball``, each copy a distinct file
    (its number in a first-line comment, so that no two are the same text)."""
    folder.mkdir(parents=True)
    paths = []
    for start in range(0, total, per_tarball):
        path = folder / f"corpus-{start // per_tarball:03d}.tar.gz"
        with tarfile.open(path, "w:gz", compresslevel=1) as archive:
            for i in range(start, min(start + per_tarball, total)):
                name, text = files[i % len(files)]
                comment = "//" if name.endswith(".js") else "#"
                data = f"{comment} copy {i}\n{text}".encode()
                info = tarfile.TarInfo(f"corpus/{i:06d}/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        paths.append(str(path))
    return paths


def timed(*args: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one megamath command and everything it starts."""
    start = time.perf_counter()
    with TreeSampler() as tree:
        megamath(*args)
    return time.perf_counter() - start, tree.cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-100k", action="store_true", help="skip the end-to-end run over 100,000 files")
    parser.add_argument("--work", type=Path, help="keep the files read, the model and the recall runs in this (new) "
                                                  "folder instead of a temporary one")
    args = parser.parse_args()
    if args.work:
        args.work.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="megamath-code-") as tmp_name:
        tmp = args.work or Path(tmp_name)
        shards: dict[tuple[str, str], list[str]] = {}
        for language, labels in PACKAGES.items():
            for label, splits in labels.items():
                for split, specs in splits.items():
                    archives = [path for spec in specs for path in fetch(spec)]
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

        every = [glob for globs in shards.values() for glob in globs]  # every file read, for the throughput
        _, cpu = timed("code", "recall", *every, "-o", str(tmp / "recall"), "--classifier", str(model), "-w", "1", "-q")
        count = sum(json.loads((Path(g).parent.parent / "stats.json").read_text())["docs_written"] for g in every)
        near, median = median_files(every)
        print(f"== recall, one worker, CPU seconds with start-up ==\n  every file read: {count:,} files in {cpu:.1f} s: "
              f"{count / cpu:,.0f} files/s")
        sample = tmp / "median"
        megamath("code", "read", *write_tarballs(sample, near, 20_000, 20_000), "-o", str(tmp / "median-read"), "-q",
                 "--executor", "serial")
        _, cpu = timed("code", "recall", str(tmp / "median-read" / "data" / "*.parquet"), "-o", str(tmp / "median-recall"),
                       "--classifier", str(model), "-w", "1", "-q")
        # the command's start-up (imports, the model loaded): the same command over ten files
        megamath("code", "read", *write_tarballs(tmp / "ten", near, 10, 10), "-o", str(tmp / "ten-read"), "-q",
                 "--executor", "serial")
        _, start_up = timed("code", "recall", str(tmp / "ten-read" / "data" / "*.parquet"), "-o", str(tmp / "ten-recall"),
                            "--classifier", str(model), "-w", "1", "-q")
        print(f"  20,000 files of the median size ({median:,.0f} bytes; {len(near):,} distinct files within 20% of it): "
              f"{cpu:.1f} s: {20_000 / cpu:,.0f} files/s; without the {start_up:.1f} s the command takes to start "
              f"(its run over ten files): {20_000 / (cpu - start_up):,.0f} files/s")
        scoring_beside_fasttext(model, near)
        if not args.skip_100k:
            tarballs = write_tarballs(tmp / "corpus", near, 100_000, 10_000)
            read_wall, read_cpu = timed("code", "read", *tarballs, "-o", str(tmp / "corpus-read"), "-q")
            recall_wall, recall_cpu = timed("code", "recall", str(tmp / "corpus-read" / "data" / "*.parquet"), "-o",
                                            str(tmp / "corpus-recall"), "--classifier", str(model), "-q")
            kept = json.loads((tmp / "corpus-recall" / "stats.json").read_text())["docs_written"]
            print(f"== end to end, 100,000 median-size files in 10 tarballs, every core ==\n"
                  f"  read: {read_wall:.1f} s wall, {read_cpu:.1f} CPU s;  recall: {recall_wall:.1f} s wall, "
                  f"{recall_cpu:.1f} CPU s ({kept:,} kept);  total {read_wall + recall_wall:.1f} s wall")


if __name__ == "__main__":
    main()
