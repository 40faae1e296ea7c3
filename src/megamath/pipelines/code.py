"""MegaMath-Code's phases: source trees and archives to shards of files, a code model trained on
labelled files, recall of math code with it, and its evaluation per language."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from megamath.classify.evaluate import LabelledSet, evaluate
from megamath.classify.model import NEGATIVE, POSITIVE, TextClassifier, TrainConfig
from megamath.classify.seeds import write_seed_file
from megamath.code.normalize import classifier_text
from megamath.code.stage import CodeClassifierConfig, CodeClassify, CountLanguages
from megamath.pipelines.classify import TrainResult, train_classifier
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, run_pipeline
from megamath.runtime.shards import check_shards, read_records
from megamath.sources.code_files import CodeFileReader, CodeReaderConfig
from megamath.sources.shards import ShardReader


def read_code(sources: list[str], out: str, executor: Executor, config: CodeReaderConfig | None = None, *,
              output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True) -> RunSummary:
    """A shard of source files per tree or archive (``meta.code``), with files per language counted."""
    pipeline = Pipeline(CodeFileReader(config), [CountLanguages()], output_suffix=output_suffix)
    return run_pipeline(pipeline, sources, out, executor, force=force, show_progress=show_progress, desc="code: read")


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
    pipeline = Pipeline(ShardReader(), [CodeClassify(config)], output_suffix=output_suffix)
    return run_pipeline(pipeline, shards, out, executor, force=force, show_progress=show_progress, desc="code: recall")


def evaluate_code(model: str, positives: dict[str, list[str]], negatives: dict[str, list[str]], *,
                  threshold: float = 0.5, rule_feature: bool = True, base_rate: float | None = None) -> dict:
    """The classifier report (:func:`megamath.classify.evaluate.evaluate`) with one domain per language
    and ``all``: each named set of shards split by language."""
    classifier = TextClassifier(model)
    column = classifier.labels.index(POSITIVE)
    sets = []
    for named, positive in ((positives, True), (negatives, False)):
        for name, shards in named.items():
            by_language: dict[str, list[str]] = defaultdict(list)
            for record in read_records(shards):
                language = record["meta"]["code"]["language"]
                by_language[language].append(classifier_text(record.get("text") or "", language, rule_feature))
            for language, lines in sorted(by_language.items()):
                scores = classifier.probabilities(lines)[:, column]
                sets.append(LabelledSet(f"{name} ({language})", positive, scores, language))
                sets.append(LabelledSet(f"{name} ({language})", positive, scores, "all"))
    return evaluate(sets, threshold, base_rate=base_rate)
