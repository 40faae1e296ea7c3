"""Training a fastText math classifier, and scoring documents with it fast.

Training is fastText's (``fasttext-numpy2``) on preprocessed, chunked seed lines, with the recipe's
hyper-parameters as defaults. Scoring does not go through fastText's ``predict``: a supervised
fastText model with a softmax (or one-vs-all) output is linear in its input rows — the hidden vector
is the mean of the rows of a line's words and word n-grams, and the logits are the output matrix
times it — so the input matrix is folded into the output layer once, into one number per row and
label. A (rows × labels) table of 16 MB replaces the 2 GB input matrix, and scoring a batch is
vectorized hashing (fastText's own FNV-1a and n-gram hash), a gather and a mean: the same
probabilities as ``predict`` (up to float rounding and 32-bit hash collisions between vocabulary
words) at several times its speed and a fraction of its memory.
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

from megamath.classify.fasttext_model import FastTextModelError, load_fasttext_model
from megamath.classify.preprocess import chunk_words
from megamath.runtime import storage
from megamath.runtime.task import Job

log = logging.getLogger(__name__)

POSITIVE = "__label__math"
NEGATIVE = "__label__other"
_EOS = "</s>"
_NGRAM_MULTIPLIER = np.uint64(116049371)


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


def write_training_file(examples: Iterable[tuple[str, str]], path: Path, config: TrainConfig) -> dict:
    """Preprocess and chunk (label, text) examples, shuffle the lines, and write fastText's training file.

    Returns documents and lines per label."""
    lines: list[str] = []
    docs: Counter = Counter()
    to_line, _ = preprocessor(config.preprocessing)
    for label, text in examples:
        docs[label] += 1
        lines += [f"{label} {chunk}" for chunk in chunk_words(to_line(text), config.max_words_per_line) if chunk]
    random.Random(config.seed).shuffle(lines)
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
        FoldedModel.from_fasttext(model).save(folded_path(output))
        summary["files"] = [str(output), str(preprocessing_path(output)), str(folded_path(output))]
        if config.quantize:
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
    return Path(f"{model_path}.folded.npz")


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


def fnv1a_hashes(buffer: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """fastText's word hash (32-bit FNV-1a over the UTF-8 bytes, each byte sign-extended as fastText
    does) of every token ``buffer[starts[i]:starts[i]+lengths[i]]``, vectorized over tokens."""
    hashes = np.full(len(starts), 2166136261, dtype=np.uint32)
    signed = buffer.view(np.int8).astype(np.int32).view(np.uint32)
    active = np.flatnonzero(lengths > 0)
    offset = 0
    with np.errstate(over="ignore"):
        while active.size:
            hashes[active] = (hashes[active] ^ signed[starts[active] + offset]) * np.uint32(16777619)
            offset += 1
            active = active[lengths[active] > offset]
    return hashes


def _tokenize(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes, document of each token) for single-line documents, fastText's way: tokens split
    on whitespace, each line ending with the end-of-sentence token."""
    joined = ("\n".join(lines) + "\n").encode("utf-8")
    buffer = np.frombuffer(joined, dtype=np.uint8)
    is_space = (buffer == 32) | (buffer == 9) | (buffer == 13) | (buffer == 11) | (buffer == 12) | (buffer == 0)
    newline = buffer == 10
    breaks = (is_space | newline).view(np.int8)
    edges = np.diff(breaks, prepend=np.int8(1), append=np.int8(1))
    starts = np.flatnonzero(edges == -1)
    ends = np.flatnonzero(edges == 1)
    word_hashes = fnv1a_hashes(buffer, starts, ends - starts)
    newline_at = np.flatnonzero(newline)
    doc_of_word = np.searchsorted(newline_at, starts)
    # the end-of-sentence token closes each line: token i of document d moves d places right
    eos = fnv1a_hashes(np.frombuffer(_EOS.encode(), dtype=np.uint8), np.array([0]), np.array([len(_EOS)]))[0]
    words_per_doc = np.bincount(doc_of_word, minlength=len(lines))
    total = len(word_hashes) + len(lines)
    hashes = np.empty(total, dtype=np.uint32)
    docs = np.empty(total, dtype=np.int64)
    word_slots = np.arange(len(word_hashes)) + doc_of_word
    eos_slots = np.cumsum(words_per_doc + 1) - 1
    hashes[word_slots], docs[word_slots] = word_hashes, doc_of_word
    hashes[eos_slots], docs[eos_slots] = eos, np.arange(len(lines))
    return hashes, docs


class FoldedModel:
    """Input rows folded into the output layer: ``table[row, label]`` = row · output[label]."""

    def __init__(self, table: np.ndarray, vocab_hashes: np.ndarray, vocab_ids: np.ndarray, nwords: int,
                 bucket: int, word_ngrams: int, labels: list[str], loss: str):
        self.table = table
        self.vocab_hashes = vocab_hashes
        self.vocab_ids = vocab_ids
        self.nwords = nwords
        self.bucket = bucket
        self.word_ngrams = word_ngrams
        self.labels = labels
        self.loss = loss

    @classmethod
    def from_fasttext(cls, model) -> "FoldedModel":
        args = model.f.getArgs()
        loss = args.loss.name
        if loss not in ("softmax", "ova") or args.maxn > 0 or model.is_quantized():
            raise ClassifierError(f"cannot fold a {loss} model with subwords={args.maxn > 0} "
                                  f"quantized={model.is_quantized()}; score it with fastText")
        words = model.get_words(on_unicode_error="replace")
        encoded = [w.encode("utf-8") for w in words]
        buffer = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
        lengths = np.array([len(w) for w in encoded], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(encoded) else np.zeros(0, dtype=np.int64)
        hashes = fnv1a_hashes(buffer, starts, lengths)
        order = np.argsort(hashes, kind="stable")
        table = (model.get_input_matrix() @ model.get_output_matrix().T).astype(np.float32)
        return cls(table, hashes[order], order.astype(np.int64), len(words), args.bucket, args.wordNgrams,
                   list(model.get_labels()), loss)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, table=self.table, vocab_hashes=self.vocab_hashes, vocab_ids=self.vocab_ids,
                 meta=np.array([self.nwords, self.bucket, self.word_ngrams]), labels=np.array(self.labels),
                 loss=np.array(self.loss))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "FoldedModel":
        with np.load(path) as data:
            nwords, bucket, word_ngrams = (int(v) for v in data["meta"])
            return cls(data["table"], data["vocab_hashes"], data["vocab_ids"], nwords, bucket, word_ngrams,
                       [str(v) for v in data["labels"]], str(data["loss"]))

    def probabilities(self, lines: list[str]) -> np.ndarray:
        """(documents × labels) probabilities of preprocessed single-line documents."""
        hashes, docs = _tokenize(lines)
        position = np.searchsorted(self.vocab_hashes, hashes)
        position[position == len(self.vocab_hashes)] = 0
        known = self.vocab_hashes[position] == hashes
        rows = [self.vocab_ids[position[known]]]
        row_docs = [docs[known]]
        # word n-grams, as fastText hashes them: int32 word hashes sign-extended to 64 bits
        extended = hashes.view(np.int32).astype(np.int64).view(np.uint64)
        combined = extended.copy()
        with np.errstate(over="ignore"):
            for n in range(2, self.word_ngrams + 1):
                span = len(extended) - n + 1
                if span <= 0:
                    break
                combined = combined[:span] * _NGRAM_MULTIPLIER + extended[n - 1:n - 1 + span]
                same_doc = docs[:span] == docs[n - 1:n - 1 + span]
                rows.append((self.nwords + combined[same_doc] % np.uint64(self.bucket)).astype(np.int64))
                row_docs.append(docs[:span][same_doc])
        rows_all = np.concatenate(rows)
        docs_all = np.concatenate(row_docs)
        counts = np.bincount(docs_all, minlength=len(lines)).astype(np.float64)
        logits = np.stack([np.bincount(docs_all, weights=self.table[rows_all, j], minlength=len(lines))
                           for j in range(len(self.labels))], axis=1)
        logits /= np.maximum(counts, 1)[:, None]
        if self.loss == "ova":
            return 1 / (1 + np.exp(-logits))
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


class TextClassifier:
    """``probabilities(texts)`` → (documents × labels) for raw texts; loads a ``.bin`` (through its
    folded table, written next to it on first use) or a quantized ``.ftz`` (scored by fastText). The
    model may be on remote storage; it is copied to this machine once."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        if not storage.is_file(self.path):
            raise ClassifierError(f"classifier model not found: {self.path}")
        self.preprocessing, version = trained_preprocessing(self.path)
        self._to_line, current = preprocessor(self.preprocessing)
        if version != current:
            if version == 1 and self.preprocessing == "web":
                self._load_fasttext()  # a file that is no model at all says so first
            raise ClassifierError(f"{self.path} was trained on text preprocessed by {self.preprocessing} version "
                                  f"{version}; this megamath preprocesses by version {current}: train it again")
        self._folded: FoldedModel | None = None
        self._fasttext = None
        folded = f"{self.path}.folded.npz"  # a string: Path() would fold the // of a URL
        if _folded_is_current(folded, self.path):
            self._folded = FoldedModel.load(Path(storage.local_copy(folded)))
        else:
            model = self._load_fasttext()
            try:
                self._folded = FoldedModel.from_fasttext(model)
            except ClassifierError:
                self._fasttext = model
            else:
                try:
                    self._folded.save(folded_path(storage.local_copy(self.path)))
                except OSError as exc:  # a read-only model folder: fold again next time
                    log.info("could not cache the folded model next to %s: %s", self.path, exc)
        self.labels: list[str] = self._folded.labels if self._folded else list(self._fasttext.get_labels())

    def _load_fasttext(self):
        try:
            return load_fasttext_model(storage.local_copy(self.path))
        except FastTextModelError as exc:
            raise ClassifierError(str(exc)) from exc

    def probabilities(self, texts: list[str]) -> np.ndarray:
        lines = [self._to_line(text) for text in texts]
        if self._folded is not None:
            return self._folded.probabilities(lines)
        return self.fasttext_probabilities_of_lines(lines, self._fasttext)

    def fasttext_probabilities(self, texts: list[str]) -> np.ndarray:
        """The same probabilities through fastText's own ``predict`` (slower; checks the folded table)."""
        return self.fasttext_probabilities_of_lines([self._to_line(t) for t in texts],
                                                    self._fasttext or self._load_fasttext())

    def fasttext_probabilities_of_lines(self, lines: list[str], model) -> np.ndarray:
        out = np.zeros((len(lines), len(self.labels)))
        column = {label: j for j, label in enumerate(self.labels)}
        for i, line in enumerate(lines):
            for label, probability in zip(*model.predict(line, k=-1)):
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
