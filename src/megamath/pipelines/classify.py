"""The math classifier's phases: training (a global step), applying it to shards, and round 2, which
re-collects seeds across crawls with LLM labels and retrains."""

from __future__ import annotations

import json
from dataclasses import dataclass

from megamath.classify.model import NEGATIVE, POSITIVE, ClassifierError, MathClassifier, TrainClassifier, TrainConfig
from megamath.classify.round2 import Round2Config, compare_rounds, split_labels
from megamath.classify.seeds import write_seed_file
from megamath.classify.stage import ClassifierConfig, MathClassify
from megamath.llm.client import EndpointConfig
from megamath.llm.score import LLMScore, ScoreConfig
from megamath.pipelines.labelling import label_sample
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, input_fingerprint, run_phase, run_pipeline, write_manifest
from megamath.runtime.shards import check_shards
from megamath.runtime.task import Task
from megamath.profile.stage import CARRY, Profile
from megamath.sources.shards import ShardReader

SeedFile = tuple[str, str, tuple[str, ...]]
"""(label, seed file, text fields): one part of a training set."""


@dataclass
class TrainResult:
    model: str
    training: dict  # documents and lines per label, files written


def train_classifier(examples: list[SeedFile], folder: RunFolder, config: TrainConfig, executor: Executor, *,
                     output: str | None = None, show_progress: bool = True) -> TrainResult:
    """Train a fastText model on labelled seed files, as one task in ``folder`` (reused while the seed
    files and the configuration are unchanged). The model goes to ``output`` (default
    ``FOLDER/data/model.bin``), its folded table beside it."""
    manifest, fingerprint = write_manifest(folder, "seeds", {
        "examples": [[label, path, list(fields)] for label, path, fields in examples],
        "fingerprints": [input_fingerprint(path)[0] for _, path, _ in examples]})
    task = Task("train", manifest, output or storage.join(folder.data, "model.bin"), fingerprint)
    summary = run_phase(TrainClassifier(config), [task], folder, executor, show_progress=show_progress,
                        desc="classifier: train")
    if summary.failed:
        raise ClassifierError(next(iter(summary.failed.values())).removeprefix("raised ClassifierError: "))
    return TrainResult(task.output, summary.results[0]["training"])


def classifier_pipeline(config: ClassifierConfig, output_suffix: str = ".parquet") -> Pipeline:
    return Pipeline(ShardReader(), [MathClassify(config), Profile(CARRY)], output_suffix=output_suffix)


def run_classifier(shards: list[str], out: str, config: ClassifierConfig, executor: Executor, *,
                   output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True) -> RunSummary:
    """Score every document (``meta.math_score``) and keep those at or above the threshold."""
    check_shards(shards)
    return run_pipeline(classifier_pipeline(config, output_suffix), shards, out, executor, force=force,
                        show_progress=show_progress, desc="math classifier")


@dataclass
class Round2Result:
    model: str
    report: dict            # round 1 against round 2 (see compare_rounds), with the label counts
    per_crawl: dict         # survivors and sampled per crawl
    labelling: RunSummary   # the LLM phase (requests, cache hits, tokens in its funnel's counters)


def round2(shards: list[str], out: str, round1_model: str, round1_seeds: list[SeedFile], extra: list[SeedFile],
           config: Round2Config, score: ScoreConfig, endpoint: EndpointConfig, cache_path: str, train: TrainConfig,
           executor: Executor, *, force: bool = False, show_progress: bool = True) -> Round2Result:
    """Label a per-crawl sample of ``shards`` with the LLM math-relevance rubric, retrain on the round-1
    seeds + the clear labels + ``extra`` positives, and compare the rounds on a held-out part of the
    labels (``OUT/round2.json``). The model is ``OUT/model.bin``."""
    check_shards(shards)
    folder = RunFolder(out)
    with folder.lock():
        if force:
            folder.reset()
        stage = LLMScore(score, endpoint, cache_path)
        labels = label_sample(shards, folder.sub("work"), config.per_crawl, stage, executor, seed=config.seed,
                              show_progress=show_progress)
        if labels.summary.failed:
            raise ClassifierError("labelling the sample failed: " + "; ".join(labels.summary.failed.values()))
        train_pos, train_neg, held_pos, held_neg, counts = split_labels(labels.labelled, config, stage.key)
        seeds = storage.join(folder.work, "llm-seeds")
        write_seed_file(storage.join(seeds, "positive.jsonl"), [{"text": r["text"]} for r in train_pos])
        write_seed_file(storage.join(seeds, "negative.jsonl"), [{"text": r["text"]} for r in train_neg])
        examples = [*round1_seeds, (POSITIVE, storage.join(seeds, "positive.jsonl"), ("text",)),
                    (NEGATIVE, storage.join(seeds, "negative.jsonl"), ("text",)), *extra]
        model = train_classifier(examples, folder.sub("work", "train"), train, executor,
                                 output=storage.join(folder.root, "model.bin"), show_progress=show_progress).model
        report = compare_rounds(MathClassifier(round1_model), MathClassifier(model), held_pos, held_neg,
                                labels.sample, config.threshold)
        report["labels"] = counts
        storage.write_bytes(storage.join(folder.root, "round2.json"), json.dumps(report, indent=2).encode())
    return Round2Result(model, report, labels.per_group, labels.summary)
