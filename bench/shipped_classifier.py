"""The shipped math classifier on pages it never saw, at its default threshold, and its speed.

Test pages: the ``test`` sources of tools/math_classifier_corpus.py (other OpenStax textbooks, React's and
Express's documentation, a shop catalogue's clothing half, openfootball's England fixtures: none trained
on, none used to pick the threshold), and bench/classifier.py's evaluation sets of ../shared (its html-math
pages through stage 1, MATH and GSM8K test problems, the HoTT book's held-out chapters; the real Common
Crawl pages of ../shared's WARCs, trafilatura's pages, the held-out fourth of the non-math seeds, and the
hard pages among them: prices, code, tables). Figures per set and per slice: recall of math, false
positives of the rest, precision at a 5% math base rate.

Speed (one core, CPU seconds, best of 5): the shipped scorer (preprocessing and the folded model) beside
fastText's ``predict`` on the model as trained with the same preprocessing, on real documents of 5–11 KB
(the evaluation's web pages); the model as trained is the 2 GB ``.bin`` tools/build_math_classifier.py
leaves in its ``--work`` folder (``--trained``; without it, speed is not measured).

    python bench/shipped_classifier.py --corpus work/corpus [--trained work/model/math-classifier.bin]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classifier import evaluation_sets  # noqa: E402
from _measure import best_cpu_seconds  # noqa: E402

from megamath.classify.model import MathClassifier  # noqa: E402
from megamath.classify.preprocess import preprocess  # noqa: E402
from megamath.classify.seeds import read_texts  # noqa: E402
from megamath.classify.shipped import SHIPPED_MODEL, shipped_threshold  # noqa: E402

BASE_RATE = 0.05
TARGETS = {"ordinary": 0.001, "code-api": 0.01, "shop-price": 0.01, "number-dense": 0.01}
SHARED_SLICES = {"common-crawl": "ordinary", "trafilatura-pages": "ordinary", "seeds-held-out": "ordinary",
                 "html-math-off-topic": "ordinary", "hard-code": "code-api", "hard-price-dense": "shop-price",
                 "hard-tables": "number-dense"}


def test_sets(corpus: Path, tmp: Path) -> list[tuple[str, str, str, list[str]]]:
    """(name, label, slice, texts) of every test set."""
    sets = []
    for name, meta in json.loads((corpus / "sources.json").read_text()).items():
        if meta["role"] == "test":
            texts = [json.loads(line)["text"] for line in (corpus / f"{name}.jsonl").open()]
            sets.append((name, meta["label"], meta["slice"], texts))
    positives, negatives = evaluation_sets(tmp)
    for spec in positives:
        name, path = spec.split("=", 1)
        sets.append((name, "math", "web" if name == "html-math" else "problems-and-books", list(read_texts(path))))
    for spec in negatives:
        name, path = spec.split("=", 1)
        sets.append((name, "other", SHARED_SLICES[name], list(read_texts(path))))
    return sets


def accuracy(classifier: MathClassifier, sets, threshold: float) -> None:
    print(f"\n== the shipped model at its default threshold {threshold} ==")
    hits: dict[tuple[str, str], list[np.ndarray]] = {}
    for name, label, slice_, texts in sets:
        above = classifier.scores(texts) >= threshold
        hits.setdefault((label, slice_), []).append(above)
        share = above.mean() if len(above) else float("nan")
        what = "recall" if label == "math" else "false positives"
        print(f"  {name:28s} {label:5s} {slice_:20s} {len(texts):6,} pages  {what} {share:7.2%}")
    print("\n  pooled:")
    recall_all = np.concatenate([h for (label, _), parts in hits.items() if label == "math" for h in parts])
    negatives_all = np.concatenate([h for (label, _), parts in hits.items() if label == "other" for h in parts])
    for (label, slice_), parts in sorted(hits.items()):
        pooled = np.concatenate(parts)
        target = f" (target ≤ {TARGETS[slice_]:.1%})" if label == "other" else ""
        what = "recall" if label == "math" else "false positives"
        print(f"  {label:5s} {slice_:20s} {len(pooled):6,} pages  {what} {pooled.mean():7.2%}{target}")
    web = np.concatenate(hits[("math", "web")] + hits.get(("math", "textbook"), []))
    recall, fpr = web.mean(), negatives_all.mean()
    precision = recall * BASE_RATE / (recall * BASE_RATE + fpr * (1 - BASE_RATE))
    print(f"\n  math web pages and textbook pages: recall {recall:.4f} ({len(web):,} pages); every math set "
          f"{recall_all.mean():.4f} ({len(recall_all):,})")
    print(f"  non-math pages: {len(negatives_all):,}, false positives {fpr:.4%}; precision at a {BASE_RATE:.0%} base rate "
          f"{precision:.4f}")


def speed(classifier: MathClassifier, trained: Path, sets) -> None:
    import fasttext

    docs = []
    for _, _, slice_, texts in sets:
        if slice_ in ("web", "ordinary"):
            docs += [t[:11000] for t in texts if len(t.encode()) >= 5000]
    distinct = len(docs)
    docs = (docs * (2000 // max(distinct, 1) + 1))[:2000]
    model = fasttext.load_model(str(trained))
    runs = {"shipped scorer (preprocessing + folded model)": lambda: classifier.scores(docs),
            "fastText predict on the model as trained (same preprocessing)":
                lambda: model.predict([preprocess(d) for d in docs], k=-1)}
    best = best_cpu_seconds(runs, 5)
    print(f"\n== inference, one core, {len(docs):,} documents ({distinct} distinct of 5–11 KB), CPU time, best of 5 ==")
    for name, seconds in best.items():
        print(f"  {name:64s} {len(docs) / seconds:7,.0f} docs/s")
    names = list(runs)
    print(f"  ratio: {best[names[1]] / best[names[0]]:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="tools/math_classifier_corpus.py's output")
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--trained", type=Path, help="the model as trained, for the speed comparison")
    args = parser.parse_args()
    classifier = MathClassifier(args.model)
    start = time.perf_counter()
    MathClassifier(args.model)
    print(f"model {args.model} ({args.model.stat().st_size / 1e6:.1f} MB), loaded in {time.perf_counter() - start:.2f}s")
    with tempfile.TemporaryDirectory() as tmp:
        sets = test_sets(args.corpus, Path(tmp))
    accuracy(classifier, sets, shipped_threshold() if args.threshold is None else args.threshold)
    if args.trained:
        speed(classifier, args.trained, sets)


if __name__ == "__main__":
    main()
