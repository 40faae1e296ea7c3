"""Rebuild TeX from KaTeX's HTML output when the page dropped KaTeX's MathML (``output: 'html'``).

KaTeX lays a formula out as nested spans: ``mfrac``/``msupsub``/``sqrt``/``op-limits``/``accent`` hold a
``vlist`` whose rows are positioned by ``top:-Nem`` (the most raised row is the numerator or the
superscript); arrays are columns of such rows; ``\\left…\\right`` is an ``minner`` between sized
delimiters; negations overlay a slash on the relation they negate; stretchy accents, arrows and tall
delimiters are SVG, recognized by KaTeX's own path geometry. Reading all that recovers the formula's
structure, not only its characters: ``\\neq`` rather than ``=``, ``\\overline{AB}`` rather than ``AB``, a
matrix row by row. Spacing that KaTeX adds between atoms is dropped; explicit spaces (``\\quad``,
``\\,`` between two ordinary atoms) are kept. Class names of KaTeX ≥ 0.17 (``katex-base``,
``katex-root``…) and of earlier versions (``base``, ``root``…) are read alike.
"""

from __future__ import annotations

import re

from megamath.web.math.dom import child_nodes, element_children, matching
from megamath.web.math.mathml import tag_command
from megamath.web.math.symbols import FUNCTIONS, SYMBOLS

_SKIP = frozenset({"strut", "pstrut", "vlist-s", "frac-line", "nulldelimiter", "mathml", "hide-tail", "fix",
                   "svg-align-hidden", "arraycolsep", "vertical-separator", "mspace-allowbreak"})
_ATOMS = ("mord", "mbin", "mrel", "mopen", "mclose", "mpunct", "minner", "mop")
_SPACED_ATOMS = frozenset({"mbin", "mrel", "mop", "mpunct", "minner"})  # KaTeX puts its own spaces around these
_FONT_COMMANDS = {"mathbf": "\\mathbf", "mathbb": "\\mathbb", "mathcal": "\\mathcal", "mathfrak": "\\mathfrak",
                  "mathsf": "\\mathsf", "mathtt": "\\mathtt", "mathit": "\\mathit", "mathscr": "\\mathscr",
                  "boldsymbol": "\\boldsymbol", "mathboldsf": "\\mathbf", "mathitsf": "\\mathsf"}
_TEXT_STYLES = {"textbf": "\\textbf", "textit": "\\textit", "texttt": "\\texttt", "textsf": "\\textsf",
                "textrm": "\\textrm"}
_ACCENT_CHARS = {"^": "\\hat", "ˆ": "\\hat", "~": "\\tilde", "˜": "\\tilde", "ˉ": "\\bar", "¯": "\\bar",
                 "˙": "\\dot", "¨": "\\ddot", "ˊ": "\\acute", "´": "\\acute", "ˋ": "\\grave", "`": "\\grave",
                 "ˇ": "\\check", "˘": "\\breve", "˚": "\\mathring", "⃗": "\\vec"}
# KaTeX's SVG geometry (the start of each path's ``d``) → what it draws
_PATHS = (("M377 20c0-5.333", "\\vec"), ("M529 0h5l519", "\\widehat"), ("M1181 0h2l1171", "\\widehat"),
          ("M1181,220h2l1171", "\\widecheck"), ("M200 55.538", "\\widetilde"), ("M344 55.266", "\\widetilde"),
          ("M786 58C457", "\\widetilde"), ("M786 58c", "\\widetilde"), ("M399738 392l", "\\Overrightarrow"),
          ("M40 281 V428", "\\overlinesegment"), ("M400000 80 H435", "\\overgroup"), ("M0 80h399565", "\\overgroup"),
          ("M400000 262 H435", "\\undergroup"), ("M0 262h399565", "\\undergroup"),
          ("M6 548l-6-6", "\\overbrace"), ("M0 6l6-6h17", "\\underbrace"),
          ("M0 241v40h399891", "right-arrow"), ("M400000 241H110", "left-arrow"),
          ("M145 15 v585", "|"), ("M863,9c0,-2", "("), ("M76,0c-16.7", ")"), ("M403 1759 V84", "["),
          ("M347 1759 V0", "]"))
_DELIMITER_PIECES = {"⎛": "(", "⎜": "(", "⎝": "(", "⎞": ")", "⎟": ")", "⎠": ")", "⎡": "[", "⎢": "[", "⎣": "[",
                     "⎤": "]", "⎥": "]", "⎦": "]", "⎧": "\\{", "⎨": "\\{", "⎩": "\\{", "⎪": "\\{", "⎫": "\\}",
                     "⎬": "\\}", "⎭": "\\}", "∣": "|", "|": "|", "∥": "\\|", "‖": "\\|", "⟨": "\\langle",
                     "⟩": "\\rangle", "⌊": "\\lfloor", "⌋": "\\rfloor", "⌈": "\\lceil", "⌉": "\\rceil",
                     "{": "\\{", "}": "\\}", "(": "(", ")": ")", "[": "[", "]": "]", "/": "/", "\\": "\\backslash",
                     "↑": "\\uparrow", "↓": "\\downarrow"}
_MATRICES = {("(", ")"): "pmatrix", ("[", "]"): "bmatrix", ("\\{", "\\}"): "Bmatrix", ("|", "|"): "vmatrix",
             ("\\|", "\\|"): "Vmatrix"}
_BIG = {"size1": "\\big", "size2": "\\Big", "size3": "\\bigg", "size4": "\\Bigg"}
_NEGATIONS = {"=": "\\neq", "\\in": "\\notin", "\\le": "\\nleq", "\\ge": "\\ngeq", "<": "\\nless", ">": "\\ngtr",
              "\\equiv": "\\not\\equiv", "\\sim": "\\nsim", "\\mid": "\\nmid", "\\subseteq": "\\nsubseteq",
              "\\supseteq": "\\nsupseteq", "\\parallel": "\\nparallel", "\\cong": "\\ncong"}
_TOP = re.compile(r"top:\s*(-?[\d.]+)em")
_MARGIN = re.compile(r"margin-right:\s*(-?[\d.]+)em")
_TEXT_ESCAPES = {"\\": "\\textbackslash{}", "{": "\\{", "}": "\\}", "$": "\\$", "%": "\\%", "&": "\\&", "#": "\\#",
                 "_": "\\_", "^": "\\^{}", "~": "\\~{}"}
_NOT = "\\not"  # what a negation overlay renders to; joined with the relation it strikes
_COMMAND_END = re.compile(r"\\[A-Za-z]+$")
_COMMAND_SPACE_END = re.compile(r"\\[A-Za-z]+ $")


def rebuild_katex_html(katex_html_node, display: bool = False) -> str | None:
    """TeX (approximate where KaTeX's layout loses information) of a ``.katex-html`` element; None
    when nothing could be read, or the spans nest deeper than Python's recursion limit."""
    try:
        tex = " ".join(_Reader(display).children(katex_html_node).split())
    except RecursionError:
        return None
    return tex or None


def _classes(node) -> list[str]:
    return [c[6:] if c.startswith("katex-") else c for c in (node.class_name or "").split()]


def _atom(node) -> str | None:
    if node is None or node.type != 1:
        return None
    return next((c for c in _classes(node) if c in _ATOMS), None)


def _vlist_rows(owner) -> list[tuple[float, object]]:
    """(top offset, row) of the positioned rows of ``owner``'s own vlist, highest first."""
    table = next((c for c in element_children(owner) if "vlist-t" in _classes(c)), None)
    if table is None:
        return []
    first = next((c for c in element_children(table) if "vlist-r" in _classes(c)), None)
    vlist = next((c for c in element_children(first) if "vlist" in _classes(c)), None) if first is not None else None
    rows = []
    for child in element_children(vlist) if vlist is not None else []:
        match = _TOP.search(child.getattr("style") or "")
        if match:
            rows.append((float(match.group(1)), child))
    rows.sort(key=lambda item: item[0])
    return rows


def _has_subscript_only(owner) -> bool:
    """A one-row ``msupsub`` whose vlist has a depth part (``vlist-t2``) is a subscript."""
    table = next((c for c in element_children(owner) if "vlist-t" in _classes(c)), None)
    return table is not None and "vlist-t2" in _classes(table)


def _drawn(node) -> str | None:
    """What an SVG inside ``node`` draws, from KaTeX's path geometry (or its lines: cancel strokes)."""
    svg = node if node.tag == "svg" else node.query_selector("svg")
    if svg is None:
        return None
    lines = [(line.getattr("y1"), line.getattr("y2")) for line in matching(svg, "line")]
    if lines:
        up, down = ("100%", "0") in lines, ("0", "100%") in lines
        return "\\xcancel" if up and down else "\\cancel" if up else "\\bcancel" if down else None
    path = svg.query_selector("path")
    data = " ".join((path.getattr("d") or "").split()) if path is not None else ""
    drawn = next((meaning for prefix, meaning in _PATHS if data.startswith(prefix)), None)
    if drawn == "|" and int(float(((svg.getattr("viewBox") or "0 0 333").split() + ["333"])[2])) > 400:
        return "\\|"
    if drawn in ("right-arrow", "left-arrow") and (len(matching(svg, "path")) > 1 or len(matching(node, "svg")) > 1):
        return "leftright-arrow"  # one path for each head, in one drawing or (KaTeX's halfarrows) in two
    return drawn


def _escape_text(text: str) -> str:
    return re.sub(r"[\\{}$%&#_^~]", lambda m: _TEXT_ESCAPES[m.group(0)], text.replace("\xa0", " "))


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if not part:
            continue
        if out and part[0].isalpha() and _COMMAND_END.search(out):
            out += " "
        elif part[0] in "_^" and _COMMAND_SPACE_END.search(out):
            out = out[:-1]  # "\\int " + "_{0}": the space only ended the command name
        out += part
    return out


class _Reader:
    def __init__(self, display: bool):
        self.display = display

    # -- sequences ------------------------------------------------------------------------------
    def children(self, node) -> str:
        return self.sequence(list(self._flattened(node)))

    def _flattened(self, node):
        """Children, with KaTeX's line-breaking ``base`` spans and plain wrappers opened up, so that
        constructs spanning them (``\\not\\subset``, ``\\pmod``) read as one row."""
        for child in child_nodes(node):
            if child.type == 1 and "base" in _classes(child):
                yield from self._flattened(child)
            else:
                yield child

    def sequence(self, nodes: list) -> str:
        parts: list[str] = []
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if node.type == 1:
                classes = _classes(node)
                if "mspace" in classes:
                    space = self._space(nodes, i)
                    if space:
                        parts.append(space)
                    i += 1
                    continue
                end = self._pmod_end(nodes, i)
                if end is not None:
                    while parts and parts[-1] in ("\\enspace", "\\quad", "\\ ", "\\;"):
                        parts.pop()  # the space \pmod puts before itself
                    parts.append(f"\\pmod{{{self.sequence(self._pmod_argument(nodes[i:end]))}}}")
                    i = end
                    continue
                if ("mopen" in classes and i + 2 < len(nodes) and "mfrac" in _classes_or_none(nodes[i + 1])
                        and "mclose" in _classes_or_none(nodes[i + 2]) and self._is_binomial(nodes[i + 1])):
                    numerator, denominator = self._fraction_parts(nodes[i + 1])
                    command = "\\dbinom" if self._text_style_fraction(nodes[i + 1]) is False else "\\binom"
                    parts.append(f"{command}{{{numerator}}}{{{denominator}}}")
                    i += 3
                    continue
            tex = self.render(node)
            if not tex:
                i += 1
                continue
            if tex == _NOT and parts and "llap" in _descendant_classes(node):
                parts[-1] = _negated(parts[-1])  # a slash drawn over the relation before it: ∈ + / → \notin
            elif parts and parts[-1] == _NOT:
                parts[-1] = _negated(tex)
            else:
                parts.append(tex)
            i += 1
        return _join(parts)

    def _space(self, nodes: list, i: int) -> str:
        """An explicit space (``\\quad``, ``\\,`` between two ordinary atoms) as TeX; the spaces KaTeX
        puts around operators, relations and punctuation as nothing."""
        match = _MARGIN.search(nodes[i].getattr("style") or "")
        width = float(match.group(1)) if match else 0.0
        if width >= 1.9:
            return "\\qquad"
        if width >= 0.9:
            return "\\quad"
        if width < -0.05:
            return "\\!"
        neighbours = [_atom(_neighbour(nodes, i, -1)), _atom(_neighbour(nodes, i, 1))]
        if width < 0.05 or any(atom in _SPACED_ATOMS for atom in neighbours) or None in neighbours:
            return ""
        return "\\enspace" if width >= 0.45 else "\\ " if width >= 0.3 else "\\;" if width >= 0.25 else \
            "\\:" if width >= 0.2 else "\\,"

    def _pmod_end(self, nodes: list, i: int) -> int | None:
        """``( mod [space] ARG )`` starting at ``nodes[i]``: the index after it, or None."""
        if "mopen" not in _classes(nodes[i]) or nodes[i].text.strip() != "(":
            return None
        following = [n for n in nodes[i + 1:i + 3] if n.type == 1]
        if not following or following[0].text.strip() != "mod":
            return None
        depth = 0
        for k in range(i, len(nodes)):
            node = nodes[k]
            if node.type != 1:
                continue
            if "mopen" in _classes(node):
                depth += 1
            elif "mclose" in _classes(node):
                depth -= 1
                if depth == 0:
                    return k + 1
        return None

    @staticmethod
    def _pmod_argument(span: list) -> list:
        elements = [n for n in span[1:-1] if n.type == 1]
        argument = elements[1:]  # after "mod"
        while argument and "mspace" in _classes(argument[0]):
            argument = argument[1:]
        return argument

    # -- one node --------------------------------------------------------------------------------
    def render(self, node) -> str:
        if node.type == 3:
            return self._chars(node.text, _atom(node.parent))
        if node.type != 1:
            return ""
        if node.tag in ("svg", "path", "line"):
            return ""
        classes = _classes(node)
        if any(c in _SKIP for c in classes):
            return ""
        if "tag" in classes:
            return tag_command(self.children(node))
        if "rlap" in classes or "llap" in classes:
            return _NOT if ("\ue020" in node.text or node.text.strip() == "/") else self.children(node)
        if "text" in classes:
            return self._text(node)
        for font, command in _FONT_COMMANDS.items():
            if font in classes:
                inner = self.children(node)
                return f"{command}{{{inner}}}" if inner.strip() else ""
        if "mathrm" in classes:
            inner = self.children(node)
            return inner if len(inner) <= 1 or inner.startswith("\\") else f"\\mathrm{{{inner}}}"
        if "mop" in classes:
            return self._operator(node, classes)
        if "mfrac" in classes:
            return self._fraction(node)
        if "msupsub" in classes:
            return self._scripts(node)
        if "sqrt" in classes:
            return self._sqrt(node)
        if "accent" in classes or "accentunder" in classes:
            return self._accent(node)
        if "overline" in classes or "underline" in classes:
            line = "overline" if "overline" in classes else "underline"
            rows = [row for _, row in _vlist_rows(node) if not _row_is(row, f"{line}-line")]
            return f"\\{line}{{{self.children(rows[0]) if rows else ''}}}"
        if "mover" in classes or "munder" in classes:
            return self._over_under(node, "mover" in classes)
        if "mtable" in classes:
            return self._table(node, None)
        if "minner" in classes:
            return self._inner(node)
        if "delimsizing" in classes:
            return self._delimiter(node)
        if "mbin" in classes and node.text.strip() == "mod":
            return "\\bmod"
        rows = _vlist_rows(node) if any("vlist-t" in _classes(c) for c in element_children(node)) else []
        if rows:
            return self._decorated(rows)
        return self.children(node)

    def _chars(self, text: str, atom: str | None) -> str:
        out = []
        for char in text:
            if "\ue000" <= char <= "\uf8ff" or char == "\u200b":
                continue  # KaTeX's private glyphs and zero-width struts carry no text
            if char in ("∣", "|", "∥", "‖"):
                double = char in ("∥", "‖")
                out.append({"mrel": "\\parallel " if double else "\\mid ", "mopen": "\\lVert " if double else "\\lvert ",
                            "mclose": "\\rVert " if double else "\\rvert "}.get(atom, "\\|" if double else "|"))
                continue
            mapped = SYMBOLS.get(char, char)
            out.append(mapped + (" " if mapped.startswith("\\") and mapped[-1].isalpha() else ""))
        return "".join(out)

    def _text(self, node) -> str:
        """``\\text{…}`` (and ``\\textbf{…}``…) from KaTeX's text spans, spaces and escapes kept."""
        styles = [style for child in element_children(node) for style in _classes(child) if style in _TEXT_STYLES]
        raw = _escape_text(node.text)
        if styles and len(set(styles)) == 1 and len(element_children(node)) == len(styles):
            return f"{_TEXT_STYLES[styles[0]]}{{{raw}}}"
        if not raw.strip():
            return ""
        return f"\\text{{{raw}}}"

    def _operator(self, node, classes: list[str]) -> str:
        if "op-limits" in classes:
            return self._limits(node)
        word = node.text.strip()
        if word in FUNCTIONS:
            return f"\\{word} "
        if len(word) > 1 and word.isalpha():
            return f"\\operatorname{{{word}}}"
        return self.children(node)

    def _limits(self, node) -> str:
        rows = _vlist_rows(node)
        if len(rows) < 2:
            return self.children(node)
        base_index = min(range(len(rows)), key=lambda k: abs(rows[k][0] + 3))  # the base sits at top ≈ -3
        base = self.children(rows[base_index][1])
        above = [self.children(row) for _, row in rows[:base_index]]
        below = [self.children(row) for _, row in rows[base_index + 1:]]
        is_operator = base.strip().startswith(tuple(f"\\{f}" for f in FUNCTIONS)) or base.strip() in (
            "\\sum", "\\prod", "\\int", "\\bigcup", "\\bigcap", "\\coprod", "\\bigoplus", "\\bigotimes", "\\oint")
        if not is_operator:  # \overset, \underset, \stackrel: a relation or ordinary with a label
            out = base.strip()
            for label in below:
                out = f"\\underset{{{label}}}{{{out}}}"
            for label in above:
                out = f"\\overset{{{label}}}{{{out}}}"
            return out
        return base.strip() + "".join(f"_{{{b}}}" for b in below) + "".join(f"^{{{a}}}" for a in above)

    def _fraction_parts(self, node) -> tuple[str, str]:
        rows = [row for _, row in _vlist_rows(node) if not _row_is(row, "frac-line")]
        if len(rows) < 2:
            return self.children(node), ""
        return self.children(rows[0]), self.children(rows[-1])

    @staticmethod
    def _is_binomial(node) -> bool:
        return not any(_row_is(row, "frac-line") for _, row in _vlist_rows(node))

    def _text_style_fraction(self, node) -> bool | None:
        """Whether a fraction is in text style (smaller numerator: ``mtight`` rows), in display
        style (normal size), or unknown."""
        rows = [row for _, row in _vlist_rows(node) if not _row_is(row, "frac-line")]
        if not rows:
            return None
        return any("mtight" in _classes(child) or "sizing" in _classes(child) for child in element_children(rows[0]))

    def _fraction(self, node) -> str:
        numerator, denominator = self._fraction_parts(node)
        if self._is_binomial(node):
            return f"\\genfrac{{}}{{}}{{0pt}}{{}}{{{numerator}}}{{{denominator}}}"
        text_style = self._text_style_fraction(node)
        command = "\\frac"
        if text_style is False and not self.display:
            command = "\\dfrac"
        elif text_style is True and self.display and not _nested_in_script(node):
            command = "\\tfrac"
        return f"{command}{{{numerator}}}{{{denominator}}}"

    def _scripts(self, node) -> str:
        rows = _vlist_rows(node)
        if len(rows) >= 2:
            sup, sub = self.children(rows[0][1]), self.children(rows[-1][1])
        elif rows:
            script = self.children(rows[0][1])
            sup, sub = (None, script) if _has_subscript_only(node) else (script, None)
        else:
            return ""
        out = f"_{{{sub}}}" if sub is not None else ""
        if sup is not None:
            primes = sup.strip()
            out += primes if primes and set(primes) == {"'"} else f"^{{{sup}}}"
        return out

    def _sqrt(self, node) -> str:
        root = next((c for c in element_children(node) if "root" in _classes(c)), None)
        body_table = [c for c in element_children(node) if "vlist-t" in _classes(c)]
        body = ""
        if body_table:
            owner = body_table[0].parent
            rows = [row for _, row in _vlist_rows(owner) if row.query_selector("svg") is None
                    or "svg-align" in _classes(row)]
            content = [row for row in rows if not any("hide-tail" in _classes(c) for c in element_children(row))]
            body = self.children(content[0]) if content else ""
        index = ""
        if root is not None:
            index = self.children(root).strip()
            index = "{" + index + "}" if "[" in index or "]" in index else index
            index = f"[{index}]" if index else ""
        return f"\\sqrt{index}{{{body}}}"

    def _accent(self, node) -> str:
        rows = _vlist_rows(node)
        base_rows = [row for _, row in rows if not any("accent-body" in _classes(c) for c in element_children(row))
                     and row.query_selector("svg") is None]
        base = self.children(base_rows[-1]) if base_rows else ""
        body = next((c for _, row in rows for c in element_children(row) if "accent-body" in _classes(c)), None)
        if body is not None:
            mark = body.text.strip()
            command = _ACCENT_CHARS.get(mark) or _drawn(body) or "\\hat"
            return f"{command}{{{base}}}"
        drawn = next((_drawn(row) for _, row in rows if row.query_selector("svg") is not None), None)
        under = bool(rows) and rows[-1][1].query_selector("svg") is not None and len(rows) > 1 and \
            rows[-1][0] > rows[0][0] and base_rows and base_rows[0] is rows[0][1]
        command = "\\utilde" if under and drawn == "\\widetilde" else _arrow(drawn, under) or drawn
        return f"{command}{{{base}}}" if drawn else base

    def _over_under(self, node, over: bool) -> str:
        rows = _vlist_rows(node)
        nested = next((child for _, row in rows for child in element_children(row)
                       if "mover" in _classes(child) or "munder" in _classes(child)), None)
        if nested is not None:  # a brace with its label: the label's row is the other one
            label = next((row for _, row in rows if nested not in element_children(row)), None)
            script = f"{'^' if over else '_'}{{{self.children(label)}}}" if label is not None else ""
            return self.render(nested) + script
        drawn = next((_drawn(row) for _, row in rows if row.query_selector("svg") is not None), None)
        content = [row for _, row in rows if row.query_selector("svg") is None]
        if drawn in ("\\overbrace", "\\underbrace", "\\overgroup", "\\undergroup", "\\utilde") or drawn in (
                "right-arrow", "left-arrow", "leftright-arrow"):
            command = _arrow(drawn, not over) if "arrow" in drawn else drawn
            return f"{command}{{{self.children(content[0]) if content else ''}}}"
        if len(content) >= 2:  # an outer mover/munder: a braced base and its label
            base_row, label_row = (content[-1], content[0]) if over else (content[0], content[-1])
            return f"{self.children(base_row)}{'^' if over else '_'}{{{self.children(label_row)}}}"
        return self.children(content[0]) if content else ""

    def _decorated(self, rows: list) -> str:
        """A stack of rows with no class of its own: ``\\boxed``, ``\\cancel`` and their like."""
        boxed = next((c for _, row in rows for c in element_children(row) if "boxpad" in _classes(c)), None)
        if boxed is not None:
            return f"\\boxed{{{self.children(boxed)}}}"
        drawn = next((_drawn(row) for _, row in rows if row.query_selector("svg") is not None), None)
        content = [row for _, row in rows if row.query_selector("svg") is None
                   and not any("fbox" in _classes(c) for c in element_children(row))]
        inner = "".join(self.children(row) for row in content)
        if drawn in ("\\cancel", "\\bcancel", "\\xcancel"):
            return f"{drawn}{{{inner}}}"
        if drawn in ("|", "\\|", "(", ")", "[", "]"):
            return drawn
        return inner

    # -- delimiters and arrays --------------------------------------------------------------------
    def _delimiter_char(self, node) -> str:
        drawn = _drawn(node) if node.query_selector("svg") is not None else None
        if drawn in _DELIMITER_PIECES.values() or drawn in ("|", "\\|"):
            return drawn
        for char in node.text:
            if char in _DELIMITER_PIECES:
                return _DELIMITER_PIECES[char]
        return drawn or "."

    def _delimiter(self, node) -> str:
        """A sized delimiter outside ``\\left…\\right``: ``\\bigl(``, ``\\Big|``."""
        char = self._delimiter_char(node)
        size = next((_BIG[c] for c in _classes(node) if c in _BIG), "\\big")
        side = {"mopen": "l", "mclose": "r"}.get(_atom(node.parent) or "", "")
        return f"{size}{side}{char}" if char != "." else ""

    def _inner(self, node) -> str:
        kids = element_children(node)
        if len(kids) < 2 or "mopen" not in _classes(kids[0]) or "mclose" not in _classes(kids[-1]):
            return self.children(node)
        left, right = self._delimiter_char(kids[0]), self._delimiter_char(kids[-1])
        middle = kids[1:-1]
        tables = [t for k in middle for t in ([k] if "mtable" in _classes(k) else
                                             [c for c in element_children(k) if "mtable" in _classes(c)])]
        if len(middle) == 1 and len(tables) == 1:
            if (left, right) in _MATRICES:
                return self._table(tables[0], _MATRICES[(left, right)])
            if left == "\\{" and right == ".":
                return self._table(tables[0], "cases")
        return _join([f"\\left{left}", self.sequence(middle), f"\\right{right}"])

    def _table(self, node, environment: str | None) -> str:
        columns = [c for c in element_children(node) if any(k.startswith("col-align-") for k in _classes(c))]
        if not columns:
            return self.children(node)
        cells: dict[float, list[str]] = {}
        for index, column in enumerate(columns):
            for top, row in _vlist_rows(column):
                key = round(top, 2)
                cells.setdefault(key, [""] * len(columns))[index] = self.children(row).strip()
        rows = [cells[key] for key in sorted(cells)]
        if environment is None:
            aligns = [next(k for k in _classes(c) if k.startswith("col-align-"))[-1] for c in columns]
            alternating = len(aligns) >= 2 and all(a == ("r" if i % 2 == 0 else "l") for i, a in enumerate(aligns))
            environment = "aligned" if alternating else "matrix"
        body = " \\\\ ".join(" & ".join(row) for row in rows)
        return f"\\begin{{{environment}}}{body}\\end{{{environment}}}"


def _classes_or_none(node) -> list[str]:
    return _classes(node) if node is not None and node.type == 1 else []


def _neighbour(nodes: list, i: int, step: int):
    j = i + step
    while 0 <= j < len(nodes):
        node = nodes[j]
        if node.type == 1 and "mspace" not in _classes(node):
            return node
        j += step
    return None


def _row_is(row, name: str) -> bool:
    return any(name in _classes(child) for child in element_children(row))


def _descendant_classes(node) -> set[str]:
    return {c for element in [node, *matching(node, "span")] for c in _classes(element)}


def _nested_in_script(node) -> bool:
    parent = node.parent
    while parent is not None and parent.type == 1:
        if "msupsub" in _classes(parent) or "mfrac" in _classes(parent):
            return True
        parent = parent.parent
    return False


def _negated(tex: str) -> str:
    core = tex.strip()
    return _NEGATIONS.get(core, f"\\not{core}" if core.startswith("\\") else f"\\not {core}")


def _arrow(drawn: str | None, under: bool) -> str | None:
    if drawn is None or "arrow" not in drawn:
        return drawn
    direction = {"right-arrow": "right", "left-arrow": "left", "leftright-arrow": "leftright"}[drawn]
    return f"\\{'under' if under else 'over'}{direction}arrow"
