"""The math classifier that ships with megamath: what ``--classifier default`` and a recipe that names no
model use. tools/build_math_classifier.py builds it; docs/classifier-card.md says from what, and how it
does on pages it never saw."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "math-classifier.folded.bin"
SHIPPED_CARD = "math-classifier.json"
DEFAULT = "default"  # what a user writes for the shipped model where a model file is asked for


def is_default(model: str | None) -> bool:
    return model == DEFAULT


@lru_cache(maxsize=1)
def shipped_card() -> dict:
    return json.loads((SHIPPED_MODEL.parent / SHIPPED_CARD).read_text())


def shipped_threshold() -> float:
    """The shipped model's default threshold, calibrated on sources held out of its training."""
    return float(shipped_card()["threshold"])


def model_and_threshold(model: str, threshold: float | None) -> tuple[str, float]:
    """The model file and threshold a user's choice means: ``default`` is the shipped model, at its
    calibrated threshold unless one is given; another model's threshold is 0.5 (the recipe's round 1)
    unless one is given."""
    if is_default(model):
        return str(SHIPPED_MODEL), shipped_threshold() if threshold is None else threshold
    return model, 0.5 if threshold is None else threshold
