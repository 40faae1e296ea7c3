"""Turn the command line's INPUT arguments into a list of sources (local paths or URLs)."""

from __future__ import annotations

import glob
import gzip
from pathlib import Path

from megamath.sources.remote import is_remote, resolve_common_crawl

LIST_SUFFIXES = (".txt", ".paths", ".paths.gz", ".lst")


class InputNotFound(FileNotFoundError):
    pass


def resolve_inputs(arguments: list[str]) -> list[str]:
    """Expand globs, read path lists (``.txt``, ``.paths[.gz]``, ``.lst``: one path or URL a line) and
    resolve Common Crawl ``crawl-data/...`` paths to URLs. Order is kept and repeats are removed."""
    sources: list[str] = []
    for argument in arguments:
        if argument.endswith(LIST_SUFFIXES) and Path(argument).is_file():
            sources.extend(_resolve_one(line) for line in _read_list(Path(argument)))
        else:
            sources.extend(_expand(argument))
    return list(dict.fromkeys(sources))


def _read_list(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")]


def _resolve_one(entry: str) -> str:
    entry = resolve_common_crawl(entry)
    if is_remote(entry) or Path(entry).is_file():
        return entry
    raise InputNotFound(f"input not found: {entry}")


def _expand(argument: str) -> list[str]:
    argument = resolve_common_crawl(argument)
    if is_remote(argument):
        return [argument]
    if glob.has_magic(argument):
        matches = sorted(p for p in glob.glob(argument, recursive=True) if Path(p).is_file())
        if not matches:
            raise InputNotFound(f"no file matches {argument!r}")
        return matches
    if Path(argument).is_dir():
        raise InputNotFound(f"{argument} is a folder: pass a glob such as '{argument}/*.warc.gz'")
    return [_resolve_one(argument)]
