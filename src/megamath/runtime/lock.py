"""One run at a time per run folder.

Two drivers writing one folder would lose documents for good: the second one's start-up removes the
first one's temporary shards and reads its in-flight markers as documents that crashed a worker. So
a driver holds the folder's lock from planning to the last statistics, and a second driver is refused
with a message naming the holder.

* Local folders use ``flock`` on ``.megamath/lock``: the kernel releases it when the process ends,
  however it ends, so a killed run never leaves a stale lock behind.
* Object stores have no locks; there the lock is a lease object (``.megamath/lock.json``) holding an
  owner token and a heartbeat the holder renews every ``heartbeat_s``. On S3 every write of the lease
  is conditional (``If-None-Match`` to create it, ``If-Match`` its last ETag to renew or take it
  over), so of two runs racing for a folder exactly one wins. A lease older than ``ttl_s``,
  or naming a process of this machine that no longer exists, belongs to a run that died and is taken
  over; a lease that does not parse is held until it is as old. A holder that cannot renew its lease
  for ``ttl_s`` minus a heartbeat, or finds another run's token in it, has lost it and stops writing
  (:meth:`RunLock.check_still_held`). Two drivers starting within the same second can
  both believe they hold it on a store without conditional writes, so there the owner is read back
  after a pause and the loser steps down.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from megamath.runtime import storage

log = logging.getLogger(__name__)


class RunFolderLocked(RuntimeError):
    """Another run is writing into this run folder."""


class LeaseLost(RunFolderLocked):
    """This run's lease on a remote run folder could not be renewed before it expired, or another run
    took it over: this run stops writing."""


def _modified(location: str) -> float:
    """When an object was last written (epoch seconds), or now when the store does not say."""
    try:
        fs, path = storage.filesystem(location)
        details = fs.info(path)
        stamp = details.get("LastModified") or details.get("mtime") or details.get("last_modified")
        return stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp)
    except (OSError, TypeError, ValueError):
        return time.time()


def _holder_description(holder: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {started}: {holder.get('command', '?')}"


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}


class RunLock:
    """``with RunLock(state_folder):`` holds the folder for this process (re-entrant within it)."""

    _held: dict[str, int] = {}  # folder -> depth, for the nested phases of one driver
    _leases: dict[str, "RunLock"] = {}  # folder -> the lock holding its lease, in this process

    def __init__(self, state_folder: str, *, ttl_s: float = 120.0, heartbeat_s: float = 30.0, settle_s: float = 1.0):
        self.folder = storage.normalize(state_folder)
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.settle_s = settle_s
        self._renewed = 0.0
        self._lost_why = ""
        self._conditional = False
        self._etag: str | None = None
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

    @classmethod
    def check_still_held(cls) -> None:
        """Raise :class:`LeaseLost` when a lease this process holds has been lost: the run must stop
        before it writes anything more (called as each task finishes or reports progress)."""
        for folder, lock in list(cls._leases.items()):
            if (why := lock.lost()) is not None:
                raise LeaseLost(f"{storage.parent_of(folder)}: {why}. This run stopped writing; rerun it "
                                "once no other run uses the folder.")

    def lost(self) -> str | None:
        """Why this lock's lease is lost (another run's token found in it, or no renewal for ``ttl_s``
        minus a heartbeat: another run may take it over from then on), or None. Judged by the clock
        too, not only by the heartbeat thread, which may be stuck in a call the store does not answer."""
        if self._lost_why:
            return self._lost_why
        overdue = time.monotonic() - self._renewed
        if self._heartbeat is not None and overdue >= self.ttl_s - self.heartbeat_s:
            return f"the lease could not be renewed for {overdue:.0f}s"
        return None

    def __exit__(self, *exc_info) -> None:
        self._held[self.folder] -= 1
        if self._held[self.folder]:
            return
        del self._held[self.folder]
        self._leases.pop(self.folder, None)
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
        """The lease, or None when there is none. A lease that does not parse (cut by a failed upload)
        is not "no lease": it is held, dated by the object's own modification time."""
        try:
            data = storage.read_bytes(self._lease_path)
        except FileNotFoundError:
            return None
        try:
            lease = json.loads(data)
            if isinstance(lease, dict) and "heartbeat" in lease:
                return lease
        except ValueError:
            pass
        return {"damaged": True, "heartbeat": _modified(self._lease_path), "pid": "?", "host": "?",
                "command": "(a damaged lease: its content does not parse)"}

    def _lease_bytes(self) -> bytes:
        return json.dumps({**_me(), "token": self._token, "heartbeat": time.time()}).encode()

    def _write_lease(self) -> None:
        """Write this run's lease: where the store can (S3), only if it is still the lease this run
        last saw, so that of two runs racing for a folder exactly one wins."""
        if not self._conditional:
            storage.write_bytes(self._lease_path, self._lease_bytes())
            return
        try:
            self._etag = storage.write_bytes_if(self._lease_path, self._lease_bytes(), etag=self._etag)
        except storage.PreconditionFailed:
            current = self._read_lease()
            if not current or current.get("token") != self._token:
                raise
            self._etag = storage.etag_of(self._lease_path)  # our own write, whose answer was lost on the way
            self._write_lease()

    def _is_stale(self, lease: dict) -> bool:
        """A lease of a run that is gone: no heartbeat for ``ttl_s``, or a process of this machine that
        no longer exists (a killed driver, a failure during acquisition)."""
        if time.time() - lease.get("heartbeat", 0) >= self.ttl_s:
            return True
        if lease.get("host") == socket.gethostname() and isinstance(lease.get("pid"), int):
            try:
                os.kill(lease["pid"], 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False

    def _lock_remote(self) -> None:
        """Take the lease, trying again for up to ``ttl_s`` while the store fails (a phase that starts
        during an outage waits it out, as the heartbeat does); then one line saying so."""
        deadline = time.monotonic() + self.ttl_s
        while True:
            try:
                return self._take_lease()
            except (RunFolderLocked, storage.StorageError, FileNotFoundError):
                raise
            except OSError as exc:
                RunLock.check_still_held()  # a lease this run holds already, lost meanwhile, ends it first
                if time.monotonic() >= deadline:
                    raise storage.StorageError(f"cannot take the lease of {storage.parent_of(self.folder)}: the "
                                               f"store kept failing for {self.ttl_s:.0f}s ({exc})") from exc
                log.warning("taking the lease of %s failed (%s); trying again", storage.parent_of(self.folder), exc)
                time.sleep(min(5.0, self.heartbeat_s))

    def _take_lease(self) -> None:
        self._conditional = storage.supports_conditional_writes(self._lease_path)
        self._etag = storage.etag_of(self._lease_path) if self._conditional else None
        lease = self._read_lease()
        if lease and lease.get("token") == self._token:  # an earlier try's write, whose answer was lost
            self._write_lease()
        elif lease and not self._is_stale(lease):
            raise RunFolderLocked(self._refusal(lease))
        elif self._conditional:
            self._etag = self._etag if lease else None
            try:
                self._write_lease()  # created if absent, or replacing the stale lease read: one racer wins
            except storage.PreconditionFailed:
                raise RunFolderLocked(self._refusal(self._read_lease() or {})) from None
        else:
            self._write_lease()
            time.sleep(self.settle_s)  # no compare-and-swap: let a driver that started at the same moment
            lease = self._read_lease()  # write its lease, then see who won
            if not lease or lease.get("token") != self._token:
                raise RunFolderLocked(self._refusal(lease or {}))
        self._renewed = time.monotonic()
        self._heartbeat = threading.Thread(target=self._renew, name="megamath-lease", daemon=True)
        self._heartbeat.start()
        self._leases[self.folder] = self

    def _renew(self) -> None:
        """Renew every ``heartbeat_s``; a failed renewal is tried again sooner. The lease is lost when
        another run's token is found in it, or when no renewal succeeded for ``ttl_s`` minus a heartbeat
        (another run may then take it over)."""
        wait = self.heartbeat_s
        while not self._stop.wait(wait):
            try:
                if not self._conditional:  # a conditional write finds a takeover itself (PreconditionFailed)
                    current = self._read_lease()
                    if current is not None and current.get("token") not in (self._token, None):
                        self._lose(f"another run took the lease over ({_holder_description(current)})")
                        return
                self._write_lease()
                self._renewed, wait = time.monotonic(), self.heartbeat_s
            except storage.PreconditionFailed:
                current = self._read_lease() or {}
                self._lose(f"another run took the lease over ({_holder_description(current)})")
                return
            except Exception as exc:  # noqa: BLE001 - any failure of the store: try again, but not forever
                if time.monotonic() - self._renewed >= self.ttl_s - self.heartbeat_s:
                    self._lose(f"the lease could not be renewed for {time.monotonic() - self._renewed:.0f}s ({exc})")
                    return
                wait = min(self.heartbeat_s, 5.0)

    def _lose(self, why: str) -> None:
        log.error("%s: lost the run folder's lease: %s", storage.parent_of(self.folder), why)
        self._lost_why = why

    def _refusal(self, holder: dict) -> str:
        return (f"{storage.parent_of(self.folder)} is in use by another run ({_holder_description(holder)}). "
                "Wait for it to finish, or write into another output folder; two runs in one folder would "
                "remove each other's unfinished shards.")
