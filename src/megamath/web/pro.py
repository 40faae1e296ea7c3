"""Web-Pro's own stages: the crawl-year threshold on educational scores, and scores from a fastText
model instead of the LLM (the phase is assembled in :mod:`megamath.pipelines.webpro`).

Scoring every document with an LLM is the expensive part; :class:`ClassifierScore` instead scores with
a fastText model trained on a sample of LLM scores (labels ``__label__0`` … ``__label__5``), writing
the expected score where the LLM's would go, so the threshold and refinement work unchanged.

The recipe keeps scores >= 3 from 2023 on and >= 4 up to 2017, where older crawls hold more noise;
years in between take the threshold of the latest step at or before them (configurable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from megamath.classify.stage import ClassifierStage
from megamath.runtime.stage import Filter, Record
from megamath.sources.crawl import crawl_year

# (first crawl year, minimum score): each step applies from its year until the next step
DEFAULT_YEAR_THRESHOLDS: tuple[tuple[int, float], ...] = ((0, 4.0), (2023, 3.0))


def parse_year_thresholds(spec: str) -> tuple[tuple[int, float], ...]:
    """``"0:4,2020:3.5,2023:3"`` → steps; raises ValueError with the offending part."""
    steps = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        year, sep, threshold = part.partition(":")
        if not sep:
            raise ValueError(f"expected YEAR:SCORE, got {part!r}")
        steps.append((int(year), float(threshold)))
    if not steps:
        raise ValueError("no YEAR:SCORE step given")
    return tuple(sorted(steps))


@dataclass(frozen=True)
class ScoreThresholdConfig:
    """``key``: the score in ``meta.llm``; ``year_thresholds``: (first year, minimum) steps. A record
    whose crawl year is unknown must pass the strictest step."""

    key: str = "educational_value"
    year_thresholds: tuple[tuple[int, float], ...] = DEFAULT_YEAR_THRESHOLDS


class ScoreThreshold(Filter):
    name = "score_threshold"

    def __init__(self, config: ScoreThresholdConfig | None = None):
        self.config = config or ScoreThresholdConfig()

    def threshold_for(self, year: int | None) -> float:
        steps = self.config.year_thresholds
        if year is None:
            return max(threshold for _, threshold in steps)
        applicable = [threshold for first, threshold in steps if first <= year]
        return applicable[-1] if applicable else steps[0][1]

    def filter(self, record: Record) -> bool | tuple[bool, str]:
        score = (record.get("meta") or {}).get("llm", {}).get(self.config.key, {}).get("score")
        if score is None:
            return False, "no_score"
        return score >= self.threshold_for(crawl_year(record)), "below_threshold"


@dataclass(frozen=True)
class ClassifierScoreConfig:
    """``model_path``: a fastText model whose labels are ``__label__<score>``; the expected score goes
    to ``meta.llm[key].score``."""

    model_path: str
    key: str = "educational_value"
    batch_size: int = 512


class ClassifierScore(ClassifierStage):
    name = "classifier_score"

    def __init__(self, config: ClassifierScoreConfig):
        self.config = config

    def process_batch(self, batch: list[Record]) -> Iterator[Record]:
        values = [float(label.removeprefix("__label__")) for label in self.classifier.labels]
        expected = self.classifier.probabilities([r.get("text") or "" for r in batch]) @ values
        source = f"fasttext:{Path(self.config.model_path).name}"
        for record, score in zip(batch, expected):
            scores = record.setdefault("meta", {}).setdefault("llm", {})
            scores[self.config.key] = {"score": round(float(score), 3), "model": source}
            yield record
