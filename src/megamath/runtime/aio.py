"""The one event loop of a process, in a background thread, for stages that wait on the network.

Stages stay sequential (records in, records out); a stage that sends requests (the LLM stages)
submits coroutines here and waits for their results in order. Every such stage of a process shares
this loop, so they also share what lives on it (one request budget per endpoint, see
:mod:`megamath.llm.client`), and the executor's workers remain the only unit of parallelism.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import Future
from typing import Coroutine

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """This process's background event loop, started on first use (again in a forked child)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            try:
                import uvloop  # optional (the llm extra): a faster loop when hundreds of requests are in flight

                loop = uvloop.new_event_loop()
            except ImportError:
                loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="megamath-io", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def submit(coroutine: Coroutine) -> Future:
    """Run ``coroutine`` on the background loop; ``.result()`` waits for it."""
    return asyncio.run_coroutine_threadsafe(coroutine, background_loop())
