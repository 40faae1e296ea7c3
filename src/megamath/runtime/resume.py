"""The run folder: where a run's output, completion records, logs and statistics live.

Layout of ``OUT/``::

    data/<task>.<suffix>      output shards (written as ``*.tmp-<pid>``, renamed when complete)
    excluded/<task>.jsonl.zst dropped records a pipeline keeps for its report (decontamination)
    stats.json                the funnel over all finished tasks
    .megamath/config.json     the configuration the run was started with
    .megamath/done/<task>.json  one per finished task: its funnel, counts and errors
    .megamath/inflight/<task>   the document a worker is processing (survives a crash)
    .megamath/poison/<task>.txt documents that crashed or hung a worker; skipped on retry
    .megamath/downloads/      remote inputs being fetched
    logs/run.log              the log of every process of the run

A task is finished exactly when its done record exists, and its shard is complete whenever it exists
under its final name, so a run killed at any moment (even SIGKILL) resumes without duplicates or gaps.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator

import orjson

from megamath.runtime.guard import InflightSlot


class ConfigChangedError(RuntimeError):
    """The run folder was started with another configuration."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def config_fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunFolder:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.state = self.root / ".megamath"
        self.data = self.root / "data"
        self.excluded = self.root / "excluded"
        self.logs = self.root / "logs"
        self.done = self.state / "done"
        self.inflight = self.state / "inflight"
        self.poison = self.state / "poison"
        self.downloads = self.state / "downloads"
        self.config_path = self.state / "config.json"
        self.stats_path = self.root / "stats.json"
        self.log_path = self.logs / "run.log"

    def create(self) -> None:
        for folder in (self.data, self.logs, self.done, self.inflight, self.poison, self.downloads):
            folder.mkdir(parents=True, exist_ok=True)

    # -- configuration -------------------------------------------------------------------------
    def check_config(self, config: dict, *, force: bool) -> None:
        """Record ``config``; refuse a different one unless ``force`` (which clears the old results)."""
        new = {"fingerprint": config_fingerprint(config), "config": config}
        if self.config_path.exists():
            old = json.loads(self.config_path.read_text())
            if old.get("fingerprint") != new["fingerprint"]:
                if not force:
                    changed = sorted(_changed_keys(old.get("config", {}), config))
                    raise ConfigChangedError(
                        f"{self.root} was started with a different configuration "
                        f"(changed: {', '.join(changed) or 'unknown'}). Use --force to discard its results "
                        "and start over, or choose another output folder."
                    )
                self.clear_results()
            elif force:
                self.clear_results()
        elif force:
            self.clear_results()
        self.create()
        atomic_write_bytes(self.config_path, json.dumps(new, indent=2, sort_keys=True).encode())

    def clear_results(self) -> None:
        for folder in (self.data, self.excluded, self.done, self.inflight, self.poison):
            shutil.rmtree(folder, ignore_errors=True)
        self.stats_path.unlink(missing_ok=True)

    def clear_interrupted(self) -> int:
        """Forget what a killed run left behind: temporary shards (returns how many) and in-flight
        markers, which name documents that were merely being processed when the whole run died,
        not documents that killed their worker."""
        for slot in self.inflight.glob("*"):
            slot.unlink(missing_ok=True)
        removed = 0
        for tmp in [*self.data.glob("*.tmp-*"), *self.excluded.glob("*.tmp-*")]:
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    # -- tasks ---------------------------------------------------------------------------------
    def done_path(self, task_id: str) -> Path:
        return self.done / f"{task_id}.json"

    def is_done(self, task_id: str) -> bool:
        return self.done_path(task_id).exists()

    def mark_done(self, task_id: str, result: dict) -> None:
        atomic_write_bytes(self.done_path(task_id), orjson.dumps(result, option=orjson.OPT_INDENT_2))

    def finished_results(self) -> Iterator[dict]:
        for path in sorted(self.done.glob("*.json")):
            yield orjson.loads(path.read_bytes())

    def inflight_path(self, task_id: str) -> Path:
        return self.inflight / task_id

    def poisoned(self, task_id: str) -> set[str]:
        """Documents to skip in ``task_id``: those that killed earlier attempts, including the last one."""
        poison_file = self.poison / f"{task_id}.txt"
        crashed_on = InflightSlot.read(self.inflight_path(task_id))
        if crashed_on:
            with open(poison_file, "a", encoding="utf-8") as fh:
                fh.write(crashed_on + "\n")
        if not poison_file.exists():
            return set()
        return {line for line in poison_file.read_text(encoding="utf-8").splitlines() if line}


def _changed_keys(old: dict, new: dict, prefix: str = "") -> Iterator[str]:
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            yield from _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}"
