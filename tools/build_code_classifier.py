"""Build the shipped code classifier: src/megamath/code/data/code-classifier.folded.bin and its card.

It is trained on the ``train`` sources of bench/_code_sources.py (real packages and algorithm collections,
labelled by what they are for; algorithm folders that are not math among the negatives). Each language's
threshold is picked on the ``calibrate`` sources, repositories it never saw: the threshold of the best
F1 of that language's files with math and other files weighted equally (a calibration set's mix is no
crawl's), on a grid of 0.05 (ties: the one nearest 0.5). A language with fewer than ``MIN_FILES``
calibration files of either kind takes the pooled threshold. The ``test`` sources are not read here:
bench/shipped_code_classifier.py reports them.

    python tools/build_code_classifier.py --work work/code-model

writes the folded model, its preprocessing record and ``code-classifier.json`` (the thresholds per
language, the training data and its licences, the calibration figures) into the package;
docs/code-classifier-card.md is the card a person reads. Needs the mirrors bench/_packages.py names.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _code_sources import code_sources, read_sources  # noqa: E402

from megamath.classify.model import TrainConfig, folded_path, preprocessing_path  # noqa: E402
from megamath.code.scorer import FastTextCodeScorer  # noqa: E402
from megamath.code.shipped import SHIPPED_CARD, SHIPPED_MODEL  # noqa: E402
from megamath.pipelines.code import scores_by_language, train_code_model  # noqa: E402
from megamath.runtime.executor import LocalExecutor  # noqa: E402

# the recipe's settings (32 words a line, 3 epochs: longer lines and more epochs calibrated worse) on one
# thread, so that a rebuild gives the same model, as the math classifier's build does
TRAINING = TrainConfig(threads=1)
GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
MIN_FILES = 30  # fewer files of a kind in a language, and its threshold would be noise: the pooled one holds


def balanced_f1(math: np.ndarray, other: np.ndarray, threshold: float) -> float:
    """F1 at ``threshold`` with the math and other files weighted equally."""
    found, false = float((math >= threshold).mean()), float((other >= threshold).mean())
    return 2 * found / (1 + found + false)


def calibrate(scores: dict[str, dict[str, list[np.ndarray]]]) -> dict[str, dict]:
    """Each language's threshold (of those with enough calibration files of both kinds)."""
    out = {}
    for language in sorted(scores):
        math = np.concatenate(scores[language]["math"] or [np.zeros(0)])
        other = np.concatenate(scores[language]["other"] or [np.zeros(0)])
        if min(len(math), len(other)) < MIN_FILES:
            continue
        f1 = [balanced_f1(math, other, t) for t in GRID]
        best = max(f1)
        threshold = float(min((t for t, f in zip(GRID, f1) if f == best), key=lambda t: abs(t - 0.5)))
        out[language] = {"threshold": threshold, "balanced_f1": round(best, 4), "math_files": int(len(math)),
                         "other_files": int(len(other)), "recall": round(float((math >= threshold).mean()), 4),
                         "false_positive_rate": round(float((other >= threshold).mean()), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a folder for the files read and the model as trained")
    parser.add_argument("--output", type=Path, default=SHIPPED_MODEL.parent)
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("--max-words", type=int, default=TRAINING.max_words_per_line,
                        help="words of a file per training line (0: the whole file)")
    parser.add_argument("--epoch", type=int, default=TRAINING.epoch)
    parser.add_argument("--balance-lines", action=argparse.BooleanOptionalAction, default=TRAINING.balance_lines)
    args = parser.parse_args()
    training = replace(TRAINING, max_words_per_line=args.max_words, epoch=args.epoch, balance_lines=args.balance_lines)
    sources = [s for s in code_sources() if s.role in ("train", "calibrate")]
    shards = read_sources(sources, args.work / "read")
    train = [s for s in sources if s.role == "train"]
    with LocalExecutor(workers=args.workers) as executor:
        result = train_code_model([p for s in train if s.label == "math" for p in shards[s.name]],
                                  [p for s in train if s.label == "other" for p in shards[s.name]],
                                  str(args.work / f"model-w{args.max_words}-e{args.epoch}-b{int(args.balance_lines)}"),
                                  executor, config=training, show_progress=False)
    model = Path(result.model)
    scorer = FastTextCodeScorer(str(model))
    scores: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: {"math": [], "other": []})
    for source in sources:
        if source.role == "calibrate":
            for language, values in scores_by_language(scorer, shards[source.name]).items():
                scores[language][source.label].append(values)
    per_language = calibrate(scores)
    pooled = calibrate({"all": {label: [v for row in scores.values() for v in row[label]]
                                for label in ("math", "other")}})["all"]
    card = {"threshold": pooled["threshold"], "thresholds": {k: v["threshold"] for k, v in per_language.items()},
            "calibration": {"per_language": per_language, "pooled": pooled, "grid": "0.05 to 0.95 by 0.05",
                            "min_files": MIN_FILES},
            "training": {key: value for key, value in result.training.items() if key != "files"},  # no local paths
            "sources": [{"name": s.name, "language": s.language, "label": s.label, "role": s.role,
                         "specs": list(s.specs), "licence": s.licence} for s in sources]}
    args.output.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folded_path(model), args.output / SHIPPED_MODEL.name)
    shutil.copyfile(preprocessing_path(model), preprocessing_path(args.output / SHIPPED_MODEL.name))
    (args.output / SHIPPED_CARD).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({"thresholds": card["thresholds"], "pooled": pooled}, indent=1))


if __name__ == "__main__":
    main()
