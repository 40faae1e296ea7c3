"""The ``megamath`` command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from megamath import __version__


def configure_logging(log_file: Path | None, quiet: bool, verbose: bool = False) -> None:
    """Everything at INFO goes to the run's log file; the terminal gets warnings (errors when quiet)."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.ERROR if quiet else (logging.INFO if verbose else logging.WARNING))
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [driver] %(name)s: %(message)s"))
        root.addHandler(handler)


def start_run(output: str, inputs: tuple[str, ...], *, quiet: bool, verbose: bool = False):
    """The preamble of every command that writes a run folder: the folder, its log, the resolved inputs."""
    from megamath.runtime.resume import RunFolder
    from megamath.sources.inputs import InputNotFound, resolve_inputs

    folder = RunFolder(output)
    folder.logs.mkdir(parents=True, exist_ok=True)
    configure_logging(folder.log_path, quiet=quiet, verbose=verbose)
    try:
        return folder, resolve_inputs(list(inputs))
    except InputNotFound as exc:
        raise click.UsageError(str(exc)) from exc


def run_in_folder(pipeline, folder, sources: list[str], *, workers: int | None, force: bool, quiet: bool):
    """Run ``pipeline`` over ``sources`` into the run folder (resuming what is done there); a changed
    configuration is reported as a command error instead of a traceback."""
    from megamath.runtime.executor import LocalExecutor
    from megamath.runtime.resume import ConfigChangedError
    from megamath.runtime.runner import run_pipeline

    try:
        return run_pipeline(pipeline, sources, folder.root, LocalExecutor(workers=workers), force=force,
                            show_progress=not quiet)
    except ConfigChangedError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="megamath")
def cli() -> None:
    """Build math pre-training corpora from Common Crawl, the MegaMath way.

    \b
    Start with:
      megamath web extract examples/example.warc.gz -o runs/example
    """


@cli.group()
def web() -> None:
    """Web pipeline: Common Crawl WARC files to an English text corpus."""


def main() -> None:
    from megamath.cli import classifier, decontaminate, dedup, llm, web, web_stage2  # noqa: F401  (importing registers the commands)

    cli()
