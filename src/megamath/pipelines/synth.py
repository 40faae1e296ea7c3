"""MegaMath-Synth's three phases, each a pipeline over corpus shards: Q&A (extract, then refine) from
web pages, code translated to Python from the code pipeline's files, and verified text+code blocks
from math documents. The stages live in :mod:`megamath.synth`; every output record links to its
source record and the prompt versions that made it (``meta.synth``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from megamath.llm.client import EndpointConfig
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, run_pipeline
from megamath.runtime.shards import check_shards
from megamath.sources.shards import ShardReader
from megamath.synth.blocks import MathBlocks
from megamath.synth.qa import QAExtract, QAExtractConfig, QARefine, QARefineConfig
from megamath.synth.translate import CodeTranslate, NeedsTranslation
from megamath.profile.stage import Profile, ProfileConfig

KINDS = ("qa", "translate", "blocks")


@dataclass(frozen=True)
class QAConfig:
    """``refine`` None keeps the extracted pairs as the page gave them."""

    extract: QAExtractConfig = field(default_factory=QAExtractConfig)
    refine: QARefineConfig | None = field(default_factory=QARefineConfig)


def synth_pipeline(kind: str, config, endpoint: EndpointConfig, cache_path: str, output_suffix: str = ".parquet",
                   profile: ProfileConfig = ProfileConfig()) -> Pipeline:
    """The pipeline of one kind: ``qa`` (a :class:`QAConfig`), ``translate`` (a
    :class:`~megamath.synth.translate.TranslateConfig`) or ``blocks`` (a
    :class:`~megamath.synth.blocks.BlocksConfig`)."""
    if kind == "qa":
        stages = [QAExtract(config.extract, endpoint, cache_path)]
        if config.refine is not None:
            stages.append(QARefine(config.refine, endpoint, cache_path))
    elif kind == "translate":
        stages = [NeedsTranslation(), CodeTranslate(config, endpoint, cache_path)]
    elif kind == "blocks":
        stages = [MathBlocks(config, endpoint, cache_path)]
    else:
        raise ValueError(f"no synthesis kind {kind!r}: one of {', '.join(KINDS)}")
    stages.append(Profile(profile))
    return Pipeline(ShardReader(), stages, output_suffix=output_suffix)


def run_synth(kind: str, shards: list[str], out: str, config, endpoint: EndpointConfig, cache_path: str,
              executor: Executor, *, output_suffix: str = ".parquet", profile: ProfileConfig = ProfileConfig(),
              force: bool = False, show_progress: bool = True) -> RunSummary:
    """Run one kind over ``shards`` into the run folder ``out`` (resumable like every phase)."""
    check_shards(shards)
    pipeline = synth_pipeline(kind, config, endpoint, cache_path, output_suffix, profile)
    return run_pipeline(pipeline, shards, RunFolder(out), executor, force=force, show_progress=show_progress,
                        desc=f"synth {kind}")
