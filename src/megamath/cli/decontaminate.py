"""``megamath decontaminate``."""

from __future__ import annotations

import click

from megamath.cli.app import cli
from megamath.cli.common import prepare_run, report_run
from megamath.cli.options import (
    benchmark_options,
    benchmark_spec_from,
    executor_from,
    executor_options,
    format_option,
    run_folder_options,
)
from megamath.report.contamination import format_index_counts, format_removals


@cli.command("decontaminate")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@executor_options
@benchmark_options
@click.option("--ngram", type=click.IntRange(min=1, max=64), default=13, show_default=True, help="Words per n-gram.")
def decontaminate(inputs, output_format, ngram, **options):
    """Remove documents that share an n-gram with a math benchmark's test items.

    Without --benchmark-dir or --benchmark, the shipped index of the recipe's 12 benchmarks is used
    (GSM8K, MATH, MMLU-STEM, AIME 24/25, AMC, ASDiv, MathQA, MAWPS, OCW, SAT, SVAMP: docs/benchmarks.md).
    Otherwise the index of the files given is built once (a single task, reused while they are
    unchanged); a benchmark file that yields no item, or has malformed lines, is refused with its
    counts. Each removed document is listed in OUTPUT/contamination.jsonl with the benchmark, the
    item id and the matching n-gram; the funnel counts removals per benchmark.

    \b
    Examples:
      megamath decontaminate 'runs/cc-dedup/data/*.parquet' -o runs/cc-clean
      megamath decontaminate 'runs/cc-dedup/data/*.parquet' -o runs/cc-clean --benchmark-dir benchmarks/
      megamath decontaminate shard.parquet -o out --benchmark gsm8k=gsm8k_test.jsonl --ngram 10
    """
    from megamath.pipelines.decontam import run_decontaminate

    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True)
    spec = benchmark_spec_from(options, ngram)
    if spec is None and ngram != 13:
        raise click.UsageError("--ngram needs --benchmark-dir or --benchmark: the shipped index is of 13-grams")
    with executor_from(options) as executor:
        result = run_decontaminate(shards, folder.root, spec, executor, output_suffix=f".{output_format}",
                                   force=options["force"], show_progress=not options["quiet"])
    report_run(result.summary, folder, top_reasons=12, exit_on_empty=False,
               extra=["", format_index_counts(result.index.counts, shipped=result.index.shipped),
                      format_removals(result.removed, result.report)])
