"""``megamath export``: a corpus's shards as tokenized training data."""

from __future__ import annotations

import click

from megamath.cli.app import cli


@cli.command("export")
@click.argument("shards", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, metavar="FOLDER", help="Where the dataset is written (created).")
@click.option("--format", "fmt", type=click.Choice(["megatron", "mds"]), required=True,
              help="megatron: Megatron-LM's indexed dataset (corpus.bin + corpus.idx); mds: MosaicML "
                   "Streaming's shards (index.json + shard.NNNNN.mds).")
@click.option("--tokenizer", default="qwen2.5", show_default=True, metavar="NAME|FILE",
              help="qwen2.5, cl100k_base, or a tokenizer.json / .tiktoken file; each document ends with its "
                   "end-of-document token.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def export(shards, output, fmt, tokenizer, quiet):
    """Tokenize the text of every record of SHARD... (in order) into a dataset a training run reads.

    SHARD is a corpus shard (.parquet, .jsonl, .jsonl.zst, .jsonl.gz), a glob or a folder's data/*.
    The file layouts are described in docs/training-data.md; OUTPUT/export.json says what was written
    and with which tokenizer.

    \b
    Examples:
      megamath export 'runs/example/5-reextract/data/*.parquet' -o release/megatron --format megatron
      megamath export 'runs/example/5-reextract/data/*' -o release/mds --format mds --tokenizer cl100k_base
    """
    from megamath.profile.tokenizer import TokenizerError
    from megamath.release.tokenized import export_tokenized
    from megamath.runtime.shards import check_shards
    from megamath.sources.inputs import resolve_inputs

    sources = resolve_inputs(list(shards))
    check_shards(sources)
    try:
        summary = export_tokenized(sources, output, fmt, tokenizer, show_progress=not quiet)
    except TokenizerError as exc:
        raise click.ClickException(str(exc)) from exc
    skipped = summary["skipped_without_text"]
    click.echo(f"{summary['documents']:,} documents, {summary['tokens']:,} tokens ({summary['tokenizer']}, "
               f"end-of-document id {summary['eod_id']}, {summary['dtype']}) written as {fmt} under {output}"
               + (f"; {skipped:,} record(s) without text skipped" if skipped else ""))
