"""The filter pass of deduplication: keep each cluster's representative, note the cluster in ``meta``.

A shard's filter reads only what concerns it: its own signature file's keys, and its block of every
decision file (:mod:`.verify`), so its memory is set by the shard, not by the corpus."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from megamath.dedup.lsh import document_key
from megamath.dedup.store import load_arrays
from megamath.dedup.verify import KEPT, REASONS
from megamath.runtime.stage import Filter, Record


@dataclass(frozen=True)
class DedupFilterConfig:
    """``shards``: the inputs, in the order of ``signatures`` (their signature files);
    ``decisions``: the files of :class:`~megamath.dedup.verify.VerifyClusters`, split in ``blocks``."""

    shards: tuple[str, ...]
    signatures: tuple[str, ...]
    decisions: tuple[str, ...]
    blocks: int


class DedupFilter(Filter):
    """Drops ``exact_duplicate`` and ``near_duplicate`` documents; writes ``meta.dedup_cluster`` (the
    representative's key, hex) and ``meta.dedup_cluster_size``."""

    name = "dedup"

    def __init__(self, config: DedupFilterConfig):
        self.config = config
        self._shard_of = {source: index for index, source in enumerate(config.shards)}
        self._signed = self._keys = np.zeros(0, dtype=np.uint64)
        self._decided: dict[str, np.ndarray] = {}

    def dependencies(self) -> tuple[str, ...]:
        return self.config.decisions

    def begin_input(self, source: str) -> None:
        shard = self._shard_of[source]
        self._signed = np.sort(load_arrays(self.config.signatures[shard], ("keys",))["keys"])
        block = shard % self.config.blocks
        names = ("keys", "shard", "representative", "size", "reason")
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for path in self.config.decisions:
            arrays = load_arrays(path, tuple(f"b{block}.{name}" for name in names))
            mine = arrays[f"b{block}.shard"] == shard
            for name in names:
                parts[name].append(arrays[f"b{block}.{name}"][mine])
        decided = {name: np.concatenate(chunks) for name, chunks in parts.items()}
        order = np.argsort(decided["keys"], kind="stable")
        self._decided = {name: column[order] for name, column in decided.items()}
        self._keys = self._decided["keys"]

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        key = document_key(record)
        index = int(np.searchsorted(self._signed, np.uint64(key)))
        if index >= len(self._signed) or int(self._signed[index]) != key:
            return False, "not_signed"  # not in the corpus the clusters were computed on
        meta = record.setdefault("meta", {})
        index = int(np.searchsorted(self._keys, np.uint64(key)))
        if index >= len(self._keys) or int(self._keys[index]) != key:  # in no cluster: kept, alone
            meta["dedup_cluster"], meta["dedup_cluster_size"] = f"{key:016x}", 1
            return True
        meta["dedup_cluster"] = f"{int(self._decided['representative'][index]):016x}"
        meta["dedup_cluster_size"] = int(self._decided["size"][index])
        reason = int(self._decided["reason"][index])
        return True if reason == KEPT else (False, REASONS[reason])
