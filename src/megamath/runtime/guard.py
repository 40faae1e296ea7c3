"""The per-document time guard.

Two limits protect a worker from one pathological document:

* a soft limit (``SIGALRM``) raises :class:`DocumentTimeout` inside the stage as soon as Python
  code runs again, and the document becomes a counted drop;
* a hard limit for native code that never returns to Python (an HTML parser stuck on a hostile page
  holds the GIL, so no Python thread or signal handler could intervene): a CPU-time timer whose
  signal (``SIGPROF``) keeps its default action, so the kernel ends the process. The document being
  processed sits in a memory-mapped *in-flight slot* that survives the process, so the executor's
  retry of the task skips exactly that document.

Both limits are kernel interval timers: arming and disarming them costs two system calls.

Memory is bounded by the size limits the stages apply before parsing (see ``WarcReaderConfig``).
"""

from __future__ import annotations

import errno
import mmap
import os
import signal
import struct
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_SLOT_SIZE = 4096
_LEN = struct.Struct("<I")


class DocumentTimeout(BaseException):
    """Raised inside a stage when a document exceeds the soft time limit.

    A ``BaseException``, like ``KeyboardInterrupt``: code that degrades gracefully with ``except
    Exception`` (a formula converter falling back to text, say) must not swallow the limit and go on
    with the document, nor let a cache remember the interrupted call's fallback as its result."""


@dataclass(frozen=True)
class GuardConfig:
    """Time limits per document and stage; 0 disables a limit.

    ``doc_timeout_s``: soft limit; the document is dropped as ``timeout`` and the task continues.
    ``hard_timeout_s``: the worker process is ended and the task retried without the document
    (dropped as ``hard_timeout``); only reached when native code ignores the soft limit.
    """

    doc_timeout_s: float = 20.0
    hard_timeout_s: float = 120.0


class InflightSlot:
    """A tiny file-backed record of the document a worker is processing right now."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fh.truncate(_SLOT_SIZE)
        self._fh = open(self.path, "r+b")
        self._map = mmap.mmap(self._fh.fileno(), _SLOT_SIZE)

    def set(self, key: str) -> None:
        data = key.encode("utf-8", "replace")[: _SLOT_SIZE - _LEN.size]
        self._map[_LEN.size : _LEN.size + len(data)] = data
        self._map[: _LEN.size] = _LEN.pack(len(data))

    def clear(self) -> None:
        self._map[: _LEN.size] = _LEN.pack(0)

    def close(self) -> None:
        self._map.close()
        self._fh.close()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> str | None:
        """The key left by a process that died mid-document, or None."""
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            return None
        if len(raw) < _LEN.size:
            return None
        (length,) = _LEN.unpack_from(raw)
        return raw[_LEN.size : _LEN.size + length].decode("utf-8", "replace") if length else None


class NullGuard:
    """No limits: used when stages run outside an executor (library use, notebooks)."""

    @contextmanager
    def watch(self, record: dict, stage: str) -> Iterator[None]:
        yield


class DocumentGuard(NullGuard):
    """Soft and hard per-document limits for one task in one process."""

    def __init__(self, config: GuardConfig, slot: InflightSlot | None, *, may_end_process: bool = True):
        """``may_end_process``: whether the hard limit may end this process (a disposable worker);
        off when tasks run inside the driver itself."""
        self.config = config
        self.slot = slot
        # Signal handlers can only be installed from the main thread (not from a Ray actor thread).
        in_main_thread = threading.current_thread() is threading.main_thread()
        self._use_alarm = config.doc_timeout_s > 0 and in_main_thread
        self._use_hard_limit = config.hard_timeout_s > 0 and in_main_thread and may_end_process
        self._previous_handlers: dict[int, object] = {}

    def __enter__(self) -> "DocumentGuard":
        if self._use_alarm:
            self._previous_handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, _raise_timeout)
        if self._use_hard_limit:
            self._previous_handlers[signal.SIGPROF] = signal.signal(signal.SIGPROF, signal.SIG_DFL)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0) if self._use_alarm else None
        signal.setitimer(signal.ITIMER_PROF, 0) if self._use_hard_limit else None
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler or signal.SIG_DFL)
        if self.slot is not None and not out_of_memory(exc):
            self.slot.clear()

    @contextmanager
    def watch(self, record: dict, stage: str) -> Iterator[None]:
        if self.slot is not None:
            self.slot.set(str(record.get("source", "")))
        if self._use_hard_limit:
            signal.setitimer(signal.ITIMER_PROF, self.config.hard_timeout_s)
        if self._use_alarm:
            signal.setitimer(signal.ITIMER_REAL, self.config.doc_timeout_s)
        try:
            yield
        except BaseException as exc:
            # out of memory, the worker ends like a crash: the slot keeps naming the document, so that
            # the retry counts a death against it (and skips it after two)
            if self.slot is not None and not out_of_memory(exc):
                self.slot.clear()
            raise
        else:
            if self.slot is not None:
                self.slot.clear()
        finally:
            if self._use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if self._use_hard_limit:
                signal.setitimer(signal.ITIMER_PROF, 0)


def out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an error it was raised from, is the process running out of memory (Python's
    MemoryError and pyarrow's, ENOMEM, a native library that could not be mapped), whatever the code
    that met it called it."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return True
        if isinstance(exc, ImportError) and "cannot allocate memory" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _raise_timeout(signum, frame):
    raise DocumentTimeout()


# The guard of the task running in this context. A context variable rather than a module global, so
# that a task run from a thread (or two nested in one process) never sees another task's guard.
_active: ContextVar[NullGuard] = ContextVar("megamath_document_guard", default=NullGuard())


def active_guard() -> NullGuard:
    return _active.get()


@contextmanager
def guarding(guard: NullGuard) -> Iterator[NullGuard]:
    """Make ``guard`` the one that :class:`~megamath.runtime.stage.RecordStage` uses in this context."""
    token = _active.set(guard)
    try:
        if isinstance(guard, DocumentGuard):
            with guard:
                yield guard
        else:
            yield guard
    finally:
        _active.reset(token)
