"""``megamath decontaminate``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from megamath.cli.main import cli, run_in_folder, start_run
from megamath.report.contamination import write_contamination_report
from megamath.report.funnel import format_funnel
from megamath.runtime.pipeline import Pipeline
from megamath.sources.shards import ShardReader


@cli.command("decontaminate")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("--benchmark-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Folder holding the recipe's 12 benchmarks (GSM8K, MATH, MMLU-STEM, AIME24/25, AMC, ASDiv, "
                   "MathQA, MAWPS, OCW, SAT, SVAMP) as jsonl; see megamath/dedup/benchmarks.toml for file names.")
@click.option("--benchmark", "extra", multiple=True, metavar="NAME=FILE",
              help="Another (or a replacement) benchmark jsonl file (repeatable).")
@click.option("--ngram", type=click.IntRange(min=1), default=13, show_default=True, help="Words per n-gram.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl.zst", "jsonl"]), default="parquet",
              show_default=True)
@click.option("--force", is_flag=True, help="Discard OUTPUT's results and start over.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors on the terminal.")
def decontaminate(inputs, output, benchmark_dir, extra, ngram, workers, output_format, force, quiet):
    """Remove documents that share an n-gram with a math benchmark's test items.

    Each removed document is listed in OUTPUT/contamination.jsonl with the benchmark, the item id and
    the matching n-gram; the funnel counts removals per benchmark.

    \b
    Examples:
      megamath decontaminate 'runs/cc-dedup/data/*.parquet' -o runs/cc-clean --benchmark-dir benchmarks/
      megamath decontaminate shard.parquet -o out --benchmark gsm8k=gsm8k_test.jsonl --ngram 10
    """
    from megamath.dedup.decontaminate import Decontaminate, DecontaminateConfig, locate_benchmarks

    folder, shards = start_run(output, inputs, quiet=quiet)
    files = locate_benchmarks(benchmark_dir) if benchmark_dir else {}
    for entry in extra:
        name, _, path = entry.partition("=")
        if not name or not Path(path).is_file():
            raise click.UsageError(f"--benchmark expects NAME=FILE with an existing file, got {entry!r}")
        files[name] = path
    if not files:
        raise click.UsageError("no benchmark found: pass --benchmark-dir or --benchmark NAME=FILE")
    config = DecontaminateConfig(benchmarks=tuple(sorted((n, str(Path(p).resolve())) for n, p in files.items())),
                                 ngram=ngram)
    pipeline = Pipeline(ShardReader(), [Decontaminate(config)], output_suffix=f".{output_format}",
                        excluded_reasons=("benchmark_",))
    summary = run_in_folder(pipeline, folder, shards, workers=workers, force=force, quiet=quiet)
    report = folder.root / "contamination.jsonl"
    per_benchmark = write_contamination_report(folder.excluded, report)
    click.echo(format_funnel(summary.funnel, top_reasons=12))
    click.echo(f"\nbenchmarks: {', '.join(sorted(files))}")
    click.echo(f"removed {sum(per_benchmark.values()):,} document(s): "
               + (", ".join(f"{b} {n:,}" for b, n in per_benchmark.most_common()) or "none")
               + f"; listed in {report}")
    if summary.failed:
        sys.exit(1)
