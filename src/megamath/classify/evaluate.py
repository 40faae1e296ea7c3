"""Precision, recall and F1 of a classifier on labelled sets, per set and pooled, over thresholds.

A labelled set is one source of documents that are all positive or all negative (html-math pages,
news pages...). For a positive set its F1 pairs it with every negative set of the same domain; for
a negative set, with every positive set: so each source gets its own number, and a source the
classifier fails on cannot hide in a pooled average.

A labelled sample's mix of math and other is not the crawl's: with ``base_rate`` (the share of math
among the pages the classifier will see, e.g. 0.05), precision is also given as the crawl would see
it, ``recall·b / (recall·b + FPR·(1 − b))``. The sweep picks the threshold of best F1, and, when asked,
the lowest threshold that reaches a target precision (most recall) or the highest that keeps a
target recall (fewest false positives).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SWEEP = tuple(round(0.01 * i, 2) for i in range(1, 100))


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


def metrics(positive_scores: np.ndarray, negative_scores: np.ndarray, threshold: float,
            base_rate: float | None = None) -> dict:
    tp = int((positive_scores >= threshold).sum())
    fp = int((negative_scores >= threshold).sum())
    fpr = fp / len(negative_scores) if len(negative_scores) else 0.0
    row = {**_prf(tp, fp, len(positive_scores) - tp), "positives": len(positive_scores),
           "negatives": len(negative_scores), "false_positive_rate": round(fpr, 5)}
    if base_rate is not None:
        recall = row["recall"]
        kept = recall * base_rate + fpr * (1 - base_rate)
        row["precision_at_base_rate"] = round(recall * base_rate / kept, 4) if kept else 0.0
    return row


def pick_threshold(sweep: list[dict], *, target_precision: float | None = None, target_recall: float | None = None,
                   base_rate: float | None = None) -> dict | None:
    """The sweep row a target asks for (precision at the base rate when one is given), or None when no
    threshold reaches it; without a target, the row of best F1."""
    precision = "precision_at_base_rate" if base_rate is not None else "precision"
    if target_precision is not None:
        return next((row for row in sweep if row[precision] >= target_precision), None)
    if target_recall is not None:
        return next((row for row in reversed(sweep) if row["recall"] >= target_recall), None)
    return max(sweep, key=lambda row: row["f1"]) if sweep else None


def evaluate(sets: list[LabelledSet], threshold: float = 0.5, *, base_rate: float | None = None,
             target_precision: float | None = None, target_recall: float | None = None) -> dict:
    """The report: per domain, pooled metrics at ``threshold``, a threshold sweep with its picks, and
    per-set rows."""
    report = {"threshold": threshold, "base_rate": base_rate, "domains": {}}
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
        sweep = [{"threshold": t, **metrics(all_pos, all_neg, t, base_rate)} for t in SWEEP]
        result = {"pooled": metrics(all_pos, all_neg, threshold, base_rate), "sets": rows, "sweep": sweep,
                  "best_threshold": pick_threshold(sweep)}
        if target_precision is not None or target_recall is not None:
            result["target"] = {"precision": target_precision, "recall": target_recall,
                                "threshold": pick_threshold(sweep, target_precision=target_precision,
                                                            target_recall=target_recall, base_rate=base_rate)}
        report["domains"][domain] = result
    return report


def _pick(row: dict) -> str:
    at_base = f", at the base rate {row['precision_at_base_rate']:.4f}" if "precision_at_base_rate" in row else ""
    return (f"threshold {row['threshold']}: F1 {row['f1']:.4f} (precision {row['precision']:.4f}{at_base}, "
            f"recall {row['recall']:.4f}, false positives {100 * row['false_positive_rate']:.2f}%)")


def format_report(report: dict) -> str:
    lines = []
    for domain, result in report["domains"].items():
        pooled = result["pooled"]
        title = {"in": "in-domain", "out": "out-of-domain"}.get(domain, domain)
        lines.append(f"{title}, threshold {report['threshold']}: precision {pooled['precision']:.4f} "
                     f"recall {pooled['recall']:.4f} F1 {pooled['f1']:.4f} "
                     f"({pooled['positives']:,} math, {pooled['negatives']:,} other; "
                     f"false positives {100 * pooled['false_positive_rate']:.2f}%)")
        if "precision_at_base_rate" in pooled:
            lines.append(f"  precision a crawl with {100 * report['base_rate']:g}% math would see: "
                         f"{pooled['precision_at_base_rate']:.4f}")
        lines.append(f"  {'set':34s} {'label':5s} {'docs':>6s} {'as math':>8s} {'precision':>9s} {'recall':>7s} {'F1':>7s}")
        for row in result["sets"]:
            lines.append(f"  {row['set'][:34]:34s} {row['label']:5s} {row['docs']:6,d} {100 * row['classified_math']:7.1f}% "
                         f"{row['precision']:9.4f} {row['recall']:7.4f} {row['f1']:7.4f}")
        if result["best_threshold"]:
            lines.append(f"  best F1 at {_pick(result['best_threshold'])}")
        if "target" in result:
            target = result["target"]
            wanted = (f"precision {target['precision']}" if target["precision"] is not None
                      else f"recall {target['recall']}")
            lines.append(f"  for {wanted}: " + (_pick(target["threshold"]) if target["threshold"]
                                                 else "no threshold reaches it"))
    return "\n".join(lines)
