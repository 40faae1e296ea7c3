"""Round 2 of the classifier: re-collect seeds across crawls with LLM labels, retrain, compare.

The recipe's round-1 classifier, seeded from one crawl and one corpus, drifts on other crawls. Round 2
samples the stage-1 survivors evenly per crawl, has an LLM rate their math relevance (the
``math_relevance`` rubric, 0-5), turns clear answers into seeds (≥ ``positive_min_score`` positive,
≤ ``negative_max_score`` negative, the rest left out), adds optional extra positives (e.g.
chain-of-thought solutions), and retrains on round-1 seeds plus these. A fifth of the labelled sample
is held out, so the report can say how precision, recall and the kept set moved from round 1 to 2.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from megamath.classify.evaluate import metrics
from megamath.classify.model import MathClassifier
from megamath.sources.crawl import crawl_of
from megamath.runtime.stage import Record


@dataclass(frozen=True)
class Round2Config:
    per_crawl: int = 1000
    positive_min_score: int = 3
    negative_max_score: int = 1
    holdout: float = 0.2
    threshold: float = 0.5
    seed: int = 0


def split_labels(labelled: list[Record], config: Round2Config, score_key: str = "math_relevance"):
    """(train positives, train negatives, held-out positives, held-out negatives, counts)."""
    positives, negatives, ambiguous = [], [], 0
    for record in labelled:
        score = record["meta"]["llm"][score_key]["score"]
        if score >= config.positive_min_score:
            positives.append(record)
        elif score <= config.negative_max_score:
            negatives.append(record)
        else:
            ambiguous += 1
    rng = random.Random(config.seed)
    rng.shuffle(positives)
    rng.shuffle(negatives)
    cut_pos = round(len(positives) * config.holdout)
    cut_neg = round(len(negatives) * config.holdout)
    counts = {"labelled": len(labelled), "positive": len(positives), "negative": len(negatives),
              "ambiguous": ambiguous, "held_out": cut_pos + cut_neg}
    return positives[cut_pos:], negatives[cut_neg:], positives[:cut_pos], negatives[:cut_neg], counts


def compare_rounds(round1: MathClassifier, round2: MathClassifier, held_pos: list[Record], held_neg: list[Record],
                   sample: list[Record], threshold: float) -> dict:
    """Round-over-round: metrics on the held-out LLM labels, and the kept share of the whole sample."""
    def texts(records):
        return [r.get("text") or "" for r in records]

    report = {}
    for name, model in (("round1", round1), ("round2", round2)):
        pos = model.scores(texts(held_pos)) if held_pos else np.zeros(0)
        neg = model.scores(texts(held_neg)) if held_neg else np.zeros(0)
        report[name] = {"held_out": metrics(pos, neg, threshold)}
    kept1 = round1.scores(texts(sample)) >= threshold
    kept2 = round2.scores(texts(sample)) >= threshold
    per_crawl: dict[str, dict] = defaultdict(lambda: {"docs": 0, "round1": 0, "round2": 0})
    for record, a, b in zip(sample, kept1, kept2):
        row = per_crawl[crawl_of(record)]
        row["docs"] += 1
        row["round1"] += int(a)
        row["round2"] += int(b)
    report["kept"] = {"sample": len(sample), "round1": int(kept1.sum()), "round2": int(kept2.sum()),
                      "both": int((kept1 & kept2).sum()), "only_round1": int((kept1 & ~kept2).sum()),
                      "only_round2": int((~kept1 & kept2).sum()), "per_crawl": dict(per_crawl)}
    return report


def format_comparison(report: dict) -> str:
    lines = ["held-out LLM labels:"]
    for name in ("round1", "round2"):
        m = report[name]["held_out"]
        lines.append(f"  {name}: precision {m['precision']:.4f} recall {m['recall']:.4f} F1 {m['f1']:.4f} "
                     f"({m['positives']} math, {m['negatives']} other)")
    kept = report["kept"]
    lines.append(f"kept of the {kept['sample']:,} sampled survivors: round 1 {kept['round1']:,}, round 2 "
                 f"{kept['round2']:,} (both {kept['both']:,}, only round 1 {kept['only_round1']:,}, "
                 f"only round 2 {kept['only_round2']:,})")
    for crawl, row in sorted(kept["per_crawl"].items()):
        lines.append(f"  {crawl}: {row['docs']:,} sampled, round 1 keeps {row['round1']:,}, round 2 {row['round2']:,}")
    return "\n".join(lines)
