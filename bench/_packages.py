"""Real code fetched at bench or build time, never committed: PyPI sdists, npm tarballs, Debian bookworm
source and binary packages, and folders of bare git mirrors, each named by a source spec:

- ``pypi:NAME==VERSION`` (the sdist), ``npm:NAME@VERSION`` (``npm pack``);
- ``debian:PACKAGE`` (a source package's upstream tarball), ``debian:PACKAGE/DIR,DIR`` (folders or files of
  it), ``deb:PACKAGE`` (a binary package, unpacked: Debian's librust-*-dev and golang-*-dev packages carry
  their source), ``deb:PACKAGE/DIR,...``;
- ``git:OWNER+NAME/DIR,...`` (folders or files of a bare mirror under ``$MEGAMATH_MIRRORS``, by default
  ``../.mirror``: ``fetch github:OWNER/NAME``, or ``git clone --mirror`` into ``OWNER+NAME/repo``).

A part ``-PATH`` leaves PATH out of the folders named before it. Everything is kept in ``bench/.code-packages``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".code-packages"
MIRRORS = Path(os.environ.get("MEGAMATH_MIRRORS", ROOT.parent / ".mirror"))


def fetch(spec: str) -> list[str]:
    """What ``megamath code read`` reads for a source spec (see :data:`PACKAGES`), downloaded once."""
    kind, _, name = spec.partition(":")
    CACHE.mkdir(parents=True, exist_ok=True)
    if kind == "pypi":
        package, version = name.split("==")
        target = CACHE / "pypi" / f"{package}-{version}.tar.gz"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            url = pypi_sdist_url(package, version)
            with urllib.request.urlopen(url, timeout=120) as response:
                target.with_suffix(".part").write_bytes(response.read())
            target.with_suffix(".part").rename(target)
        return [str(target)]
    if kind == "npm":
        package, version = name.rsplit("@", 1)
        target = CACHE / f"{package}-{version}.tgz"
        if not target.exists():
            subprocess.run(["npm", "pack", name, "--silent", "--pack-destination", str(CACHE)], check=True,
                           capture_output=True)
        return [str(target)]
    package, _, named = name.partition("/")
    parts = named.split(",") if named else []
    if kind == "git":
        return selected(git_tree(package, [p for p in parts if not p.startswith("-")]), parts)
    if kind == "deb":
        tree = debian_binary(package)
        return selected(tree, parts) if parts else [str(tree)]
    folder = debian_source(package)
    if not parts:
        return [str(upstream_tarball(folder))]
    return selected(upstream_tree(folder, [p for p in parts if not p.startswith("-")]), parts)


def pypi_sdist_url(package: str, version: str) -> str:
    """The sdist of a release, from the registry's simple index (JSON): downloading it with pip would
    build the package's metadata, compilers and all."""
    request = urllib.request.Request(f"https://pypi.org/simple/{package.lower()}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    for entry in files:
        stem = entry["filename"].removesuffix(".tar.gz")
        if entry["filename"].endswith(".tar.gz") and stem.rsplit("-", 1)[-1] == version:
            return entry["url"]
    sys.exit(f"PyPI has no sdist of {package} {version}")


def selected(top: Path, parts: list[str]) -> list[str]:
    """The paths of ``parts`` below ``top``; with "-PATH" parts, one folder holding the files of the
    other parts but those (copied once: a folder is one input, whatever names its files have)."""
    kept = [top / part for part in parts if not part.startswith("-")]
    left_out = {top / part[1:] for part in parts if part.startswith("-")}
    if not left_out:
        return [str(path) for path in kept]
    folder = CACHE / "selected" / hashlib.sha1("\n".join([str(top), *parts]).encode()).hexdigest()[:10] / top.name
    if not folder.is_dir():
        staging = folder.with_suffix(".part")
        files = [f for path in kept for f in ([path] if path.is_file() else sorted(path.rglob("*"))) if f.is_file()]
        for f in files:
            if not any(f == out or out in f.parents for out in left_out):
                (staging / f.relative_to(top)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, staging / f.relative_to(top))
        staging.rename(folder)
    return [str(folder)]


def apt_get(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """apt-get with a private configuration (bookworm's sources and binaries, lists in the cache): the
    system's apt sources and lists are not touched."""
    apt = CACHE / "apt"
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    sources = "deb-src http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm main\n"
    if not (apt / "sources.list").is_file() or (apt / "sources.list").read_text() != sources:
        (apt / "sources.list").write_text(sources)
        for stale in (apt / "lists").glob("*_*"):
            stale.unlink()
    options = ["-o", f"Dir::Etc::SourceList={apt / 'sources.list'}", "-o", "Dir::Etc::SourceParts=/dev/null",
               "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", "Debug::NoLocking=1", "-q"]
    if not list((apt / "lists").glob("*Packages*")):
        subprocess.run(["apt-get", *options, "update"], check=True, capture_output=True)
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["apt-get", *options, *args], capture_output=True, text=True, cwd=cwd)


def debian_source(package: str) -> Path:
    """A Debian bookworm source package in the cache. Only its upstream tarball is used — the packaging
    is not the project's code — so a mirror that lacks the Debian tarball is fine."""
    folder = CACHE / "debian" / package
    if folder.is_dir() and any(".debian." not in p.name for p in folder.glob("*.tar.*")):
        return folder
    result = apt_get("source", "--download-only", package, cwd=folder)
    upstream_tarball(folder, result.stderr)
    return folder


def debian_binary(package: str) -> Path:
    """A Debian bookworm binary package, unpacked once (``dpkg-deb -x``)."""
    folder = CACHE / "deb" / package
    tree = folder / package  # the folder's name is the repository name of its files
    if not tree.is_dir():
        if not list(folder.glob("*.deb")):
            result = apt_get("download", package, cwd=folder)
            if not list(folder.glob("*.deb")):
                sys.exit(f"{package} could not be fetched: {result.stderr[-500:]}")
        subprocess.run(["dpkg-deb", "-x", str(next(folder.glob("*.deb"))), str(tree.with_suffix(".part"))], check=True)
        tree.with_suffix(".part").rename(tree)
    return tree


def git_tree(mirror: str, parts: list[str]) -> Path:
    """The ``parts`` of a bare mirror's HEAD, written out once. A snapshot may lack its largest files:
    those are left out."""
    repo = MIRRORS / mirror / "repo"
    if not repo.is_dir():
        sys.exit(f"no mirror of {mirror} in {MIRRORS}: fetch it (github:{mirror.replace('+', '/')}) or set "
                 "MEGAMATH_MIRRORS")
    tree = CACHE / "git" / mirror / ("tree-" + hashlib.sha1(",".join(sorted(parts)).encode()).hexdigest()[:10])
    if not tree.exists():
        staging = tree.with_suffix(".part")
        shutil.rmtree(staging, ignore_errors=True)
        listing = subprocess.run(["git", "--git-dir", str(repo), "ls-tree", "-r", "-z", "HEAD", "--", *parts],
                                 check=True, capture_output=True).stdout.split(b"\0")
        blobs = [(entry.split(b"\t", 1)[1].decode(), entry.split()[2].decode()) for entry in listing
                 if entry and entry.split()[1] == b"blob"]
        batch = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "--batch"], check=True, capture_output=True,
                               input="".join(f"{sha}\n" for _, sha in blobs).encode()).stdout
        at = 0
        for name, _ in blobs:
            header_end = batch.index(b"\n", at)
            header = batch[at:header_end].split()
            at = header_end + 1
            if header[-1] == b"missing":
                continue
            size = int(header[2])
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(batch[at:at + size])
            at += size + 1
        staging.mkdir(parents=True, exist_ok=True)
        staging.rename(tree)
    return tree


def upstream_tarball(folder: Path, why: str = "") -> Path:
    found = [p for p in sorted(folder.glob("*.tar.*")) if ".debian." not in p.name]
    if not found:
        sys.exit(f"no upstream tarball of {folder.name} could be fetched: {why[-500:]}")
    return found[0]


def upstream_tree(folder: Path, parts: list[str]) -> Path:
    """The ``parts`` (folders or files below the top folder) of a downloaded source package's upstream
    tarball, unpacked once per set of parts (Mono's sources are 1.5 GB; a few folders are wanted); the
    top folder."""
    tree = folder / ("tree-" + hashlib.sha1(",".join(sorted(parts)).encode()).hexdigest()[:10])
    if not tree.exists():
        with tarfile.open(upstream_tarball(folder)) as archive:
            wanted = [m for m in archive if any(m.name.split("/", 1)[-1].startswith(part) for part in parts)]
            archive.extractall(tree.with_suffix(".part"), members=wanted, filter="data")
        tree.with_suffix(".part").rename(tree)
    tops = [p for p in tree.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else tree
