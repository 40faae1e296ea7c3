"""What gives a code file its math score: the pluggable part of recall and evaluation.

A scorer is any object with ``math_scores(texts, languages, imports) -> sequence of P(math)`` for a
batch of files (``imports``: the math libraries each file imports, found once by the caller with
:func:`~megamath.code.normalize.math_imports`; a scorer may ignore them). The default, ``fasttext``, is the model ``megamath code train`` writes, reading the code-aware
normalization (:mod:`megamath.code.normalize`). Another scorer — a fine-tuned transformer on a GPU,
say — is named ``package.module:factory``: ``factory(model_path)`` returns the scorer, loaded once
per worker. ``megamath code recall --scorer`` and ``code eval --scorer`` take the same names.
"""

from __future__ import annotations

import importlib
from typing import Protocol, Sequence

from megamath.classify.model import POSITIVE, ClassifierError, TextClassifier
from megamath.code.normalize import classifier_text
from megamath.runtime.stage import StageConfigError


class CodeScorer(Protocol):
    def math_scores(self, texts: Sequence[str], languages: Sequence[str], imports: Sequence[list[str]]
                    ) -> Sequence[float]:
        """P(math) of each file, given its text, language and math imports."""


class FastTextCodeScorer:
    """A model from ``megamath code train``; ``rule_feature``: the ``mathimport`` tokens it was trained with."""

    def __init__(self, model_path: str, rule_feature: bool = True):
        try:
            self.classifier = TextClassifier(model_path)
        except ClassifierError as exc:
            raise StageConfigError(str(exc)) from exc
        check_code_model(self.classifier)
        self.rule_feature = rule_feature
        self._column = self.classifier.labels.index(POSITIVE)

    def math_scores(self, texts: Sequence[str], languages: Sequence[str], imports: Sequence[list[str]]
                    ) -> Sequence[float]:
        # classifier_text's lines are what the model's preprocessing (as_classifier_line) makes of them
        lines = [classifier_text(text, language, self.rule_feature, found)
                 for text, language, found in zip(texts, languages, imports)]
        return self.classifier.probabilities_of_lines(lines)[:, self._column]


def check_code_model(classifier: TextClassifier) -> None:
    """Refuse a model that was not trained by ``megamath code train`` (a web model reads other tokens)."""
    if classifier.preprocessing != "code" or POSITIVE not in classifier.labels:
        raise StageConfigError(f"{classifier.path} is not a code model (trained on {classifier.preprocessing} "
                               f"text, labels {', '.join(classifier.labels)}): train one with `megamath code train`")


def load_scorer(name: str, model_path: str, rule_feature: bool = True) -> CodeScorer:
    """The scorer called ``name`` (``fasttext`` or ``package.module:factory``) over ``model_path``."""
    if name == "fasttext":
        return FastTextCodeScorer(model_path, rule_feature)
    module_name, sep, attribute = name.partition(":")
    if not sep or not module_name or not attribute:
        raise StageConfigError(f"scorer {name!r}: give 'fasttext' or 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise StageConfigError(f"scorer {name!r} cannot be loaded: {exc}") from exc
    scorer = factory(model_path)
    if not callable(getattr(scorer, "math_scores", None)):
        raise StageConfigError(f"scorer {name!r}: {type(scorer).__name__} has no math_scores(texts, languages, imports)")
    return scorer
