"""The pages the shipped math classifier is trained, calibrated and tested on, from public repositories
whose licences allow redistributing a model trained on them (docs/classifier-card.md lists each one).

Every source is a bare git mirror (``fetch github:OWNER/NAME``, or ``git clone --mirror``) under
``--mirrors`` named ``OWNER+NAME/repo``. Each becomes web pages — OpenStax's CNXML with its MathML,
Markdown and reStructuredText documentation, shop pages of sample catalogues, league tables and data
tables — and every page goes through stage 1's extraction, so the text is what the classifier reads in
a crawl. A source has one role, so no page of the calibration or test sources is ever trained on:
``train``, ``calibrate`` (the default threshold is picked on these) or ``test`` (reported only).

    python tools/math_classifier_corpus.py --mirrors ../.mirror -o work/corpus

writes ``SOURCE.jsonl`` (``id``, ``text``) per source and ``sources.json`` (role, label, slice, licence,
pages per source).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import random
import re
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from megamath.classify.preprocess import preprocess
from megamath.web.extract import extract_text


@dataclass(frozen=True)
class Source:
    name: str
    repo: str  # OWNER+NAME of the mirror
    label: str  # "math" or "other"
    slice: str  # math: "textbook"; other: "ordinary", "code-api", "shop-price", "number-dense"
    role: str  # "train", "calibrate" or "test"
    licence: str
    pages: Callable[["Mirror"], Iterator[tuple[str, str]]]  # (id, html) per page
    keep: Callable[[str], bool] = lambda text: len(text) >= 200  # which pages' stage-1 text is kept


class Mirror:
    """Reads files of a bare git mirror at one ref (HEAD unless told)."""

    def __init__(self, path: Path, ref: str = "HEAD"):
        self.path, self.ref = path, ref

    def files(self, pattern: str) -> list[str]:
        names = subprocess.run(["git", "-C", str(self.path), "ls-tree", "-r", "--name-only", self.ref],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        return sorted(n for n in names if re.search(pattern, n))

    def read(self, name: str) -> bytes:
        """The file's bytes; b"" for a file the mirror lists but lacks (a snapshot leaves its largest out)."""
        done = subprocess.run(["git", "-C", str(self.path), "show", f"{self.ref}:{name}"], capture_output=True)
        return done.stdout if done.returncode == 0 else b""

    def with_most_html(self) -> "Mirror":
        """The same mirror at the branch holding the most HTML files (a site's built pages: gh-pages, docs/)."""
        refs = subprocess.run(["git", "-C", str(self.path), "for-each-ref", "--format=%(refname)", "refs/heads"],
                              capture_output=True, text=True, check=True).stdout.split()
        return max((Mirror(self.path, ref) for ref in refs), key=lambda m: len(m.files(r"\.html?$")))


def page(title: str, body: str, site: str = "") -> str:
    nav = f"<nav><a href='/'>{html.escape(site)}</a> <a href='/about'>About</a></nav>" if site else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body>{nav}<main><article><h1>{html.escape(title)}</h1>{body}</article></main></body></html>")


# --- OpenStax textbooks (CNXML with MathML): one page per module ---------------------------------------

_CNXML = {"para": "p", "title": "h2", "list": "ul", "item": "li", "emphasis": "em", "term": "b", "link": "a",
          "table": "table", "thead": "thead", "tbody": "tbody", "row": "tr", "entry": "td", "code": "code",
          "preformat": "pre", "sub": "sub", "sup": "sup", "newline": "br", "quote": "blockquote",
          "caption": "p", "label": "b", "section": "section", "span": "span", "foreign": "span"}
_CNXML_DROPPED = {"metadata", "media", "image", "figure", "colspec", "iframe", "flash", "download"}


def cnxml_page(data: bytes, site: str) -> tuple[str, str]:
    from lxml import etree

    root = etree.fromstring(data, etree.XMLParser(recover=True, huge_tree=True))
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        namespace, _, local = element.tag.rpartition("}")
        if local in _CNXML_DROPPED and element.getparent() is not None:
            element.getparent().remove(element)
            continue
        if "MathML" in namespace:
            element.tag = local
            continue
        if local == "list" and element.get("list-type") == "enumerated":
            element.tag = "ol"
        else:
            element.tag = _CNXML.get(local, "div")
        for attribute in list(element.attrib):
            if attribute not in ("display", "mathvariant"):
                del element.attrib[attribute]
    etree.cleanup_namespaces(root)
    title = root.findtext("h2") or "Section"
    content = root.find("div")  # <content>
    body = etree.tostring(content if content is not None else root, method="html", encoding="unicode")
    return title, page(title, body, site)


def openstax(site: str) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        for name in mirror.files(r"^modules/m\d+/index\.cnxml$"):
            _, text = cnxml_page(mirror.read(name), site)
            yield name.split("/")[1], text
    return pages


# --- documentation in Markdown or reStructuredText ------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_MDX_IMPORT = re.compile(r"^(import|export) .*$", re.M)


def markdown_html(text: str) -> str:
    from markdown_it import MarkdownIt

    text = _MDX_IMPORT.sub("", _FRONT_MATTER.sub("", text))
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def rst_html(text: str) -> str:
    from docutils.core import publish_parts

    settings = {"report_level": 5, "halt_level": 5, "warning_stream": io.StringIO(), "syntax_highlight": "none",
                "file_insertion_enabled": False, "raw_enabled": False}
    return publish_parts(text, writer_name="html5", settings_overrides=settings)["html_body"]


def docs(pattern: str, site: str, exclude: str = r"^$") -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        for name in mirror.files(pattern):
            if re.search(exclude, name):
                continue
            text = mirror.read(name).decode("utf-8", "replace")
            body = rst_html(text) if name.endswith(".rst") else markdown_html(text)
            title = Path(name).stem.replace("-", " ").replace("_", " ")
            yield name, page(title, body, site)
    return pages


# --- shops: product pages, listings, carts and order confirmations of sample catalogues -------------------

def _money(value: float) -> str:
    return f"${value:,.2f}"


def _product_page(site: str, product: dict, others: list[dict], reviews: list[dict]) -> str:
    related = "".join(f"<li><a href='#'>{html.escape(o['name'])}</a> <span class='price'>{_money(o['price'])}</span>"
                      f" <button>Add to Cart</button></li>" for o in others)
    said = "".join(f"<div class='review'><b>{html.escape(r['title'])}</b> Rating: {r['rating']}/5"
                   f"<p>{html.escape(r['text'])}</p><p>Review by {html.escape(r['by'])}</p></div>" for r in reviews)
    price = (f"<p>Special Price {_money(product['special'])} Regular Price {_money(product['price'])}</p>"
             if product.get("special") else f"<p class='price'>{_money(product['price'])}</p>")
    body = (f"{price}<p>In stock</p><p>SKU#: {html.escape(product['sku'])}</p>"
            f"<p>Qty <input value='1'> <button>Add to Cart</button> Add to Wish List Add to Compare</p>"
            f"<h2>Details</h2>{product['description']}"
            f"<h2>Reviews ({len(reviews)})</h2>{said}<h2>Related Products</h2><ul>{related}</ul>"
            f"<footer>Free shipping on orders over $50. 30-day returns. © {html.escape(site)}</footer>")
    return page(product["name"], body, site)


def _listing_page(site: str, category: str, products: list[dict], start: int) -> str:
    cards = "".join(f"<li><a href='#'>{html.escape(p['name'])}</a> <span class='price'>As low as "
                    f"{_money(p['price'])}</span> <button>Add to Cart</button></li>" for p in products)
    body = (f"<p>Items {start + 1}-{start + len(products)}</p><p>Sort By Position Price Product Name</p>"
            f"<ul>{cards}</ul><p>Show 12 24 36 per page</p>")
    return page(category, body, site)


def _cart_page(site: str, items: list[tuple[dict, int]], order: int | None) -> str:
    """A shopping cart, or (``order``) the confirmation of an order: quantities, totals, tax and shipping."""
    rows = "".join(f"<tr><td>{html.escape(p['name'])}<br>SKU: {html.escape(p['sku'])}</td><td>{_money(p['price'])}</td>"
                   f"<td>{qty}</td><td>{_money(p['price'] * qty)}</td></tr>" for p, qty in items)
    subtotal = sum(p["price"] * qty for p, qty in items)
    shipping = 0.0 if subtotal >= 50 else 5.0 * len(items)
    tax = round(subtotal * 0.0825, 2)
    totals = (f"<table><tr><td>Subtotal</td><td>{_money(subtotal)}</td></tr><tr><td>Shipping (Flat Rate - Fixed)</td>"
              f"<td>{_money(shipping)}</td></tr><tr><td>Tax</td><td>{_money(tax)}</td></tr><tr><td>Order Total</td>"
              f"<td>{_money(subtotal + shipping + tax)}</td></tr></table>")
    head = "<tr><th>Item</th><th>Price</th><th>Qty</th><th>Subtotal</th></tr>"
    if order is None:
        return page("Shopping Cart", f"<table>{head}{rows}</table><p>Apply Discount Code</p>{totals}"
                                     "<button>Proceed to Checkout</button>", site)
    return page("Thank you for your purchase!", f"<p>Your order # is: {order:09d}.</p><p>We'll email you an order "
                                                  f"confirmation with details and tracking info.</p><table>{head}{rows}"
                                                  f"</table>{totals}", site)


def shop_pages(site: str, products: list[dict], reviews: dict[str, list[dict]], carts: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(0)
    for product in products:
        others = rng.sample(products, min(4, len(products)))
        yield f"product/{product['sku']}", _product_page(site, product, others, reviews.get(product["sku"], [])[:3])
    for start in range(0, len(products), 12):
        yield f"listing/{start}", _listing_page(site, products[start]["category"], products[start:start + 12], start)
    for i in range(carts):
        items = [(p, rng.choice((1, 1, 1, 2, 3))) for p in rng.sample(products, min(rng.randint(1, 6), len(products)))]
        yield f"cart/{i}", _cart_page(site, items, rng.randint(10**5, 10**8) if i % 2 else None)


def _csv_rows(data: bytes) -> list[dict]:
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(io.StringIO(text))]


def magento(catalogues: str, carts: int) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """Magento's sample catalogue (Luma), the product files whose path matches ``catalogues``."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        reviews: dict[str, list[dict]] = {}
        for row in _csv_rows(mirror.read("app/code/Magento/ReviewSampleData/fixtures/products_reviews.csv")):
            reviews.setdefault(row["sku"], []).append({"title": row["title"], "rating": row["rating_value"],
                                                       "text": row["review"], "by": row["reviewer"]})
        products, seen = [], set()
        for name in mirror.files(r"^app/code/Magento/\w+SampleData/fixtures/.*products.*\.csv$"):
            if not re.search(catalogues, name) or "images" in name:
                continue
            for row in _csv_rows(mirror.read(name)):
                product = re.sub(r"-(XS|S|M|L|XL|\d+)-\w+$", "", row.get("name", ""))  # a page per product, not per size
                if product and row.get("price") and product not in seen:
                    seen.add(product)
                    products.append({"name": product, "sku": row["sku"].split("-")[0], "price": float(row["price"]),
                                     "special": float(row["special_price"]) if row.get("special_price") else None,
                                     "description": row.get("description", ""),
                                     "category": (row.get("category") or row.get("categories", "")).split(",")[0]
                                     .split("/")[-1].replace("\n", " ")})
        yield from shop_pages("Luma", products, reviews, carts)
    return pages


def vendure(mirror: Mirror) -> Iterator[tuple[str, str]]:
    """Vendure's mock catalogue: a product per named row, its variants' prices."""
    products = []
    for row in _csv_rows(mirror.read("packages/core/mock-data/data-sources/products.csv")):
        if row["name"]:
            category = next((f.split(":", 1)[1] for f in row["facets"].split("|") if f.startswith("category:")), "Shop")
            products.append({"name": row["name"], "sku": row["sku"], "price": float(row["price"] or 0),
                             "special": None, "description": f"<p>{html.escape(row['description'])}</p>",
                             "category": category})
    yield from shop_pages("Vendure Store", products, {}, carts=len(products))


# --- number-dense pages: league tables and results, data tables ---------------------------------------

def football_tables(mirror: Mirror) -> Iterator[tuple[str, str]]:
    """openfootball's seasons as JSON: a page of the final table, and one of the results of every
    fifth matchday."""
    for name in mirror.files(r"^\d{4}-\d{2}/[a-z]+\.\d\.json$"):
        season = json.loads(mirror.read(name))
        matches = season.get("matches") or [m for r in season.get("rounds", []) for m in r.get("matches", [])]
        table: dict[str, list[int]] = {}
        rounds: dict[str, list[dict]] = {}
        for match in matches:
            score = (match.get("score") or {}).get("ft")
            if not score:
                continue
            rounds.setdefault(match.get("round", ""), []).append(match)
            for team, goals, against in ((match["team1"], *score), (match["team2"], *score[::-1])):
                row = table.setdefault(team, [0] * 6)
                row[0] += 1
                row[1 + (goals < against) + (goals <= against)] += 1
                row[4] += goals
                row[5] += against
        standings = sorted(table.items(), key=lambda kv: (-(3 * kv[1][1] + kv[1][2]), kv[1][5] - kv[1][4]))
        rows = "".join(f"<tr><td>{i}</td><td>{html.escape(team)}</td>{''.join(f'<td>{v}</td>' for v in r)}"
                       f"<td>{r[4] - r[5]:+d}</td><td>{3 * r[1] + r[2]}</td></tr>"
                       for i, (team, r) in enumerate(standings, 1))
        head = "<tr><th>Pos</th><th>Team</th><th>P</th><th>W</th><th>D</th><th>L</th><th>GF</th><th>GA</th><th>GD</th><th>Pts</th></tr>"
        yield name, page(f"{season.get('name', name)} table", f"<table>{head}{rows}</table>", "openfootball")
        for i, (round_name, games) in enumerate(rounds.items()):
            if i % 5 == 0:
                lines = "".join(f"<tr><td>{g.get('date', '')}</td><td>{g.get('time', '')}</td>"
                                f"<td>{html.escape(g['team1'])}</td><td>{g['score']['ft'][0]}-{g['score']['ft'][1]}</td>"
                                f"<td>{html.escape(g['team2'])}</td></tr>" for g in games)
                yield f"{name}#{i}", page(f"{season.get('name', name)}: {round_name}", f"<table>{lines}</table>",
                                          "openfootball")


def football_fixtures(half: int | None = None) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """openfootball's Football.TXT files as they are, cut into pages of about 60 lines; of one ``half`` of
    the files (0 or 1, by a hash of the name), or all."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        for name in mirror.files(r"\.txt$"):
            if half is None or zlib.crc32(name.encode()) % 2 == half:
                yield from _fixture_pages(name, mirror.read(name))
    return pages


def _fixture_pages(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    lines = data.decode("utf-8", "replace").splitlines()
    for start in range(0, len(lines), 60):
        chunk = "\n".join(lines[start:start + 60])
        if sum(c.isdigit() for c in chunk) > 50:
            yield f"{name}@{start}", page(Path(name).stem, f"<pre>{html.escape(chunk)}</pre>", "openfootball")


def csv_pages(pattern: str, site: str, rows: int = 40, per_file: int = 40) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """Data files as web pages: the repository's README, then a table of ``rows`` rows of a CSV (its header
    first), up to ``per_file`` pages a file, spread over it."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        readme = markdown_html(mirror.read("README.md").decode("utf-8", "replace"))
        for name in mirror.files(pattern):
            text = mirror.read(name).decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            table = list(csv.reader(io.StringIO(text)))
            if len(table) < 5:
                continue
            starts = range(1, len(table), rows)
            for start in starts[::max(1, len(starts) // per_file)][:per_file]:
                cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row[:12]) + "</tr>"
                                for row in [table[0]] + table[start:start + rows])
                yield f"{name}@{start}", page(f"{Path(name).stem.replace('-', ' ')} (rows {start}-{start + rows - 1})",
                                              (readme if start == 1 else "") + f"<table>{cells}</table>", site)
    return pages


def data_tables(half: int) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """fivethirtyeight/data's folders of one ``half`` (0 or 1, by a hash of the folder's name): a page per
    CSV, the folder's README above the CSV's first 40 rows as a table."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        names = mirror.files(r"\.(csv|md)$")
        for name in names:
            folder = name.split("/")[0]
            if not name.endswith(".csv") or zlib.crc32(folder.encode()) % 2 != half:
                continue
            readme = next((mirror.read(n).decode("utf-8", "replace") for n in names
                           if n.lower() == f"{folder}/readme.md"), "")
            text = mirror.read(name).decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
            rows = list(csv.reader(io.StringIO(text)))[:41]
            if len(rows) < 5:
                continue
            table = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row[:12]) + "</tr>"
                            for row in rows)
            yield name, page(Path(name).stem.replace("-", " "), markdown_html(readme) + f"<table>{table}</table>",
                             "FiveThirtyEight")
    return pages


# --- cooking recipes: quantities, times and temperatures without math ------------------------------------

def cooking_recipes(part: int, count: int) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """``count`` recipes of dpapathanasiou/recipes' JSON files of one ``part`` (0, 1 or 2, by a hash of the
    name) as recipe pages: title, ingredients, directions."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        names = [n for n in mirror.files(r"^index/.*\.json$") if zlib.crc32(n.encode()) % 3 == part]
        for name in names[::max(1, len(names) // count)][:count]:
            try:
                recipe = json.loads(mirror.read(name))
            except ValueError:
                continue
            if not str(recipe.get("language", "en")).startswith("en"):
                continue
            body = ("<h2>Ingredients</h2><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in recipe.get("ingredients", []))
                    + "</ul><h2>Directions</h2><ol>" + "".join(f"<li>{html.escape(d)}</li>" for d in recipe.get("directions", []))
                    + "</ol>")
            yield name, page(recipe.get("title", "Recipe"), body, recipe.get("source", ""))
    return pages


# --- LaTeX sources: a page per section, its source as the classifier would read it -------------------

_TEX_SECTION = re.compile(r"\\(?:section|chapter)\*?\{")


def tex_sections(pattern: str, site: str) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        for name in mirror.files(pattern):
            text = mirror.read(name).decode("utf-8", "replace")
            text = re.sub(r"(?<!\\)%.*", "", text)
            for i, part in enumerate(_TEX_SECTION.split(text)):
                if len(part) > 400:
                    body = "".join(f"<p>{html.escape(p)}</p>" for p in re.split(r"\n\s*\n", part) if p.strip())
                    yield f"{name}#{i}", page(Path(name).stem, body, site)
    return pages


# --- built sites: their own HTML pages, as a crawl would fetch them --------------------------------------

def site_pages(limit: int = 120) -> Callable[[Mirror], Iterator[tuple[str, str]]]:
    """The HTML pages of a mirror's branch with the most of them (at most ``limit``, spread evenly)."""
    def pages(mirror: Mirror) -> Iterator[tuple[str, str]]:
        mirror = mirror.with_most_html()
        names = [n for n in mirror.files(r"\.html?$") if not re.search(r"(^|/)(404|search|genindex|py-modindex)\.html$", n)]
        for name in names[::max(1, len(names) // limit)][:limit]:
            yield name, mirror.read(name).decode("utf-8", "replace")
    return pages


def dense_in_formulas(text: str) -> bool:
    """A math page of a math site, by the rule `megamath classifier bootstrap` takes positives by: at least
    5 formulas and 2 per 1,000 characters of its stage-1 text. A site's index, about, changelog and API
    reference pages, with a formula here and there, are left out rather than called math (the issue counts
    API pages with formulas among the false positives)."""
    formulas = preprocess(text).split().count("mathspan")
    return formulas >= 5 and formulas * 1000 >= 2 * len(text)


# OWNER+NAME: (role, licence) of a site whose built pages (gh-pages, docs/) hold math. The sites whose
# licence allows redistributing a model of them train (their pages at most 400) and calibrate; the rest
# are tested on only.
MATH_SITES = {
    "oscarlevin+discrete-book": ("train", "CC BY-SA 4.0"), "davidaustinm+ula": ("train", "CC BY 4.0"),
    "stephens999+fiveMinuteStats": ("train", "CC BY 4.0"), "mathjax+MathJax-demos-web": ("train", "Apache-2.0"),
    "scikit-optimize+scikit-optimize.github.io": ("train", "BSD-3-Clause"),
    "ChrisSl789+modern-regression": ("calibrate", "CC BY-SA 4.0"), "nishanmudalige+STA258_Tutorials": ("calibrate", "MIT"),
    "easystats+effectsize": ("calibrate", "MIT"),
    **dict.fromkeys((
        "christophM+interpretable-ml-book", "danielwilhelm+R-CS-ranks", "davidbolin+rSPDE", "dmccreary+calculus",
        "dmccreary+linear-algebra", "easystats+bayestestR", "friendly+matlib", "prioritizr+prioritizr", "rafalab+dsbook",
        "betanalpha+knitr_case_studies", "jrnold+bayesian_notes", "avehtari+casestudies", "easystats+parameters",
        "stan-dev+projpred", "stan-dev+posterior", "rvlenth+emmeans", "paul-buerkner+brms", "glmmTMB+glmmTMB",
        "colah+colah.github.io", "mitmath+matrixcalc"), ("test", "test only")),
}

CC_BY = "CC BY 4.0"
# OpenStax's current editions are CC BY-NC-SA 4.0: a model of them could not be used commercially, so
# they calibrate and test, and never train
CC_BY_NC_SA = "CC BY-NC-SA 4.0"
SOURCES = [
    # math: textbooks with formulas, word problems, tables in solutions and front matter
    Source("openstax-calculus", "openstax+osbooks-calculus-bundle", "math", "textbook", "test", CC_BY_NC_SA,
           openstax("OpenStax")),
    Source("openstax-college-algebra", "openstax+osbooks-college-algebra-bundle", "math", "textbook", "test", CC_BY_NC_SA,
           openstax("OpenStax")),
    Source("openlogic", "OpenLogicProject+OpenLogic", "math", "textbook", "train", CC_BY,
           tex_sections(r"^content/.*\.tex$", "Open Logic Project")),
    Source("openstax-prealgebra", "openstax+osbooks-prealgebra-bundle", "math", "textbook", "calibrate", CC_BY_NC_SA,
           openstax("OpenStax")),
    Source("openstax-contemporary-math", "openstax+osbooks-contemporary-mathematics", "math", "textbook", "test",
           "test only", openstax("OpenStax")),
    Source("openstax-statistics", "openstax+osbooks-introductory-statistics-bundle", "math", "textbook", "test",
           "test only", openstax("OpenStax")),
    # ordinary prose
    Source("openstax-us-history", "openstax+osbooks-us-history", "other", "ordinary", "calibrate", CC_BY_NC_SA,
           openstax("OpenStax")),
    Source("openstax-business", "openstax+osbooks-introduction-business", "other", "ordinary", "calibrate", CC_BY_NC_SA,
           openstax("OpenStax")),
    Source("openstax-american-government", "openstax+osbooks-american-government", "other", "ordinary", "calibrate",
           CC_BY_NC_SA, openstax("OpenStax")),
    Source("openstax-sociology", "openstax+osbooks-introduction-sociology", "other", "ordinary", "test", "test only",
           openstax("OpenStax")),
    Source("openstax-world-history", "openstax+osbooks-world-history", "other", "ordinary", "test", "test only",
           openstax("OpenStax")),
    # code and API documentation
    Source("rust-book", "rust-lang+book", "other", "code-api", "train", "MIT or Apache-2.0",
           docs(r"^(src|second-edition/src)/.*\.md$", "The Rust Programming Language")),
    Source("flask-docs", "pallets+flask", "other", "code-api", "train", "BSD-3-Clause", docs(r"^docs/.*\.rst$", "Flask")),
    Source("python-peps", "python+peps", "other", "code-api", "train", "public domain or CC0-1.0",
           docs(r"^peps/pep-\d+\.rst$", "Python Enhancement Proposals")),
    Source("vue-docs", "vuejs+docs", "other", "code-api", "calibrate", "MIT", docs(r"^src/.*\.md$", "Vue.js")),
    Source("react-docs", "reactjs+react.dev", "other", "code-api", "test", CC_BY, docs(r"^src/content/.*\.md$", "React")),
    Source("express-docs", "expressjs+expressjs.com", "other", "code-api", "test", "CC BY-SA 3.0",
           docs(r"^src/content/.*\.mdx?$", "Express", exclude=r"/(de|es|fr|it|ja|ko|pt-br|zh-cn|zh-tw|uk|ru|th|tr|id|sk|uz)/")),
    # shops and prices
    Source("magento-gear", "magento+magento2-sample-data", "other", "shop-price", "train", "AFL-3.0",
           magento(r"SimpleProduct|Downloadable|Bundle", carts=400)),
    Source("vendure-shop", "vendure-ecommerce+vendure", "other", "shop-price", "calibrate", "MIT", vendure),
    Source("magento-clothing", "magento+magento2-sample-data", "other", "shop-price", "test", "AFL-3.0",
           magento(r"ConfigurableSampleData", carts=150)),
    # number-dense
    Source("football-tables", "openfootball+football.json", "other", "number-dense", "train", "CC0-1.0", football_tables),
    Source("fivethirtyeight-even", "fivethirtyeight+data", "other", "number-dense", "train", CC_BY, data_tables(0)),
    Source("fivethirtyeight-odd", "fivethirtyeight+data", "other", "number-dense", "calibrate", CC_BY, data_tables(1)),
    Source("football-fixtures-even", "openfootball+england", "other", "number-dense", "train", "CC0-1.0",
           football_fixtures(0)),
    Source("football-fixtures-odd", "openfootball+england", "other", "number-dense", "calibrate", "CC0-1.0",
           football_fixtures(1)),
    Source("cooking-recipes-0", "dpapathanasiou+recipes", "other", "number-dense", "train", "MIT (as the repository states)",
           cooking_recipes(0, 1500)),
    Source("cooking-recipes-1", "dpapathanasiou+recipes", "other", "number-dense", "calibrate", "MIT (as the repository states)",
           cooking_recipes(1, 300)),
    Source("cooking-recipes-2", "dpapathanasiou+recipes", "other", "number-dense", "test", "test only", cooking_recipes(2, 300)),
    Source("bread-code", "hendricius+the-bread-code", "other", "number-dense", "test", "test only",
           docs(r"^(recipes|basics|experiments)/.*\.md$", "The Bread Code", exclude=r"TEMPLATE")),
    Source("worldcup-fixtures", "openfootball+worldcup", "other", "number-dense", "test", "CC0-1.0", football_fixtures()),
    Source("engsoccerdata", "jalapic+engsoccerdata", "other", "number-dense", "test", "GPL-3.0",
           csv_pages(r"^data-raw/[a-z]+\.csv$", "engsoccerdata", per_file=15)),
    *(Source(f"datahub-{repo.split('+')[1]}", repo, "other", "number-dense", "test", "ODC-PDDL-1.0",
             csv_pages(r"^(data|archive)/.*\.csv$", "DataHub", per_file=25))
      for repo in ("datasets+s-and-p-500-companies-financials", "datasets+gdp", "datasets+exchange-rates",
                   "datasets+house-prices-us", "datasets+population", "datasets+oil-prices")),
] + [Source(f"site-{repo.split('+')[1]}", repo, "math", "web", role, licence,
            site_pages(400 if role == "train" else 1000), dense_in_formulas) for repo, (role, licence) in MATH_SITES.items()]


def build(source: Source, mirrors: Path, output: Path) -> int:
    mirror = Mirror(mirrors / source.repo / "repo")
    if not mirror.path.is_dir():
        raise SystemExit(f"{mirror.path} is missing: fetch github:{source.repo.replace('+', '/')} first")
    count = 0
    with (output / f"{source.name}.jsonl").open("w") as out:
        for page_id, markup in source.pages(mirror):
            text = extract_text(markup)
            if source.keep(text):
                out.write(json.dumps({"id": page_id, "text": text}) + "\n")
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--only", nargs="*", help="build these sources only")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    summary_path = args.output / "sources.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for source in SOURCES:
        if args.only and source.name not in args.only:
            continue
        pages = build(source, args.mirrors, args.output)
        summary[source.name] = {"repo": source.repo.replace("+", "/"), "label": source.label, "slice": source.slice,
                                "role": source.role, "licence": source.licence, "pages": pages}
        print(f"{source.name:30s} {source.role:9s} {source.label:5s} {source.slice:12s} {pages:6,} pages", file=sys.stderr)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
