"""Precision, recall and F1 of a classifier on labelled sets, per set and pooled, over thresholds.

A labelled set is one source of documents that are all positive or all negative (html-math pages,
news pages...). For a positive set its F1 pairs it with every negative set of the same domain; for
a negative set, with every positive set: so each source gets its own number, and a source the
classifier fails on cannot hide in a pooled average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SWEEP = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass
class LabelledSet:
    name: str
    positive: bool
    scores: np.ndarray
    domain: str = "out"


def _prf(true_positive: int, false_positive: int, false_negative: int) -> dict:
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def metrics(positive_scores: np.ndarray, negative_scores: np.ndarray, threshold: float) -> dict:
    tp = int((positive_scores >= threshold).sum())
    fp = int((negative_scores >= threshold).sum())
    return {**_prf(tp, fp, len(positive_scores) - tp), "positives": len(positive_scores),
            "negatives": len(negative_scores)}


def evaluate(sets: list[LabelledSet], threshold: float = 0.5) -> dict:
    """The report: per domain, pooled metrics at ``threshold``, a threshold sweep, and per-set rows."""
    report = {"threshold": threshold, "domains": {}}
    for domain in sorted({s.domain for s in sets}):
        members = [s for s in sets if s.domain == domain]
        pos = [s for s in members if s.positive]
        neg = [s for s in members if not s.positive]
        all_pos = np.concatenate([s.scores for s in pos]) if pos else np.zeros(0)
        all_neg = np.concatenate([s.scores for s in neg]) if neg else np.zeros(0)
        rows = []
        for s in members:
            paired = metrics(s.scores, all_neg, threshold) if s.positive else metrics(all_pos, s.scores, threshold)
            share = float((s.scores >= threshold).mean()) if len(s.scores) else 0.0
            rows.append({"set": s.name, "label": "math" if s.positive else "other", "docs": len(s.scores),
                         "classified_math": round(share, 4), "mean_score": round(float(s.scores.mean()), 4)
                         if len(s.scores) else None, **{k: paired[k] for k in ("precision", "recall", "f1")}})
        sweep = [{"threshold": t, **metrics(all_pos, all_neg, t)} for t in SWEEP]
        best = max(sweep, key=lambda row: row["f1"]) if sweep else None
        report["domains"][domain] = {"pooled": metrics(all_pos, all_neg, threshold), "sets": rows,
                                     "sweep": sweep, "best_threshold": best}
    return report


def format_report(report: dict) -> str:
    lines = []
    for domain, result in report["domains"].items():
        pooled = result["pooled"]
        title = {"in": "in-domain", "out": "out-of-domain"}.get(domain, domain)
        lines.append(f"{title}, threshold {report['threshold']}: precision {pooled['precision']:.4f} "
                     f"recall {pooled['recall']:.4f} F1 {pooled['f1']:.4f} "
                     f"({pooled['positives']:,} math, {pooled['negatives']:,} other)")
        lines.append(f"  {'set':34s} {'label':5s} {'docs':>6s} {'as math':>8s} {'precision':>9s} {'recall':>7s} {'F1':>7s}")
        for row in result["sets"]:
            lines.append(f"  {row['set'][:34]:34s} {row['label']:5s} {row['docs']:6,d} {100 * row['classified_math']:7.1f}% "
                         f"{row['precision']:9.4f} {row['recall']:7.4f} {row['f1']:7.4f}")
        best = result["best_threshold"]
        if best:
            lines.append(f"  best threshold {best['threshold']}: F1 {best['f1']:.4f} "
                         f"(precision {best['precision']:.4f}, recall {best['recall']:.4f})")
    return "\n".join(lines)
