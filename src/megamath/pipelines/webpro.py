"""Web-Pro as a phase: score each document's educational value, keep it by the threshold of its
crawl year, refine the survivors. With a score sample, the LLM scores only that sample (a labelling
round) and a fastText model trained on its scores rates every document."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from megamath.classify.model import ClassifierError, TrainConfig
from megamath.classify.seeds import write_seed_file
from megamath.llm.client import EndpointConfig
from megamath.llm.refine import LLMRefine, RefineConfig
from megamath.llm.score import LLMScore, ScoreConfig
from megamath.llm.stage import GenerationConfig
from megamath.pipelines.classify import train_classifier
from megamath.pipelines.labelling import label_sample
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, run_pipeline
from megamath.runtime.shards import check_shards
from megamath.sources.shards import ShardReader
from megamath.profile.stage import CARRY, Profile, ProfileConfig
from megamath.web.pro import ClassifierScore, ClassifierScoreConfig, ScoreThreshold, ScoreThresholdConfig


@dataclass(frozen=True)
class WebProConfig:
    """``score`` (the LLM) rates each document, or, with ``score_sample`` > 0, a fastText model
    trained on the LLM's scores of that many documents per crawl; ``refine`` None skips refinement."""

    score: ScoreConfig = field(default_factory=lambda: ScoreConfig(GenerationConfig("", "educational_value")))
    score_sample: int = 0
    threshold: ScoreThresholdConfig = field(default_factory=ScoreThresholdConfig)
    refine: RefineConfig | None = field(default_factory=RefineConfig)
    output_suffix: str = ".parquet"
    profile: ProfileConfig = field(default_factory=ProfileConfig)  # counts the refined text's tokens


def webpro_pipeline(config: WebProConfig, endpoint: EndpointConfig, cache_path: str,
                    score_model: str | None = None) -> Pipeline:
    """The phase's pipeline; ``score_model``: a fastText score model to use instead of the LLM's scores."""
    if score_model is not None:
        score = ClassifierScore(ClassifierScoreConfig(score_model, key=config.threshold.key))
    else:
        score = LLMScore(config.score, endpoint, cache_path)
    stages = [score, ScoreThreshold(config.threshold)]
    if config.refine is not None:
        stages.append(LLMRefine(config.refine, endpoint, cache_path))
    stages.append(Profile(config.profile if config.refine is not None else CARRY))
    return Pipeline(ShardReader(), stages, output_suffix=config.output_suffix)


@dataclass
class ScoreModel:
    model: str
    per_score: Counter  # sampled documents per LLM score
    per_crawl: dict


def train_score_classifier(shards: list[str], folder: RunFolder, score: ScoreConfig, endpoint: EndpointConfig,
                           cache_path: str, per_crawl: int, executor: Executor, *, show_progress: bool = True
                           ) -> ScoreModel:
    """LLM-score ``per_crawl`` documents per crawl and train a fastText model on the scores
    (labels ``__label__<score>``); resumable like every phase."""
    stage = LLMScore(score, endpoint, cache_path)
    labels = label_sample(shards, folder, per_crawl, stage, executor, show_progress=show_progress)
    if labels.summary.failed:
        raise ClassifierError("scoring the sample failed: " + "; ".join(labels.summary.failed.values()))
    by_score: dict[int, list[dict]] = {}
    for record in labels.labelled:
        by_score.setdefault(record["meta"]["llm"][stage.key]["score"], []).append({"text": record["text"]})
    seeds = storage.join(folder.work, "score-seeds")
    examples = []
    for value, records in sorted(by_score.items()):
        path = storage.join(seeds, f"score-{value}.jsonl")
        write_seed_file(path, records)
        examples.append((f"__label__{value}", path, ("text",)))
    if len(examples) < 2:
        raise ClassifierError(f"cannot train the score classifier on the sample: its {len(labels.labelled):,} scored "
                              f"documents have {len(examples)} distinct score(s), a model needs two; take a larger "
                              "score sample, or score with the LLM alone")
    model = train_classifier(examples, folder.sub("work", "score-train"), TrainConfig(), executor,
                             output=storage.join(folder.root, f"{stage.key}.bin"), show_progress=show_progress)
    return ScoreModel(model.model, Counter({v: len(r) for v, r in by_score.items()}), labels.per_group)


@dataclass
class WebProResult:
    summary: RunSummary
    score_model: ScoreModel | None = None


def run_webpro(shards: list[str], out: str, config: WebProConfig, endpoint: EndpointConfig, cache_path: str,
               executor: Executor, *, force: bool = False, show_progress: bool = True) -> WebProResult:
    check_shards(shards)
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        score_model = None
        if config.score_sample:
            score_model = train_score_classifier(shards, folder.sub("work", "score-sample"), config.score, endpoint,
                                                 cache_path, config.score_sample, executor,
                                                 show_progress=show_progress)
        pipeline = webpro_pipeline(config, endpoint, cache_path, score_model.model if score_model else None)
        summary = run_pipeline(pipeline, shards, folder, executor, show_progress=show_progress, desc="web pro")
    return WebProResult(summary, score_model)
