"""The web pipeline's phases: stage 1 (WARC → URL filter → extraction → language ID, optionally the
math classifier and decontamination, then optionally dedup) and stage 2 (precise re-extraction)."""

from __future__ import annotations

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
from megamath.runtime.runner import RunSummary, run_pipeline
from megamath.runtime.shards import check_shards
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
    """Stage 2 over stage-1 shards into ``out``."""
    check_shards(shards)
    return run_pipeline(reextract_pipeline(config, output_suffix, profile), shards, out, executor, force=force,
                        show_progress=show_progress, desc="web reextract")
