"""Deduplication as four phases of the runtime, each resumable, with barriers between them:

    OUT/work/sign/        a task per shard: signatures (keys, exact and band hashes by partition)
    OUT/work/bands/       a task per band × partition: edges between documents sharing a hash
    OUT/work/components/  one task: connected components, each cluster's representative
    OUT/data/             a task per shard: the filter, keeping each cluster's representative

Every pass runs on the executor given (local processes or Ray), never on a pool of its own, and
returns counts only. A pass's tasks are identified by the fingerprints of what they read, so a
changed input shard re-signs that shard and re-runs everything after it, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from megamath.dedup.lsh import EXACT, BandEdges, Components, LshConfig, SignShards, slice_names
from megamath.dedup.stage import DedupFilter, DedupFilterConfig
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, plan_tasks, run_phase, run_pipeline, write_manifest
from megamath.runtime.shards import check_shards
from megamath.runtime.task import Task
from megamath.profile.stage import CARRY, Profile
from megamath.sources.shards import ShardReader


@dataclass
class DedupResult:
    """``summary``: the filter phase (or the first phase that failed); ``counts``: documents, kept,
    exact and near duplicates (empty when a phase failed)."""

    summary: RunSummary
    counts: dict


def deduplicate(shards: list[str], out: str, config: LshConfig, executor: Executor, *,
                output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True) -> DedupResult:
    """Remove exact and near duplicates from ``shards`` into the run folder ``out``."""
    check_shards(shards)
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        sign_folder = folder.sub("work", "sign")
        signatures = plan_tasks(shards, sign_folder, ".sig")
        sign = run_phase(SignShards(config), signatures, sign_folder, executor, show_progress=show_progress,
                         desc="dedup: sign")
        if sign.failed:
            return DedupResult(sign, {})
        bands_folder, band_tasks = _band_tasks(folder, signatures, config)
        bands = run_phase(BandEdges(config), band_tasks, bands_folder, executor, show_progress=show_progress,
                          desc="dedup: band edges")
        if bands.failed:
            return DedupResult(bands, {})

        components_folder = folder.sub("work", "components")
        exact = [t.output for t in band_tasks if t.part < config.partitions]
        manifest, fingerprint = write_manifest(components_folder, "edges", {
            "signatures": [t.output for t in signatures], "exact_edges": exact,
            "band_edges": [t.output for t in band_tasks if t.part >= config.partitions],
            "fingerprint": band_tasks[0].fingerprint})
        task = Task("components", manifest, storage.join(components_folder.data, "components.arrays"), fingerprint)
        components = run_phase(Components(), [task], components_folder, executor, show_progress=show_progress,
                               desc="dedup: components")
        if components.failed:
            return DedupResult(components, {})
        counts = components.results[0]["counts"]

        pipeline = Pipeline(ShardReader(), [DedupFilter(DedupFilterConfig(task.output)), Profile(CARRY)],
                            output_suffix=output_suffix)
        summary = run_pipeline(pipeline, shards, folder, executor, show_progress=show_progress, desc="dedup: filter")
    return DedupResult(summary, counts)


def _band_tasks(folder: RunFolder, signatures: list[Task], config: LshConfig) -> tuple[RunFolder, list[Task]]:
    """A task per band (the exact hash first) and partition, all reading the manifest of signatures."""
    bands_folder = folder.sub("work", "bands")
    manifest, fingerprint = write_manifest(bands_folder, "signatures", {
        "signatures": [t.output for t in signatures], "fingerprints": [t.fingerprint for t in signatures]})
    tasks = []
    for band in [EXACT, *range(config.minhash.bands)]:
        for partition in range(config.partitions):
            name = slice_names(band, partition)[0].removesuffix(".keys").replace(".", "-")
            tasks.append(Task(name, manifest, storage.join(bands_folder.data, f"{name}.edges"), fingerprint,
                              part=len(tasks)))
    return bands_folder, tasks
