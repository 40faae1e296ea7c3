"""Build the shipped math classifier: src/megamath/classify/data/math-classifier.folded.bin and its card.

Its training text is the ``train`` sources of tools/math_classifier_corpus.py (real pages of openly
licensed textbooks, documentation, sample shops and data tables, through stage 1) and the project's own
generated pages of bench/_math_pages.py (worked examples, GSM8K *train* worksheets, numpy's and scipy's
math docstrings, standard-library API pages, shops, classifieds, league tables, recipes, and ../shared's
Common Crawl and Wikipedia seed texts but the fourth the benchmarks keep out; not its news and movie
reviews, whose licence says nothing of models), plus every other chapter of the HoTT book. Building
needs ../shared and the ``classifier-build`` extra (scipy for its docstrings, markdown-it-py and docutils
for the documentation pages).
The default threshold is picked on the ``calibrate`` sources among those at which every non-math slice
stays within its false-positive target (ordinary pages 0.1%, code and API pages, shops and number-dense
pages 1%) and the precision at a 5% math base rate is at least 0.97: the highest that keeps the target
recall, 0.97, or, when none keeps it, the one with the most recall (false positives cost more in a crawl
where math is rare). The ``test``
sources are not read here: bench/shipped_classifier.py reports them.

    python tools/math_classifier_corpus.py --mirrors ../.mirror -o work/corpus
    python tools/build_math_classifier.py --corpus work/corpus --work work/model

writes the folded model, its preprocessing record and ``math-classifier.json`` (the threshold, the
training data and its licences, the calibration figures) into the package; docs/classifier-card.md is
the card a person reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _math_pages import hott_sections, own_pages  # noqa: E402

from megamath.classify.model import NEGATIVE, POSITIVE, MathClassifier, TrainConfig, folded_path, preprocessing_path, \
    train_labelled  # noqa: E402
from megamath.classify.shipped import SHIPPED_CARD, SHIPPED_MODEL  # noqa: E402
from megamath.web.extract import extract_text  # noqa: E402

FP_TARGETS = {"ordinary": 0.001, "code-api": 0.01, "shop-price": 0.01, "number-dense": 0.01}
BASE_RATE, TARGET_PRECISION, KEPT_RECALL = 0.05, 0.97, 0.97
CONFIG = TrainConfig(balance_lines=True, formula_free_copies=True, threads=1)


def read_corpus(corpus: Path, role: str) -> dict[str, tuple[dict, list[str]]]:
    sources = json.loads((corpus / "sources.json").read_text())
    return {name: (meta, [json.loads(line)["text"] for line in (corpus / f"{name}.jsonl").open()])
            for name, meta in sources.items() if meta["role"] == role}


def own_examples() -> list[tuple[str, str]]:
    examples = [(POSITIVE if name.startswith("math/") else NEGATIVE, extract_text(markup))
                for name, markup in own_pages(news=False)]
    return examples + [(POSITIVE, section) for section in hott_sections(held_out=False)]


def choose_threshold(scores: dict[str, np.ndarray], slices: dict[str, str], labels: dict[str, str]) -> dict:
    """The threshold (0.01 steps) and its calibration figures: of those that meet every false-positive
    target and the precision target, the highest that keeps KEPT_RECALL; when none keeps it, the one with
    the most recall (false positives cost more than misses where math is rare)."""
    positives = np.concatenate([s for name, s in scores.items() if labels[name] == "math"])
    meeting = []
    for threshold in np.round(np.arange(0.01, 1.0, 0.01), 2):
        recall = float((positives >= threshold).mean())
        fp = {}
        for name, s in scores.items():
            if labels[name] == "other":
                fp.setdefault(slices[name], []).append(s >= threshold)
        fp_rates = {slice_: float(np.concatenate(hits).mean()) for slice_, hits in fp.items()}
        pooled_fp = float(np.concatenate([np.concatenate(h) for h in fp.values()]).mean())
        precision = recall * BASE_RATE / (recall * BASE_RATE + pooled_fp * (1 - BASE_RATE)) if recall else 0.0
        if all(rate <= FP_TARGETS[slice_] for slice_, rate in fp_rates.items()) and precision >= TARGET_PRECISION:
            meeting.append({"threshold": float(threshold), "recall": recall, "false_positive_rates": fp_rates,
                            "precision_at_5pct": precision})
    if not meeting:
        raise SystemExit("no threshold meets the false-positive and precision targets on the calibration pages")
    keeping = [m for m in meeting if m["recall"] >= KEPT_RECALL]
    return keeping[-1] if keeping else meeting[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="tools/math_classifier_corpus.py's output")
    parser.add_argument("--work", type=Path, required=True, help="a folder for the model as trained (2 GB)")
    parser.add_argument("-o", "--output", type=Path, default=SHIPPED_MODEL.parent)
    args = parser.parse_args()
    examples = own_examples()
    training = read_corpus(args.corpus, "train")
    for meta, texts in training.values():
        examples += [(POSITIVE if meta["label"] == "math" else NEGATIVE, text) for text in texts]
    model = args.work / "math-classifier.bin"
    summary = train_labelled(examples, model, CONFIG)
    print(f"trained on {summary['docs']} documents, {summary['lines']} lines", file=sys.stderr)
    classifier = MathClassifier(model)
    calibration = read_corpus(args.corpus, "calibrate")
    scores = {name: classifier.scores(texts) for name, (_, texts) in calibration.items()}
    chosen = choose_threshold(scores, {n: m["slice"] for n, (m, _) in calibration.items()},
                              {n: m["label"] for n, (m, _) in calibration.items()})
    args.output.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folded_path(model), args.output / SHIPPED_MODEL.name)
    shutil.copyfile(preprocessing_path(model), preprocessing_path(args.output / SHIPPED_MODEL.name))
    card = {"threshold": chosen["threshold"], "calibration": chosen,
            "calibration_sources": {n: {**m, "pages": len(t)} for n, (m, t) in calibration.items()},
            "training_sources": {n: {**m, "pages": len(t)} for n, (m, t) in training.items()},
            "training_own_pages": len(examples) - sum(len(t) for _, t in training.values()),
            "training": {"docs": summary["docs"], "lines": summary["lines"], "config": dataclasses.asdict(CONFIG)}}
    (args.output / SHIPPED_CARD).write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(chosen, indent=2))


if __name__ == "__main__":
    main()
