"""The web pipeline's phases: stage 1 (WARC → URL filter → extraction → language ID, optionally the
math classifier and decontamination, then optionally dedup) and stage 2 (precise re-extraction)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace

from megamath.classify.stage import ClassifierConfig, MathClassify
from megamath.decontam.index import BenchmarkSpec
from megamath.decontam.stage import Decontaminate, DecontaminateConfig
from megamath.dedup.lsh import LshConfig
from megamath.pipelines.decontam import IndexResult, build_index
from megamath.pipelines.dedup import DedupResult, deduplicate
from megamath.report.contamination import write_contamination_report
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.guard import GuardConfig
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, combine_fingerprints, plan_tasks, run_phase, run_pipeline
from megamath.runtime.shards import check_shards, read_shard
from megamath.runtime.task import Task
from megamath.sources.shards import ShardReader
from megamath.sources.warc import WarcReader, WarcReaderConfig
from megamath.profile.stage import Profile, ProfileConfig
from megamath.web.extract import ExtractConfig, ExtractText
from megamath.web.langid import LanguageId, LanguageIdConfig
from megamath.web.reextract import Reextract, ReextractConfig
from megamath.web.url_filter import UrlFilter, UrlFilterConfig


@dataclass(frozen=True)
class WebExtractConfig:
    reader: WarcReaderConfig = field(default_factory=WarcReaderConfig)
    url_filter: UrlFilterConfig = field(default_factory=UrlFilterConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    language: LanguageIdConfig = field(default_factory=LanguageIdConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    output_suffix: str = ".parquet"
    keep_html: bool = False
    classifier: ClassifierConfig | None = None
    profile: ProfileConfig = field(default_factory=ProfileConfig)


def stage1_pipeline(config: WebExtractConfig, *, download_dir: str | None = None,
                    decontaminate: DecontaminateConfig | None = None) -> Pipeline:
    reader_config = replace(config.reader, download_dir=download_dir) if download_dir else config.reader
    stages = [UrlFilter(config.url_filter), ExtractText(config.extract), LanguageId(config.language)]
    if config.classifier is not None:
        stages.append(MathClassify(config.classifier))
    if decontaminate is not None:
        stages.append(Decontaminate(decontaminate))
    stages.append(Profile(config.profile))
    return Pipeline(
        reader=WarcReader(reader_config),
        stages=stages,
        output_suffix=config.output_suffix,
        drop_fields=() if config.keep_html else ("html",),
        guard=config.guard,
    )


@dataclass
class Stage1Result:
    summary: RunSummary
    index: IndexResult | None = None
    contamination_report: str = ""
    removed: Counter = field(default_factory=Counter)
    dedup: DedupResult | None = None


def run_stage1(config: WebExtractConfig, sources: list[str], out: str, executor: Executor, *,
               benchmarks: BenchmarkSpec | None = None, dedup: LshConfig | None = None, force: bool = False,
               show_progress: bool = True) -> Stage1Result:
    """Stage 1 over ``sources`` into ``out``; with ``benchmarks``, the index is built first (in
    ``OUT/work/index``) and contaminated documents are dropped and listed; with ``dedup``, the
    output is deduplicated into ``OUT/dedup`` once every input succeeded."""
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        decontaminate = index = None
        if benchmarks is not None:
            index = build_index(benchmarks, folder.sub("work", "index"), executor, show_progress=show_progress)
            decontaminate = DecontaminateConfig(index.location)
        pipeline = stage1_pipeline(config, download_dir=str(folder.downloads), decontaminate=decontaminate)
        summary = run_pipeline(pipeline, sources, folder, executor, show_progress=show_progress, desc="web extract")
        result = Stage1Result(summary, index)
        if benchmarks is not None:
            result.contamination_report, result.removed = write_contamination_report(folder)
        if dedup is not None and not summary.failed:
            result.dedup = deduplicate(summary.shards, storage.join(folder.root, "dedup"), dedup, executor,
                                       output_suffix=config.output_suffix, force=force, show_progress=show_progress)
    return result


def reextract_pipeline(config: ReextractConfig, output_suffix: str = ".parquet",
                       profile: ProfileConfig = ProfileConfig()) -> Pipeline:
    stages = [Reextract(config), Profile(profile)]
    return Pipeline(ShardReader(), stages, output_suffix=output_suffix, drop_fields=("html",))


def run_reextract(shards: list[str], out: str, config: ReextractConfig, executor: Executor, *,
                  output_suffix: str = ".parquet", profile: ProfileConfig = ProfileConfig(),
                  force: bool = False, show_progress: bool = True) -> RunSummary:
    """Stage 2 over stage-1 shards into ``out``. A task's identity covers the WARC files its pages are
    read again from, so a WARC replaced since stage 2 ran has its pages extracted again."""
    check_shards(shards)
    pipeline = reextract_pipeline(config, output_suffix, profile)
    folder = RunFolder(out)

    def plan() -> list[Task]:
        tasks = plan_tasks(shards, folder, pipeline.output_suffix, pipeline.dependencies_fingerprint())
        return [replace(task, fingerprint=combine_fingerprints(task.fingerprint, pages_fingerprint(task.source)))
                for task in tasks]

    return run_phase(pipeline, plan, folder, executor, force=force, show_progress=show_progress, desc="web reextract")


def pages_fingerprint(shard: str) -> str:
    """What identifies the WARC files a stage-1 shard's pages are read again from (records that carry
    their ``html`` read none)."""
    warcs = sorted({source.rpartition("@")[0] for source, html in _sources_and_html(shard)
                    if not html and "@" in (source or "")})
    if not warcs:
        return ""
    return hashlib.sha1("|".join(f"{w}={_fingerprint_or_missing(w)}" for w in warcs).encode()).hexdigest()[:16]


def _sources_and_html(shard: str) -> list[tuple[str, bool]]:
    if shard.endswith(".parquet"):
        import pyarrow.parquet as pq

        with storage.open_input(shard) as raw:
            table = pq.ParquetFile(raw)
            columns = [c for c in ("source", "html") if c in table.schema_arrow.names]
            data = table.read(columns=columns).to_pydict()
        sources = data.get("source", [])
        return [(source or "", bool(html)) for source, html in zip(sources, data.get("html") or [None] * len(sources))]
    return [(r.get("source") or "", bool(r.get("html"))) for r in read_shard(shard) if isinstance(r, dict)]


def _fingerprint_or_missing(location: str) -> str:
    try:
        return storage.fingerprint(location)
    except (OSError, storage.StorageError):
        return "missing"  # counted as html_unavailable when read; its reappearance changes the identity
