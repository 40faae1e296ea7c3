"""Math kept with correct delimiters on real pages of the generators a crawl holds, with the authors' own
TeX as the truth, megamath beside resiliparse, trafilatura and (``--owm-python``) the OpenWebMath extractor.

The pages are real sites' HTML as their generators wrote it, from public repositories: sites committed
with their built HTML beside the source (Quarto, bookdown), and authors' sources built here with the
generator their kind of site uses (LaTeXML, Sphinx, Jupyter Book's MyST, pandoc, MkDocs with arithmatex,
Hugo, Jekyll, nbconvert). The truth is every formula of the author's source, as pandoc's reader of
that source format reads it (MyST's ``{math}`` directives and roles read as math first).

A formula counts when the extracted text holds it as a delimited span that the mathfidelity scorer
matches (../shared/tools/mathfidelity: KaTeX's canonical form, or 85% similar). Each page's text is
also held to the delimiter invariant (megamath.web.math.integrity). A third of the pages (by a hash of
their name) were kept out of the tuning of the extractor: they are reported on their own.

The repositories are read as git mirrors (bare or not) under --mirrors, one folder per repository
named ``owner+name`` (as the fetch tool writes them) holding ``repo``, or a clone named ``owner+name``.
The generators come from Debian (pandoc, latexml, hugo, jekyll) and PyPI (sphinx, myst-parser,
sphinx-book-theme, mkdocs, pymdown-extensions, nbconvert, in a virtual environment of --tools); built
pages are cached under --work.

    python bench/math_generators.py --mirrors /work/.mirror [--peers resiliparse,trafilatura]
"""

from __future__ import annotations

import argparse
import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import ROOT  # noqa: E402
from math_extract import ensure_scorer_packages  # noqa: E402
from math_real_pages import formula_spans, load_scorer, matches_per_page  # noqa: E402

TOOLS_PIP = ("sphinx", "myst-parser", "sphinx-book-theme", "mkdocs", "pymdown-extensions", "nbconvert")
TOOLS_APT = ("pandoc", "latexml", "hugo", "jekyll")


class Mirror:
    """One repository's files at its newest commit."""

    def __init__(self, mirrors: Path, name: str):
        folder = mirrors / name.replace("/", "+")
        self.git = folder / "repo" if (folder / "repo").exists() else folder
        if not self.git.exists():
            raise SystemExit(f"{name}: no mirror at {folder} (clone https://github.com/{name} there)")
        self.name = name

    def files(self, pattern: str) -> list[str]:
        names = subprocess.run(["git", "-C", str(self.git), "ls-tree", "-r", "--name-only", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
        return sorted(n for n in names if re.fullmatch(pattern, n))

    def read(self, path: str) -> str | None:
        """The file's text; None for a file the mirror lacks (snapshots leave out files of 4 MiB and more)."""
        shown = subprocess.run(["git", "-C", str(self.git), "show", f"HEAD:{path}"], capture_output=True)
        return shown.stdout.decode("utf-8", "replace") if shown.returncode == 0 else None

    def export(self, paths: list[str], into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(self.git), "archive", "HEAD", *paths], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "x", "-C", str(into)], input=archive, check=True)


# ---------------------------------------------------------------- the truth: the author's formulas

_MYST_MATH_BLOCK = re.compile(r"^(`{3,}|:{3,})\{math\}[^\n]*\n((?::[^\n]*\n)*)(.*?)^\1[ \t]*$", re.S | re.M)
_MYST_MATH_ROLE = re.compile(r"\{math\}`([^`]+)`")


def myst_as_markdown(text: str) -> str:
    """MyST's math directives and roles written as the ``$$``/``$`` math pandoc's Markdown reader reads."""
    text = _MYST_MATH_BLOCK.sub(lambda m: "\n$$\n" + m.group(3).strip() + "\n$$\n", text)
    return _MYST_MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)


def truth_formulas(text: str, source_format: str) -> list[str]:
    """Every formula of a source document, in order, as pandoc reads the format."""
    if source_format == "myst":
        text, source_format = myst_as_markdown(text), "markdown"
    reader = {"markdown": "markdown", "latex": "latex-latex_macros", "rst": "rst", "ipynb": "ipynb"}[source_format]
    result = subprocess.run(["pandoc", "-f", reader, "-t", "json"], input=text.encode(), capture_output=True)
    if result.returncode:
        return []
    formulas: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("t") == "Math":
                formulas.append(node["c"][1].strip())
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(result.stdout))
    # pandoc's reStructuredText reader wraps a math directive of several lines in an aligned
    # environment of its own; an environment the author wrote is the formula
    return [_PANDOC_ALIGNED.sub(r"\1", f) if source_format == "rst" else f for f in formulas if f]


_PANDOC_ALIGNED = re.compile(r"^\\begin\{aligned\}\s*(\\begin\{.*\})\s*\\end\{aligned\}$", re.S)


# ---------------------------------------------------------------- the pages


class Page:
    def __init__(self, generator: str, name: str, html: str, truth: list[str], macros: str = ""):
        self.generator, self.name, self.html, self.truth = generator, name, html, truth
        self.macros = macros  # the source's own TeX macros, which the scorer's KaTeX is taught

    @property
    def held_out(self) -> bool:
        return zlib.crc32(self.name.encode()) % 3 == 0


def run(command: list[str], cwd: Path | None = None, timeout: int = 600) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command[:3])}…: {result.stderr[-800:]}")


def committed_site(mirror: Mirror, generator: str, pairs: list[tuple[str, str]], source_format: str) -> list[Page]:
    """Pages a site committed beside their sources: (html path, source path) pairs."""
    pages = []
    for html_path, source_path in pairs:
        truth = truth_formulas(mirror.read(source_path), source_format)
        html = mirror.read(html_path) if truth else None
        if html:
            pages.append(Page(generator, f"{mirror.name}:{html_path}", html, truth))
    return pages


def quarto_pages(mirrors: Path) -> list[Page]:
    pages = []
    for name, source_dir in (("ChrisSl789/modern-regression", ""), ("nishanmudalige/STA258_Tutorials", "")):
        mirror = Mirror(mirrors, name)
        pairs = [(html, f"{source_dir}{html[len('docs/'):-len('.html')]}.qmd") for html in mirror.files(r"docs/.*\.html")]
        sources = set(mirror.files(r".*\.qmd"))
        pages += committed_site(mirror, "quarto", [p for p in pairs if p[1] in sources], "markdown")
    return pages


def bookdown_pages(mirrors: Path) -> list[Page]:
    """A bookdown book splits its chapters into pages by section, with names of their own: a page's truth
    is the formulas its HTML holds in MathJax's delimiters that are formulas of the book's sources."""
    mirror = Mirror(mirrors, "Smolski/livroavancado")
    book = {_squeezed(f) for source in mirror.files(r"[^/]*\.Rmd") for f in truth_formulas(mirror.read(source), "markdown")}
    pages = []
    for html_path in mirror.files(r"docs/.*\.html"):
        html = mirror.read(html_path) or ""
        body = html[max(html.find('class="page-inner"'), 0):]  # not the table of contents of every page
        spans = [html_lib.unescape(m.group(1) or m.group(2)).strip() for m in _MATHJAX_SPAN.finditer(body)]
        truth = [span for span in spans if _squeezed(span) in book]
        if truth:
            pages.append(Page("bookdown", f"{mirror.name}:{html_path}", html, truth))
    return pages


_MATHJAX_SPAN = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def pkgdown_pages(mirrors: Path) -> list[Page]:
    """An R package's reference pages (pkgdown, KaTeX) from its help files: the truth is the TeX of each
    ``\\eqn{}``/``\\deqn{}`` of the ``.Rd`` source."""
    mirror = Mirror(mirrors, "prioritizr/prioritizr")
    pages = []
    for source in mirror.files(r"man/[^/]*\.Rd"):
        text = mirror.read(source) or ""
        truth = rd_formulas(text)
        html = mirror.read(f"docs/reference/{Path(source).stem}.html") if truth else None
        if html:
            pages.append(Page("pkgdown", f"{mirror.name}:{source}", html, truth))
    return pages


_RD_MATH = re.compile(r"\\d?eqn\{")
_RD_HTML_BRANCH = "\\ifelse{html}{"


def rd_formulas(text: str) -> list[str]:
    """The first argument of each ``\\eqn``/``\\deqn`` of an R help file that its HTML shows (an
    ``\\ifelse{html}{…}{…}`` shows its first branch)."""
    while _RD_HTML_BRANCH in text:
        start = text.index(_RD_HTML_BRANCH)
        html_end = _group_end(text, start + len(_RD_HTML_BRANCH))
        other_end = _group_end(text, html_end + 1) if text[html_end:html_end + 1] == "{" else html_end
        text = text[:start] + text[start + len(_RD_HTML_BRANCH):html_end - 1] + text[other_end:]
    formulas = []
    for match in _RD_MATH.finditer(text):
        formula = text[match.end():_group_end(text, match.end()) - 1].replace("\\%", "%").strip()
        if formula:
            formulas.append(formula)
    return formulas


def _group_end(text: str, position: int) -> int:
    """Just past the brace that closes the group whose text starts at ``position``."""
    depth = 1
    while position < len(text) and depth:
        if text[position] == "\\":
            position += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        position += 1
    return position


def latexml_pages(mirrors: Path, work: Path, limit: int) -> list[Page]:
    """The Stacks project's chapters cut into sections, each a document of its own with the preamble,
    through LaTeXML's HTML5 (MathML with the author's TeX as alttext): what arXiv's HTML serves."""
    mirror = Mirror(mirrors, "stacks/stacks-project")
    folder = work / "latexml"
    chapters = ["sets.tex", "categories.tex", "algebra.tex", "topology.tex", "sheaves.tex", "homology.tex"]
    mirror.export(["preamble.tex", *chapters], folder)
    macros = "".join(line for line in (folder / "preamble.tex").read_text(encoding="utf-8").splitlines()
                     if line.startswith("\\def\\"))
    pages = []
    for chapter in chapters:
        source = (folder / chapter).read_text(encoding="utf-8")
        start = source.index("\\begin{document}") + len("\\begin{document}")
        sections = re.split(r"(?=\\section\{)", source[start:].split("\\end{document}")[0])[1:]
        for number, section in enumerate(sections, 1):
            if len(pages) >= limit:
                return pages
            document = f"{source[:start]}\n{section}\n\\end{{document}}\n"
            truth = truth_formulas(document, "latex")
            if len(truth) < 5 or len(section) > 30_000:
                continue
            stem = f"{chapter[:-4]}-{number}"
            html = folder / f"{stem}.html"
            if not html.exists():
                (folder / f"{stem}.tex").write_text(document, encoding="utf-8")
                try:
                    run(["latexmlc", "--quiet", f"--dest={html.name}", "--format=html5", f"{stem}.tex"], folder, 300)
                except (RuntimeError, subprocess.TimeoutExpired):
                    continue
            pages.append(Page("latexml", f"stacks:{stem}", html.read_text(encoding="utf-8"), truth, macros))
    return pages


def sphinx_build(tools: Path, project: Path, conf: str, sources: dict[str, str], timeout: int = 900) -> Path:
    out = project / "_build" / "html"
    if out.exists():
        return out
    project.mkdir(parents=True, exist_ok=True)
    (project / "conf.py").write_text(conf, encoding="utf-8")
    for name, text in sources.items():
        (project / name).write_text(text, encoding="utf-8")
    run([str(tools / "bin" / "sphinx-build"), "-q", "-b", "html", ".", "_build/html"], project, timeout)
    return out


def sphinx_pages(mirrors: Path, work: Path, tools: Path, limit: int) -> list[Page]:
    """SciPy's statistics tutorial (reStructuredText, ``:math:`` and ``.. math::``), built by Sphinx
    with its default MathJax 3."""
    mirror = Mirror(mirrors, "scipy/scipy")
    paths = mirror.files(r"doc/source/tutorial/stats/continuous_.*\.rst")[:limit]
    sources = {Path(p).name: mirror.read(p) for p in paths}
    toctree = ".. toctree::\n\n" + "".join(f"   {Path(n).stem}\n" for n in sources)
    out = sphinx_build(tools, work / "sphinx", "project = 'scipy stats'\nextensions = ['sphinx.ext.mathjax']\n",
                       {**sources, "index.rst": "Distributions\n=============\n\n" + toctree})
    return [Page("sphinx", f"scipy:{name}", (out / f"{Path(name).stem}.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "rst")) for name, text in sources.items()
            if (out / f"{Path(name).stem}.html").exists() and truth_formulas(text, "rst")]


def jupyter_book_pages(mirrors: Path, work: Path, tools: Path, limit: int) -> list[Page]:
    """QuantEcon's lectures (MyST Markdown with dollar math, ``{math}`` directives and amsmath
    environments) built as Jupyter Book builds them: Sphinx, myst-parser, sphinx-book-theme, MathJax 3."""
    mirror = Mirror(mirrors, "QuantEcon/lecture-python.myst")
    paths = [p for p in mirror.files(r"lectures/[^/_]*\.md") if "{math}" in mirror.read(p) or "$$" in mirror.read(p)]
    sources = {Path(p).name: mirror.read(p) for p in paths[:limit]}
    toctree = "```{toctree}\n" + "".join(f"{Path(n).stem}\n" for n in sources) + "```\n"
    conf = ("project = 'lectures'\nextensions = ['myst_parser']\nhtml_theme = 'sphinx_book_theme'\n"
            "myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']\n"
            "mathjax_path = 'https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js'\n"
            "suppress_warnings = ['myst.directive_unknown', 'myst.xref_missing', 'myst.header']\n")
    out = sphinx_build(tools, work / "jupyter-book", conf, {**sources, "index.md": "# Lectures\n\n" + toctree})
    return [Page("jupyter-book", f"quantecon:{name}", (out / f"{Path(name).stem}.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "myst")) for name, text in sources.items()
            if (out / f"{Path(name).stem}.html").exists() and truth_formulas(text, "myst")]


_QUARTO_SHORTCODE = re.compile(r"\{\{<.*?>\}\}")


def markdown_sources(mirrors: Path, limit: int) -> dict[str, str]:
    """Chapters of *Interpretable Machine Learning* (Markdown with dollar math) that hold formulas."""
    mirror = Mirror(mirrors, "christophM/interpretable-ml-book")
    chapters = {}
    for path in mirror.files(r"manuscript/[^_/][^/]*\.qmd"):
        text = _QUARTO_SHORTCODE.sub("", mirror.read(path))  # {{< include … >}}: Quarto's, which Hugo would run
        if text.count("$") >= 10:
            chapters[Path(path).stem] = text
    return dict(list(chapters.items())[:limit])


def pandoc_pages(mirrors: Path, work: Path, limit: int) -> list[Page]:
    pages = []
    for name, text in markdown_sources(mirrors, limit).items():
        html = work / "pandoc" / f"{name}.html"
        if not html.exists():
            html.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["pandoc", "-f", "markdown", "-t", "html5", "-s", "--mathjax", "--metadata",
                            f"title={name}", "-o", str(html)], input=text.encode(), capture_output=True, check=True)
        pages.append(Page("pandoc", f"iml:{name}", html.read_text(encoding="utf-8"), truth_formulas(text, "markdown")))
    return pages


def mkdocs_pages(mirrors: Path, work: Path, tools: Path, limit: int) -> list[Page]:
    """MkDocs with pymdown's arithmatex (generic mode, for MathJax 3), as its documentation sets it up."""
    sources = markdown_sources(mirrors, limit)
    project = work / "mkdocs"
    if not (project / "site").exists():
        (project / "docs").mkdir(parents=True, exist_ok=True)
        for name, text in sources.items():
            (project / "docs" / f"{name}.md").write_text(text, encoding="utf-8")
        (project / "docs" / "index.md").write_text("# Book\n", encoding="utf-8")
        (project / "mkdocs.yml").write_text(
            "site_name: book\nmarkdown_extensions:\n  - pymdownx.arithmatex:\n      generic: true\n"
            "extra_javascript:\n  - https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js\n", encoding="utf-8")
        run([str(tools / "bin" / "mkdocs"), "build", "-q"], project)
    return [Page("mkdocs", f"iml:{name}", (project / "site" / name / "index.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "markdown")) for name, text in sources.items()]


def hugo_pages(mirrors: Path, work: Path, limit: int) -> list[Page]:
    """Hugo (goldmark) with KaTeX's auto-render in the page template, as blog themes load it."""
    sources = markdown_sources(mirrors, limit)
    site = work / "hugo"
    if not (site / "public").exists():
        (site / "content" / "posts").mkdir(parents=True, exist_ok=True)
        (site / "layouts" / "_default").mkdir(parents=True, exist_ok=True)
        for name, text in sources.items():
            (site / "content" / "posts" / f"{name}.md").write_text(f"---\ntitle: {name}\n---\n{text}", encoding="utf-8")
        (site / "hugo.toml").write_text("baseURL = 'https://example.org/'\ntitle = 'blog'\n"
                                        "[markup.goldmark.renderer]\nunsafe = true\n", encoding="utf-8")
        katex = ('<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.9/dist/katex.min.css">'
                 '<script defer src="https://cdn.jsdelivr.net/npm/katex@0.16.9/dist/katex.min.js"></script>'
                 '<script defer src="https://cdn.jsdelivr.net/npm/katex@0.16.9/dist/contrib/auto-render.min.js" '
                 'onload="renderMathInElement(document.body);"></script>')
        page = (f"<!DOCTYPE html><html><head><title>{{{{ .Title }}}}</title>{katex}</head><body><nav><a href='/'>Home"
                "</a> <a href='/posts/'>Posts</a></nav><main><article><h1>{{ .Title }}</h1>{{ .Content }}</article>"
                "</main><footer>© the author</footer></body></html>")
        for layout in ("single.html", "list.html"):
            (site / "layouts" / "_default" / layout).write_text(page, encoding="utf-8")
        run(["hugo", "--quiet"], site)
    return [Page("hugo", f"iml:{name}", (site / "public" / "posts" / name.lower() / "index.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "markdown")) for name, text in sources.items()
            if (site / "public" / "posts" / name.lower() / "index.html").exists()]


def jekyll_pages(mirrors: Path, work: Path, limit: int) -> list[Page]:
    """Jekyll (kramdown, which writes its math for MathJax) with MathJax in the layout."""
    sources = markdown_sources(mirrors, limit)
    site = work / "jekyll"
    if not (site / "_site").exists():
        (site / "_layouts").mkdir(parents=True, exist_ok=True)
        for name, text in sources.items():
            (site / f"{name}.md").write_text(f"---\nlayout: default\ntitle: {name}\n---\n{text}", encoding="utf-8")
        (site / "_config.yml").write_text("title: notes\nmarkdown: kramdown\n", encoding="utf-8")
        (site / "_layouts" / "default.html").write_text(
            "<!DOCTYPE html><html><head><title>{{ page.title }}</title><script src='https://cdn.jsdelivr.net/npm/"
            "mathjax@3/es5/tex-mml-chtml.js'></script></head><body><header><a href='/'>notes</a></header><main>"
            "<h1>{{ page.title }}</h1>{{ content }}</main><footer>Powered by Jekyll</footer></body></html>",
            encoding="utf-8")
        run(["jekyll", "build", "--quiet"], site)
    return [Page("jekyll", f"iml:{name}", (site / "_site" / f"{name}.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "markdown")) for name, text in sources.items()
            if (site / "_site" / f"{name}.html").exists()]


_MARKDOWN_IT = r'''
const fs = require("fs");
const md = require("markdown-it")({html: true}).use(require("@vscode/markdown-it-katex").default);
for (const page of JSON.parse(fs.readFileSync(0, "utf8"))) {
  fs.writeFileSync(page.out, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${page.name}</title>` +
    `<link rel="stylesheet" href="/katex.min.css"></head><body><header><a href="/">Notes</a></header>` +
    `<main><article>${md.render(page.text)}</article></main><footer>Built with markdown-it</footer></body></html>`);
}
'''


def markdown_it_pages(mirrors: Path, work: Path, limit: int) -> list[Page]:
    """markdown-it with its KaTeX plugin, as VitePress, Eleventy and Docusaurus sites render math on the
    server: KaTeX's HTML with its MathML and TeX annotation in the page."""
    sources = markdown_sources(mirrors, limit)
    folder = work / "markdown-it"
    if not (folder / "node_modules" / "@vscode" / "markdown-it-katex").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
             "markdown-it", "@vscode/markdown-it-katex", "katex"])
    todo = [{"name": name, "text": text, "out": str(folder / f"{name}.html")} for name, text in sources.items()
            if not (folder / f"{name}.html").exists()]
    if todo:
        subprocess.run(["node", "-e", _MARKDOWN_IT], input=json.dumps(todo).encode(), check=True,
                       env=dict(os.environ, NODE_PATH=str(folder / "node_modules")), capture_output=True)
    return [Page("markdown-it", f"iml:{name}", (folder / f"{name}.html").read_text(encoding="utf-8"),
                 truth_formulas(text, "markdown")) for name, text in sources.items()]


def nbconvert_pages(mirrors: Path, work: Path, tools: Path, limit: int) -> list[Page]:
    """Notebooks of *Bayesian Methods for Hackers* through nbconvert's HTML (the lab template)."""
    mirror = Mirror(mirrors, "CamDavidsonPilon/Probabilistic-Programming-and-Bayesian-Methods-for-Hackers")
    paths = mirror.files(r"Chapter[^/]*/[^/]*PyMC_current\.ipynb")[:limit]
    folder = work / "nbconvert"
    pages = []
    for path in paths:
        notebook = folder / Path(path).name
        html = notebook.with_suffix(".html")
        text = mirror.read(path)
        if not html.exists():
            folder.mkdir(parents=True, exist_ok=True)
            notebook.write_text(text, encoding="utf-8")
            run([str(tools / "bin" / "jupyter-nbconvert"), "--to", "html", notebook.name], folder)
        pages.append(Page("nbconvert", f"bmh:{Path(path).stem}", html.read_text(encoding="utf-8"),
                          truth_formulas(text, "ipynb")))
    return pages


def all_pages(mirrors: Path, work: Path, tools: Path) -> list[Page]:
    builders = [
        ("quarto", lambda: quarto_pages(mirrors)),
        ("bookdown", lambda: bookdown_pages(mirrors)),
        ("pkgdown", lambda: pkgdown_pages(mirrors)),
        ("latexml", lambda: latexml_pages(mirrors, work, 40)),
        ("sphinx", lambda: sphinx_pages(mirrors, work, tools, 30)),
        ("jupyter-book", lambda: jupyter_book_pages(mirrors, work, tools, 20)),
        ("pandoc", lambda: pandoc_pages(mirrors, work, 15)),
        ("mkdocs", lambda: mkdocs_pages(mirrors, work, tools, 15)),
        ("hugo", lambda: hugo_pages(mirrors, work, 15)),
        ("jekyll", lambda: jekyll_pages(mirrors, work, 15)),
        ("nbconvert", lambda: nbconvert_pages(mirrors, work, tools, 8)),
        ("markdown-it", lambda: markdown_it_pages(mirrors, work, 15)),
    ]
    pages = []
    for name, build in builders:
        try:
            built = build()
        except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
            print(f"{name}: not built ({str(error)[:300]})", file=sys.stderr)
            continue
        print(f"{name}: {len(built)} pages, {sum(len(p.truth) for p in built)} formulas", file=sys.stderr)
        pages += [p for p in built if p.truth]
    return pages


def ensure_tools(tools: Path) -> None:
    missing = [tool for tool in TOOLS_APT if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"install {' '.join(missing)} (Debian: apt-get install {' '.join(TOOLS_APT)})")
    if not (tools / "bin" / "sphinx-build").exists():
        subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True)
        subprocess.run([str(tools / "bin" / "pip"), "install", "--quiet", *TOOLS_PIP], check=True)


# ---------------------------------------------------------------- the extractors and the table


def extractors(peers: list[str]) -> dict:
    """The in-process extractors by name: megamath and the peers asked for."""
    from megamath.web.extract import extract_text

    chosen = {"megamath": lambda html: extract_text(html)}
    if "resiliparse" in peers:
        from resiliparse.extract.html2text import extract_plain_text
        chosen["resiliparse"] = lambda html: extract_plain_text(html, main_content=True)
    if "trafilatura" in peers:
        import trafilatura
        chosen["trafilatura"] = lambda html: trafilatura.extract(html, output_format="markdown", include_formatting=True,
                                                                 favor_recall=True) or ""
    return chosen


_OWM = r'''
import json, sys
from text_extract.extract import extract_text
cfg = dict(markdown_headings=True, markdown_code=True, remove_buttons=True, remove_image_figures=True,
           remove_link_clusters=True, table_config=dict(min_rows=2, min_cols=3, format="plain"),
           remove_chinese=True, remove_edit_buttons=True, extract_latex=True,
           boilerplate_config=dict(ratio_threshold=0.18, absolute_threshold=10, end_threshold=15, enable=True))
out = []
for html in json.load(open(sys.argv[1])):
    try:
        result = extract_text(html, cfg)
    except Exception:
        result = None
    out.append(result[0] if result else "")
json.dump(out, open(sys.argv[2], "w"))
'''


def openwebmath_texts(python: str, pages: list[Page], work: Path) -> list[str]:
    inputs, outputs = work / "owm-in.json", work / "owm-out.json"
    inputs.write_text(json.dumps([p.html for p in pages]), encoding="utf-8")
    subprocess.run([python, "-c", _OWM, str(inputs), str(outputs)], check=True)
    return json.loads(outputs.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, required=True, help="folder of the repositories' git mirrors")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".generators", help="built pages are kept here")
    parser.add_argument("--tools", type=Path, default=ROOT / "bench" / ".generators" / "venv",
                        help="virtual environment for the Python generators (made on first use)")
    parser.add_argument("--peers", default="resiliparse,trafilatura", help="comma-separated peers")
    parser.add_argument("--owm-python", default=None, help="python of a venv with openwebmath's text_extract")
    parser.add_argument("--show", type=int, default=0, help="print the first N formulas each page misses")
    args = parser.parse_args()
    ensure_tools(args.tools)
    os.environ.setdefault("ZOO_NODE_PATH", ensure_scorer_packages())
    scorer = load_scorer()
    pages = all_pages(args.mirrors, args.work, args.tools)
    chosen = extractors(args.peers.split(","))
    texts = {name: [extract(p.html) for p in pages] for name, extract in chosen.items()}
    if args.owm_python:
        texts["openwebmath"] = openwebmath_texts(args.owm_python, pages, args.work)

    from megamath.web.math.integrity import delimiter_problems

    broken = {(p.generator, p.name) for p, text in zip(pages, texts["megamath"]) if delimiter_problems(text)}
    matched = {name: matches_per_page(scorer, [p.truth for p in pages], outputs, [p.macros for p in pages])
               for name, outputs in texts.items()}
    print(f"\n{'generator':14s} {'part':8s} {'pages':>5s} {'formulas':>8s} "
          + " ".join(f"{name + ' %':>14s}" for name in texts) + f" {'broken':>6s}")
    groups = [(generator, "all") for generator in sorted({p.generator for p in pages})]
    for generator, part in groups + [("ALL", "tuning"), ("ALL", "held-out"), ("ALL", "all")]:
        chosen_pages = [i for i, p in enumerate(pages) if generator in ("ALL", p.generator)
                        and (part == "all" or p.held_out == (part == "held-out"))]
        formulas = sum(len(pages[i].truth) for i in chosen_pages)
        row = " ".join(f"{100 * sum(matched[name][i] for i in chosen_pages) / max(formulas, 1):14.1f}" for name in texts)
        print(f"{generator:14s} {part:8s} {len(chosen_pages):5d} {formulas:8d} {row} "
              f"{sum((pages[i].generator, pages[i].name) in broken for i in chosen_pages):6d}")
    if args.show:
        for page, text in zip(pages, texts["megamath"]):
            found = formula_spans(scorer, text)
            missing = [f for f in page.truth if "".join(f.split()) not in {"".join(s.split()) for s in found}]
            if missing:
                print(f"\n{page.generator} {page.name}: {len(missing)} of {len(page.truth)} not found as written")
                for formula in missing[:args.show]:
                    print("   ", formula[:160].replace("\n", " "))
    for page, text in zip(pages, texts["megamath"]):
        if (page.generator, page.name) in broken:
            print(f"broken: {page.generator} {page.name}: {delimiter_problems(text)[:2]}")


if __name__ == "__main__":
    main()
