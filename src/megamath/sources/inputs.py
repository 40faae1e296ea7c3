"""Turn the command line's INPUT arguments into a list of sources (local paths or URLs)."""

from __future__ import annotations

import gzip
import io
import os

from megamath.runtime import storage
from megamath.sources.remote import check_hosts, resolve_common_crawl

LIST_SUFFIXES = (".txt", ".paths", ".paths.gz", ".lst")


class InputNotFound(FileNotFoundError):
    pass


def resolve_inputs(arguments: list[str], *, folders: bool = False) -> list[str]:
    """Expand globs (local or on any fsspec filesystem), read path lists (``.txt``, ``.paths[.gz]``,
    ``.lst``: one path or URL a line) and resolve Common Crawl ``crawl-data/...`` paths. Order is kept
    and repeats are removed. Inputs that do not exist, or on a host that does not resolve, are refused
    here, before any work starts.
    ``folders``: a local folder is an input too (a source tree)."""
    sources: list[str] = []
    for argument in arguments:
        if not argument.strip():
            raise InputNotFound("an input argument is empty")
        if argument.endswith(LIST_SUFFIXES) and not storage.is_http(argument) and _is_file(argument):
            sources.extend(_resolve_one(line, folders) for line in _read_list(argument))
        else:
            sources.extend(_expand(argument, folders))
    if not sources:
        raise InputNotFound(f"no input file in {' '.join(arguments)}")
    check_hosts(sources)
    return list(dict.fromkeys(sources))


def _is_file(location: str) -> bool:
    try:
        return storage.is_file(location)
    except (OSError, storage.StorageError):
        return False


def _read_list(location: str) -> list[str]:
    data = storage.read_bytes(location)
    if location.endswith(".gz"):
        data = gzip.decompress(data)
    lines = io.StringIO(data.decode("utf-8"))
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _resolve_one(entry: str, folders: bool = False) -> str:
    entry = resolve_common_crawl(entry)
    if storage.is_http(entry):
        return entry
    entry = storage.normalize(entry)  # absolute: workers may run elsewhere than the driver's folder
    if _is_file(entry) or (folders and storage.is_local(entry) and os.path.isdir(entry)):
        return entry
    if storage.is_local(entry) and os.path.isdir(entry):
        raise InputNotFound(f"{entry} is a folder: pass a glob such as '{entry}/*.warc.gz'")
    raise InputNotFound(f"input not found: {entry}")


def _expand(argument: str, folders: bool = False) -> list[str]:
    argument = resolve_common_crawl(argument)
    if storage.is_http(argument):
        return [argument]
    if any(char in argument.split("://", 1)[-1] for char in "*?["):
        try:
            matches = storage.glob(argument)
        except storage.StorageError as exc:
            raise InputNotFound(str(exc)) from exc
        if not matches:
            raise InputNotFound(f"no file matches {argument!r}")
        return [storage.normalize(match) for match in matches]
    return [_resolve_one(argument, folders)]
