"""MegaMath-Code's phases: source trees, archives and row files to shards of files, LLM labels on a
sample of them, a code model trained on labelled files, recall of math code with it, and its
evaluation per language."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

import numpy as np

from megamath.classify.evaluate import LabelledSet, evaluate
from megamath.classify.model import NEGATIVE, POSITIVE, TrainConfig
from megamath.classify.seeds import write_seed_file
from megamath.llm.score import LLMScore
from megamath.code.normalize import classifier_text, math_imports
from megamath.code.scorer import CodeScorer, load_scorer
from megamath.code.stage import CodeClassifierConfig, CodeClassify
from megamath.pipelines.classify import TrainResult, train_classifier
from megamath.pipelines.labelling import LabellingError, label_sample
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, run_pipeline
from megamath.runtime.shards import check_shards, read_records
from megamath.sources.code_files import CodeFileReader, CodeReaderConfig
from megamath.sources.shards import ShardReader
from megamath.profile.stage import CARRY, Profile, ProfileConfig


def read_code(sources: list[str], out: str, executor: Executor, config: CodeReaderConfig | None = None, *,
              output_suffix: str = ".parquet", profile: ProfileConfig = ProfileConfig(),
              force: bool = False, show_progress: bool = True) -> RunSummary:
    """A shard of source files per tree or archive (``meta.code``), with files and tokens per language counted."""
    pipeline = Pipeline(CodeFileReader(config), [Profile(profile)], output_suffix=output_suffix)
    return run_pipeline(pipeline, sources, out, executor, force=force, show_progress=show_progress, desc="code: read")


@dataclass(frozen=True)
class CodeLabelConfig:
    """``per_language``: files sampled per language; a file is positive when its math score is at least
    ``math_threshold`` and its education score at least ``edu_threshold`` (the recipe: both ≥ 4)."""

    per_language: int = 1000
    math_threshold: int = 4
    edu_threshold: int = 4
    seed: int = 0


@dataclass
class CodeLabels:
    """``positive``/``negative``: the labelled files as JSON Lines shards for ``code train``;
    ``per_language``: sampled, labelled, positive and negative files and the score grid per language."""

    positive: str
    negative: str
    per_language: dict
    summary: RunSummary


def score_code_sample(shards: list[str], out: str, config: CodeLabelConfig, math: LLMScore, education: LLMScore,
                      executor: Executor, *, force: bool = False, show_progress: bool = True) -> CodeLabels:
    """LLM labels on a sample of files stratified by language: ``math`` and ``education`` scores
    (``meta.code.math``, ``meta.code.edu``, each answer with its prompt version and model in
    ``meta.llm``), split into ``OUT/positive.jsonl`` and ``OUT/negative.jsonl``; ``OUT/labels.json``
    holds the counts. A rerun reuses the sample and the cached answers."""
    check_shards(shards)
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        labels = label_sample(shards, folder.sub("work"), config.per_language, [math, education], executor,
                              group="language", seed=config.seed, show_progress=show_progress)
        if labels.summary.failed:
            raise LabellingError("labelling the sample failed: " + "; ".join(labels.summary.failed.values()))
        sides: dict[str, list[dict]] = {"positive": [], "negative": []}
        per_language = {language: {**counts, "labelled": 0, "positive": 0, "negative": 0, "grid": Counter()}
                        for language, counts in labels.per_group.items()}
        for record in labels.labelled:
            code = record["meta"]["code"]
            code["math"] = record["meta"]["llm"][math.key]["score"]
            code["edu"] = record["meta"]["llm"][education.key]["score"]
            side = "positive" if code["math"] >= config.math_threshold and code["edu"] >= config.edu_threshold \
                else "negative"
            sides[side].append(record)
            row = per_language[code["language"]]
            row["labelled"] += 1
            row[side] += 1
            row["grid"][f"{code['math']},{code['edu']}"] += 1
        paths = {side: storage.join(folder.root, f"{side}.jsonl") for side in sides}
        for side, records in sides.items():
            write_seed_file(paths[side], records)
        storage.write_bytes(storage.join(folder.root, "labels.json"), json.dumps(
            {"config": {"per_language": config.per_language, "math_threshold": config.math_threshold,
                        "edu_threshold": config.edu_threshold, "math_prompt": math.prompt.id,
                        "edu_prompt": education.prompt.id, "model": math.generation.model},
             "per_language": {language: {**row, "grid": dict(sorted(row["grid"].items()))}
                              for language, row in per_language.items()}}, indent=2).encode() + b"\n")
        return CodeLabels(paths["positive"], paths["negative"], per_language, labels.summary)


def train_code_model(positive_shards: list[str], negative_shards: list[str], out: str, executor: Executor, *,
                     rule_feature: bool = True, config: TrainConfig | None = None, max_ratio: float = 2.0,
                     show_progress: bool = True) -> TrainResult:
    """A fastText code model (``OUT/model.bin``) on the normalized files of math and other shards.
    ``max_ratio``: the larger side is sampled down to at most this many times the smaller (one big
    package must not set the prior; 0: keep every file)."""
    check_shards(positive_shards + negative_shards)
    folder = RunFolder(out)
    config = replace(config or TrainConfig(), preprocessing="code")
    with folder.lock():
        sides = {label: [{"text": classifier_text(r.get("text") or "", r["meta"]["code"]["language"], rule_feature)}
                         for r in read_records(shards)]
                 for label, shards in ((POSITIVE, positive_shards), (NEGATIVE, negative_shards))}
        if max_ratio:
            cap = int(max_ratio * min(len(lines) for lines in sides.values()))
            rng = random.Random(config.seed)
            sides = {label: rng.sample(lines, cap) if len(lines) > cap else lines for label, lines in sides.items()}
        examples = []
        for label, lines in sides.items():
            path = storage.join(folder.work, f"{label.removeprefix('__label__')}.jsonl")
            write_seed_file(path, lines)
            examples.append((label, path, ("text",)))
        return train_classifier(examples, folder.sub("work", "train"), config, executor,
                                output=storage.join(folder.root, "model.bin"), show_progress=show_progress)


def recall_code(shards: list[str], out: str, config: CodeClassifierConfig, executor: Executor, *,
                output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True) -> RunSummary:
    """Every file scored (``meta.code.model_score``); those at or above the threshold kept."""
    check_shards(shards)
    pipeline = Pipeline(ShardReader(), [CodeClassify(config), Profile(CARRY)], output_suffix=output_suffix)
    return run_pipeline(pipeline, shards, out, executor, force=force, show_progress=show_progress, desc="code: recall")


def evaluate_code(model: str, positives: dict[str, list[str]], negatives: dict[str, list[str]], *,
                  threshold: float = 0.5, rule_feature: bool = True, base_rate: float | None = None,
                  scorer: str = "fasttext") -> dict:
    """The classifier report (:func:`megamath.classify.evaluate.evaluate`) with one domain per language
    and ``all``: each named set of shards split by language, scored by ``scorer`` over ``model``
    (see :mod:`megamath.code.scorer`)."""
    score = load_scorer(scorer, model, rule_feature)
    sets = []
    for named, positive in ((positives, True), (negatives, False)):
        for name, shards in named.items():
            for language, scores in scores_by_language(score, shards).items():
                sets.append(LabelledSet(f"{name} ({language})", positive, scores, language))
                sets.append(LabelledSet(f"{name} ({language})", positive, scores, "all"))
    return evaluate(sets, threshold, base_rate=base_rate)


def scores_by_language(scorer: CodeScorer, shards: list[str]) -> dict[str, np.ndarray]:
    """P(math) of every file of ``shards`` by ``scorer``, grouped by the file's language (sorted)."""
    by_language: dict[str, list[str]] = defaultdict(list)
    for record in read_records(shards):
        by_language[record["meta"]["code"]["language"]].append(record.get("text") or "")
    return {language: np.asarray(scorer.math_scores(texts, [language] * len(texts),
                                                    [math_imports(text, language) for text in texts]), dtype=float)
            for language, texts in sorted(by_language.items())}
