"""``megamath dedup ...`` commands."""

from __future__ import annotations

import os
import sys

import click

from megamath.cli.main import cli, start_run
from megamath.dedup.minhash import MinHashConfig, detection_probability, suggest_parameters, threshold_at_half
from megamath.report.funnel import format_funnel
from megamath.runtime.resume import ConfigChangedError

_defaults = MinHashConfig()


@cli.group()
def dedup() -> None:
    """Near-duplicate removal: MinHash-LSH over word 5-grams, after exact-duplicate removal."""


@dedup.command("plan")
@click.option("--bands", type=click.IntRange(min=1), default=_defaults.bands, show_default=True)
@click.option("--rows", type=click.IntRange(min=1), default=_defaults.rows, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Also suggest (bands, rows) for this Jaccard threshold.")
@click.option("--docs", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Corpus size for the disk and memory estimate.")
def plan(bands, rows, threshold, docs):
    """Show what (bands, rows) detect: the S-curve, the 50% point, and the cost for N documents.

    \b
    Examples:
      megamath dedup plan                       # the recipe's 11 bands x 10 rows
      megamath dedup plan --threshold 0.8       # suggest bands and rows for Jaccard 0.8
    """
    click.echo(f"{bands} bands x {rows} rows = {bands * rows} permutations")
    click.echo(f"detected with probability 50% at Jaccard similarity {threshold_at_half(bands, rows):.3f}\n")
    click.echo("similarity  P(detected)")
    for tenth in range(1, 20):
        s = tenth / 20
        p = detection_probability(s, bands, rows)
        click.echo(f"   {s:4.2f}       {p:6.3f}  {'#' * round(p * 40)}")
    signature_bytes = docs * (8 + 8 + 1 + 8 * (bands + 0))
    band_memory = docs * 16 * 2
    click.echo(f"\nfor {docs:,} documents: signature files {signature_bytes / 2**20:,.0f} MiB on disk; "
               f"peak memory ~{band_memory / 2**20:,.0f} MiB for one band's hashes and keys, "
               f"plus ~{docs * 40 / 2**20:,.0f} MiB for clustering")
    if threshold is not None:
        b, r = suggest_parameters(threshold)
        click.echo(f"\nsuggested for threshold {threshold}: {b} bands x {r} rows "
                   f"(50% point {threshold_at_half(b, r):.3f})")


@dedup.command("run")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--bands", type=click.IntRange(min=1), default=_defaults.bands, show_default=True)
@click.option("--rows", type=click.IntRange(min=1), default=_defaults.rows, show_default=True)
@click.option("--ngram", type=click.IntRange(min=1), default=_defaults.ngram, show_default=True,
              help="Words per shingle.")
@click.option("--seed", type=int, default=_defaults.seed, show_default=True)
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl.zst", "jsonl"]), default="parquet",
              show_default=True)
@click.option("--force", is_flag=True, help="Recompute everything and discard OUTPUT's results.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; only errors on the terminal.")
def run(inputs, output, workers, bands, rows, ngram, seed, output_format, force, quiet):
    """Remove exact and near-duplicate documents from corpus shards (the output of `web extract`).

    Every shard is signed (word n-gram MinHash), documents sharing a band are linked, and each
    connected cluster keeps its representative: the document with the smallest key (a hash of its
    id and source), so the kept set does not depend on workers or sharding. Kept records get
    meta.dedup_cluster and meta.dedup_cluster_size. Signature files carry checksums: a damaged one
    is named and refused.

    \b
    Examples:
      megamath dedup run 'runs/cc/data/*.parquet' -o runs/cc-dedup
      megamath dedup run runs/cc/data/*.parquet -o runs/cc-dedup --bands 20 --rows 5 -w 8
    """
    from megamath.dedup.run import deduplicate
    from megamath.dedup.store import CorruptFileError

    folder, shards = start_run(output, inputs, quiet=quiet)
    config = MinHashConfig(bands=bands, rows=rows, ngram=ngram, seed=seed)
    try:
        summary, counts = deduplicate(shards, output, config, workers=workers or os.cpu_count() or 1,
                                      output_suffix=f".{output_format}", force=force, show_progress=not quiet)
    except (ConfigChangedError, CorruptFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(format_funnel(summary.funnel))
    click.echo(f"\n{counts['documents']:,} documents: {counts['exact_duplicates']:,} exact and "
               f"{counts['near_duplicates']:,} near duplicates removed, {counts['kept']:,} kept "
               f"in {len(summary.shards)} shard(s) under {folder.data}")
    if summary.failed:
        sys.exit(1)
