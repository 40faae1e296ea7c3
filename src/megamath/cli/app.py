"""The ``megamath`` command groups, logging, and the one place library errors become messages.

Commands map options to configurations, call a workflow of :mod:`megamath.pipelines` and print; a
library error that a user can act on (a locked or unwritable folder, a changed configuration, a bad
model, a file that is not a shard, a path that does not exist...) ends the command with its message,
never a traceback; Ctrl-C and SIGTERM end it with one line and the exit code of the signal (130, 143).
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from megamath import __version__


def _user_errors() -> tuple[type[BaseException], ...]:
    from megamath.classify.model import ClassifierError
    from megamath.classify.seeds import SeedFileError
    from megamath.decontam.index import BenchmarkError
    from megamath.llm.prompts import PromptError
    from megamath.pipelines.labelling import LabellingError
    from megamath.pipelines.recipe import RecipeError
    from megamath.runtime.executor import ExecutorError
    from megamath.runtime.lock import RunFolderLocked
    from megamath.runtime.resume import ConfigChangedError
    from megamath.runtime.runner import NoInputError
    from megamath.runtime.shards import NotAShardError
    from megamath.runtime.stage import StageConfigError
    from megamath.runtime.storage import StorageError
    from megamath.sources.inputs import InputNotFound
    from megamath.sources.remote import HostNotFound

    return (ClassifierError, SeedFileError, BenchmarkError, PromptError, LabellingError, RecipeError, ExecutorError,
            RunFolderLocked, ConfigChangedError, NoInputError, NotAShardError, StageConfigError, StorageError,
            InputNotFound, HostNotFound)


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the driver (a BaseException, like KeyboardInterrupt: no handler of
    ordinary errors may swallow it)."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _interrupt(signal_number: int, _frame) -> None:
    raise Interrupted(signal_number)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        from megamath.sources.inputs import InputNotFound

        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return super().invoke(ctx)
        except InputNotFound as exc:  # a wrong argument: a usage error (exit code 2), like click's own
            raise click.UsageError(str(exc)) from exc
        except _user_errors() as exc:
            raise click.ClickException(str(exc)) from exc
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
            if exc.filename is None:
                raise
            raise click.ClickException(f"cannot use {exc.filename}: {exc.strerror}") from exc
        except (KeyboardInterrupt, Interrupted) as exc:
            number = exc.signal_number if isinstance(exc, Interrupted) else signal.SIGINT
            click.echo(f"\nInterrupted ({signal.Signals(number).name}): finished tasks are kept; rerun the same "
                       "command to resume.", err=True)
            sys.exit(128 + number)
        finally:
            signal.signal(signal.SIGTERM, previous)


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="megamath")
def cli() -> None:
    """Build math pre-training corpora from Common Crawl, the MegaMath way.

    \b
    Start with:
      megamath run examples/recipe.toml            # the whole recipe on the example WARC
      megamath web extract examples/example.warc.gz -o runs/example
    """


@cli.group()
def web() -> None:
    """Web pipeline: Common Crawl WARC files to an English math corpus (stage 1, stage 2, Web-Pro)."""


@cli.group()
def dedup() -> None:
    """Near-duplicate removal: MinHash-LSH over word 5-grams, after exact-duplicate removal."""


@cli.group()
def code() -> None:
    """MegaMath-Code: source files to math code (read, score-sample, train, recall, eval)."""


@cli.group()
def synth() -> None:
    """MegaMath-Synth: Q&A from pages, code translated to Python, text+code blocks verified in a sandbox."""


@cli.group()
def classifier() -> None:
    """The fastText math classifier: seeds, training, evaluation, round 2."""


@cli.group()
def llm() -> None:
    """Ask a model about documents through any OpenAI-compatible endpoint."""


@cli.group()
def recipe() -> None:
    """The whole web recipe from one TOML file (see `megamath run`)."""
