"""``megamath export``: a corpus's shards as tokenized training data; ``megamath release``: the release folder."""

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


def _shares(spec: str) -> dict[str, float]:
    shares = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        try:
            shares[name.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{part!r}: write SUBSET=SHARE, e.g. web=0.6,code=0.4", param_hint="--mix") from None
    return shares


@cli.command("release")
@click.argument("subsets", nargs=-1, required=True, metavar="NAME=RUN...")
@click.option("-o", "--output", required=True, metavar="FOLDER", help="The release folder (created).")
@click.option("--shard-size", type=click.IntRange(min=1), default=256, show_default=True, metavar="MB",
              help="Close a shard once its text reaches this many megabytes.")
@click.option("--shard-rows", type=click.IntRange(min=0), default=0, show_default=True,
              help="Or once it holds this many rows (0: no limit).")
@click.option("--mix", "mix", default="", metavar="NAME=SHARE,...",
              help="Also write the mixture: each subset's share of its tokens (e.g. web=0.6,code=0.3,qa=0.1); a "
                   "subset is repeated or sampled to its share.")
@click.option("--mix-tokens", type=click.IntRange(min=0), default=0, show_default=True,
              help="The mixture's size in tokens (0: the largest that repeats no subset).")
@click.option("--seed", type=int, default=0, show_default=True, help="The mixture's sampling and order.")
@click.option("--tokenizer", default="qwen2.5", show_default=True, metavar="NAME|FILE",
              help="Counts the tokens of records whose meta has none (the mixture is by tokens), and tokenizes.")
@click.option("--tokenized", default="", metavar="FORMAT,...",
              help="Also write every subset and the mixture tokenized: megatron, mds (under FOLDER/tokenized/).")
def release_command(subsets, output, shard_size, shard_rows, mix, mix_tokens, seed, tokenizer, tokenized):
    """Write a release: each subset (NAME=a run folder or a recipe's folder) as evenly sized Parquet shards
    with a typed meta struct, the mixture if --mix asks, the dataset card inside and the report beside.

    The layout is described in docs/output.md. `datasets.load_dataset(FOLDER, NAME)` loads a subset
    (or `mix`) from the folder alone; `megamath export` turns any of them into Megatron or MDS files.

    \b
    Examples:
      megamath release web=runs/example -o release
      megamath release web=runs/web code=runs/code qa=runs/qa -o release --mix web=0.7,code=0.2,qa=0.1
    """
    from megamath.release.dataset import ReleaseConfig, ReleaseError, release
    from megamath.release.tokenized import FORMATS

    formats = tuple(f.strip() for f in tokenized.split(",") if f.strip())
    if unknown := [f for f in formats if f not in FORMATS]:
        raise click.BadParameter(f"{', '.join(unknown)}: choose among {', '.join(FORMATS)}", param_hint="--tokenized")
    locations = {}
    for spec in subsets:
        name, _, location = spec.partition("=")
        if not name or not location or name == "mix":
            raise click.BadParameter(f"{spec!r}: write NAME=RUN (a subset may not be called mix)", param_hint="NAME=RUN")
        locations[name] = location
    config = ReleaseConfig(shard_bytes=shard_size << 20, shard_rows=shard_rows, mix=_shares(mix),
                           mix_tokens=mix_tokens, seed=seed)
    try:
        summary = release(locations, output, config, tokenizer, tokenized=formats)
    except (ReleaseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for name, s in summary["subsets"].items():
        click.echo(f"{name}: {s['rows']:,} rows, {s['tokens']:,} tokens in {len(s['shards'])} shard(s)")
    if "mix" in summary:
        m = summary["mix"]
        click.echo(f"mix: {m['rows']:,} rows, {m['tokens']:,} tokens in {len(m['shards'])} shard(s); shares "
                   + ", ".join(f"{n} {s['achieved_share']:.3f} (asked {s['share']:.3f})" for n, s in m["subsets"].items()))
    click.echo(f"release under {output}: README.md (the card), release.json, report.html"
               + (f", tokenized/ ({', '.join(formats)})" if formats else ""))
