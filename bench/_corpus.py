"""Benchmark inputs built from the real pages in ../shared (never copied into the repository)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test fixtures (WARC writer, scripted server), never shipped

from fixtures.warc_writer import Fetch, write_warc  # noqa: E402
SHARED = Path(os.environ.get("MEGAMATH_SHARED", ROOT.parent / "shared"))


def megamath(*args: str) -> str:
    """Run a megamath command in a subprocess (as a user would); its output, or exit with its error."""
    result = subprocess.run([sys.executable, "-m", "megamath.cli", *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"megamath {' '.join(args[:2])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def require_shared() -> Path:
    if not (SHARED / "data").is_dir():
        sys.exit(f"benchmark needs the shared data folder at {SHARED} (set MEGAMATH_SHARED)")
    return SHARED / "data"


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON Lines file (lines end at "\n" only: a text may hold U+2028)."""
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def real_pages() -> list[tuple[str, bytes]]:
    """(name, raw HTML bytes) of every real page in html-nonmath, html-math and math-zoo-dev."""
    data = require_shared()
    pages = []
    for folder in ("html-nonmath", "html-math", "math-zoo-dev"):
        for path in sorted((data / folder).rglob("*.htm*")):
            pages.append((f"{folder}/{path.relative_to(data / folder)}", path.read_bytes()))
    return pages


def real_page_texts(min_chars: int = 200) -> list[str]:
    """The stage-1 text of every real page of :func:`real_pages` longer than ``min_chars``."""
    from megamath.web.extract import extract_text

    texts = []
    for _, html in real_pages():
        try:
            text = extract_text(html.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - a page the extractor refuses is not a text for a bench
            continue
        if len(text) > min_chars:
            texts.append(text)
    return texts


def write_warc_batch(out_dir: Path, files: int, pages_per_file: int) -> list[Path]:
    """``files`` WARC files cycling through the real pages, each page under a distinct URL."""
    pages = real_pages()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        fetches = []
        for i in range(pages_per_file):
            name, body = pages[(f * pages_per_file + i) % len(pages)]
            fetches.append(Fetch(f"https://bench{f}.example/{i}/{name}", body))
        path = out_dir / f"bench-{f:03d}.warc.gz"
        write_warc(path, fetches)
        paths.append(path)
    return paths


def crawl_like_warc(path: Path, pages: int, math_share: float, seed: int = 0) -> Path:
    """One WARC of ``pages`` real pages as a crawl holds them: non-math pages of html-nonmath (those
    in which stage 1 finds no formula) with a ``math_share`` of math pages from html-math and
    math-zoo-dev, drawn at random (``seed``), each under a URL of its own."""
    import random

    from megamath.web.extract import extract

    data = require_shared()
    nonmath = [p.read_bytes() for p in sorted((data / "html-nonmath").rglob("*.htm*"))]
    nonmath = [body for body in nonmath if not extract(body.decode("utf-8", "replace")).math]
    math = [p.read_bytes() for folder in ("html-math", "math-zoo-dev") for p in sorted((data / folder).rglob("*.htm*"))]
    rng = random.Random(seed)
    fetches = [Fetch(f"https://site{i}.example/page/{i}", rng.choice(math) if rng.random() < math_share
                     else nonmath[i % len(nonmath)]) for i in range(pages)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_warc(path, fetches)
    return path


def main_text_cases() -> list[tuple[str, str, str, str]]:
    """(layout, source, HTML, main-text truth): magic-html's real forum and article pages (../shared),
    the real threads of bench/real_threads.tsv, and the forum, Q&A, comment-list and blog pages of
    tests/fixtures/forum_pages.py."""
    from fixtures.forum_pages import pages

    cases = []
    for kind in ("forum", "article"):
        folder = require_shared() / "html-math" / "opendatalab__magic-html" / "benchmark" / "data" / kind
        for key, entry in json.loads((folder / "base.json").read_text(encoding="utf-8")).items():
            page = folder / "htmls" / f"{key}.html"
            if page.exists() and entry.get("content"):
                cases.append((kind, "magic-html", page.read_bytes().decode("utf-8", "replace"), entry["content"]))
    cases += real_thread_cases()
    cases += [(kind, f"fixture {engine}", html, truth) for engine, kind, _, html, truth in pages()]
    return cases


REAL_THREADS = ROOT / "bench" / "real_threads.tsv"
MIRRORS = Path(os.environ.get("MEGAMATH_MIRRORS", "/work/.mirror"))


def mirrored_file(repo: str, path: str, mirrors: Path = MIRRORS) -> bytes:
    """A file of a repository's bare mirror (the fetch tool's ``owner+name/repo``), at its HEAD."""
    git_dir = mirrors / repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        sys.exit(f"benchmark needs a mirror of {repo} at {git_dir} (fetch github:{repo}; MEGAMATH_MIRRORS)")
    return subprocess.run(["git", "-C", str(git_dir), "show", f"HEAD:{path}"], capture_output=True,
                          check=True).stdout


def real_thread_cases(mirrors: Path = MIRRORS) -> list[tuple[str, str, str, str]]:
    """(layout, "real <engine>", HTML, main-text truth) for the pages of bench/real_threads.tsv: the
    title and the text of each hand-picked content element."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from megamath.web.posts import outermost

    cases = []
    for line in REAL_THREADS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        repo, path, engine, layout, title, content = line.split("\t")
        html = mirrored_file(repo, path, mirrors).decode("utf-8", "replace")
        document = HTMLTree.parse(html).document
        parts = []
        heading = document.query_selector(title) if title != "-" else None
        if heading is not None:
            parts.append(" ".join(heading.text.split()))
        for element in outermost(list(document.query_selector_all(content)), minimum=1):
            parts.append(extract_plain_text(element.html, main_content=False, links=False, alt_texts=False))
        cases.append((layout, f"real {engine}", html, "\n\n".join(parts)))
    return cases


def trafilatura_eval_cases(full: bool = False) -> list[tuple[str, dict]]:
    """(HTML, case) for trafilatura's evaluation pages: each case lists snippets the main text
    should hold ("with") and boilerplate it should not ("without"). The 110 pages of ../shared, or
    (``full``) every page of the evaluation set, from the mirror of adbar/trafilatura."""
    if not full:
        folder = require_shared() / "html-nonmath" / "adbar__trafilatura" / "tests"
        eval_data = json.loads((folder / "evaldata.json").read_text(encoding="utf-8"))
        return [((folder / "cache" / c["file"]).read_bytes().decode("utf-8", "replace"), c)
                for c in eval_data.values() if (folder / "cache" / c["file"]).exists()]
    repo = "adbar/trafilatura"
    eval_data = json.loads(mirrored_file(repo, "tests/evaldata.json"))
    tree = subprocess.run(["git", "-C", str(MIRRORS / "adbar+trafilatura" / "repo"), "ls-tree", "-r", "--name-only",
                           "-z", "HEAD", "tests/eval", "tests/cache"], capture_output=True, check=True).stdout
    paths = {Path(path).name: path for path in tree.decode().split("\0") if path}
    return [(mirrored_file(repo, paths[c["file"]]).decode("utf-8", "replace"), c)
            for c in eval_data.values() if c["file"] in paths]


def snippet_scores(extractor, cases: list[tuple[str, dict]]) -> tuple[str, str]:
    """("kept X% of N", "leaked Y% of M"): main-text snippets kept and boilerplate snippets leaked."""
    with_total = with_kept = without_total = without_leaked = 0
    for raw, case in cases:
        out = " ".join(extractor(raw).split())
        for snippet in case.get("with", []):
            with_total += 1
            with_kept += " ".join(snippet.split()) in out
        for snippet in case.get("without", []):
            without_total += 1
            without_leaked += " ".join(snippet.split()) in out
    return (f"kept {100 * with_kept / with_total:5.1f}% of {with_total}",
            f"leaked {100 * without_leaked / without_total:5.1f}% of {without_total}")
