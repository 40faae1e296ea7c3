"""``megamath dedup ...`` commands."""

from __future__ import annotations

import click

from megamath.cli.app import dedup
from megamath.cli.common import exit_if_failed, prepare_run, report_run
from megamath.cli.options import executor_from, executor_options, format_option, run_folder_options
from megamath.dedup.lsh import MAX_PARTITIONS, LshConfig
from megamath.dedup.plan import dedup_costs
from megamath.dedup.minhash import MinHashConfig, detection_probability, suggest_parameters, threshold_at_half

_defaults = MinHashConfig()
_lsh_defaults = LshConfig()


@dedup.command("plan")
@click.option("--bands", type=click.IntRange(min=1), default=_defaults.bands, show_default=True)
@click.option("--rows", type=click.IntRange(min=1), default=_defaults.rows, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Also suggest (bands, rows) for this Jaccard threshold.")
@click.option("--docs", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Corpus size for the disk and memory estimate.")
@click.option("--partitions", type=click.IntRange(min=1, max=MAX_PARTITIONS), default=1, show_default=True,
              help="Slices of the corpus per task (see `dedup run`).")
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="Input shards  [default: one per 200,000 documents]")
@click.option("--duplicated", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Share of the documents that have a near duplicate.")
@click.option("--words", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Words per document (exact verification keeps 4 bytes per shingle).")
@click.option("--verify/--no-verify", default=True, show_default=True, help="As `dedup run --verify`.")
@click.option("--verify-sketch", type=click.IntRange(0, 4096), default=_lsh_defaults.verify_sketch, show_default=True,
              help="As `dedup run --verify-sketch`.")
def plan(bands, rows, threshold, docs, partitions, shards, duplicated, words, verify, verify_sketch):
    """Show what (bands, rows) detect: the S-curve, the 50% point, and the cost of each pass for N documents.

    \b
    Examples:
      megamath dedup plan                       # the recipe's 11 bands x 10 rows
      megamath dedup plan --threshold 0.8       # suggest bands and rows for Jaccard 0.8
      megamath dedup plan --docs 1000000000 --partitions 512 --shards 10000 --verify-sketch 512
    """
    try:
        MinHashConfig(bands=bands, rows=rows)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands / --rows") from exc
    click.echo(f"{bands} bands x {rows} rows = {bands * rows} permutations")
    click.echo(f"detected with probability 50% at Jaccard similarity {threshold_at_half(bands, rows):.3f}\n")
    click.echo("similarity  P(detected)")
    for tenth in range(1, 20):
        s = tenth / 20
        p = detection_probability(s, bands, rows)
        click.echo(f"   {s:4.2f}       {p:6.3f}  {'#' * round(p * 40)}")
    shards = shards or max(1, docs // 200_000)
    click.echo(f"\nfor {docs:,} documents of {words:,} words in {shards:,} shards, {partitions:,} partition(s), "
               f"{duplicated:.0%} of them in clusters (estimates scaled from bench/dedup_scale.py, docs/scaling.md):")
    click.echo(f"  {'pass':<34} {'tasks':>8} {'memory per task':>16} {'written':>12}")
    config = LshConfig(MinHashConfig(bands=bands, rows=rows), partitions=partitions, verify=verify,
                       verify_sketch=verify_sketch)
    for cost in dedup_costs(docs, partitions, shards, config, duplicated, words):
        written = _size(cost.written) if cost.written else "the corpus"
        click.echo(f"  {cost.name:<34} {cost.tasks:>8,} {_size(cost.task_memory):>16} {written:>12}")
    if threshold is not None:
        b, r = suggest_parameters(threshold)
        click.echo(f"\nsuggested for threshold {threshold}: {b} bands x {r} rows "
                   f"(50% point {threshold_at_half(b, r):.3f})")


def _size(nbytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= size:
            return f"{nbytes / size:,.1f} {unit}"
    return f"{nbytes / 2**10:,.0f} KiB"


@dedup.command("run")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@executor_options
@click.option("--bands", type=click.IntRange(min=1), default=_defaults.bands, show_default=True)
@click.option("--rows", type=click.IntRange(min=1), default=_defaults.rows, show_default=True)
@click.option("--ngram", type=click.IntRange(min=1, max=64), default=_defaults.ngram, show_default=True,
              help="Words per shingle.")
@click.option("--seed", type=int, default=_defaults.seed, show_default=True)
@click.option("--partitions", type=click.IntRange(min=1, max=MAX_PARTITIONS), default=1, show_default=True,
              help="Slices of the corpus per task: a band, components or verify task holds 1/partitions of the "
                   "corpus's hashes or graph (raise it for 10^7+ documents; the result does not change).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Drop a document only if its MinHash similarity to the document kept for it is at least "
                   "--verify-threshold; clusters chained by band collisions are split.")
@click.option("--verify-threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="The similarity --verify asks for  [default: where the bands detect half the pairs]")
@click.option("--verify-sketch", type=click.IntRange(0, 4096), default=_lsh_defaults.verify_sketch, show_default=True,
              help="0: --verify compares whole shingle sets (the exact similarity; about 4 bytes a word on disk). "
                   "N: it compares sketches of N MinHash values (a byte each; 512 errs by about 0.02), for "
                   "corpora of 10^9+ documents.")
def run(inputs, output_format, bands, rows, ngram, seed, partitions, verify, verify_threshold, verify_sketch, **options):
    """Remove exact and near-duplicate documents from corpus shards (the output of `web extract`).

    Every shard is signed (word n-gram MinHash), documents sharing a band are linked (a task per band
    and partition), and each connected cluster keeps its representative: the document with the
    smallest key (a hash of its id and source), so the kept set does not depend on workers, sharding
    or partitions. Before a document is dropped, its MinHash similarity to the document kept for it is
    checked (--verify). Kept records get meta.dedup_cluster and meta.dedup_cluster_size. Every pass,
    and every round of the connected components, is resumable; signature files carry checksums, and a
    damaged one is named and refused.

    \b
    Examples:
      megamath dedup run 'runs/cc/data/*.parquet' -o runs/cc-dedup
      megamath dedup run runs/cc/data/*.parquet -o runs/cc-dedup --bands 20 --rows 5 -w 8
      megamath dedup run 's3://bucket/cc/data/*.parquet' -o s3://bucket/cc-dedup --executor ray --partitions 16
    """
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.dedup import deduplicate, describe_counts

    try:
        config = LshConfig(MinHashConfig(bands=bands, rows=rows, ngram=ngram, seed=seed), partitions=partitions,
                           verify=verify, verify_threshold=verify_threshold, verify_sketch=verify_sketch)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bands / --rows / --verify-sketch") from exc
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True)
    with executor_from(options) as executor:
        result = deduplicate(shards, folder.root, config, executor, output_suffix=f".{output_format}",
                             force=options["force"], show_progress=not options["quiet"])
    counts = result.counts
    if not counts:  # a pass before the filter failed
        exit_if_failed(result.summary)
    report_run(result.summary, folder, extra=["\n" + describe_counts(counts)])
