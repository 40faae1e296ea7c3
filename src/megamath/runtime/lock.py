"""One run at a time per run folder.

Two drivers writing one folder would lose documents for good: the second one's start-up removes the
first one's temporary shards and reads its in-flight markers as documents that crashed a worker. So
a driver holds the folder's lock from planning to the last statistics, and a second driver is refused
with a message naming the holder.

* Local folders use ``flock`` on ``.megamath/lock``: the kernel releases it when the process ends,
  however it ends, so a killed run never leaves a stale lock behind.
* Object stores have no locks; there the lock is a lease object (``.megamath/lock.json``) holding an
  owner token and a heartbeat the holder renews every ``heartbeat_s``. A lease older than ``ttl_s``
  belongs to a run that died and is taken over. Two drivers starting within the same second can
  both believe they hold it (object stores offer no compare-and-swap that s3fs exposes), so the
  owner is read back after a pause and the loser steps down.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from megamath.runtime import storage


class RunFolderLocked(RuntimeError):
    """Another run is writing into this run folder."""


def _holder_description(holder: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {started}: {holder.get('command', '?')}"


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}


class RunLock:
    """``with RunLock(state_folder):`` holds the folder for this process (re-entrant within it)."""

    _held: dict[str, int] = {}  # folder -> depth, for the nested phases of one driver

    def __init__(self, state_folder: str, *, ttl_s: float = 120.0, heartbeat_s: float = 30.0):
        self.folder = storage.normalize(state_folder)
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self._fd: int | None = None
        self._token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> "RunLock":
        depth = self._held.get(self.folder, 0)
        if depth == 0:
            if storage.is_local(self.folder):
                self._lock_local()
            else:
                self._lock_remote()
        self._held[self.folder] = depth + 1
        return self

    def __exit__(self, *exc_info) -> None:
        self._held[self.folder] -= 1
        if self._held[self.folder]:
            return
        del self._held[self.folder]
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
        if self._heartbeat is not None:
            self._stop.set()
            self._heartbeat.join(timeout=5)
            if (self._read_lease() or {}).get("token") == self._token:
                storage.remove(self._lease_path)

    # -- local: flock ----------------------------------------------------------------------------
    def _lock_local(self) -> None:
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        path = os.path.join(self.folder, "lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = json.loads(Path(path).read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            raise RunFolderLocked(self._refusal(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_me()).encode())
        self._fd = fd

    # -- object stores: a lease with a heartbeat ---------------------------------------------------
    @property
    def _lease_path(self) -> str:
        return storage.join(self.folder, "lock.json")

    def _read_lease(self) -> dict | None:
        try:
            return json.loads(storage.read_bytes(self._lease_path))
        except (FileNotFoundError, ValueError):
            return None

    def _write_lease(self) -> None:
        storage.write_bytes(self._lease_path, json.dumps({**_me(), "token": self._token,
                                                          "heartbeat": time.time()}).encode())

    def _lock_remote(self) -> None:
        lease = self._read_lease()
        if lease and time.time() - lease.get("heartbeat", 0) < self.ttl_s:
            raise RunFolderLocked(self._refusal(lease))
        self._write_lease()
        time.sleep(1.0)  # let a driver that started at the same moment write its lease, then see who won
        lease = self._read_lease()
        if not lease or lease.get("token") != self._token:
            raise RunFolderLocked(self._refusal(lease or {}))
        self._heartbeat = threading.Thread(target=self._renew, name="megamath-lease", daemon=True)
        self._heartbeat.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self._write_lease()

    def _refusal(self, holder: dict) -> str:
        return (f"{storage.parent_of(self.folder)} is in use by another run ({_holder_description(holder)}). "
                "Wait for it to finish, or write into another output folder; two runs in one folder would "
                "remove each other's unfinished shards.")
