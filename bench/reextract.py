"""Stage 2 (trafilatura precision re-extraction with the math rewrite) beside stage 1, in one run.

* formulas kept on math-zoo-dev (../shared/tools/mathfidelity), stage 1 and stage 2;
* boilerplate: trafilatura's 110 evaluation pages, main-text snippets kept and boilerplate snippets
  leaked, and the characters stage 2 keeps of stage 1's text on every real page of ../shared;
* speed, one core, the same pages.

    python bench/reextract.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import real_pages, snippet_scores, trafilatura_eval_cases  # noqa: E402
from math_extract import ensure_scorer_packages, fidelity  # noqa: E402

from megamath.web.extract import extract_text  # noqa: E402
from megamath.web.reextract import extract_precise  # noqa: E402


def stage2(html: str) -> str:
    return extract_precise(html).text


def main() -> None:
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
