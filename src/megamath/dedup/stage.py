"""The filter pass of deduplication: keep each cluster's representative, note the cluster in ``meta``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from megamath.dedup.lsh import document_key
from megamath.dedup.store import load_arrays
from megamath.runtime.stage import Filter, Record, resource


@dataclass(frozen=True)
class DedupFilterConfig:
    """``components``: the file written by :func:`megamath.dedup.lsh.write_components`."""

    components: str


class DedupFilter(Filter):
    """Drops ``exact_duplicate`` and ``near_duplicate`` documents; writes ``meta.dedup_cluster`` (the
    representative's key, hex) and ``meta.dedup_cluster_size``."""

    name = "dedup"

    def __init__(self, config: DedupFilterConfig):
        self.config = config

    @resource
    def _arrays(self) -> dict[str, np.ndarray]:
        return load_arrays(self.config.components)

    def dependencies(self) -> tuple[str, ...]:
        return (self.config.components,)

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        keys = self._arrays["keys"]
        key = document_key(record)
        index = int(np.searchsorted(keys, np.uint64(key)))
        if index >= len(keys) or int(keys[index]) != key:
            return False, "not_signed"  # not in the corpus the clusters were computed on
        representative = int(self._arrays["representative"][index])
        meta = record.setdefault("meta", {})
        meta["dedup_cluster"] = f"{representative:016x}"
        meta["dedup_cluster_size"] = int(self._arrays["size"][index])
        if representative == key:
            return True
        exact = int(self._arrays["exact_representative"][index]) != key
        return False, "exact_duplicate" if exact else "near_duplicate"
