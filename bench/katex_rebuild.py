"""TeX rebuilt from KaTeX's HTML alone (pages that render with ``output: 'html'``), against the truth.

Every true formula of math-zoo-dev and the constructs of ``bench/katex_formulas.txt`` are rendered by
two KaTeX versions (0.16: the class names most of the web serves; 0.19: ``katex-*`` names), inline and
in display mode; TeX is rebuilt from the HTML and compared with the truth by the mathfidelity scorer's
canonical form (strict: the same MathML structure; lenient: 85% of its tokens). Beside it, in the same
run, the peer: the same formulas converted from the MathML KaTeX writes next to its HTML.

    python bench/katex_rebuild.py [--show 20]
    python bench/katex_rebuild.py --write-fixture   # regenerate tests/data/katex_html.json

The fixture is KaTeX's HTML for the cases of ``bench/katex_fixture_cases.tsv`` (TeX, the rebuild
expected inline, and optionally the one expected in display mode), so that CI checks the rebuild
against real KaTeX output without Node.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT, SHARED, require_shared  # noqa: E402

VERSIONS = ("0.16.9", "0.19.1")
RENDER = r'''
const katex = require(process.argv[1]);  // node -e: the arguments follow the interpreter
const display = process.argv[2] === "display";
for (const line of require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)) {
  const {id, tex} = JSON.parse(line);
  let html = null, mathml = null;
  try {
    html = katex.renderToString(tex, {output: "html", throwOnError: true, displayMode: display});
    mathml = katex.renderToString(tex, {output: "mathml", throwOnError: true, displayMode: display});
  } catch (e) {}
  console.log(JSON.stringify({id, html, mathml}));
}
'''


def katex_module(version: str) -> str:
    folder = ROOT / "bench" / f".node-katex-{version}"
    if not (folder / "node_modules" / "katex").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(folder),
                        f"katex@{version}"], check=True)
    return str(folder / "node_modules" / "katex")


def formulas() -> tuple[list[str], list[str]]:
    """(the zoo's distinct true formulas, our own constructs)."""
    truth = require_shared() / "math-zoo-dev" / "truth.jsonl"
    zoo = {f["tex"] for line in truth.read_text().splitlines() for f in json.loads(line)["formulas"]}
    own = [line.strip() for line in (ROOT / "bench" / "katex_formulas.txt").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    return sorted(zoo), own


FIXTURE = ROOT / "tests" / "data" / "katex_html.json"


def render(module: str, mode: str, texs: list[str]) -> list[dict]:
    request = "".join(json.dumps({"id": i, "tex": t}) + "\n" for i, t in enumerate(texs))
    out = subprocess.run(["node", "-e", RENDER, module, mode], input=request, capture_output=True, text=True,
                         check=True).stdout
    return [r for r in map(json.loads, out.splitlines()) if r["html"]]


def write_fixture() -> None:
    cases = [line.rstrip("\n").split("\t") for line in
             (ROOT / "bench" / "katex_fixture_cases.tsv").read_text().splitlines() if line.strip()]
    records = []
    for version in VERSIONS:
        module = katex_module(version)
        for mode in ("inline", "display"):
            for r in render(module, mode, [case[0] for case in cases]):
                tex, inline, *display = cases[r["id"]]
                html = r["html"].split('<span class="katex-html"', 1)[1]  # the MathML is not needed here
                records.append({"katex": version, "display": mode == "display", "tex": tex,
                                "expected": display[0] if display and mode == "display" else inline,
                                "html": '<span class="katex"><span class="katex-html"' + html})
    FIXTURE.write_text(json.dumps(records, indent=0, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} renderings to {FIXTURE.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", type=int, default=0, help="print the N worst rebuilds")
    parser.add_argument("--write-fixture", action="store_true", help=f"regenerate {FIXTURE.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.write_fixture:
        write_fixture()
        return
    sys.path.insert(0, str(SHARED / "tools" / "mathfidelity"))
    from math_extract import ensure_scorer_packages

    os.environ.setdefault("ZOO_NODE_PATH", ensure_scorer_packages())
    import score  # the mathfidelity scorer: its canonical form of a formula
    from resiliparse.parse.html import HTMLTree

    from megamath.web.math.katex_html import rebuild_katex_html
    from megamath.web.math.mathml import mathml_to_tex

    zoo, own = formulas()
    texs = zoo + own
    print(f"{len(texs)} formulas ({len(zoo)} from math-zoo-dev, {len(own)} constructs of bench/katex_formulas.txt)")
    print(f"{'KaTeX':8s} {'mode':8s} {'rendered':>8s} {'from HTML strict/lenient':>26s} {'from MathML (peer)':>22s}")
    worst = []
    for version in VERSIONS:
        module = katex_module(version)
        for mode in ("inline", "display"):
            rendered = render(module, mode, texs)
            ours = [rebuild_katex_html(HTMLTree.parse(r["html"]).document.query_selector(".katex-html"),
                                       mode == "display") or "" for r in rendered]
            peer = [mathml_to_tex(HTMLTree.parse(r["mathml"]).document.query_selector("math")) or "" for r in rendered]
            truth = [texs[r["id"]] for r in rendered]
            canon = score.canon(truth + ours + peer)
            n = len(rendered)
            rates = []
            for offset in (n, 2 * n):
                strict = lenient = 0
                for k in range(n):
                    expected, got = canon[k], canon[offset + k]
                    same = expected["ok"] and got["ok"] and expected["sig"] == got["sig"]
                    similar = same or (expected["ok"] and got["ok"] and difflib.SequenceMatcher(
                        None, expected["tokens"], got["tokens"], autojunk=False).ratio() >= 0.85)
                    strict += same
                    lenient += similar
                    if offset == n and not same:
                        worst.append((version, mode, truth[k], ours[k]))
                rates.append(f"{100 * strict / n:5.1f}% / {100 * lenient / n:5.1f}%")
            print(f"{version:8s} {mode:8s} {n:8d} {rates[0]:>26s} {rates[1]:>22s}")
    for version, mode, expected, got in worst[:args.show]:
        print(f"{version} {mode}\n  truth:   {expected[:150]}\n  rebuilt: {got[:150]}")


if __name__ == "__main__":
    main()
