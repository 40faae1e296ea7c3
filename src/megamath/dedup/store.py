"""Arrays on disk with an integrity check: a JSON header (shape, dtype, byte length, SHA-256) and the
raw bytes. A file that was cut short, altered or is not such a file raises :class:`CorruptFileError`
naming it; nothing is ever read silently from a damaged file. Files live anywhere the runtime's
storage reaches (a local path or a URL); reading some arrays of a file skips over the others."""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import zstandard

from megamath.runtime import storage

_MAGIC = "megamath-array-1"


class CorruptFileError(OSError):
    pass


def save_arrays(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """Write named arrays atomically (see :func:`megamath.runtime.storage.atomic_output`)."""
    entries, blobs = [], []
    for name, array in arrays.items():
        data = np.ascontiguousarray(array).tobytes()
        entries.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
        blobs.append(data)
    header = json.dumps({"magic": _MAGIC, "arrays": entries}).encode() + b"\n"
    with storage.atomic_output(str(path)) as tmp, open(tmp, "wb") as fh:
        fh.write(header)
        for blob in blobs:
            fh.write(blob)


def load_arrays(path: str | os.PathLike[str], names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Read (some of) the arrays of ``path``, verifying each one's length and checksum; a ``.zst``
    file (an array file compressed whole, as shipped files are) is decompressed in memory."""
    path = str(path)
    try:
        with _array_file(path) as fh:
            header = json.loads(fh.readline())
            if header.get("magic") != _MAGIC:
                raise CorruptFileError(f"{path}: not a megamath array file")
            out = {}
            for entry in header["arrays"]:
                if names is not None and entry["name"] not in names:
                    fh.seek(entry["bytes"], os.SEEK_CUR)
                    continue
                data = fh.read(entry["bytes"])
                if len(data) != entry["bytes"]:
                    raise CorruptFileError(f"{path}: array {entry['name']!r} is cut short "
                                           f"({len(data)} of {entry['bytes']} bytes)")
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise CorruptFileError(f"{path}: array {entry['name']!r} fails its checksum")
                out[entry["name"]] = np.frombuffer(data, dtype=np.dtype(entry["dtype"])).reshape(entry["shape"])
            if fh.read(1):
                raise CorruptFileError(f"{path}: unexpected bytes after the last array")
            return out
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"{path}: unreadable header ({exc})") from exc


def _array_file(path: str):
    if not path.endswith(".zst"):
        return storage.open_input(path)
    with storage.open_input(path) as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream:
        return io.BytesIO(stream.read())
