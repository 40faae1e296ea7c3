"""Build examples/example.warc.gz from the pages in examples/pages (all written for this project).

Besides the HTML pages (math in raw TeX, KaTeX, MathML and MathJax 2 markup; a recipe; a German page;
a Wikipedia page; a page without text) the archive holds a 404, an image and a redirect, so the
example run shows every early drop reason. The output is byte-for-byte reproducible.

    python examples/make_example_warc.py [--out examples/example.warc.gz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the WARC writer is a test fixture, not part of the package

from fixtures.warc_writer import Fetch, write_warc  # noqa: E402

# (page file in pages/, URL, content type, charset the page is served in)
PAGES = [
    ("quadratic-raw-tex.html", "https://mathnotes.example.org/algebra/quadratic-equations", "text/html", "utf-8"),
    ("geometric-series-katex.html", "https://calculus.example.edu/notes/geometric-series", "text/html", "utf-8"),
    ("pythagoras-mathml.html", "https://geometry.example.com/pythagoras", "application/xhtml+xml", "utf-8"),
    ("derivatives-mathjax2.html", "https://forum.example.net/q/1234/product-rule", "text/html", "iso-8859-1"),
    ("bread-recipe.html", "https://recipes.example.com/bread/country-loaf", "text/html", "utf-8"),
    ("german-news.html", "https://nachrichten.example.de/stadt/bruecke", "text/html", "utf-8"),
    ("wikipedia-euler.html", "https://en.wikipedia.org/wiki/Euler%27s_identity", "text/html", "utf-8"),
    ("navigation-only.html", "https://app.example.com/", "text/html", "utf-8"),
]
OTHER_FETCHES = [
    Fetch("https://mathnotes.example.org/missing", b"<html><body><h1>Not Found</h1></body></html>", status=404),
    Fetch("https://mathnotes.example.org/figure.png", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png",
          charset=None),
    Fetch("http://mathnotes.example.org/", b"", status=301, charset=None),
]


def fetches() -> list[Fetch]:
    pages = [
        Fetch(url, (HERE / "pages" / name).read_text(encoding="utf-8").encode(charset), 200, content_type, charset)
        for name, url, content_type, charset in PAGES
    ]
    return pages + OTHER_FETCHES


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "example.warc.gz")
    args = parser.parse_args()
    count = write_warc(args.out, fetches())
    print(f"wrote {args.out} with {count} fetches")
