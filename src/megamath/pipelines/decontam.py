"""Decontamination as two phases: the benchmark index (one task, a global step, in ``work/index``)
and the stage over every shard, which loads that index once per worker process."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from megamath.decontam.index import BenchmarkError, BenchmarkIndex, BenchmarkSpec, BuildIndex, shipped_index
from megamath.decontam.stage import Decontaminate, DecontaminateConfig
from megamath.report.contamination import write_contamination_report
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, run_phase, run_pipeline
from megamath.runtime.shards import check_shards
from megamath.profile.stage import CARRY, Profile
from megamath.sources.shards import ShardReader


@dataclass
class IndexResult:
    """``location``: the index file; ``counts``: lines, items, too short, malformed per benchmark;
    ``shipped``: whether it is the shipped index of the recipe's 12 benchmarks."""

    location: str
    counts: dict[str, dict[str, int]]
    shipped: bool = False


def shipped_index_result() -> IndexResult:
    """The shipped index, loaded once here so that one built by another version is refused up front."""
    location = shipped_index()
    return IndexResult(location, BenchmarkIndex.load(location).counts, shipped=True)


def build_index(spec: BenchmarkSpec, folder: RunFolder, executor: Executor, *, show_progress: bool = True
                ) -> IndexResult:
    """Build (or reuse, when the benchmark files are unchanged) the index of ``spec`` in ``folder``;
    raises :class:`BenchmarkError` when a benchmark yields no item or has malformed lines."""
    job = BuildIndex(spec)
    task = job.task(folder)
    summary = run_phase(job, [task], folder, executor, show_progress=show_progress, desc="benchmark index")
    if summary.failed:
        raise BenchmarkError(next(iter(summary.failed.values())).removeprefix("raised BenchmarkError: "))
    return IndexResult(task.output, summary.results[0]["counts"])


@dataclass
class DecontaminationResult:
    summary: RunSummary
    index: IndexResult
    report: str = ""
    removed: Counter = field(default_factory=Counter)


def run_decontaminate(shards: list[str], out: str, spec: BenchmarkSpec | None, executor: Executor, *,
                      output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True
                      ) -> DecontaminationResult:
    """Drop the documents of ``shards`` that share an n-gram with a benchmark item, into ``out``;
    the removed ones are listed in ``OUT/contamination.jsonl``. ``spec`` None: the shipped index of
    the recipe's 12 benchmarks (13-grams)."""
    check_shards(shards)
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        index = (build_index(spec, folder.sub("work", "index"), executor, show_progress=show_progress)
                 if spec is not None else shipped_index_result())
        pipeline = Pipeline(ShardReader(), [Decontaminate(DecontaminateConfig(index.location)), Profile(CARRY)],
                            output_suffix=output_suffix)
        summary = run_pipeline(pipeline, shards, folder, executor, show_progress=show_progress, desc="decontaminate")
        report, removed = write_contamination_report(folder)
    return DecontaminationResult(summary, index, report, removed)
