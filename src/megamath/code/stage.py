"""The code stage: the code classifier, ``meta.code.model_score`` (its scorer pluggable:
:mod:`megamath.code.scorer`). Files and tokens per language are the profile stage's counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from megamath.code.normalize import math_imports
from megamath.code.scorer import CodeScorer, load_scorer
from megamath.runtime.stage import BatchStage, Drop, Record, resource


@dataclass(frozen=True)
class CodeClassifierConfig:
    """``model_path``: a model from ``megamath code train`` (or what ``scorer`` loads); ``threshold``:
    keep files whose P(math) reaches it, or, for a language in ``language_thresholds`` (language,
    threshold pairs: the shipped model's calibration), reaches that language's; ``rule_feature``: the ``mathimport`` tokens the fastText model
    was trained with; ``scorer``: ``fasttext`` or ``package.module:factory`` (see
    :mod:`megamath.code.scorer`); ``batch_size``: files scored together."""

    model_path: str
    threshold: float = 0.5
    language_thresholds: tuple[tuple[str, float], ...] = ()
    rule_feature: bool = True
    scorer: str = "fasttext"
    batch_size: int = 512


class CodeClassify(BatchStage):
    """Writes ``meta.code.model_score`` and ``meta.code.math_imports``; drops files under the threshold
    (``not_math_code``)."""

    name = "code_classifier"

    def __init__(self, config: CodeClassifierConfig):
        self.config = config
        self._thresholds = dict(config.language_thresholds)

    @resource
    def scorer(self) -> CodeScorer:
        return load_scorer(self.config.scorer, self.config.model_path, self.config.rule_feature)

    def dependencies(self) -> tuple[str, ...]:
        return (self.config.model_path,)

    def prepare(self) -> None:
        self.scorer  # a model that cannot load ends the run before any file is read

    def process_batch(self, batch: list[Record]) -> Iterator[Record | Drop]:
        languages = [record["meta"]["code"]["language"] for record in batch]
        texts = [record.get("text") or "" for record in batch]
        imports = [math_imports(text, language) for text, language in zip(texts, languages)]
        scores = self.scorer.math_scores(texts, languages, imports)
        for record, language, found, score in zip(batch, languages, imports, scores):
            code = record["meta"]["code"]
            code["model_score"] = round(float(score), 4)
            code["math_imports"] = found
            kept = score >= self._thresholds.get(language, self.config.threshold)
            yield record if kept else Drop(record, "not_math_code")
