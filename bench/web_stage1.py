"""Stage-1 throughput and memory: `megamath web extract` against the bare loop it is built on.

The bare loop is the floor of what this stage can cost: fastwarc reads the same WARC files, resiliparse
decodes them and runs `extract_plain_text(main_content=True)`, and the same fastText model scores
English. `megamath web extract -w 1` runs as a user runs it (a fresh process, progress, guards,
Parquet output, completion records), once with ``--no-math`` (the same extraction as the bare loop:
the cost of the runtime itself) and once as default (with the math-aware rewrite). All are timed in
the same run, alternating, best of --repeats.

Memory: peak resident memory of the whole process tree (driver + workers), sampled every 20 ms, with
1 and 2 workers, and for N and 2N input files (it must not grow with the number of files).

    python bench/web_stage1.py [--files 12] [--pages-per-file 250] [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, write_warc_batch  # noqa: E402


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


def run_megamath(paths: list[Path], out: Path, workers: int, *options: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of the whole process tree of one `megamath web extract` run."""
    command = [sys.executable, "-m", "megamath.cli", "web", "extract", *map(str, paths), "-o", str(out),
               "-w", str(workers), "-q", "--force", *options]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"megamath failed:\n{stderr.decode()}")
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--pages-per-file", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="megamath-bench-") as tmp:
        tmp = Path(tmp)
        paths = write_warc_batch(tmp / "in", args.files, args.pages_per_file)
        pages = args.files * args.pages_per_file
        print(f"input: {pages} real pages in {args.files} WARC files ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB)")

        bare_best = plain_best = math_best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            bare_loop(paths)
            bare_best = min(bare_best, time.perf_counter() - started)
            plain_best = min(plain_best, run_megamath(paths, tmp / "out", 1, "--no-math")[0])
            math_best = min(math_best, run_megamath(paths, tmp / "out", 1)[0])
        print("\nthroughput, one core (best of %d)" % args.repeats)
        print(f"  bare loop (fastwarc + resiliparse + fastText LID):   {pages / bare_best:8.1f} pages/s")
        print(f"  megamath web extract -w 1 --no-math (same extraction): {pages / plain_best:8.1f} pages/s"
              f"   ratio {bare_best / plain_best:.3f}  (target >= 0.8)")
        print(f"  megamath web extract -w 1 (math-aware, the default):   {pages / math_best:8.1f} pages/s"
              f"   ratio {bare_best / math_best:.3f}")

        print("\npeak memory of the process tree (driver + workers)")
        double = write_warc_batch(tmp / "in2", args.files * 2, args.pages_per_file)
        for workers in (1, 2):
            for batch in (paths, double):
                _, peak = run_megamath(batch, tmp / "out", workers=workers)
                print(f"  {workers} worker(s), {len(batch):3d} files, {len(batch) * args.pages_per_file:6d} pages: "
                      f"{peak / 2**20:7.1f} MiB")


if __name__ == "__main__":
    main()
