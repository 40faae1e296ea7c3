"""The ``megamath`` entry point: importing the command modules registers their commands."""

from __future__ import annotations

from megamath.cli import classifier, code, decontaminate, dedup, llm, recipe, release, report, synth, web  # noqa: F401
from megamath.cli.app import cli


def main() -> None:
    cli()
