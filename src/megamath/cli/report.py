"""``megamath report`` and ``megamath card``."""

from __future__ import annotations

from pathlib import Path

import click

from megamath.cli.app import cli


@cli.command("report")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The HTML file [default: report.html in the first RUN].")
def report(runs, output):
    """One self-contained HTML report (inline SVG, no network) of run folders, or of a whole recipe's folder.

    The funnel across every phase (documents, tokens, characters, drop reasons with three example records
    each), tokens and documents per crawl year and code language, score distributions, formulas per
    markup family, duplicate cluster sizes, decontamination matches, synthesis outcomes, LLM use and sample
    records per score bucket. Every number is summed from the runs' per-task statistics; on a run that is
    still going, the report shows the tasks finished so far.

    \b
    Examples:
      megamath report runs/example                  # a recipe's folder: every phase
      megamath report runs/s1 runs/pro -o pro.html
    """
    from megamath.report.collect import collect
    from megamath.report.html import render
    from megamath.runtime import storage

    missing = [run for run in runs if not storage.exists(run)]
    if missing:
        raise click.BadParameter(f"no such run folder: {', '.join(missing)}", param_hint="RUN")
    collected = collect(list(runs))
    if not collected.phases:
        raise click.ClickException(f"no run folder (with .megamath/config.json) in {', '.join(runs)}")
    page = render(collected)
    target = Path(output) if output else Path(storage.local_path(runs[0])) / "report.html"
    target.write_text(page, encoding="utf-8")
    running = sum(p.state == "running" for p in collected.phases)
    click.echo(f"{target}: {len(collected.phases)} phase(s){f', {running} still running' if running else ''}, "
               f"{len(page.encode()) / 1024:,.0f} KiB")


@cli.command("card")
@click.argument("subsets", nargs=-1, required=True, metavar="[NAME=]RUN...")
@click.option("-o", "--output", "card_dir", type=click.Path(file_okay=False), required=True,
              help="Folder the README.md goes to; shards outside it are linked (or copied) into its data/<NAME>/.")
@click.option("--title", default="A math corpus built with megamath", show_default=True)
def card(subsets, card_dir, title):
    """A dataset card (README.md with Hugging Face YAML front matter) for the Parquet output of run folders.

    RUN is a run folder, or a recipe's folder (its final phase's output is the subset; the thresholds,
    models and benchmarks of all its phases are reported). One config per subset (NAME, or the folder's
    name), its data files inside OUTPUT as the Hub requires, rows and bytes per subset, size_categories,
    every field documented, the thresholds, models, tokenizer and decontamination benchmarks the runs
    used, and the licences the data inherits (Common Crawl's terms, code files' own licences, the terms
    of the LLMs whose outputs it holds). `datasets.load_dataset(FOLDER, NAME)` reads it.

    \b
    Example:
      megamath card web=runs/example code=runs/code-math -o runs/release
    """
    from megamath.report.card import write_card
    from megamath.runtime import storage

    named = {}
    for spec in subsets:
        name, sep, location = spec.partition("=")
        if not sep:
            name, location = storage.name_of(storage.normalize(spec)), spec
        if not storage.exists(location):
            raise click.BadParameter(f"no such run folder: {location}", param_hint="[NAME=]RUN")
        named[name] = location
    try:
        path = write_card(named, card_dir, title=title)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}: {len(named)} subset(s)")
