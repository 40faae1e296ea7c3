"""Deduplication as phases of the runtime, each resumable, with barriers between them:

    OUT/work/sign/               a task per shard: signatures (keys, exact and band hashes, MinHash values)
    OUT/work/bands/              a task per band × partition: edges between documents sharing a hash
    OUT/work/components/NN-STEP  a task per partition, a phase per step: connected components by
                                 alternating large and small stars (:mod:`megamath.dedup.components`)
    OUT/work/gather/             a task per partition: clustered documents, gathered by representative
    OUT/work/verify/             a task per partition: verified removals, the decision for each document
    OUT/data/                    a task per shard: the filter, keeping what the decisions keep

Every pass runs on the executor given (local processes or Ray), never on a pool of its own, and
returns counts only; no task holds more than its shard or partition. A pass's tasks are identified by
the fingerprints of what they read, so a changed input shard re-signs that shard and re-runs
everything after it, and nothing else; a killed run resumes at the step it was in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from megamath.dedup.components import StarStep
from megamath.dedup.lsh import EXACT, BandEdges, LshConfig, SignShards, slice_names
from megamath.dedup.stage import DedupFilter, DedupFilterConfig
from megamath.dedup.verify import GatherMembers, VerifyClusters
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, plan_tasks, run_phase, run_pipeline, write_manifest
from megamath.runtime.shards import check_shards
from megamath.runtime.task import Job, Task
from megamath.profile.stage import CARRY, Profile
from megamath.sources.shards import ShardReader


MAX_ROUNDS = 100  # large/small star rounds; O(log² n) at worst, 18 for a chain of 10^5 documents
MAX_BLOCKS = 64  # the filter of a shard reads 1/MAX_BLOCKS of the decisions (all of them up to 64 shards)


@dataclass
class DedupResult:
    """``summary``: the filter phase (or the first phase that failed); ``counts``: documents, kept,
    exact and near duplicates, and what verification refused (empty when a phase failed)."""

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
        decided = decide(folder, signatures, config, executor, show_progress=show_progress)
        if isinstance(decided, RunSummary):
            return DedupResult(decided, {})
        counts = _counts(sign.docs_written, decided.verified, decided.rounds)
        decisions = DedupFilterConfig(tuple(shards), tuple(t.output for t in signatures), decided.outputs,
                                      decided.blocks)
        pipeline = Pipeline(ShardReader(), [DedupFilter(decisions), Profile(CARRY)], output_suffix=output_suffix)
        summary = run_pipeline(pipeline, shards, folder, executor, show_progress=show_progress, desc="dedup: filter")
    return DedupResult(summary, counts)


@dataclass
class Decisions:
    """The files of the verify phase (split in ``blocks`` of shards), what each of its tasks counted,
    and the rounds components took."""

    outputs: tuple[str, ...]
    blocks: int
    verified: list[dict]
    rounds: int


def decide(folder: RunFolder, signatures: list[Task], config: LshConfig, executor: Executor, *,
           show_progress: bool = True) -> Decisions | RunSummary:
    """The phases between signing and the filter, over the signature files the tasks ``signatures``
    wrote (one per shard, in the shards' order): the decisions, or the summary of the phase that failed."""
    bands_folder, band_tasks = _band_tasks(folder, signatures, config)
    bands = run_phase(BandEdges(config), band_tasks, bands_folder, executor, show_progress=show_progress,
                      desc="dedup: band edges")
    if bands.failed:
        return bands
    phases = PartitionedPhases(folder, config.partitions, executor, show_progress)
    labels = phases.components([t.output for t in band_tasks], band_tasks[0].fingerprint)
    if isinstance(labels, RunSummary):
        return labels
    gather = phases.run(GatherMembers(config), "gather", {
        "labels": labels.outputs, "signatures": [t.output for t in signatures],
        "exact_edges": [t.output for t in band_tasks if t.part < config.partitions]}, labels.fingerprint)
    if gather.failed:
        return gather.summary
    blocks = min(len(signatures), MAX_BLOCKS)
    verify = phases.run(VerifyClusters(config, blocks), "verify", {"members": gather.outputs}, gather.fingerprint)
    if verify.failed:
        return verify.summary
    return Decisions(tuple(verify.outputs), blocks, [result["counts"] for result in verify.summary.results],
                     labels.rounds)


def describe_counts(counts: dict) -> str:
    """One line of what dedup removed and kept, and what verification refused."""
    line = (f"{counts['documents']:,} documents: {counts['exact_duplicates']:,} exact and "
            f"{counts['near_duplicates']:,} near duplicates removed, {counts['kept']:,} kept")
    if counts.get("refused"):
        line += (f"; verification refused {counts['refused']:,} removal(s) against the cluster's representative "
                 f"({counts['refused_then_removed']:,} of them removed against another member, "
                 f"{counts['clusters_split']:,} cluster(s) split)")
    return line


def _counts(documents: int, verified: list[dict], rounds: int) -> dict:
    totals = {name: sum(counts[name] for counts in verified) for name in
              ("exact_duplicates", "near_duplicates", "refused", "refused_then_removed", "clusters_split",
               "unverified")}
    removed = totals["exact_duplicates"] + totals["near_duplicates"]
    return {"documents": documents, "kept": documents - removed, **totals, "component_rounds": rounds,
            "refused_examples": [e for counts in verified for e in counts["examples"]][:5]}


@dataclass
class _Phase:
    summary: RunSummary
    outputs: list[str]
    fingerprint: str
    rounds: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.summary.failed)


class PartitionedPhases:
    """Phases of a task per partition, each reading the files of the phase before through a manifest."""

    def __init__(self, folder: RunFolder, partitions: int, executor: Executor, show_progress: bool):
        self.folder, self.partitions = folder, partitions
        self.executor, self.show_progress = executor, show_progress

    def run(self, job: Job, name: str, inputs: dict, fingerprint: str, *parents: str) -> _Phase:
        phase_folder = self.folder.sub("work", *parents, name)
        manifest, fingerprint = write_manifest(phase_folder, "inputs", {**inputs, "fingerprint": fingerprint})
        tasks = [Task(f"p{p}", manifest, storage.join(phase_folder.data, f"p{p}.arrays"), fingerprint, part=p)
                 for p in range(self.partitions)]
        summary = run_phase(job, tasks, phase_folder, self.executor, show_progress=self.show_progress,
                            desc=f"dedup: {' '.join((*parents, name))}")
        return _Phase(summary, [t.output for t in tasks], fingerprint)

    def components(self, edge_files: list[str], fingerprint: str) -> _Phase | RunSummary:
        """Large and small stars until the large star finds only stars: its labels, or the failed phase."""
        for round_ in range(1, MAX_ROUNDS + 1):
            large = self.run(StarStep("large", self.partitions), f"{round_:02d}-large",
                             {"edges": edge_files}, fingerprint, "components")
            if large.failed:
                return large.summary
            if not sum(result["unsettled"] for result in large.summary.results):
                self._forget_rounds_after(round_)
                return dataclasses.replace(large, rounds=round_)
            small = self.run(StarStep("small", self.partitions), f"{round_:02d}-small",
                             {"edges": large.outputs}, large.fingerprint, "components")
            if small.failed:
                return small.summary
            edge_files, fingerprint = small.outputs, small.fingerprint
        raise RuntimeError(f"connected components did not settle in {MAX_ROUNDS} rounds")

    def _forget_rounds_after(self, last: int) -> None:
        """Steps left by an earlier run that needed more rounds (its inputs have changed since)."""
        for step in storage.list_dirs(self.folder.sub("work", "components").root):
            round_, _, kind = storage.name_of(step.rstrip("/")).partition("-")
            if round_.isdigit() and (int(round_), kind) > (last, "large"):
                storage.remove_tree(step)


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
