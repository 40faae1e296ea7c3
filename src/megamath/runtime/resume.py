"""The run folder: where a run's output, completion records, logs and statistics live.

Layout of ``OUT/`` (a local path or any fsspec URL, see :mod:`megamath.runtime.storage`)::

    data/<task>.<suffix>        output shards (published atomically when complete)
    excluded/<task>.jsonl.zst   dropped records a stage keeps for the report (decontamination)
    dropped/<task>.jsonl.zst    id, source, stage and reason of each record dropped by a stage that
                                lists its drops (the LLM stages: a malformed answer, a rejected request)
    work/                       intermediate phases of a workflow (dedup passes, the benchmark index)
    stats.json                  the funnel over all finished tasks ("state": "running" while a phase runs)
    .megamath/config.json       the configuration the run was started with
    .megamath/done/<task>.json  one per finished task: its funnel, counts, input fingerprint and errors
    .megamath/poison/<task>.txt the document each dead attempt was processing; skipped after two
    .megamath/lock              held by the driver that is writing the folder
    logs/run.log                the log of every process of the run

Process-local state lives on the local disk of the process that uses it: for a local run folder
inside ``.megamath/`` (``inflight/``: the document a worker is processing, which survives its crash;
``downloads/``: remote inputs being fetched), for a remote one under a scratch folder of this machine
(:func:`~megamath.runtime.storage.scratch_dir`), where its log is kept too.

A task is finished exactly when its done record exists with the task's input fingerprint, and its
shard is complete whenever it exists under its final name, so a run killed at any moment (even
SIGKILL) resumes without duplicates or gaps, and a changed input is processed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Iterator

import orjson

from megamath.runtime import storage
from megamath.runtime.guard import InflightSlot
from megamath.runtime.lock import RunLock

log = logging.getLogger(__name__)


class ConfigChangedError(RuntimeError):
    """The run folder was started with another configuration."""


def config_fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunFolder:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = storage.normalize(root)
        self.is_local = storage.is_local(self.root)
        self.state = storage.join(self.root, ".megamath")
        self.data = storage.join(self.root, "data")
        self.excluded = storage.join(self.root, "excluded")
        self.dropped = storage.join(self.root, "dropped")
        self.work = storage.join(self.root, "work")
        self.done = storage.join(self.state, "done")
        self.poison = storage.join(self.state, "poison")
        self.config_path = storage.join(self.state, "config.json")
        self.stats_path = storage.join(self.root, "stats.json")
        self.scratch = Path(self.state) if self.is_local else storage.scratch_dir(self.root)
        self.inflight = self.scratch / "inflight"
        self.downloads = self.scratch / "downloads"
        self.logs = Path(self.root) / "logs" if self.is_local else self.scratch / "logs"
        self.log_path = self.logs / "run.log"

    def __repr__(self) -> str:
        return f"RunFolder({self.root!r})"

    def sub(self, *parts: str) -> "RunFolder":
        """A run folder inside this one (``work/<name>`` for a workflow's intermediate phases)."""
        return RunFolder(storage.join(self.root, *parts))

    def create(self) -> None:
        for folder in (self.data, self.done, self.poison):
            storage.makedirs(folder)
        for folder in (self.logs, self.inflight, self.downloads):
            folder.mkdir(parents=True, exist_ok=True)

    def lock(self) -> RunLock:
        """Held by the driver while it writes this folder; a second driver is refused."""
        return RunLock(self.state)

    def shard_path(self, task_id: str, suffix: str) -> str:
        return storage.join(self.data, f"{task_id}{suffix}")

    # -- configuration -------------------------------------------------------------------------
    def check_config(self, config: dict, *, force: bool) -> None:
        """Record ``config``; refuse a different one unless ``force`` (which clears the old results)."""
        new = {"fingerprint": config_fingerprint(config), "config": config}
        old = None
        if storage.exists(self.config_path):
            try:
                old = json.loads(storage.read_bytes(self.config_path))
                if not isinstance(old, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                # each done record carries its configuration's fingerprint too, so nothing of another
                # configuration is trusted: the record is rewritten, and tasks of another one are redone
                log.warning("%s is damaged: writing it again", self.config_path)
                old = None
        if force or (old is not None and old.get("fingerprint") != new["fingerprint"]):
            if old is not None and not force:
                changed = sorted(_changed_keys(old.get("config", {}), config))
                raise ConfigChangedError(
                    f"{self.root} was started with a different configuration "
                    f"(changed: {', '.join(changed) or 'unknown'}). Use --force to discard its results "
                    "and start over, or choose another output folder."
                )
            self.clear_results()
        self.create()
        storage.write_bytes(self.config_path, json.dumps(new, indent=2, sort_keys=True).encode())

    def clear_results(self) -> None:
        for folder in (self.data, self.excluded, self.dropped, self.work, self.done, self.poison):
            storage.remove_tree(folder)
        storage.remove(self.stats_path)
        for slot in self.inflight.glob("*"):
            slot.unlink(missing_ok=True)

    def reset(self) -> None:
        """Forget everything (results and configuration): ``--force`` for a workflow whose phases
        live in sub-folders of this one."""
        self.clear_results()
        storage.remove(self.config_path)

    def clear_interrupted(self) -> int:
        """Forget what a killed run left behind: temporary shards (returns how many) and in-flight
        markers, which name documents that were merely being processed when the whole run died,
        not documents that killed their worker. Only the folder's lock holder may call this."""
        for slot in self.inflight.glob("*"):
            slot.unlink(missing_ok=True)
        return self.remove_partial_shards()

    def remove_partial_shards(self) -> int:
        """Remove the temporary shards of attempts that died (how many): once every task of a phase has
        ended, none is still being written."""
        removed = 0
        for folder in (self.data, self.excluded, self.dropped):
            for tmp in storage.list_files(folder):
                if storage.TMP_MARKER in storage.name_of(tmp):
                    storage.remove(tmp)
                    removed += 1
        return removed

    # -- tasks ---------------------------------------------------------------------------------
    def done_path(self, task_id: str) -> str:
        return storage.join(self.done, f"{task_id}.json")

    def done_result(self, task_id: str) -> dict | None:
        """The done record of a task, or None (also when the record is damaged: the task is redone)."""
        return _read_done(self.done_path(task_id))

    def is_done(self, task_id: str) -> bool:
        return storage.exists(self.done_path(task_id))

    def mark_done(self, task_id: str, result: dict) -> None:
        storage.write_bytes(self.done_path(task_id), orjson.dumps(result, option=orjson.OPT_INDENT_2))

    def forget(self, task_id: str, output: str | None) -> None:
        """Remove a task's done record and output (its input changed: the result is stale)."""
        storage.remove(self.done_path(task_id))
        if output:
            storage.remove(output)
        for folder in (self.excluded, self.dropped):
            storage.remove(storage.join(folder, f"{task_id}.jsonl.zst"))

    def finished_results(self) -> Iterator[dict]:
        for path in storage.list_files(self.done, ".json"):
            if (result := _read_done(path)) is not None:
                yield result

    def inflight_path(self, task_id: str) -> Path:
        return self.inflight / task_id

    def poisoned(self, task_id: str) -> set[str]:
        """Documents to skip in ``task_id``: those on which two attempts have died. One death proves
        nothing about its document (the node was lost, a neighbour ran the machine out of memory); a
        document that ends a second attempt too is taken for the cause and skipped from then on."""
        poison_file = storage.join(self.poison, f"{task_id}.txt")
        deaths = storage.read_bytes(poison_file).decode("utf-8").splitlines() if storage.exists(poison_file) else []
        slot = self.inflight_path(task_id)
        crashed_on = InflightSlot.read(slot)
        if crashed_on:
            deaths.append(crashed_on)
            storage.write_bytes(poison_file, "".join(f"{d}\n" for d in deaths).encode("utf-8"))
            slot.unlink(missing_ok=True)  # counted once: this attempt starts with an empty slot
        return {document for document in set(deaths) if deaths.count(document) >= POISON_AFTER_DEATHS}


POISON_AFTER_DEATHS = 2


def _read_done(path: str) -> dict | None:
    try:
        result = orjson.loads(storage.read_bytes(path))
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        log.warning("the done record %s is damaged: its task will be done again", path)
        return None
    if not isinstance(result, dict) or not {"task_id", "fingerprint", "funnel", "docs_written"} <= result.keys():
        log.warning("the done record %s is incomplete: its task will be done again", path)
        return None
    return result


def _changed_keys(old: dict, new: dict, prefix: str = "") -> Iterator[str]:
    for key in old.keys() | new.keys():
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            yield from _changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}"
