"""Rebuild TeX from KaTeX's HTML output when the page dropped KaTeX's MathML (``output: 'html'``).

KaTeX lays a formula out as nested spans: ``mfrac``/``msupsub``/``sqrt``/``op-limits`` hold a
``vlist`` whose rows are positioned by ``top:-Nem``; the most raised row is the numerator or
superscript. Reading those offsets recovers fractions, scripts, roots and limits; everything else is
read in order. Spacing, struts and rules carry no content and are skipped.
"""

from __future__ import annotations

import re

from megamath.web.math.dom import child_nodes
from megamath.web.math.symbols import FUNCTIONS, SYMBOLS

_SKIP = frozenset({"katex-strut", "strut", "pstrut", "mspace", "vlist-s", "frac-line", "nulldelimiter",
                   "katex-mathml", "hide-tail", "svg-align-hidden"})
_STYLE_COMMANDS = (("text", "\\text"), ("mathbf", "\\mathbf"), ("mathbb", "\\mathbb"), ("mathcal", "\\mathcal"),
                   ("mathrm", "\\mathrm"), ("boxpad", "\\boxed"))
_TOP = re.compile(r"top:\s*(-?[\d.]+)em")
_SYMBOL_PATTERN = re.compile("|".join(map(re.escape, SYMBOLS)))


def _text(value: str) -> str:
    """Rendered characters back to TeX; a space after each command keeps it apart from what follows."""
    return _SYMBOL_PATTERN.sub(lambda m: SYMBOLS[m.group(0)] + (" " if SYMBOLS[m.group(0)].startswith("\\") else ""),
                               value)


def _rows(vlist_owner) -> list[tuple[float, object]]:
    """(top offset, row) for the positioned rows of ``vlist_owner``'s own vlist (not a root index's)."""
    table = next((c for c in child_nodes(vlist_owner) if c.type == 1 and "vlist-t" in (c.class_name or "")), None)
    vlist = table.query_selector(".vlist") if table is not None else None
    rows = []
    if vlist is None:
        return rows
    for child in child_nodes(vlist):
        style = child.getattr("style") if child.type == 1 else None
        match = _TOP.search(style or "")
        if match:
            rows.append((float(match.group(1)), child))
    return rows


def _render(node) -> str:
    if node.type == 3:  # text
        return _text(node.text)
    if node.type != 1:
        return ""
    classes = set((node.class_name or "").split())
    if classes & _SKIP or node.tag in ("svg", "path"):
        return ""
    if "mop" in classes and node.text.strip() in FUNCTIONS:
        return f"\\{node.text.strip()} "
    for style, command in _STYLE_COMMANDS:
        if style in classes:
            inner = _render_children(node)
            return f"{command}{{{inner}}}" if inner.strip() else ""
    if "mfrac" in classes:
        rows = [(top, row) for top, row in _rows(node) if row.query_selector(".frac-line") is None]
        if len(rows) >= 2:
            rows.sort(key=lambda item: item[0])
            return f"\\frac{{{_render_children(rows[0][1])}}}{{{_render_children(rows[-1][1])}}}"
    if "msupsub" in classes:
        out = ""
        for top, row in sorted(_rows(node), key=lambda item: -item[0]):
            out += f"{'^' if top < -2.8 else '_'}{{{_render_children(row)}}}"
        return out
    if "sqrt" in classes:
        rows = _rows(node)
        body = next((row for _, row in rows if row.query_selector(".svg-align, .hide-tail") is None
                     or "svg-align" in (row.class_name or "")), None)
        content = [r for _, r in rows if r.query_selector(".hide-tail") is None]
        index = node.query_selector(".root")
        index_tex = f"[{_render_children(index)}]" if index is not None else ""
        target = content[0] if content else body
        return f"\\sqrt{index_tex}{{{_render_children(target) if target is not None else ''}}}"
    if "op-limits" in classes:
        rows = sorted(_rows(node), key=lambda item: item[0])
        if len(rows) >= 2:
            parts = [_render_children(row) for _, row in rows]
            middle = len(rows) // 2
            base, above, below = parts[middle], parts[:middle], parts[middle + 1:]
            return base + "".join(f"_{{{b}}}" for b in below) + "".join(f"^{{{a}}}" for a in above)
    return _render_children(node)


def _render_children(node) -> str:
    return "".join(_render(child) for child in child_nodes(node))


def rebuild_katex_html(katex_html_node) -> str:
    """TeX (approximate where KaTeX's layout loses information) of a ``.katex-html`` element; None
    when the spans nest deeper than Python's recursion limit."""
    try:
        return " ".join(_render(katex_html_node).split())
    except RecursionError:
        return None
