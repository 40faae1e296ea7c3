"""The shipped code classifier on repositories it never saw: the ``test`` sources of bench/_code_sources.py
(real packages of the 11 languages and held-out folders of algorithm collections), at its default
thresholds (each language's calibrated one), as `megamath code recall` applies them.

Prints, per language and pooled over every file: precision, recall and F1 of math files; per source, the
share of its files called math; the share of algorithmic files that are not math (sorting, searching,
strings, data structures) called math; and, in one process, the scorer beside fastText's own ``predict``
on the files (CPU seconds, best of 5 alternating).

    python bench/shipped_code_classifier.py [--work DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _code_sources import code_sources, read_sources, scoring_beside_fasttext  # noqa: E402

from megamath.code.scorer import FastTextCodeScorer  # noqa: E402
from megamath.classify.shipped import DEFAULT  # noqa: E402
from megamath.code.shipped import SHIPPED_MODEL, model_and_thresholds  # noqa: E402
from megamath.pipelines.code import scores_by_language  # noqa: E402
from megamath.runtime.shards import read_records  # noqa: E402

ALGORITHMIC = ("cosmos sorting, search, strings, data structures (test)", "Algorithms (W. Fiset) other",
               "rust-algorithms other", "go sort, container", "sortedcontainers")


def project(spec: str) -> str:
    """The upstream project a source spec comes from (two sources of one project count once)."""
    kind, _, name = spec.partition(":")
    return f"{kind}:{name.split('/')[0].split('==')[0].rsplit('@', 1)[0]}"


def prf(math_kept: int, math_total: int, other_kept: int) -> dict:
    precision = math_kept / max(math_kept + other_kept, 1)
    recall = math_kept / max(math_total, 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-12)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("bench/.code-packages/shipped-test"),
                        help="where the sources are read (kept between runs)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sources = [s for s in code_sources() if s.role == "test"]
    shards = read_sources(sources, args.work)
    _, threshold, per_language = model_and_thresholds(DEFAULT, None)
    thresholds = dict(per_language)
    scorer = FastTextCodeScorer(str(SHIPPED_MODEL))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))  # language -> counts
    per_source, files = [], []
    for source in sources:
        kept = total = 0
        files += [(r["meta"]["code"]["path"], r.get("text") or "") for r in read_records(shards[source.name])]
        for language, scores in scores_by_language(scorer, shards[source.name]).items():
            called = int((scores >= thresholds.get(language, threshold)).sum())
            kept, total = kept + called, total + len(scores)
            for key in (language, "all"):
                counts[key][f"{source.label}_total"] += len(scores)
                counts[key][f"{source.label}_kept"] += called
        per_source.append({"source": source.name, "language": source.language, "label": source.label,
                           "files": total, "called_math": kept})
    figures = {language: {**prf(c["math_kept"], c["math_total"], c["other_kept"]), "math_files": c["math_total"],
                          "other_files": c["other_total"], "threshold": thresholds.get(language, threshold)}
               for language, c in sorted(counts.items())}
    algorithmic = [row for row in per_source if row["source"] in ALGORITHMIC]
    called = sum(r["called_math"] for r in algorithmic) / max(sum(r["files"] for r in algorithmic), 1)
    projects = sorted({project(spec) for s in sources for spec in s.specs})
    fitted = {project(spec) for s in code_sources() if s.role != "test" for spec in s.specs}
    print(f"test sources: {len(sources)} from {len(projects)} projects ({len(set(projects) - fitted)} with no part in "
          f"training or calibration; other parts of {', '.join(sorted(set(projects) & fitted))} are); thresholds: "
          + ", ".join(f"{k} {v}" for k, v in sorted(thresholds.items())) + f", others {threshold}")
    print(f"{'language':12s} {'math files':>10s} {'other files':>11s} {'threshold':>9s} {'precision':>9s} "
          f"{'recall':>7s} {'F1':>6s}")
    for language, row in figures.items():
        print(f"{language:12s} {row['math_files']:10,} {row['other_files']:11,} {row['threshold']:9.2f} "
              f"{row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f}")
    print(f"algorithmic code that is not math ({sum(r['files'] for r in algorithmic):,} files of "
          f"{len(algorithmic)} sources) called math: {called:.1%}  (target <= 15%)")
    print("per source (share of files called math):")
    for row in per_source:
        print(f"  {row['label']:5s} {row['language']:10s} {row['called_math'] / max(row['files'], 1):6.1%} "
              f"of {row['files']:6,}  {row['source']}")
    print("speed, one core:")
    random.Random(0).shuffle(files)
    scoring_beside_fasttext(SHIPPED_MODEL, files[:5000])
    if args.json:
        args.json.write_text(json.dumps({"per_language": figures, "per_source": per_source, "projects": projects,
                                         "algorithmic_called_math": called}, indent=1) + "\n")


if __name__ == "__main__":
    main()
