"""What resiliparse's main-content pass misreads (megamath.web.main_content): shallow bullet lists, the
cell wrappers of nbconvert's JupyterLab template, Jupyter Book's folded admonitions. Each page is laid out
as its generator writes it; each test shows the pass alone losing the text."""

from resiliparse.extract.html2text import extract_plain_text

from megamath.web.extract import extract_text

LEAD = "<p>An opening paragraph of ordinary prose, long enough for the main-content pass to keep it.</p>"
LEAD_TEXT = "An opening paragraph of ordinary prose, long enough for the main-content pass to keep it."


def test_a_bullet_list_near_the_body_is_kept_and_a_navigation_list_is_not():
    """pandoc's standalone HTML puts lists right under <body>; the pass drops any <ul> fewer than three
    elements below it."""
    page = (f"<html><body><ul><li><a href='/'>Home</a></li><li><a href='/notes'>Notes</a></li></ul>{LEAD}"
            "<ul><li>Each feature $x_j$ gets a weight $\\beta_j$ from the fit.</li>"
            "<li>The intercept $\\beta_0$ is the mean prediction.</li></ul></body></html>")
    assert "weight" not in extract_plain_text(page, main_content=True)
    text = extract_text(page)
    assert "Each feature $x_j$ gets a weight $\\beta_j$ from the fit." in text
    assert "$\\beta_0$ is the mean prediction." in text
    assert "Home" not in text and "Notes" not in text


def test_a_jupyterlab_notebook_export_keeps_its_cells_and_drops_its_prompts():
    cell = ('<div class="jp-Cell jp-MarkdownCell jp-Notebook-cell"><div class="jp-Cell-inputWrapper" tabindex="0">'
            '<div class="jp-Collapser jp-InputCollapser jp-Cell-inputCollapser"></div>'
            '<div class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt jp-InputArea-prompt"></div>'
            '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput" data-mime-type="text/markdown">'
            "<p>{}</p></div></div></div></div>")
    code = ('<div class="jp-Cell jp-CodeCell jp-Notebook-cell"><div class="jp-Cell-inputWrapper" tabindex="0">'
            '<div class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt jp-InputArea-prompt">In\xa0[3]:</div>'
            '<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor"><div class="highlight hl-ipython3">'
            "<pre>posterior = prior * likelihood</pre></div></div></div></div></div>")
    page = ('<html><body class="jp-Notebook" data-jp-theme-light="true"><main>'
            + cell.format("We denote our belief about event $A$ as $P(A)$, the prior probability.")
            + code + cell.format("After seeing the evidence $X$ we write $P(A | X)$ for the posterior.")
            + "</main></body></html>")
    assert extract_plain_text(page, main_content=True) == ""
    text = extract_text(page)
    assert "We denote our belief about event $A$ as $P(A)$, the prior probability." in text
    assert "posterior = prior * likelihood" in text and "$P(A | X)$" in text
    assert "In\xa0[3]" not in text


def test_a_folded_admonition_of_jupyter_book_is_main_content():
    page = ('<html><head><script src="https://cdn.example/mathjax/tex-chtml.js"></script></head><body><main>'
            f"<article>{LEAD}"
            '<div class="dropdown admonition hint"><p class="admonition-title">Hint</p>'
            '<p>Draw from <span class="math notranslate nohighlight">\\(F\\)</span> and invert its cdf.</p></div>'
            "</article></main></body></html>")
    assert "invert" not in extract_plain_text(page, main_content=True)
    assert "Draw from $F$ and invert its cdf." in extract_text(page)


def test_sphinx_split_around_an_author_s_display_is_taken_off():
    """Sphinx wraps a display of several lines in split; the author's own environment, or lines without
    an alignment of their own, are what it wraps."""
    head = '<script src="https://cdn.example/mathjax/tex-chtml.js"></script>'
    page = (f"<html><head>{head}</head><body><main><article>{LEAD}"
            '<div class="math notranslate nohighlight">\\[\\begin{split}\\begin{aligned} a &amp;= b \\\\ c &amp;= d'
            '\\end{aligned}\\end{split}\\]</div>'
            '<div class="math notranslate nohighlight">\\[\\begin{split}x := \\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}'
            '\\end{split}\\]</div>'
            '<div class="math notranslate nohighlight">\\[\\begin{split}u &amp;= v \\\\ w &amp;= z\\end{split}\\]</div>'
            "</article></main></body></html>")
    text = extract_text(page)
    assert "$$\\begin{aligned} a &= b \\\\ c &= d\\end{aligned}$$" in text
    assert "$$x := \\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}$$" in text
    assert "$$\\begin{split}u &= v \\\\ w &= z\\end{split}$$" in text  # its alignment is the split's


def test_react_streamed_segments_and_a_discourse_noscript_topic_are_read():
    """React's streamed rendering sends the page in hidden segments a script moves into place; Discourse
    sends a browser its topic inside a noscript. Both came out as nothing."""
    streamed = (f'<html><body><div hidden=""><template id="B:0"></template></div>'
                f'<div hidden id="S:0"><main><article>{LEAD}<p>Let $x$ be real.</p></article></main></div></body></html>')
    discourse = ('<html><body><div id="main-outlet"></div><noscript data-path="/t/limits/12">'
                 f"<div id='main-outlet'><h1>Limits</h1>{LEAD}</div></noscript></body></html>")
    for page in (streamed, discourse):
        assert extract_plain_text(page, main_content=True) == ""
        assert LEAD_TEXT in extract_text(page)
    assert "Let $x$ be real." in extract_text(streamed)
