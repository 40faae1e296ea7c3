"""Math-aware extraction: formula fidelity and speed, megamath beside its peers, measured in one run.

Fidelity: ../shared/tools/mathfidelity/score.py on math-zoo-dev, for megamath and the peers given
with --peers (resiliparse, trafilatura, openwebmath). The scorer canonicalizes TeX with KaTeX (node);
its packages are installed into bench/.node on first use.

Speed, CPU seconds of one core, the same pages for every extractor, alternating, best of --repeats:
  * a realistic crawl mix: 95 non-math pages to 5 math pages, drawn from the real pages of
    html-nonmath and html-math and from math-zoo-dev; megamath against resiliparse
    extract_plain_text(main_content=True);
  * math-zoo-dev per markup family: megamath, resiliparse and (with --owm-python) the OpenWebMath
    extractor, which needs resiliparse<0.15 in a virtual environment of its own.

    python bench/math_extract.py [--peers resiliparse,trafilatura] [--owm-python /path/venv/bin/python]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, SHARED, require_shared  # noqa: E402

NODE_DIR = ROOT / "bench" / ".node"
SCORER = SHARED / "tools" / "mathfidelity" / "score.py"
OWM_TIMER = r'''
import json, sys, time
from text_extract.extract import extract_text
cfg = dict(markdown_headings=True, markdown_code=True, remove_buttons=True, remove_image_figures=True,
           remove_link_clusters=True, table_config=dict(min_rows=2, min_cols=3, format="plain"),
           remove_chinese=True, remove_edit_buttons=True, extract_latex=True,
           boilerplate_config=dict(ratio_threshold=0.18, absolute_threshold=10, end_threshold=15, enable=True))
pages = json.load(open(sys.argv[1]))
out = {}
for family, paths in pages.items():
    htmls = [open(p, encoding="utf-8").read() for p in paths]
    best = float("inf")
    for _ in range(int(sys.argv[2])):
        start = time.process_time()
        for html in htmls:
            extract_text(html, cfg)
        best = min(best, time.process_time() - start)
    out[family] = len(htmls) / best
print(json.dumps(out))
'''


def ensure_scorer_packages() -> str:
    modules = NODE_DIR / "node_modules"
    if not (modules / "katex").is_dir():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(NODE_DIR),
                        "katex@0.19.1", "@xmldom/xmldom@0.8.10"], check=True)
    return str(modules)


# math4108's truth was cut at every "\$" of its TeX (formulas such as "\\" and ", and"), so no
# extractor can match it; the scorer's table counts it, and the lines below show each family without it.
DEFECTIVE_TRUTH = {"math4108"}


def score(zoo: Path, extractor: str, node_path: str, per_page: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCORER), str(zoo), extractor] + (["--out", str(per_page)] if per_page else []),
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, ZOO_NODE_PATH=node_path, PYTHONPATH=str(ROOT / "bench")))


def spurious(table: str) -> int:
    """The ALL row's spurious count of a scorer table."""
    row = next(line for line in table.splitlines() if line.startswith("ALL"))
    return int(row.split()[-1])


def defective_pages_only(tmp: Path) -> Path:
    """A zoo of the defective pages alone (to take their spurious spans out of the totals)."""
    zoo = require_shared() / "math-zoo-dev"
    tmp.mkdir(parents=True, exist_ok=True)
    rows = [line for line in (zoo / "truth.jsonl").read_text().splitlines()
            if json.loads(line)["page"].split("__")[0] in DEFECTIVE_TRUTH]
    (tmp / "truth.jsonl").write_text("\n".join(rows) + "\n")
    for line in rows:
        page = json.loads(line)["page"]
        if not (tmp / page).exists():
            (tmp / page).symlink_to(zoo / page)
    return tmp


def fidelity(extractor: str, node_path: str) -> str:
    per_page = ROOT / "bench" / ".fidelity-pages.jsonl"
    run = score(require_shared() / "math-zoo-dev", extractor, node_path, per_page)
    if run.returncode != 0:
        return f"scorer failed for {extractor}: {run.stderr[-500:]}"
    with tempfile.TemporaryDirectory() as tmp:
        defective = score(defective_pages_only(Path(tmp)), extractor, node_path)
    totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in per_page.read_text().splitlines():
        page = json.loads(line)
        if page["page"].split("__")[0] not in DEFECTIVE_TRUTH:
            totals[page["family"]].update(n=page["n"], strict=page["strict"], lenient=page["lenient"])
    per_page.unlink()
    without = "\n".join(f"  {family:28s} strict {100 * c['strict'] / c['n']:5.1f}%  lenient {100 * c['lenient'] / c['n']:5.1f}%"
                        for family, c in sorted(totals.items()))
    everything = sum(totals.values(), collections.Counter())
    spans = spurious(run.stdout) - spurious(defective.stdout)
    without += (f"\n  {'ALL':28s} strict {100 * everything['strict'] / everything['n']:5.1f}%  "
                f"lenient {100 * everything['lenient'] / everything['n']:5.1f}%  spurious {spans} "
                f"({100 * spans / everything['n']:.2f}% of {everything['n']:,} true formulas)")
    return f"{run.stdout}without the page whose truth is defective ({', '.join(DEFECTIVE_TRUTH)}):\n{without}\n"


def best_rates(extractors: list, htmls: list[str], repeats: int) -> list[float]:
    """Pages per CPU second of each extractor over ``htmls``, best of ``repeats``, the extractors
    alternating within each repeat (a slow spell of a shared machine hits them alike)."""
    best = [float("inf")] * len(extractors)
    for _ in range(repeats):
        for i, extract in enumerate(extractors):
            start = time.process_time()
            for html in htmls:
                extract(html)
            best[i] = min(best[i], time.process_time() - start)
    return [len(htmls) / seconds for seconds in best]


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default="resiliparse", help="comma-separated scorer peers")
    parser.add_argument("--owm-python", default=None, help="python of a venv with openwebmath-text-extract")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mix-pages", type=int, default=2000)
    args = parser.parse_args()
    data = require_shared()

    from resiliparse.extract.html2text import extract_plain_text

    from megamath.web.extract import extract_text

    def plain(html: str) -> str:
        return extract_plain_text(html, main_content=True)

    print("== fidelity on math-zoo-dev (mathfidelity scorer) ==")
    node_path = ensure_scorer_packages()
    for name in ["megamath.web.extract:extract_text"] + [p for p in args.peers.split(",") if p]:
        print(f"-- {name}\n{fidelity(name, node_path)}")

    nonmath = [read(p) for p in sorted((data / "html-nonmath").rglob("*.htm*"))]
    math = [read(p) for p in sorted((data / "html-math").rglob("*.htm*"))] + \
        [read(p) for p in sorted((data / "math-zoo-dev").glob("*.html"))]
    rng = random.Random(0)
    mix = [rng.choice(math) if i % 20 == 0 else rng.choice(nonmath) for i in range(args.mix_pages)]
    print("== speed, realistic crawl mix (95 non-math : 5 math pages), one core ==")
    ours, peer = best_rates([extract_text, plain], mix, args.repeats)
    print(f"  megamath extract_text        {ours:8.1f} pages/s")
    print(f"  resiliparse plain main text  {peer:8.1f} pages/s")
    print(f"  ratio megamath / resiliparse: {ours / peer:.3f}  (target >= 0.8)")

    families: dict[str, list[Path]] = collections.defaultdict(list)
    for path in sorted((data / "math-zoo-dev").glob("*.html")):
        families[path.stem.split("__", 1)[1]].append(path)
    owm: dict[str, float] = {}
    if args.owm_python:
        listing = ROOT / "bench" / ".owm-pages.json"
        listing.write_text(json.dumps({f: [str(p) for p in paths] for f, paths in families.items()}))
        run = subprocess.run([args.owm_python, "-c", OWM_TIMER, str(listing), str(args.repeats)], capture_output=True, text=True)
        listing.unlink()
        owm = json.loads(run.stdout) if run.returncode == 0 else {}
        if not owm:
            print(f"OpenWebMath extractor failed: {run.stderr[-400:]}")
    print("== speed on math-zoo-dev per family, pages/s, one core ==")
    print(f"  {'family':28s} {'megamath':>9s} {'resiliparse':>11s} {'openwebmath':>11s} {'ours/owm':>8s}")
    total = collections.Counter()
    for family, paths in sorted(families.items()):
        htmls = [read(p) for p in paths]
        ours, peer = best_rates([extract_text, plain], htmls, args.repeats)
        total["pages"] += len(htmls)
        total["ours_s"] += len(htmls) / ours
        total["plain_s"] += len(htmls) / peer
        owm_rate = owm.get(family)
        if owm_rate:
            total["owm_s"] += len(htmls) / owm_rate
        print(f"  {family:28s} {ours:9.1f} {peer:11.1f} {owm_rate or float('nan'):11.1f} "
              f"{(ours / owm_rate) if owm_rate else float('nan'):8.2f}")
    overall_ours = total["pages"] / total["ours_s"]
    overall_owm = total["pages"] / total["owm_s"] if total["owm_s"] else float("nan")
    print(f"  {'ALL':28s} {overall_ours:9.1f} {total['pages'] / total['plain_s']:11.1f} {overall_owm:11.1f} "
          f"{overall_ours / overall_owm:8.2f}  (target ours/owm >= 2)")


if __name__ == "__main__":
    main()
