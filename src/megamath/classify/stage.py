"""The math classifier as a pipeline stage: ``meta.math_score`` on every record, drop below the threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from megamath.classify.model import ClassifierError, MathClassifier, TextClassifier
from megamath.runtime.stage import BatchStage, Drop, Record, StageConfigError, resource


@dataclass(frozen=True)
class ClassifierConfig:
    """``model_path``: a model from ``megamath classifier train``; ``threshold``: keep records whose
    P(math) reaches it (the recipe's round 1 uses 0.5); ``batch_size``: records scored together."""

    model_path: str
    threshold: float = 0.5
    batch_size: int = 512


class ClassifierStage(BatchStage):
    """A batch stage that scores with the fastText model at ``config.model_path`` (loaded once per
    process); a model that cannot load, or that :meth:`check` refuses, ends the run before any record."""

    classifier_type = TextClassifier

    @resource
    def classifier(self) -> TextClassifier:
        return self.classifier_type(self.config.model_path)

    def dependencies(self) -> tuple[str, ...]:
        return (self.config.model_path,)

    def prepare(self) -> None:
        try:
            classifier = self.classifier  # also folds the model once here, instead of in every worker
        except ClassifierError as exc:
            raise StageConfigError(str(exc)) from exc
        self.check(classifier)

    def check(self, classifier: TextClassifier) -> None:
        """Raise :class:`StageConfigError` for a model this stage cannot use."""


class MathClassify(ClassifierStage):
    name = "math_classifier"
    classifier_type = MathClassifier

    def __init__(self, config: ClassifierConfig):
        self.config = config

    def process_batch(self, batch: list[Record]) -> Iterator[Record | Drop]:
        scores = self.classifier.scores([record.get("text") or "" for record in batch])
        for record, score in zip(batch, scores):
            record.setdefault("meta", {})["math_score"] = round(float(score), 4)
            yield record if score >= self.config.threshold else Drop(record, "not_math")
