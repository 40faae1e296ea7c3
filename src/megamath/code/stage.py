"""Code stages: the languages of what was read, counted; and the code classifier, ``meta.code.model_score``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from megamath.classify.model import POSITIVE, TextClassifier
from megamath.classify.stage import ClassifierStage
from megamath.code.normalize import classifier_text, math_imports
from megamath.runtime.stage import Drop, Record, RecordStage, StageConfigError


class CountLanguages(RecordStage):
    """Counts the files of each language (``files_<language>`` in the stage's counters)."""

    name = "code_languages"

    def __init__(self):
        self.counters: Counter = Counter()

    def process(self, record: Record) -> Record:
        self.counters[f"files_{record['meta']['code']['language']}"] += 1
        return record


@dataclass(frozen=True)
class CodeClassifierConfig:
    """``model_path``: a model from ``megamath code train``; ``threshold``: keep files whose P(math)
    reaches it; ``rule_feature``: the ``mathimport`` tokens the model was trained with;
    ``batch_size``: files scored together."""

    model_path: str
    threshold: float = 0.5
    rule_feature: bool = True
    batch_size: int = 512


class CodeClassify(ClassifierStage):
    """Writes ``meta.code.model_score`` and ``meta.code.math_imports``; drops files under the threshold
    (``not_math_code``)."""

    name = "code_classifier"

    def __init__(self, config: CodeClassifierConfig):
        self.config = config

    def check(self, classifier: TextClassifier) -> None:
        check_code_model(classifier)

    def process_batch(self, batch: list[Record]) -> Iterator[Record | Drop]:
        column = self.classifier.labels.index(POSITIVE)
        imports = [math_imports(record.get("text") or "", record["meta"]["code"]["language"]) for record in batch]
        lines = [classifier_text(record.get("text") or "", record["meta"]["code"]["language"], self.config.rule_feature,
                                 found) for record, found in zip(batch, imports)]
        scores = self.classifier.probabilities(lines)[:, column]
        for record, score, found in zip(batch, scores, imports):
            code = record["meta"]["code"]
            code["model_score"] = round(float(score), 4)
            code["math_imports"] = found
            yield record if score >= self.config.threshold else Drop(record, "not_math_code")


def check_code_model(classifier: TextClassifier) -> None:
    """Refuse a model that was not trained by ``megamath code train`` (a web model reads other tokens)."""
    if classifier.preprocessing != "code" or POSITIVE not in classifier.labels:
        raise StageConfigError(f"{classifier.path} is not a code model (trained on {classifier.preprocessing} "
                               f"text, labels {', '.join(classifier.labels)}): train one with `megamath code train`")
