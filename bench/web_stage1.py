"""Stage-1 cost: `megamath web extract` against the bare loop it is built on, in CPU seconds.

The bare loop is the floor of what this stage can cost: fastwarc reads the same WARC, resiliparse
decodes it and runs `extract_plain_text(main_content=True)`, and the same fastText model scores
English. `megamath web extract -w 1` runs as a user runs it (a fresh process tree: driver, worker,
progress, guards, Parquet output, completion records), by default (math-aware) and with
``--no-math``. Each side runs in fresh processes and is charged the CPU time of its whole process
tree less that of the same run over a WARC of one page (interpreter, imports, model loading: paid
once per run, not per page). CPU seconds, not wall
time: the machines are shared. Alternating, best of --repeats.

Inputs, real pages of ../shared: a crawl-like WARC (non-math pages of html-nonmath with 5% math
pages of html-math and math-zoo-dev, as a crawl holds them) and a math-heavy WARC (math pages only).

``--profile`` adds where the time goes: stage 1 in this process under cProfile, per component, in
milliseconds per page (profiled, so Python code weighs a little more than it does unprofiled). Run
it with ``PYTHONPATH=<an older checkout>/src`` to see an older version's breakdown.

Memory: peak resident memory of the whole process tree (driver + workers), sampled every 20 ms, with
1 and 2 workers, and for N and 2N input files (it must not grow with the number of files).

    python bench/web_stage1.py [--pages 1200] [--math-pages 400] [--repeats 3] [--profile] [--memory]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, crawl_like_warc, write_warc_batch  # noqa: E402
from _measure import TreeSampler  # noqa: E402


def bare_loop(paths: list[Path]) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from megamath.classify.fasttext_model import load_fasttext_model
    from megamath.web.langid import default_lid_model_path

    model = load_fasttext_model(default_lid_model_path())
    kept = 0
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
                if record.http_headers.status_code != 200 or "html" not in (record.http_content_type or ""):
                    continue
                body = record.reader.read()
                html = bytes_to_str(body, detect_encoding(body))
                text = extract_plain_text(html, preserve_formatting=True, main_content=True)
                labels, scores = model.predict(text.replace("\n", " "))
                if labels and labels[0] == "__label__en" and scores[0] >= 0.65:
                    kept += 1
    return kept


def bare_cpu(path: Path) -> float:
    """CPU seconds of the bare loop over ``path`` in a fresh process, as megamath runs."""
    with TreeSampler() as tree:
        subprocess.run([sys.executable, __file__, "--bare", str(path)], cwd=ROOT, check=True)
    return tree.cpu_seconds


def extract_command(paths: list[Path], out: Path, workers: int, *options: str) -> list[str]:
    return [sys.executable, "-m", "megamath.cli", "web", "extract", *map(str, paths), "-o", str(out),
            "-w", str(workers), "-q", "--force", *options]


def megamath_cpu(path: Path, out: Path, *options: str) -> float:
    """CPU seconds of the whole process tree of one `megamath web extract -w 1` run."""
    with TreeSampler() as tree:
        result = subprocess.run(extract_command([path], out, 1, *options), cwd=ROOT, capture_output=True)
    if result.returncode != 0:
        sys.exit(f"megamath failed:\n{result.stderr.decode()[-3000:]}")
    return tree.cpu_seconds


def peak_rss(paths: list[Path], out: Path, workers: int) -> int:
    process = subprocess.Popen(extract_command(paths, out, workers), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    if process.wait() != 0:
        sys.exit(f"megamath failed:\n{process.stderr.read().decode()[-3000:]}")
    return peak


def compare(name: str, path: Path, pages: int, startup: Path, out: Path, repeats: int) -> None:
    """Both sides in fresh processes, each less its own run over the one-page WARC ``startup``."""
    runs = {"bare": bare_cpu, "math": lambda p: megamath_cpu(p, out),
            "no-tokens": lambda p: megamath_cpu(p, out, "--no-token-count"),
            "no-math": lambda p: megamath_cpu(p, out, "--no-math")}
    best = {key: float("inf") for key in runs}
    started = {key: float("inf") for key in runs}
    for _ in range(repeats):
        for key, run in runs.items():
            started[key] = min(started[key], run(startup))
            best[key] = min(best[key], run(path))
    seconds = {key: best[key] - started[key] for key in runs}
    print(f"\n{name}: {pages} pages, CPU seconds of the process tree, start-up excluded (best of {repeats})")
    for label, key in (("bare loop (fastwarc + resiliparse + fastText LID)", "bare"),
                       ("megamath web extract -w 1 (math-aware, default)", "math"),
                       ("  the same --no-token-count (the bare loop counts none)", "no-tokens"),
                       ("megamath web extract -w 1 --no-math", "no-math")):
        print(f"  {label:51s} {seconds[key]:6.2f} s  {pages / seconds[key]:7.1f} pages/s"
              f"   ratio {seconds['bare'] / seconds[key]:.3f}   (start-up {started[key]:.2f} s)")


# (component, how to find it in the profile): ("cum"|"tot", module path suffix or "", function name)
_COMPONENTS = [
    ("WARC reading and decoding", "cum", "sources/warc.py", "__call__"),
    ("URL filter", "cum", "web/url_filter.py", "filter"),
    ("DOM parse (resiliparse)", "tot", "", "<built-in method parse>"),
    ("text extraction (resiliparse extract_plain_text)", "tot", "", "extract_plain_text>"),
    ("math: markup test and rewrite", "cum", "web/math/markup.py", ("find_math_markup", "rewrite_math")),
    ("texts of three UTF-8 bytes kept (before parsing)", "cum", "web/extract.py", "keep_lone_symbols"),
    ("extraction: rest (depth check, TeX in text, finishing)", "cum", "web/extract.py", "process"),
    ("language ID: fastText predict", "tot", "", "fasttext_pybind.predict>"),
    ("language ID: rest (masking, second score)", "cum", "web/langid.py", "filter"),
]


def _component_seconds(stats: dict, kind: str, module: str, names) -> float:
    names = (names,) if isinstance(names, str) else names
    total = 0.0
    for (filename, _, function), (_, _, tottime, cumtime, _) in stats.items():
        if filename.replace("\\", "/").endswith(module) and any(function.endswith(n) or function == n for n in names):
            total += cumtime if kind == "cum" else tottime
    return total


def profile(name: str, path: Path, pages: int, out: Path) -> None:
    """Where stage 1's time goes, in this process (the serial executor: the same tasks without a pool)."""
    import megamath
    from megamath.pipelines.web import WebExtractConfig, run_stage1
    from megamath.runtime.executor import SerialExecutor

    def run() -> None:
        shutil.rmtree(out, ignore_errors=True)
        run_stage1(WebExtractConfig(), [str(path)], str(out), SerialExecutor(), show_progress=False)

    run()  # models loaded once, as in a worker
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tottime for (_, _, tottime, _, _) in stats.values())
    seconds = {label: _component_seconds(stats, kind, module, names) for label, kind, module, names in _COMPONENTS}
    # nested components are shown apart: take the parts out of the wholes they sit in
    seconds["extraction: rest (depth check, TeX in text, finishing)"] -= sum(
        seconds[k] for k in ("DOM parse (resiliparse)", "text extraction (resiliparse extract_plain_text)",
                             "math: markup test and rewrite",
                             "texts of three UTF-8 bytes kept (before parsing)"))
    seconds["language ID: rest (masking, second score)"] -= seconds["language ID: fastText predict"]
    seconds["runtime: stage plumbing, guard, counters, Parquet, resume records"] = total - sum(seconds.values())
    print(f"\nwhere the time goes, {name} ({pages} pages, {Path(megamath.__file__).parent}), ms per page under cProfile")
    for label, value in seconds.items():
        print(f"  {label:66s} {1000 * value / pages:7.3f}  {100 * value / total:5.1f}%")
    print(f"  {'total':66s} {1000 * total / pages:7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1200, help="pages in the crawl-like WARC")
    parser.add_argument("--math-pages", type=int, default=400, help="pages in the math-heavy WARC")
    parser.add_argument("--math-share", type=float, default=0.05, help="share of math pages in the crawl-like WARC")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also show where the time goes")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--only-profile", action="store_true", help="only the profile (e.g. of an older checkout)")
    parser.add_argument("--bare", metavar="WARC", help=argparse.SUPPRESS)  # one bare run, in its own process
    args = parser.parse_args()
    if args.bare:
        bare_loop([Path(args.bare)])
        return

    with tempfile.TemporaryDirectory(prefix="megamath-bench-") as tmp:
        tmp = Path(tmp)
        crawl = crawl_like_warc(tmp / "crawl.warc.gz", args.pages, args.math_share)
        heavy = crawl_like_warc(tmp / "math-heavy.warc.gz", args.math_pages, 1.0, seed=1)
        print(f"inputs: crawl-like {args.pages} pages, {100 * args.math_share:.0f}% math "
              f"({crawl.stat().st_size / 1e6:.1f} MB gzipped); math-heavy {args.math_pages} pages "
              f"({heavy.stat().st_size / 1e6:.1f} MB)")
        if not args.only_profile:
            startup = crawl_like_warc(tmp / "one.warc.gz", 1, 1.0)  # a math page: the math modules load too
            compare("crawl-like", crawl, args.pages, startup, tmp / "out", args.repeats)
            compare("math-heavy", heavy, args.math_pages, startup, tmp / "out", args.repeats)
        if args.profile or args.only_profile:
            profile("crawl-like", crawl, args.pages, tmp / "profile")
            profile("math-heavy", heavy, args.math_pages, tmp / "profile")
        if args.memory:
            print("\npeak memory of the process tree (driver + workers)")
            files = 12
            batches = {files: write_warc_batch(tmp / "in", files, 250), 2 * files: write_warc_batch(tmp / "in2", 2 * files, 250)}
            for workers in (1, 2):
                for count, batch in batches.items():
                    print(f"  {workers} worker(s), {count:3d} files, {count * 250:6d} pages: "
                          f"{peak_rss(batch, tmp / 'out', workers) / 2**20:7.1f} MiB")


if __name__ == "__main__":
    main()
