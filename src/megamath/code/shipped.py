"""The code classifier that ships with megamath: what ``megamath code recall`` and a recipe's code phase
use when no model is named. tools/build_code_classifier.py builds it; docs/code-classifier-card.md says
from what, and how it does on repositories it never saw."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from megamath.classify.shipped import is_default

SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "code-classifier.folded.bin"
SHIPPED_CARD = "code-classifier.json"


@lru_cache(maxsize=1)
def shipped_card() -> dict:
    return json.loads((SHIPPED_MODEL.parent / SHIPPED_CARD).read_text())


def model_and_thresholds(model: str, threshold: float | None) -> tuple[str, float, tuple[tuple[str, float], ...]]:
    """(model file, threshold, per-language thresholds) a user's choice means: ``default`` is the shipped
    model at the thresholds calibrated for each language (the pooled one for other languages) unless a
    threshold is given, which then holds for every language; another model's threshold is 0.5 unless one
    is given."""
    if not is_default(model):
        return model, 0.5 if threshold is None else threshold, ()
    if threshold is not None:
        return str(SHIPPED_MODEL), threshold, ()
    card = shipped_card()
    return str(SHIPPED_MODEL), float(card["threshold"]), tuple(sorted(card["thresholds"].items()))
