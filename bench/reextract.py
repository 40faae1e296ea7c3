"""Stage 2 (trafilatura precision re-extraction with the math rewrite) beside stage 1, in one run.

* formulas kept on math-zoo-dev (../shared/tools/mathfidelity), stage 1 and stage 2;
* boilerplate: trafilatura's 110 evaluation pages, main-text snippets kept and boilerplate snippets
  leaked, and the characters stage 2 keeps of stage 1's text on every real page of ../shared;
* main text by layout: word F1 against main-text truth on forum/Q&A and article pages (magic-html's
  real pages in ../shared, and the engine layouts of tests/fixtures/forum_pages.py), stage 2 (the
  Reextract stage, its stage-1 fallback included) beside stage 1, trafilatura's default and stage 2
  as it was (precision mode alone); and the share of outputs empty or under a fifth of the truth;
* real threads (bench/real_threads.tsv, from repository mirrors: MEGAMATH_MIRRORS) per engine;
* boilerplate on trafilatura's whole evaluation set (the mirror of adbar/trafilatura), stage 2 beside
  trafilatura's default and precision modes;
* speed, one core, the same pages.

    python bench/reextract.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import main_text_cases, real_pages, snippet_scores, trafilatura_eval_cases  # noqa: E402
from fixtures.main_text import word_f1  # noqa: E402
from math_extract import ensure_scorer_packages, fidelity  # noqa: E402

from megamath.web.extract import extract_text  # noqa: E402
from megamath.web.reextract import Reextract, extract_precise  # noqa: E402


def stage2(html: str) -> str:
    return extract_precise(html).text


def main_text_by_layout() -> None:
    import trafilatura

    stage = Reextract()
    extractors = {
        "stage 1": extract_text,
        "stage 2": lambda html: next(iter(stage([{"id": "x", "html": html, "text": extract_text(html)}])))["text"],
        "trafilatura default": lambda html: trafilatura.extract(html) or "",
        "precision alone": lambda html: extract_precise(html, keep_posts=False).text,
    }
    cases = main_text_cases()
    print(f"{'layout':8s} {'pages':>5s} " + " ".join(f"{name:>20s}" for name in extractors)
          + "   (word F1; empty or under 1/5 of the truth)")
    for layout in ("forum", "article"):
        for source in ("magic-html", "real", "fixture", "all"):
            chosen = [(html, truth) for kind, origin, html, truth in cases
                      if kind == layout and (source == "all" or origin.startswith(source))]
            if not chosen:
                continue
            cells = []
            for extractor in extractors.values():
                outputs = [(truth, extractor(html)) for html, truth in chosen]
                f1 = sum(word_f1(truth, text) for truth, text in outputs) / len(outputs)
                short = sum(len(text.strip()) < len(truth) / 5 for truth, text in outputs) / len(outputs)
                cells.append(f"{f1:.3f} ({100 * short:4.1f}%)")
            print(f"{layout:8s} {len(chosen):5d} " + " ".join(f"{c:>20s}" for c in cells) + f"   {source}")
    print(f"  stage 2 layouts: {dict(stage.counters)}")
    print("real pages, word F1 per engine:")
    for kind, origin, html, truth in cases:
        if origin.startswith("real"):
            print(f"  {origin[5:]:24s} {kind:8s} " + " ".join(f"{word_f1(truth, extractor(html)):20.3f}"
                                                         for extractor in extractors.values()))


def news_precision() -> None:
    """Main-text snippets kept and boilerplate snippets leaked on trafilatura's whole evaluation set
    (news, blogs, shops, forums: the mirror of adbar/trafilatura), stage 2 beside trafilatura."""
    import trafilatura

    cases = trafilatura_eval_cases(full=True)
    stage = Reextract()
    extractors = {
        "stage 2": lambda html: next(iter(stage([{"id": "x", "html": html, "text": extract_text(html)}])))["text"],
        "trafilatura default": lambda html: trafilatura.extract(html) or "",
        "trafilatura precision": lambda html: trafilatura.extract(html, favor_precision=True) or "",
    }
    for name, extractor in extractors.items():
        kept, leaked = snippet_scores(extractor, cases)
        print(f"  {name:22s} {kept}, {leaked}  ({len(cases)} pages)")


def main() -> None:
    print("== main text by layout ==")
    main_text_by_layout()
    print("== trafilatura's whole evaluation set ==")
    news_precision()
    node_path = ensure_scorer_packages()
    print("== formulas kept on math-zoo-dev ==")
    for name in ("megamath.web.extract:extract_text", "_stage2:text"):
        print(f"-- {name}\n{fidelity(name, node_path)}")

    print("== boilerplate: trafilatura evaluation pages ==")
    cases = trafilatura_eval_cases()
    for name, extractor in (("stage 1", extract_text), ("stage 2", stage2)):
        kept, leaked = snippet_scores(extractor, cases)
        print(f"  {name}: {kept}, {leaked}  ({len(cases)} pages)")

    pages = [body.decode("utf-8", "replace") for _, body in real_pages()]
    rates, chars = {}, {}
    for name, extractor in (("stage 1", extract_text), ("stage 2", stage2)):
        start = time.perf_counter()
        chars[name] = sum(len(extractor(html)) for html in pages)
        rates[name] = len(pages) / (time.perf_counter() - start)
    print(f"\n== all {len(pages)} real pages of ../shared ==")
    print(f"  characters: stage 1 {chars['stage 1']:,}, stage 2 {chars['stage 2']:,} "
          f"-> stage 2 removes {100 * (1 - chars['stage 2'] / chars['stage 1']):.1f}% of stage 1's text")
    print(f"  speed, one core: stage 1 {rates['stage 1']:.0f} pages/s, stage 2 {rates['stage 2']:.0f} pages/s "
          f"(stage 2 / stage 1 = {rates['stage 2'] / rates['stage 1']:.2f})")


if __name__ == "__main__":
    main()
