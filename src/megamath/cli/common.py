"""What every command that writes a run folder does before and after its workflow."""

from __future__ import annotations

import re
import sys

import click

from megamath.cli.app import configure_logging
from megamath.llm.client import EndpointConfig
from megamath.report.funnel import format_funnel, profile_counters
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary
from megamath.runtime.shards import check_shards
from megamath.sources.inputs import resolve_inputs


def prepare_run(output: str, inputs: tuple[str, ...], *, quiet: bool = False, verbose: bool = False,
                shards: bool = False, folders: bool = False, endpoint: EndpointConfig | None = None
                ) -> tuple[RunFolder, list[str]]:
    """The output folder (checked writable, its log opened) and the resolved inputs; ``shards``: the
    inputs must be corpus shards; ``folders``: local folders are inputs too; ``endpoint``: an LLM
    endpoint that must answer, probed before anything is created. Every refusal is a one-line message."""
    if endpoint is not None:
        from megamath.llm.stage import probe_endpoint

        probe_endpoint(endpoint)  # a dead endpoint leaves no empty run folder behind
    folder = RunFolder(output)
    try:
        storage.check_writable(folder.root)
    except storage.StorageError as exc:
        raise click.BadParameter(f"cannot write the run folder {output}: {exc}", param_hint="'-o' / '--output'") from exc
    configure_logging(folder.log_path, quiet=quiet, verbose=verbose)
    sources = resolve_inputs(list(inputs), folders=folders)
    if shards:
        check_shards(sources)
    return folder, sources


def report_run(summary: RunSummary, folder: RunFolder, *, what: str = "documents", top_reasons: int = 4,
               exit_on_empty: bool = True, extra: list[str] = (), partial_work_note: str = "") -> None:
    """Print the funnel, where the output is, damaged and failed inputs; exit 1 when a task failed or
    (``exit_on_empty``) nothing survived. ``partial_work_note``: what a failed task keeps for the
    rerun (LLM answers are cached)."""
    click.echo(format_funnel(summary.funnel, top_reasons=top_reasons))
    for line in extra:
        click.echo(line)
    resumed = f"{summary.tasks_skipped} of {summary.tasks_total} input(s) resumed"
    if summary.tasks_changed:
        resumed += f", {summary.tasks_changed} redone because their input changed"
    tokens = profile_counters(summary.funnel)["tokens"]
    click.echo(f"\n{summary.docs_written:,} {what} in {len(summary.shards)} shard(s) under {folder.data} "
               f"({resumed}, {summary.seconds:.1f}s){f', {tokens:,} tokens' if tokens else ''}. Funnel: {folder.stats_path}")
    for line in grouped(summary.input_errors):
        click.echo(f"warning: damaged input, kept what was readable: {line}", err=True)
    exit_if_failed(summary, partial_work_note)
    if exit_on_empty and summary.docs_written == 0:
        click.echo("error: the output is empty: no document survived (see the funnel above)", err=True)
        sys.exit(1)


def exit_if_failed(summary: RunSummary, partial_work_note: str = "") -> None:
    for line in grouped(summary.failed):
        if partial_work_note:
            click.echo(f"error: input not finished: {line} (rerun the command: {partial_work_note})", err=True)
        else:
            click.echo(f"error: input not processed: {line} (rerun the command to retry it)", err=True)
    if summary.failed:
        sys.exit(1)


def grouped(errors: dict[str, str], shown: int = 3) -> list[str]:
    """``source: error`` lines, one per source for a few, else one per kind of error with the number of
    sources, the first of them and its error: 400 tasks that ran out of memory are one line, not 400, and
    so are tasks that each said in their own words that the endpoint is down (every source and its
    error is in stats.json and the log)."""
    def kind(error: str) -> str:  # "[failed 3 time(s), the last time it ]raised EndpointUnavailable: <details>"
        raised = re.search(r"raised (\w+)", error)
        return raised.group(1) if len(errors) > shown and raised else error

    by_kind: dict[str, list[tuple[str, str]]] = {}
    for source, error in errors.items():
        by_kind.setdefault(kind(error), []).append((source, error))
    lines = []
    for failures in by_kind.values():
        if len(failures) <= shown:
            lines += [f"{source}: {error}" for source, error in failures]
        else:
            (first, error), (second, _) = failures[:2]
            lines.append(f"{len(failures)} inputs ({first}, {second}, ...): {error}")
    return lines


LLM_RERUN_NOTE = "answers already received are cached and not requested again"
