"""Math fidelity on real pages that carry their own truth, and prose kept on real non-math pages.

* defuddle fixtures: formulas of the expected Markdown (tests/expected/*.md);
* TeXZilla examples: the TeX annotations of their MathML;
* mathematics_in_lean: the ``\\(...\\)``/``\\[...\\]`` TeX of its Sphinx + MathJax source;
* the convention pages of tests/data/conventions (BBCode forums, WordPress shortcodes, CKEditor, Pandoc
  and Sphinx elements, ``<formula>`` in MathJax containers, bare environments, alt text with markup),
  written after each convention, with their truth.json;
* magic-html (arXiv, StackExchange rendered by MathJax 2): word recall of the main text in base.json;
* trafilatura's 110 real non-math pages: the share of evaldata.json's "with" snippets kept (nothing
  lost by the math rewrite) and of its "without" snippets leaked, megamath beside plain resiliparse.

Formulas are compared the way ../shared/tools/mathfidelity compares them (KaTeX canonical MathML:
same structure, or at least 85% similar token sequences), using its scorer's own functions.

    python bench/math_real_pages.py
"""

from __future__ import annotations

import collections
import difflib
import html as html_lib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, SHARED, require_shared, snippet_scores, trafilatura_eval_cases  # noqa: E402
from math_extract import ensure_scorer_packages  # noqa: E402

WORD = re.compile(r"[A-Za-z]{3,}")


def load_scorer():
    spec = importlib.util.spec_from_file_location("mathfidelity_score", SHARED / "tools" / "mathfidelity" / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# megamath writes display environments as they stand, on lines of their own (LaTeX allows no
# \begin{align} inside $$): read them as formulas beside the scorer's delimited spans.
_ENVIRONMENT = re.compile(r"^\\begin\{(equation|align|gather|multline|eqnarray|displaymath)(\*?)\}.*?"
                          r"\\end\{\1\2\}$", re.S | re.M)


def formula_spans(scorer, text: str) -> list[str]:
    return scorer.spans(text) + [m.group(0) for m in _ENVIRONMENT.finditer(text)]


def markdown_formulas(scorer, markdown: str) -> list[str]:
    """The formulas of an expected Markdown file, read paragraph by paragraph: inline math never
    crosses a blank line in Markdown, so a prose dollar ("costs $100 per unit.") cannot pair with
    the dollar of a formula paragraphs later, as the scorer's page-wide pairing would have it."""
    blocks, open_block = [], ""
    for block in re.split(r"\n[ \t]*\n", markdown):
        open_block = f"{open_block}\n\n{block}" if open_block else block
        if open_block.count("$$") % 2 == 0:  # a display block may hold blank lines
            blocks.append(open_block)
            open_block = ""
    return [formula for block in blocks + [open_block] if block for formula in scorer.spans(block)]


def recall(scorer, truth: list[list[str]], outputs: list[str]) -> tuple[int, int]:
    """(formulas matched, formulas) over pages, with the scorer's canonicalization and threshold."""
    return sum(matches_per_page(scorer, truth, outputs)), sum(len(t) for t in truth)


def matches_per_page(scorer, truth: list[list[str]], outputs: list[str], macros: list[str] | None = None) -> list[int]:
    """The true formulas of each page found in its output, with the scorer's canonicalization and
    threshold. ``macros``: per page, TeX definitions of the source's own macros, read before each formula
    of the page (truth and output alike) when it is canonicalized."""
    texs, canon_input, pages = [], [], []
    for page, (formulas, out) in enumerate(zip(truth, outputs)):
        g = list(range(len(texs), len(texs) + len(formulas)))
        texs += formulas
        found = formula_spans(scorer, out)
        c = list(range(len(texs), len(texs) + len(found)))
        texs += found
        canon_input += [(macros[page] if macros else "") + tex for tex in formulas + found]
        pages.append((g, c))
    canon = scorer.canon(canon_input)
    matched = []
    for g, c in pages:
        matched.append(0)
        used = set()
        for gi in g:
            best, best_j = 0.0, None
            for cj in c:
                if cj in used:
                    continue
                a, b = canon[gi], canon[cj]
                if a["ok"] and b["ok"]:
                    if a["sig"] == b["sig"]:
                        best, best_j = 1.0, cj
                        break
                    score = difflib.SequenceMatcher(None, a["tokens"], b["tokens"], autojunk=False).ratio()
                else:
                    score = 0.9 * difflib.SequenceMatcher(None, re.sub(r"\s", "", texs[gi]),
                                                          re.sub(r"\s", "", texs[cj]), autojunk=False).ratio()
                if score > best:
                    best, best_j = score, cj
            if best_j is not None and best >= 0.85:
                used.add(best_j)
                matched[-1] += 1
    return matched


def main() -> None:
    data = require_shared()
    os.environ.setdefault("ZOO_NODE_PATH", ensure_scorer_packages())
    scorer = load_scorer()
    from resiliparse.extract.html2text import extract_plain_text

    from megamath.web.extract import extract_text

    extractors = {"megamath": lambda h: extract_text(h),
                  "resiliparse": lambda h: extract_plain_text(h, main_content=True)}
    read = lambda p: p.read_bytes().decode("utf-8", "replace")  # noqa: E731

    sources: dict[str, list[tuple[str, list[str]]]] = collections.defaultdict(list)
    defuddle = data / "html-math" / "kepano__defuddle" / "tests"
    for expected in sorted((defuddle / "expected").glob("*.md")):
        page = defuddle / "fixtures" / (expected.stem + ".html")
        if page.exists():
            sources["defuddle fixtures"].append((read(page), markdown_formulas(scorer, expected.read_text(encoding="utf-8"))))
    for page in sorted((data / "html-math" / "fred-wang__TeXZilla" / "examples").glob("*.html")):
        raw = read(page)
        truth = [html_lib.unescape(t).strip() for t in
                 re.findall(r'<annotation encoding="TeX">(.*?)</annotation>', raw, re.S)]
        if truth:
            sources["TeXZilla annotations"].append((raw, truth))
    for page in sorted((data / "html-math" / "leanprover-community__mathematics_in_lean" / "html").glob("*.html")):
        raw = read(page)
        truth = [html_lib.unescape(m.group(1) or m.group(2)).strip()
                 for m in re.finditer(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", raw, re.S)]
        sources["mathematics_in_lean"].append((raw, truth))

    conventions = ROOT / "tests" / "data" / "conventions"
    for name, truth in json.loads((conventions / "truth.json").read_text(encoding="utf-8")).items():
        if truth["formulas"]:
            sources["convention fixtures"].append((read(conventions / name), truth["formulas"]))

    print(f"{'source':24s} {'pages':>5s} {'formulas':>8s} " + " ".join(f"{n + ' %':>14s}" for n in extractors))
    pooled = collections.Counter()
    for name, pages in sources.items():
        cells = []
        for extractor_name, extractor in extractors.items():
            got, total = recall(scorer, [t for _, t in pages], [extractor(h) for h, _ in pages])
            pooled[extractor_name, "got"] += got
            pooled[extractor_name, "total"] += total
            cells.append(f"{100 * got / max(total, 1):14.1f}")
        print(f"{name:24s} {len(pages):5d} {sum(len(t) for _, t in pages):8d} " + " ".join(cells))
    print(f"{'all':24s} {sum(len(p) for p in sources.values()):5d} {pooled['megamath', 'total']:8d} "
          + " ".join(f"{100 * pooled[n, 'got'] / max(pooled[n, 'total'], 1):14.1f}" for n in extractors))

    print("\nprose recall (words of the main text kept), magic-html MathJax 2 pages")
    for kind in ("article", "forum"):
        folder = data / "html-math" / "opendatalab__magic-html" / "benchmark" / "data" / kind
        base = json.loads((folder / "base.json").read_text(encoding="utf-8"))
        rows = []
        for key, entry in base.items():
            page = folder / "htmls" / f"{key}.html"
            truth_text = entry.get("content") if isinstance(entry, dict) else None
            if page.exists() and truth_text:
                rows.append((read(page), truth_text))
        for extractor_name, extractor in extractors.items():
            kept = []
            for raw, truth_text in rows:
                want = collections.Counter(WORD.findall(truth_text))
                have = collections.Counter(WORD.findall(extractor(raw)))
                kept.append(sum(min(v, have[k]) for k, v in want.items()) / max(1, sum(want.values())))
            print(f"  {kind:8s} {extractor_name:12s} {100 * sum(kept) / max(1, len(kept)):6.1f}%  ({len(kept)} pages)")

    print("\nnon-math pages (trafilatura evaldata.json): 'with' snippets kept / 'without' snippets leaked")
    cases = trafilatura_eval_cases()
    for extractor_name, extractor in extractors.items():
        kept, leaked = snippet_scores(extractor, cases)
        print(f"  {extractor_name:12s} {kept}, {leaked}  ({len(cases)} pages)")

if __name__ == "__main__":
    main()
