"""A persistent cache of LLM answers, keyed by everything that determines an answer.

Every finished request is committed before its document moves on, so a run that is killed and
started again finds those answers here and sends only the requests that never finished. SQLite in
WAL mode lets the worker processes of one run share the file.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import orjson


def request_key(payload: dict) -> str:
    """The cache key of a request: a hash of its canonical JSON (model, messages, parameters)."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache:
    """``get(key) -> dict | None`` and ``put(key, answer)``; one connection per thread that uses it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only a power loss can lose the last commits).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer BLOB NOT NULL)")

    def get(self, key: str) -> dict | None:
        row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, answer: dict) -> None:
        self._db.execute("INSERT OR REPLACE INTO answers (key, answer) VALUES (?, ?)", (key, orjson.dumps(answer)))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._db.close()
