"""Training a fastText math classifier, and scoring documents with it fast.

Training is fastText's (``fasttext-numpy2``) on preprocessed, chunked seed lines, with the recipe's
hyper-parameters as defaults. Scoring uses a folded copy of the model: a supervised fastText model
with a softmax (or one-vs-all) output is linear in its input rows — the hidden vector is the mean of
the rows of a line's words, word n-grams and subwords, and the logits are the output matrix times it —
so the input matrix is folded into the output layer once, into one number per row and label (one
fewer for a softmax, which only sees differences of logits: math against other is one number), and
saved as a fastText model of that dimension with an identity output layer (``MODEL.folded.bin``):
one number a row to average instead of 256, the same probabilities as ``predict`` on the model (up to
float rounding), in 8 MB instead of 2 GB. A folded model is scored by ``_folded.c``, which does what
fastText's ``predict`` does with a line (the same probabilities, bit for bit) without its
character-at-a-time stream; fastText scores what that does not read (a quantized model).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import tempfile
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterable

import numpy as np

from megamath.classify._folded import FoldedModel
from megamath.classify.fasttext_model import FastTextModelError, load_fasttext_model
from megamath.classify.preprocess import chunk_words, without_formulas
from megamath.runtime import storage
from megamath.runtime.task import Job

log = logging.getLogger(__name__)

POSITIVE = "__label__math"
NEGATIVE = "__label__other"


class ClassifierError(Exception):
    """A model file is missing, unreadable or not a supervised fastText model with our labels."""


# What a model reads, by name: the function that turns a text into its line of tokens and the
# version of that function, both recorded with the model. "code": the caller builds the line
# (:func:`megamath.code.normalize.classifier_text` needs each file's language).
PREPROCESSORS = {"web": ("megamath.classify.preprocess", "preprocess", "PREPROCESS_VERSION"),
                 "code": ("megamath.code.normalize", "as_classifier_line", "NORMALIZE_VERSION")}


def preprocessor(name: str):
    """(function, version) of a preprocessor of :data:`PREPROCESSORS`."""
    import importlib

    if name not in PREPROCESSORS:
        raise ClassifierError(f"unknown preprocessing {name!r} (known: {', '.join(PREPROCESSORS)})")
    module, function, version = PREPROCESSORS[name]
    loaded = importlib.import_module(module)
    return getattr(loaded, function), getattr(loaded, version)


@dataclass(frozen=True)
class TrainConfig:
    """fastText hyper-parameters (the recipe's by default) and how seed text becomes lines.

    ``max_words_per_line``: longer documents are cut into several training lines (0: never). Short
    lines teach the model that a plain paragraph of a math page (a word problem's question, the prose
    between formulas) is math too: out of domain, 32 beat 64 and 512 (``bench/classifier.py``).
    ``threads``: fastText training threads (0: every core); 1 gives a bit-identical model per seed.
    ``quantize``: also write a compressed ``.ftz`` (slow to make; scored through fastText itself).
    ``preprocessing``: what turns a text into tokens (:data:`PREPROCESSORS`), recorded with the model.
    ``balance_lines``: repeat each smaller label's lines (whole copies, then a seeded sample) until every
    label has as many as the largest. fastText's softmax has no bias term, so a label with more lines
    pulls every common word toward itself, and a page with little evidence toward it; off is fastText's
    plain training (the math classifier's commands turn it on: ``bench/classifier.py``).
    ``formula_free_copies``: also train on each math document that has formulas with its formulas taken
    out. Its formulas decide almost every line of a math page, so the model would learn little from the
    prose between them and take a page whose math is mostly words (a counting problem, a textbook
    chapter, a proof assistant's book) for other; the copy teaches the prose (the math classifier's
    commands turn it on: ``bench/classifier.py``).
    """

    dim: int = 256
    lr: float = 0.1
    word_ngrams: int = 3
    min_count: int = 3
    epoch: int = 3
    bucket: int = 2_000_000
    max_words_per_line: int = 32
    threads: int = 0
    seed: int = 0
    quantize: bool = False
    preprocessing: str = "web"
    balance_lines: bool = False
    formula_free_copies: bool = False


def write_training_file(examples: Iterable[tuple[str, str]], path: Path, config: TrainConfig) -> dict:
    """Preprocess and chunk (label, text) examples (and a math document's formula-free copy, if the config
    asks), balance the labels' lines if it asks, shuffle them, and write fastText's training file.

    Returns documents and lines (as written, repeats included) per label."""
    by_label: dict[str, list[str]] = {}
    docs: Counter = Counter()
    to_line, _ = preprocessor(config.preprocessing)
    for label, text in examples:
        docs[label] += 1
        versions = [to_line(text)]
        if config.formula_free_copies and label == POSITIVE and (prose := without_formulas(versions[0])) != versions[0]:
            versions.append(prose)
        by_label.setdefault(label, []).extend(
            f"{label} {chunk}" for version in versions for chunk in chunk_words(version, config.max_words_per_line)
            if chunk)
    rng = random.Random(config.seed)
    if config.balance_lines and by_label:
        most = max(len(group) for group in by_label.values())
        for label, group in by_label.items():
            if group:
                copies, rest = divmod(most, len(group))
                by_label[label] = group * copies + rng.sample(group, rest)
    lines = [line for group in by_label.values() for line in group]
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"docs": dict(docs), "lines": dict(Counter(line.split(" ", 1)[0] for line in lines))}


def train_labelled(examples: Iterable[tuple[str, str]], output: str | os.PathLike[str],
                   config: TrainConfig | None = None, progress: bool = False) -> dict:
    """Train on (``__label__X``, text) examples; writes ``output`` (``.bin``), its folded table and, if
    asked, a ``.ftz``. Returns documents and lines per label and the files written. ``progress``:
    fastText's own progress line on stderr."""
    import fasttext

    config = config or TrainConfig()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent) as tmp:
        data = Path(tmp) / "train.txt"
        summary = write_training_file(examples, data, config)
        if len(summary["lines"]) < 2:
            raise ClassifierError(f"training needs text for at least two labels, got {sorted(summary['lines']) or 'none'}")
        model = fasttext.train_supervised(
            input=str(data), dim=config.dim, lr=config.lr, wordNgrams=config.word_ngrams, minCount=config.min_count,
            epoch=config.epoch, bucket=config.bucket, thread=config.threads or os.cpu_count() or 1,
            seed=config.seed, loss="softmax", verbose=2 if progress else 0)
        model.save_model(str(output))
        _, version = preprocessor(config.preprocessing)
        preprocessing_path(output).write_text(json.dumps({"preprocess": config.preprocessing,
                                                          "preprocess_version": version}) + "\n")
        fold(model)
        model.save_model(str(folded_path(output)))
        summary["files"] = [str(output), str(preprocessing_path(output)), str(folded_path(output))]
        if config.quantize:
            model = fasttext.load_model(str(output))
            model.quantize(input=str(data), retrain=False, qnorm=True)
            quantized = output.with_suffix(".ftz")
            model.save_model(str(quantized))
            preprocessing_path(quantized).write_text(preprocessing_path(output).read_text())
            summary["files"] += [str(quantized), str(preprocessing_path(quantized))]
    return summary


class TrainClassifier(Job):
    """The global step of training: labelled seed files → a model and its folded table (one task).

    The task's ``source`` is a manifest (JSON) ``{"examples": [[label, seed file, [fields]], ...]}``;
    the model is trained in a local temporary folder, then the model and its table are published
    to ``task.output`` and beside it, the table last (so a table is never older than its model).
    """

    name = "classifier_train"

    def __init__(self, train_config: TrainConfig | None = None):
        self.train_config = train_config or TrainConfig()

    def config(self) -> dict:
        return dataclasses.asdict(self.train_config)

    def run(self, task, folder, progress, *, disposable: bool) -> dict:
        from megamath.classify.seeds import read_texts

        manifest = json.loads(storage.read_bytes(task.source))
        examples = ((label, text) for label, path, fields in manifest["examples"]
                    for text in read_texts(path, tuple(fields)))
        with tempfile.TemporaryDirectory(prefix="megamath-train-") as tmp:
            local = Path(tmp) / storage.name_of(task.output)
            summary = train_labelled(examples, local, self.train_config)
            storage.publish(str(local), task.output)
            for produced in summary["files"][1:]:
                storage.publish(produced, storage.join(storage.parent_of(task.output), Path(produced).name))
        summary["files"] = [storage.join(storage.parent_of(task.output), Path(f).name) for f in summary["files"]]
        return {"docs_written": sum(summary["docs"].values()), "funnel": [], "training": summary}


def train(positives: Iterable[str], negatives: Iterable[str], output: str | os.PathLike[str],
          config: TrainConfig | None = None, progress: bool = False) -> dict:
    """The math classifier: :func:`train_labelled` on math and other seed texts."""
    examples = chain(((POSITIVE, t) for t in positives), ((NEGATIVE, t) for t in negatives))
    try:
        summary = train_labelled(examples, output, config, progress)
    except ClassifierError:
        raise ClassifierError("training needs both positive and negative seed text") from None
    docs, lines = summary["docs"], summary["lines"]
    return {"positive_docs": docs.get(POSITIVE, 0), "negative_docs": docs.get(NEGATIVE, 0),
            "positive_lines": lines.get(POSITIVE, 0), "negative_lines": lines.get(NEGATIVE, 0),
            "lines": sum(lines.values()), "files": summary["files"]}


def folded_path(model_path: str | os.PathLike[str]) -> Path:
    return Path(f"{model_path}.folded.bin")


def preprocessing_path(model_path: str | os.PathLike[str]) -> Path:
    """Where a model records the preprocessing it was trained with (fastText's file has no room for it)."""
    return Path(f"{model_path}.preprocess.json")


def trained_preprocessing(model_path: str) -> tuple[str, int]:
    """(preprocessing, version) a model was trained with; ("web", 1) for models from before they were recorded."""
    record = f"{model_path}.preprocess.json"  # a string: Path() would fold the // of a URL
    if not storage.exists(record):
        return "web", 1
    try:
        data = json.loads(storage.read_bytes(record))
        return str(data.get("preprocess", "web")), int(data["preprocess_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ClassifierError(f"{record} does not say which preprocessing the model was trained with: {exc}") from exc


def _folded_is_current(folded: str, model: str) -> bool:
    """Whether a folded table exists and was made from this model (locally: not older than it; on
    remote storage, where training writes both, whenever it exists)."""
    if storage.is_local(model):
        return Path(folded).is_file() and Path(folded).stat().st_mtime >= Path(model).stat().st_mtime
    return storage.exists(folded)


def fold(model) -> None:
    """Fold a supervised fastText model's input matrix into its output layer, in place (see the module
    docstring). A quantized or hierarchical-softmax model cannot be folded."""
    loss = model.f.getArgs().loss.name
    if loss not in ("softmax", "ova") or model.is_quantized():
        raise ClassifierError(f"cannot fold a {loss} model (quantized={model.is_quantized()}); score it with fastText")
    table = model.get_input_matrix() @ model.get_output_matrix().T
    labels = table.shape[1]
    if loss == "softmax" and labels > 1:  # a softmax ignores a shift of all logits: the last one can be 0
        model.set_matrices(table[:, :-1] - table[:, -1:], np.eye(labels, labels - 1, dtype=np.float32))
    else:
        model.set_matrices(table, np.eye(labels, dtype=np.float32))


def compiled_scorer(model) -> FoldedModel | None:
    """A folded model scored in C (``_folded.c``: fastText's predict, several times faster on long lines), or
    None for a model it does not read (quantized, with subwords or a hierarchical softmax): fastText scores it."""
    args = model.f.getArgs()
    if model.is_quantized() or args.maxn > 0 or args.loss.name not in ("softmax", "ova"):
        return None
    rows = np.ascontiguousarray(model.get_input_matrix(), dtype=np.float32)
    output = np.ascontiguousarray(model.get_output_matrix(), dtype=np.float32)
    return FoldedModel(list(model.get_words(on_unicode_error="replace")), rows.tobytes(), output.tobytes(),
                       rows.shape[1], args.bucket, args.wordNgrams, args.loss.name == "ova", args.label)


class TextClassifier:
    """``probabilities(texts)`` → (documents × labels) for raw texts; loads a ``.bin`` through its folded
    copy (``MODEL.folded.bin``, written next to it on first use) or a quantized ``.ftz`` as it is. The
    model may be on remote storage; it is copied to this machine once."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        if not storage.is_file(self.path):
            raise ClassifierError(f"classifier model not found: {self.path}")
        self.preprocessing, version = trained_preprocessing(self.path)
        self._to_line, current = preprocessor(self.preprocessing)
        if version != current:
            if version == 1 and self.preprocessing == "web":
                self._load(self.path)  # a file that is no model at all says so first
            raise ClassifierError(f"{self.path} was trained on text preprocessed by {self.preprocessing} version "
                                  f"{version}; this megamath preprocesses by version {current}: train it again")
        folded = f"{self.path}.folded.bin"  # a string: Path() would fold the // of a URL
        if self.path.endswith(".folded.bin"):  # folded already (the shipped model is only its folded table)
            self._model = self._load(self.path)
        elif _folded_is_current(folded, self.path):
            self._model = self._load(folded)
        else:
            self._model = self._load(self.path, cache=False)  # folded in place: not the shared copy
            try:
                fold(self._model)
            except ClassifierError:  # a quantized model: scored as it is
                pass
            else:
                try:
                    self._model.save_model(str(folded_path(storage.local_copy(self.path))))
                except (OSError, ValueError) as exc:  # a read-only model folder: fold again next time
                    log.info("could not cache the folded model next to %s: %s", self.path, exc)
        self.labels: list[str] = list(self._model.get_labels())
        self._scorer = compiled_scorer(self._model)

    @staticmethod
    def _load(path: str, cache: bool = True):
        try:
            return load_fasttext_model(storage.local_copy(path), cache=cache)
        except FastTextModelError as exc:
            raise ClassifierError(str(exc)) from exc

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return self.probabilities_of_lines([self._to_line(text) for text in texts])

    def fasttext_probabilities(self, texts: list[str]) -> np.ndarray:
        """The same probabilities through the model as trained, unfolded (slower; checks the fold)."""
        return self.probabilities_of_lines([self._to_line(t) for t in texts], self._load(self.path))

    def probabilities_of_lines(self, lines: list[str], model=None) -> np.ndarray:
        """(documents × labels) probabilities of preprocessed lines through a fastText ``model`` (the
        classifier's own by default), in one call into fastText (a preprocessed line has no newline; a
        text with an unpaired surrogate, which UTF-8 cannot hold, is read with it replaced)."""
        if model is None and self._scorer is not None:
            scores = np.frombuffer(self._scorer.probabilities(lines), dtype=np.float64)
            return scores.reshape(len(lines), len(self.labels)).copy()
        model = self._model if model is None else model
        try:
            labels, probabilities = model.predict(lines, k=-1)
        except TypeError:  # what fastText's binding raises for a string UTF-8 cannot encode
            labels, probabilities = model.predict([line.encode("utf-8", "replace").decode() for line in lines], k=-1)
        out = np.zeros((len(lines), len(self.labels)))
        column = {label: j for j, label in enumerate(self.labels)}
        for i, (names, values) in enumerate(zip(labels, probabilities)):
            for label, probability in zip(names, values):
                out[i, column[label]] = probability
        return out


class MathClassifier(TextClassifier):
    """``scores(texts)`` → P(math) per raw text."""

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__(path)
        if POSITIVE not in self.labels:
            raise ClassifierError(f"{self.path} has no {POSITIVE} label (labels: {', '.join(self.labels)})")
        self._positive = self.labels.index(POSITIVE)

    def scores(self, texts: list[str]) -> np.ndarray:
        return self.probabilities(texts)[:, self._positive]

    def fasttext_scores(self, texts: list[str]) -> np.ndarray:
        return self.fasttext_probabilities(texts)[:, self._positive]
