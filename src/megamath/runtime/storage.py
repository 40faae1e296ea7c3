"""Where a run's files live: local paths, or any fsspec URL (``s3://``, ``gs://``, ``abfs://``, ...).

Every file the runtime reads or writes goes through these functions, so a run folder, its inputs and
its outputs can sit on a cluster's object store as well as on a local disk. Local paths take a direct
path through ``os``; every other URL goes through fsspec, configured the way fsspec is configured
(``FSSPEC_S3_ENDPOINT_URL=...`` or ``FSSPEC_S3='{"anon": true}'`` in the environment, files in
``~/.config/fsspec``; s3fs also reads the usual AWS variables and profiles).

Writes are atomic everywhere. :func:`atomic_output` hands out a local file to write: next to the final
name (then renamed over it) for a local location, or in local scratch space (then uploaded in one PUT)
for an object store, where an object appears whole or not at all. Readers therefore never see half a
file, and a temporary name (``*.tmp-<pid>-<token>``) left by a killed process is recognizable.

HTTP(S) locations are inputs only (Common Crawl's https://data.commoncrawl.org/...): they are read
through fsspec's HTTP filesystem (which needs aiohttp), and downloaded with Range resume by
:mod:`megamath.sources.remote` when a whole file is wanted.
"""

from __future__ import annotations

import errno
import glob as local_glob
import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from megamath.runtime.errors import TransientError

log = logging.getLogger(__name__)

TMP_MARKER = ".tmp-"


class StorageError(OSError):
    """A location cannot be used (no fsspec implementation for its protocol, no permission...)."""


def is_local(location: str | os.PathLike[str]) -> bool:
    location = str(location)
    return "://" not in location or location.startswith("file://")


def is_http(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def local_path(location: str | os.PathLike[str]) -> str:
    location = str(location)
    return location.removeprefix("file://") if location.startswith("file://") else location


def normalize(location: str | os.PathLike[str]) -> str:
    """A canonical spelling: absolute local paths, URLs without a trailing slash."""
    location = str(location)
    if is_local(location):
        return os.path.abspath(local_path(location))
    return location.rstrip("/")


def join(base: str | os.PathLike[str], *parts: str) -> str:
    base = str(base)
    if is_local(base):
        return os.path.join(local_path(base), *parts)
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def name_of(location: str) -> str:
    """The last component of a path or URL (``a/b.parquet`` → ``b.parquet``)."""
    return str(location).rstrip("/").rsplit("/", 1)[-1]


def parent_of(location: str) -> str:
    location = str(location).rstrip("/")
    if is_local(location):
        return os.path.dirname(local_path(location))
    return location.rsplit("/", 1)[0]


def filesystem(location: str):
    """(fsspec filesystem, path inside it) of a URL."""
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a dependency
        raise StorageError("fsspec is not installed") from exc
    try:
        return fsspec.core.url_to_fs(location)
    except (ImportError, ValueError) as exc:
        protocol = location.split("://", 1)[0]
        hint = " (pip install 's3fs')" if protocol in ("s3", "s3a") else ""
        raise StorageError(f"cannot open {location}: no filesystem for {protocol}:// ({exc}){hint}") from exc


# -- reading ---------------------------------------------------------------------------------------

REMOTE_ATTEMPTS = 4
_NOT_TRANSIENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)


def _retried(operation, *args, **kwargs):
    """An object-store call, tried again on what another try may not meet (a 500, a reset, a timeout):
    one failed read of a done record or a lease must not end a run that is otherwise fine."""
    for attempt in range(1, REMOTE_ATTEMPTS + 1):
        try:
            return operation(*args, **kwargs)
        except _NOT_TRANSIENT:
            raise
        except (OSError, TimeoutError) as exc:
            if attempt == REMOTE_ATTEMPTS:
                raise
            log.warning("%s(%s) failed (%s); trying again (%d/%d)", getattr(operation, "__name__", "call"),
                        args[0] if args else "", exc, attempt, REMOTE_ATTEMPTS - 1)
            time.sleep(0.5 * 2 ** (attempt - 1))


def open_input(location: str, block_size: int = 8 << 20) -> IO[bytes]:
    """A binary file object for reading (seekable), local or remote. A remote read that fails or comes
    back shorter than the object holds raises :class:`IncompleteRead`: a store that cut or emptied
    its answer must not look like a damaged or shorter file."""
    if is_local(location):
        return open(local_path(location), "rb")
    fs, path = filesystem(location)
    return _WholeReads(_retried(fs.open, path, "rb", block_size=block_size), location)


class IncompleteRead(TransientError):
    """A remote read failed or returned fewer bytes than the object holds: another attempt may not."""


class _WholeReads:
    """A remote file whose reads return every byte asked for up to the object's end, or raise."""

    def __init__(self, file, location: str):
        self._file, self._location = file, location

    def read(self, length: int = -1) -> bytes:
        position = self._file.tell()
        left = max(self._file.size - position, 0)
        wanted = left if length is None or length < 0 else min(length, left)
        try:
            data = self._file.read(length)
        except OSError as exc:
            raise IncompleteRead(f"{self._location}: reading at byte {position} failed ({exc})") from exc
        if len(data) < wanted:
            raise IncompleteRead(f"{self._location}: the store sent {len(data)} of {wanted} bytes at byte {position}")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def __getattr__(self, name: str):
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self) -> "_WholeReads":
        return self

    def __exit__(self, *exc_info) -> None:
        self._file.close()


def read_bytes(location: str) -> bytes:
    if is_local(location):
        return Path(local_path(location)).read_bytes()
    fs, path = filesystem(location)
    return _retried(fs.cat_file, path)


def exists(location: str) -> bool:
    if is_local(location):
        return os.path.exists(local_path(location))
    fs, path = filesystem(location)
    fs.invalidate_cache(path)  # another process may have written it since this one listed the folder
    return _retried(fs.exists, path)


def is_file(location: str) -> bool:
    if is_local(location):
        return os.path.isfile(local_path(location))
    fs, path = filesystem(location)
    fs.invalidate_cache(path)
    return _retried(fs.isfile, path)


def info(location: str) -> dict:
    """``{"size": bytes, "version": what changes when the content changes}`` of a file.

    The version is the modification time, inode and change time of a local file, or what the object store says about
    the object's content: its ETag (S3: an MD5 of the content for single-part uploads), checksum or
    generation, else its modification time.
    """
    if is_local(location):
        path = local_path(location)
        if os.path.isdir(path):  # a source tree: what changes when any file in it changes
            return _tree_info(path)
        stat = os.stat(path)
        # mtime alone misses a file replaced by another with its mtime copied, or rewritten in place and
        # touched back: the inode and the change time (which no one can set) see both
        return {"size": stat.st_size, "version": f"{stat.st_mtime_ns}:{stat.st_ino}:{stat.st_ctime_ns}"}
    fs, path = filesystem(location)
    fs.invalidate_cache(path)
    details = _retried(fs.info, path)
    version = next((str(details[key]) for key in ("ETag", "etag", "md5Hash", "crc32c", "generation", "checksum",
                                                  "LastModified", "mtime", "last_modified", "created")
                    if details.get(key)), "")
    return {"size": details.get("size"), "version": version}


def _tree_info(root: str) -> dict:
    """Size and version of a local folder: the files' total size, and a hash of every file's path,
    size, modification time, inode and change time."""
    digest, size = hashlib.sha1(), 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name), follow_symlinks=False)
            size += stat.st_size
            digest.update(f"{os.path.relpath(os.path.join(folder, name), root)}\0{stat.st_size}\0{stat.st_mtime_ns}"
                          f"\0{stat.st_ino}\0{stat.st_ctime_ns}\n".encode())
    return {"size": size, "version": digest.hexdigest()}


def fingerprint(location: str) -> str:
    """What identifies the content of a file: size and version (see :func:`info`). HTTP(S) inputs are
    identified by their URL alone (Common Crawl's files never change, and a HEAD request per file
    would cost more than the check is worth)."""
    if is_http(location):
        return "url"
    details = info(location)
    return f"{details['size']}:{details['version']}"


def seal(location: str) -> str:
    """What a finished output is checked against before it is trusted again: the SHA-1 of a local
    file's bytes, or the size and version an object store reports (reading an object back to hash it
    would cost a download per shard on every resume)."""
    if is_local(location):
        with open(local_path(location), "rb") as fh:
            return "sha1:" + hashlib.file_digest(fh, "sha1").hexdigest()
    return "info:" + fingerprint(location)


def size(location: str) -> int | None:
    if is_http(location):
        return None
    try:
        return info(location)["size"]
    except (OSError, StorageError):
        return None


def list_files(folder: str, suffix: str = "") -> list[str]:
    """The files directly inside ``folder`` whose names end with ``suffix``, sorted; [] when it is absent."""
    return _entries(folder, "file", suffix)


def list_dirs(folder: str) -> list[str]:
    """The folders directly inside ``folder``, sorted; [] when it is absent."""
    return _entries(folder, "directory")


def _entries(folder: str, kind: str, suffix: str = "") -> list[str]:
    if is_local(folder):
        folder = local_path(folder)
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        test = os.path.isfile if kind == "file" else os.path.isdir
        return sorted(os.path.join(folder, n) for n in names if n.endswith(suffix) and test(os.path.join(folder, n)))
    fs, path = filesystem(folder)
    fs.invalidate_cache(path)
    try:
        entries = _retried(fs.ls, path, detail=True)
    except FileNotFoundError:
        return []
    return sorted(fs.unstrip_protocol(e["name"]) for e in entries
                  if e.get("type") == kind and e["name"].rstrip("/").endswith(suffix))


def glob(pattern: str) -> list[str]:
    """Files matching a glob pattern (``**`` recursive), sorted."""
    if is_local(pattern):
        return sorted(p for p in local_glob.glob(local_path(pattern), recursive=True) if os.path.isfile(p))
    fs, path = filesystem(pattern)
    fs.invalidate_cache()
    return sorted(fs.unstrip_protocol(p) for p in fs.glob(path) if fs.isfile(p))


# -- writing ---------------------------------------------------------------------------------------

def makedirs(folder: str) -> None:
    """Create a folder and its parents (object stores have no folders: nothing to do there)."""
    if is_local(folder):
        os.makedirs(local_path(folder), exist_ok=True)


def temporary_name(location: str) -> str:
    return f"{location}{TMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextmanager
def atomic_output(location: str) -> Iterator[str]:
    """Yield a local path to write; when the block ends without an exception the file becomes
    ``location`` in one step (rename, or a single upload), otherwise it is removed."""
    if is_local(location):
        final = local_path(location)
        os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
        tmp = temporary_name(final)
    else:
        handle, tmp = tempfile.mkstemp(prefix="megamath-upload-", suffix=TMP_MARKER.rstrip("-"))
        os.close(handle)
    try:
        yield tmp
        publish(tmp, location)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def publish(local_file: str, location: str) -> None:
    """Make a finished local file ``location``: rename, or upload in one PUT. A file on another
    filesystem than ``location`` (a tmpfs ``/tmp``) is first copied beside ``location``, so that the
    final step is still one rename on the output's own filesystem."""
    if is_local(location):
        final = local_path(location)
        with open(local_file, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(local_file, final)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            beside = temporary_name(final)
            try:
                shutil.copyfile(local_file, beside)
                with open(beside, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(beside, final)
            finally:
                if os.path.exists(beside):
                    os.unlink(beside)
            os.unlink(local_file)
        return
    fs, path = filesystem(location)
    _retried(_upload_checked, path, fs, os.path.getsize(local_file), lambda: fs.put_file(local_file, path))


def _upload_checked(path: str, fs, size: int, upload) -> None:
    """Upload (one PUT: the object appears whole or not at all), then ask the store what it holds: a
    store that answered 200 and kept nothing must not leave a done record pointing at no shard."""
    upload()
    fs.invalidate_cache(path)
    try:
        stored = fs.info(path).get("size")
    except FileNotFoundError:
        stored = None
    if stored != size:
        raise StorageError(f"{path}: the store accepted the upload but holds "
                           f"{'nothing' if stored is None else f'{stored} bytes'} of {size}")


def write_bytes(location: str, data: bytes) -> None:
    """Write a whole file atomically."""
    if is_local(location):
        with atomic_output(location) as tmp:
            Path(tmp).write_bytes(data)
        return
    fs, path = filesystem(location)
    _retried(_upload_checked, path, fs, len(data), lambda: fs.pipe_file(path, data))


class PreconditionFailed(StorageError):
    """A conditional write found the object otherwise than required (present, or of another ETag)."""


def supports_conditional_writes(location: str) -> bool:
    """Whether writes to ``location`` can be made conditional on the object's absence or ETag (S3 and
    the stores that speak its API: ``If-None-Match``/``If-Match`` on PUT)."""
    return not is_local(location) and location.split("://", 1)[0] in ("s3", "s3a")


def write_bytes_if(location: str, data: bytes, *, etag: str | None) -> str:
    """Write ``location`` only if it is absent (``etag`` None) or still has ``etag``; returns the new
    ETag. Raises :class:`PreconditionFailed` when another writer came first: one of two racing
    writers wins, whatever the timing (see :func:`supports_conditional_writes`)."""
    fs, path = filesystem(location)
    try:
        if etag is None:
            answer = fs.pipe_file(path, data, mode="create")
        else:
            answer = fs.pipe_file(path, data, IfMatch=etag)
    except OSError as exc:
        if isinstance(exc, FileExistsError) or "pre-condition" in str(exc).lower() or "precondition" in str(exc).lower():
            raise PreconditionFailed(f"{location} changed since it was read") from exc
        raise
    finally:
        fs.invalidate_cache(path)
    return str((answer or {}).get("ETag") or "")


def etag_of(location: str) -> str | None:
    """The object's ETag (what :func:`info` gives as its version on S3), or None when it does not exist."""
    try:
        return info(location)["version"]
    except FileNotFoundError:
        return None


def remove(location: str) -> None:
    """Delete a file; a missing one is not an error."""
    if is_local(location):
        Path(local_path(location)).unlink(missing_ok=True)
        return
    fs, path = filesystem(location)
    try:
        _retried(fs.rm_file, path)
    except FileNotFoundError:
        pass
    fs.invalidate_cache(path)


def remove_tree(folder: str) -> None:
    if is_local(folder):
        shutil.rmtree(local_path(folder), ignore_errors=True)
        return
    fs, path = filesystem(folder)
    try:
        fs.rm(path, recursive=True)
    except FileNotFoundError:
        pass
    fs.invalidate_cache(path)


def check_writable(folder: str) -> None:
    """Raise :class:`StorageError` with the reason when files cannot be created under ``folder``
    (``/proc/x``, a path below a file, a read-only place, an unknown protocol, a missing bucket)."""
    probe = join(folder, ".megamath", f"write-check{TMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        makedirs(parent_of(probe))
        write_bytes(probe, b"")
        remove(probe)
    except StorageError:
        raise
    except Exception as exc:  # whatever the filesystem raises, the user needs one clear sentence
        raise StorageError(f"cannot write under {folder}: {type(exc).__name__}: {exc}") from exc


def local_copy(location: str) -> str:
    """A local path with the content of ``location`` (itself when local): remote files (a model on
    the cluster's object store) are downloaded once per machine into the scratch cache, keyed by
    their fingerprint, so a changed file is fetched again."""
    if is_local(location):
        return local_path(location)
    cache = scratch_dir(location) / "copies" / hashlib.sha1(fingerprint(location).encode()).hexdigest()[:16]
    target = cache / name_of(location)
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_output(str(target)) as tmp, open(tmp, "wb") as out, open_input(location) as source:
            shutil.copyfileobj(source, out, 8 << 20)
    return str(target)


def scratch_dir(location: str) -> Path:
    """A local folder for a remote run folder's process-local state (in-flight slots, downloads,
    logs), the same for every process on this machine."""
    digest = hashlib.sha1(normalize(location).encode()).hexdigest()[:16]
    base = Path(os.environ.get("MEGAMATH_SCRATCH", Path(tempfile.gettempdir()) / "megamath-scratch"))
    return base / digest
