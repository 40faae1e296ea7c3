"""``megamath recipe init`` and ``megamath run``: the whole web recipe from one TOML file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from megamath.cli.app import cli, configure_logging, recipe
from megamath.runtime.executor import EXECUTORS


@recipe.command("init")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--input", "inputs", multiple=True, metavar="INPUT", help="Inputs to write into [run] inputs (repeatable).")
@click.option("--output", default=None, help="The output folder to write into [run] output.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path, inputs, output, force):
    """Write a recipe with every option at the published default and a comment for each.

    \b
    Example:
      megamath recipe init recipe.toml --input 'crawl/*.warc.gz' --output runs/cc
      megamath run recipe.toml
    """
    from megamath.pipelines.recipe import recipe_template

    target = Path(path)
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists: choose another name or pass --force to overwrite it")
    target.write_text(recipe_template(list(inputs) or None, output), encoding="utf-8")
    click.echo(f"wrote {target}: edit it, then run `megamath run {target}`")


@recipe.command("reference")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write it to this file (docs/recipe.md in the repository) instead of printing it.")
def reference(output):
    """Every option of the recipe as Markdown: its section, default, bounds or choices and meaning."""
    from megamath.pipelines.recipe import recipe_reference

    text = recipe_reference() + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command("run")
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Discard every phase's results and start over.")
@click.option("--from", "restart_from", default=None, metavar="PHASE",
              help="Discard the results of this phase and the ones after it (extract, classify, dedup, decontaminate, "
                   "reextract, webpro, code, code_recall, code_dedup, code_decontaminate, qa, translate, blocks, "
                   "release), e.g. after changing its options.")
@click.option("--executor", "executor_kind", type=click.Choice(EXECUTORS), default=None,
              help="Where tasks run, instead of the recipe's [executor] kind: local, ray or serial.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
              help="Tasks at a time, instead of the recipe's [executor] workers.")
@click.option("--dry-run", is_flag=True,
              help="Check the recipe and show the plan (inputs, phases, what each skips, tasks already done); "
                   "run nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="A sample run, instead of the recipe's [run] limit: the first N records of each input, under "
                   "OUTPUT/sample-N/ (the full run's folders are left as they are).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; only errors on the terminal.")
@click.option("-v", "--verbose", is_flag=True, help="Also show informational messages on the terminal.")
def run(recipe_path, force, restart_from, executor_kind, workers, dry_run, limit, quiet, verbose):
    """Run the recipe: the web phases (stage 1 → math classifier → dedup → decontamination → stage 2 →
    Web-Pro), the code phases ([code] inputs), the synthesis ([synth] kinds) and the release.

    Each phase writes OUTPUT/<n>-<phase>/ and is resumable: a rerun continues at the first unfinished
    task of the first unfinished phase. A phase that cannot run (no LLM endpoint, no code inputs or
    code model, enabled = false) is skipped, with the reason, and its input passes on. One funnel
    across all phases is printed at the end and OUTPUT/recipe.json follows the run as it goes.

    \b
    Examples:
      megamath run examples/recipe.toml
      megamath run recipe.toml --dry-run           # the plan, checked, nothing run
      megamath run recipe.toml -w 16 --executor ray
      megamath run recipe.toml --from webpro       # after changing [webpro] thresholds
      megamath run recipe.toml --limit 100         # a sample: 100 records of each input, OUTPUT/sample-100/
    """
    from megamath.cli.common import grouped
    from megamath.pipelines.recipe import (WEB_PHASES, final_output, load_recipe, output_folder, phase_funnel,
                                           plan_recipe, release_subsets, run_recipe, skip_reasons)
    from megamath.report.funnel import format_phase_funnel, profile_counters
    from megamath.report.llm_usage import format_llm_usage
    from megamath.runtime import storage
    from megamath.runtime.resume import RunFolder

    recipe = load_recipe(recipe_path)
    if executor_kind:
        recipe["executor"]["kind"] = executor_kind
    if workers:
        recipe["executor"]["workers"] = workers
    if limit:
        recipe["run"]["limit"] = limit
    if dry_run:
        plan = plan_recipe(recipe)
        click.echo(f"{len(plan.inputs):,} input(s): " + ", ".join(plan.inputs[:3]) + (", ..." if len(plan.inputs) > 3 else ""))
        for name, folder, skipped, done in plan.phases:
            state = f"skipped: {skipped}" if skipped else f"runs ({done:,} task(s) already done)"
            click.echo(f"phase {name:13} {folder}: {state}")
        e = recipe["executor"]
        count = f"{e['workers']} worker(s)" if e["workers"] else "a worker per core"
        click.echo(f"executor: {e['kind']}, {count}; nothing was run (--dry-run)")
        return
    root = RunFolder(output_folder(recipe))
    storage.check_writable(root.root)
    if recipe["run"]["limit"]:
        click.echo(f"a sample run: the first {recipe['run']['limit']:,} record(s) of each input, under {root.root}")
    configure_logging(root.log_path, quiet=quiet, verbose=verbose)

    def announce(outcome) -> None:
        if outcome.skipped:
            click.echo(f"phase {outcome.name}: skipped ({outcome.skipped})")
            return
        summary = outcome.summary
        if summary is None:  # the release: no pass of tasks, its notes say what it wrote
            click.echo(f"phase {outcome.name}: {outcome.folder}")
            for note in outcome.notes:
                click.echo(f"  {note}")
            return
        click.echo(f"phase {outcome.name}: {summary.docs_written:,} documents under {outcome.folder} "
                   f"({summary.tasks_skipped} of {summary.tasks_total} task(s) resumed, {summary.seconds:.1f}s)")
        for note in outcome.notes:
            click.echo(f"  {note}")

    for phase, reason in skip_reasons(recipe).items():
        click.echo(f"phase {phase} will be skipped: {reason}")
    outcomes = run_recipe(recipe, force=force, restart_from=restart_from, show_progress=not quiet, on_phase=announce)
    click.echo("\n" + format_phase_funnel(phase_funnel(outcomes)))
    for outcome in outcomes:
        if outcome.summary is not None and (usage := format_llm_usage(outcome.summary)):
            click.echo(f"\n{outcome.name}: {usage}")
    last = outcomes[-1]
    if last.failed:
        for line in grouped(last.failed):
            click.echo(f"error: phase {last.name}: input not processed: {line}", err=True)
        click.echo(f"error: phase {last.name} did not finish; rerun `megamath run {recipe_path}` to retry it",
                   err=True)
        sys.exit(1)
    final = final_output(outcomes)
    if final is None or final.summary.docs_written == 0:
        click.echo("error: the output is empty: no document survived (see the funnel above)", err=True)
        sys.exit(1)
    tokens = profile_counters(final.summary.funnel)["tokens"]
    click.echo(f"\ncorpus: {final.summary.docs_written:,} documents under {final.folder}/data"
               f"{f', {tokens:,} tokens' if tokens else ''} (phases: {root.root}/recipe.json)")
    for subset, made in release_subsets(outcomes).items():
        if made.name not in WEB_PHASES:
            click.echo(f"{subset}: {made.summary.docs_written:,} records under {made.folder}/data, "
                       f"{profile_counters(made.summary.funnel)['tokens']:,} tokens")
