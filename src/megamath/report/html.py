"""The run report as one self-contained HTML file: inline SVG charts and CSS, no script, no network.

Sections, in the order a data engineer reads them: the run (version, phases and their configuration
fingerprints, inputs, seeds, time and core-hours); the funnel across every phase (documents, tokens,
characters, drop reasons, three example records per reason); tokens and documents per crawl year and per
code language; the distributions (language score, math score, educational score, the code math ×
education grid); formulas per markup family; duplicate cluster sizes; decontamination matches per
benchmark with the n-gram that matched; synthesis outcomes; LLM use; sample records per score bucket.
"""

from __future__ import annotations

import html
from collections import Counter

from megamath.profile.stage import Profile
from megamath.report.collect import PhaseReport, RunReport, config_items, settings_used
from megamath.report.synth import SYNTH_STAGES, block_outcomes, record_outcomes

BAR_COLOR = "#3b6fd4"
_CSS = f"""
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #1d2330; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; border-bottom: 1px solid #d8dde8; padding-bottom: 4px; margin-top: 32px; }}
h3 {{ font-size: 15px; margin-bottom: 4px; }}
table {{ border-collapse: collapse; margin: 8px 0 16px; }}
td, th {{ border: 1px solid #d8dde8; padding: 3px 8px; text-align: right; vertical-align: top; }}
td:first-child, th:first-child {{ text-align: left; }}
th {{ background: #f1f4f9; }}
.running {{ background: #fff4d6; border: 1px solid #e6c35c; padding: 8px 12px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
.distribution {{ display: flex; gap: 12px; align-items: flex-start; }}
table.beside {{ font-size: 12px; }}
.chart text {{ font: 11px system-ui, sans-serif; fill: #1d2330; }}
pre {{ white-space: pre-wrap; background: #f7f8fb; border: 1px solid #e1e5ee; padding: 8px; max-height: 240px;
       overflow: auto; font: 12.5px/1.4 ui-monospace, monospace; }}
.math {{ color: #7a2e8e; }}
details {{ margin: 2px 0; text-align: left; }} summary {{ cursor: pointer; }}
.muted {{ color: #6b7385; }}
.bar {{ fill: {BAR_COLOR}; }}
"""


def _e(value) -> str:
    return html.escape(str(value))


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def bar_chart(title: str, items: list[tuple[str, float]], unit: str = "") -> str:
    """A horizontal bar chart as inline SVG ('' when there is nothing to draw)."""
    items = [(label, value) for label, value in items if value]
    if not items:
        return ""
    top = max(value for _, value in items)
    row, label_w, bar_w = 20, 150, 260
    height = row * len(items) + 28
    parts = [f'<svg class="chart" role="img" width="{label_w + bar_w + 90}" height="{height}">',
             f'<title>{_e(title)}</title><text x="0" y="14" font-weight="bold">{_e(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = 24 + i * row
        width = max(1.0, bar_w * value / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(str(label)[:24])}</text>'
                     f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{width:.1f}" height="{row - 6}"/>'
                     f'<text x="{label_w + width + 4:.1f}" y="{y + 13}">{_n(value)}{_e(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def grid_chart(title: str, cells: dict[tuple[int, int], int], size: int = 6) -> str:
    """The code math × education grid as an SVG heat map (rows: math score, columns: education)."""
    if not cells:
        return ""
    top = max(cells.values())
    cell, left, head = 34, 60, 40
    parts = [f'<svg class="chart" role="img" width="{left + cell * size + 10}" height="{head + cell * size + 24}">',
             f'<title>{_e(title)}</title><text x="0" y="14" font-weight="bold">{_e(title)}</text>',
             f'<text x="{left}" y="32">education 0–{size - 1} →</text>']
    for math in range(size):
        parts.append(f'<text x="{left - 8}" y="{head + math * cell + 21}" text-anchor="end">math {math}</text>')
        for edu in range(size):
            n = cells.get((math, edu), 0)
            shade = 0.08 + 0.92 * n / top if n else 0.0
            parts.append(f'<rect x="{left + edu * cell}" y="{head + math * cell}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{BAR_COLOR}" fill-opacity="{shade:.2f}" stroke="#d8dde8"/>')
            if n:
                parts.append(f'<text x="{left + edu * cell + 4}" y="{head + math * cell + 20}">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(charts: list[str], empty: str) -> str:
    drawn = "".join(charts)
    return f"<div class='charts'>{drawn}</div>" if drawn else f"<p class='muted'>{_e(empty)}</p>"


def _ordered(counts: dict[str, int]) -> list[tuple[str, int]]:
    def key(item):
        label = item[0]
        first = label.split("-")[0]
        try:
            return (0, float(first), label)
        except ValueError:
            return (1, 0.0, label)
    return sorted(counts.items(), key=key)


def _by_name(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items())


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _top_domains(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (kv[0] == "(other)", -kv[1]))[:21]


def _with_formulas(text: str) -> str:
    """Escaped text with ``$…$`` and ``$$…$$`` spans marked, so formulas stand out as LaTeX."""
    out, rest = [], text
    while "$" in rest:
        start = rest.index("$")
        double = rest.startswith("$$", start)
        end = rest.find("$$" if double else "$", start + (2 if double else 1))
        if end < 0:
            break
        end += 2 if double else 1
        out += [_e(rest[:start]), f'<span class="math">{_e(rest[start:end])}</span>']
        rest = rest[end:]
    return "".join(out) + _e(rest)


def _funnel(phase: PhaseReport) -> str:
    rows = ["<table><tr><th>stage</th><th>in</th><th>out</th><th>kept</th><th>characters out</th>"
            "<th>dropped, by reason (click for examples)</th></tr>"]
    for stage in phase.funnel:
        if stage.name == Profile.name:  # drops nothing: its tokens head the phase's table
            continue
        kept = f"{100 * stage.docs_out / stage.docs_in:.1f}%" if stage.docs_in else "–"
        reasons = []
        for reason, n in stage.dropped.most_common():
            examples = "".join(f"<pre>{_e(x.get('id'))} {_e(x.get('url') or x.get('source') or '')}\n"
                               f"{_with_formulas(x.get('text') or '')}</pre>" for x in stage.examples.get(reason, []))
            reasons.append(f"<details><summary>{_e(reason)} {_n(n)}</summary>{examples}</details>")
        rows.append(f"<tr><td>{_e(stage.name)}</td><td>{_n(stage.docs_in)}</td><td>{_n(stage.docs_out)}</td>"
                    f"<td>{kept}</td><td>{_n(stage.chars_out)}</td><td>{''.join(reasons) or '–'}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _whole_funnel(report: RunReport) -> str:
    """One table from the raw records to the last phase's output: every phase's stages in order, less the
    shard readers of the phases after the first (they only read the previous phase's output again), and
    the skipped phases."""
    rows = ["<table><tr><th>phase / stage</th><th>in</th><th>out</th><th>kept</th><th>dropped (top reasons)</th></tr>"]
    for number, phase in enumerate(report.phases):
        for stage in phase.funnel:
            if stage.name == Profile.name or (number and stage.name == "read" and not stage.dropped):
                continue
            kept = f"{100 * stage.docs_out / stage.docs_in:.1f}%" if stage.docs_in else "–"
            top = ", ".join(f"{_e(r)} {_n(n)}" for r, n in stage.dropped.most_common(3)) or "–"
            rows.append(f"<tr><td>{_e(phase.name)} / {_e(stage.name)}</td><td>{_n(stage.docs_in)}</td>"
                        f"<td>{_n(stage.docs_out)}</td><td>{kept}</td><td style='text-align:left'>{top}</td></tr>")
    rows += [f"<tr><td>{_e(phase)}</td><td colspan='4' style='text-align:left'>skipped: {_e(why)}</td></tr>"
             for phase, why in report.skipped]
    return "".join(rows) + "</table>"


def _llm(report: RunReport) -> str:
    rows = []
    for phase in report.phases:
        for stage, c in phase.llm.items():
            malformed = sum(n for k, n in c.items() if k.startswith("llm_malformed_"))
            retries = sum(n for k, n in c.items() if k.startswith("llm_retries_"))
            rows.append(f"<tr><td>{_e(phase.name)} / {_e(stage)}</td><td>{_n(c['llm_requests'])}</td>"
                        f"<td>{_n(c['llm_cache_hits'])}</td><td>{_n(c['llm_prompt_tokens'])}</td>"
                        f"<td>{_n(c['llm_completion_tokens'])}</td><td>{_n(malformed)}</td><td>{_n(retries)}</td>"
                        f"<td>{_n(c['llm_rejected'])}</td><td>${c['llm_cost_usd']:.4f}</td>"
                        f"<td>{phase.wall_seconds:,.1f} s</td></tr>")
    if not rows:
        return "<p class='muted'>No LLM stage ran.</p>"
    return ("<table><tr><th>phase / stage</th><th>requests</th><th>cache hits</th><th>prompt tokens</th>"
            "<th>completion tokens</th><th>parse failures</th><th>retries</th><th>rejected</th><th>cost</th>"
            "<th>phase wall time</th></tr>"
            + "".join(rows) + "</table>")


def _synthesis(report: RunReport) -> str:
    charts = []
    for phase in report.phases:
        for stage in phase.funnel:
            if stage.name in SYNTH_STAGES:
                charts.append(bar_chart(f"{phase.name}: {stage.name}", list(record_outcomes(stage).items())))
            if blocks := block_outcomes(stage):
                charts.append(bar_chart(f"{phase.name}: blocks", blocks))
    return "<div class='charts'>" + "".join(charts) + "</div>" if charts else "<p class='muted'>No synthesis ran.</p>"


def _verification(phases) -> str:
    """Dedup's verified removals: what was confirmed against the kept document, what was refused."""
    rows, examples = [], []
    for p in phases:
        v = p.verification
        if not v:
            continue
        rows.append(f"<tr><td>{_e(p.name)}</td><td>{_n(v['exact_duplicates'])}</td><td>{_n(v['near_duplicates'])}</td>"
                    f"<td>{_n(v['refused'])}</td><td>{_n(v['refused_then_removed'])}</td><td>{_n(v['clusters_split'])}</td>"
                    f"<td>{_n(v['unverified'])}</td></tr>")
        examples += [(p.name, e) for e in v["examples"]]
    if not rows:
        return ""
    html = ("<h3>Verified removals</h3><p>A document is removed only if its MinHash similarity to the document kept "
            "for it reaches the threshold; one that does not is refused, and stays unless it is near another member "
            "of its cluster (the cluster is split).</p><table><tr><th>phase</th><th>exact duplicates removed</th>"
            "<th>near duplicates removed</th><th>refused against the representative</th><th>of them removed against "
            "another member</th><th>clusters split</th><th>kept unverified (tangled clusters)</th></tr>"
            + "".join(rows) + "</table>")
    if examples:
        html += ("<table><tr><th>phase</th><th>refused document (key)</th><th>cluster representative (key)</th>"
                 "<th>similarity</th></tr>" + "".join(
                     f"<tr><td>{_e(name)}</td><td><code>{e['key']}</code></td><td><code>{e['representative']}</code></td>"
                     f"<td>{e['similarity']:.3f}</td></tr>" for name, e in examples) + "</table>")
    return html


def _tokens(phase) -> int | None:
    """A phase's output tokens, or None where its records carry none: not counted (a recipe counts them
    once, where the text is final), which the report says instead of showing 0."""
    tokens = phase.profile["tokens"]
    return None if tokens == 0 and phase.docs_written else tokens


def _distribution(title: str, prefix: str, phases, order=_ordered) -> str:
    """One distribution drawn once: the chart of the last phase that has it, and a table of every such
    phase's counts beside each other (a recipe's phases carry the same scores from phase to phase)."""
    having = [(p.name, p.counters_with(prefix)) for p in phases]
    having = [(name, counts) for name, counts in having if any(counts.values())]
    if not having:
        return ""
    last_name, last = having[-1]
    chart = bar_chart(f"{title} ({last_name})", order(last))
    if len(having) == 1:
        return chart
    buckets = [label for label, _ in order({k: 1 for _, counts in having for k in counts})]
    table = ("<table class='beside'><tr><th>" + _e(title) + "</th>" + "".join(f"<th>{_e(n)}</th>" for n, _ in having)
             + "</tr>" + "".join("<tr><td>" + _e(b) + "</td>" + "".join(f"<td>{_n(c.get(b, 0))}</td>" for _, c in having)
                                 + "</tr>" for b in buckets) + "</table>")
    return f"<div class='distribution'>{chart}{table}</div>"


def render(report: RunReport) -> str:
    phases = report.phases
    body = ["<h1>megamath run report</h1>"]
    running = [p for p in phases if p.state == "running"]
    for phase in running:
        body.append(f"<p class='running'>{_e(phase.name)} is running: {phase.tasks_done} of "
                    f"{phase.tasks_total if phase.tasks_total is not None else '?'} task(s) finished.</p>")
    body.append("<h2 id='run'>Run</h2><table><tr><th>phase</th><th>state</th><th>tasks</th><th>records out</th>"
                "<th>tokens out</th><th>configuration</th><th>task time</th><th>wall time</th></tr>")
    for p in phases:
        tokens = _tokens(p)
        body.append(f"<tr><td>{_e(p.name)}</td><td>{_e(p.state)}</td><td>{p.tasks_done}</td><td>{_n(p.docs_written)}</td>"
                    f"<td>{'not counted' if tokens is None else _n(tokens)}</td><td><code>{_e(p.fingerprint)}</code></td>"
                    f"<td>{p.task_seconds:,.1f} s</td><td>{p.wall_seconds:,.1f} s</td></tr>")
    inputs = report.raw_inputs
    seeds = sorted({f"{k}={v}" for p in phases for k, v in config_items(p.config) if k.endswith("seed")})
    body.append(f"</table><p>megamath {_e(report.version)}; {len(phases)} phase(s); {report.core_hours:.3f} core-hours "
                f"of task time; seeds: {_e(', '.join(seeds) or 'none')}.</p>"
                f"<details><summary>{len(inputs)} input(s)</summary><pre>{_e(chr(10).join(inputs))}</pre></details>")
    used = [(p.name, path, value) for p in phases for path, value in settings_used(p)]
    if used:
        body.append("<details open><summary>Models, thresholds and benchmarks</summary><table><tr><th>phase</th>"
                    "<th>setting</th><th>value</th></tr>" + "".join(
                        f"<tr><td>{_e(name)}</td><td style='text-align:left'>{_e(path)}</td>"
                        f"<td style='text-align:left'>{_e(value)}</td></tr>" for name, path, value in used)
                    + "</table></details>")
    if report.skipped:
        body.append("<p>Skipped: " + "; ".join(f"<b>{_e(phase)}</b> ({_e(why)})" for phase, why in report.skipped)
                    + "</p>")
    damaged = [(p.name, source, why) for p in phases for source, why in sorted(p.input_errors.items())]
    if damaged:
        body.append(f"<details open><summary>{len(damaged)} input(s) not read whole</summary><table><tr><th>phase</th>"
                    "<th>input</th><th>why</th></tr>" + "".join(
                        f"<tr><td>{_e(name)}</td><td style='text-align:left'>{_e(source)}</td>"
                        f"<td style='text-align:left'>{_e(why)}</td></tr>" for name, source, why in damaged)
                    + "</table></details>")

    body.append("<h2 id='funnel'>Funnel</h2>")
    if len(phases) > 1:
        body.append(_whole_funnel(report))
    body.append("<div class='charts'>" + bar_chart("records out per phase", [(p.name, p.docs_written) for p in phases])
                + bar_chart("tokens out per phase", [(p.name, p.profile["tokens"]) for p in phases]) + "</div>")
    for p in phases:
        tokens = _tokens(p)
        body.append(f"<h3>{_e(p.name)}</h3><p>{_n(p.docs_written)} records out, "
                    f"{'tokens not counted' if tokens is None else _n(tokens) + ' tokens'}, "
                    f"{p.tasks_done} task(s)</p>{_funnel(p)}")

    tokens = [_distribution("tokens per crawl year", "tokens_year_", phases),
              _distribution("documents per crawl year", "docs_year_", phases),
              _distribution("tokens per code language", "tokens_lang_", phases, _by_name),
              _distribution("files per code language", "docs_lang_", phases, _by_name),
              _distribution("documents by text length (characters)", "length_chars_", phases),
              _distribution("documents by text length (tokens)", "length_tokens_", phases),
              _distribution("top domains, approximate (documents)", "domain_", phases, _top_domains)]
    body.append("<h2 id='tokens'>Tokens and documents</h2>" + _charts(tokens, "No tokens were counted."))
    scores = [_distribution("language score", "hist_lang_score_", phases),
              _distribution("math classifier score", "hist_math_score_", phases),
              _distribution("educational score (0–5)", "hist_edu_", phases)]
    for p in phases:
        grid = {tuple(int(x) for x in k.split("_")): n for k, n in p.counters_with("grid_code_").items()}
        scores.append(grid_chart(f"{p.name}: code math × education", grid))
    body.append("<h2 id='scores'>Scores</h2>" + _charts(scores, "No scores in these runs."))
    body.append("<h2 id='formulas'>Formulas per markup family</h2>" + _charts(
        [_distribution("formulas per markup family", "formulas_", phases, _by_count)], "No formulas counted."))
    body.append("<h2 id='dedup'>Duplicate cluster sizes (kept documents)</h2>" + _charts(
        [_distribution("kept documents per cluster size", "dedup_size_", phases)], "No deduplication ran."))
    body.append(_verification(phases))

    body.append("<h2 id='contamination'>Decontamination</h2>")
    hits = [(p.name, m) for p in phases for m in p.contamination]
    if hits:
        per = Counter(m["benchmark"] for _, m in hits)
        body.append(bar_chart("documents removed per benchmark", per.most_common()))
        body.append("<table><tr><th>phase</th><th>benchmark</th><th>item</th><th>matching n-gram</th><th>document</th></tr>"
                    + "".join(f"<tr><td>{_e(name)}</td><td>{_e(m.get('benchmark'))}</td><td>{_e(m.get('item'))}</td>"
                              f"<td style='text-align:left'>{_e(m.get('ngram'))}</td><td>{_e(m.get('url') or m.get('id'))}</td></tr>"
                              for name, m in hits[:200]) + "</table>")
    else:
        body.append("<p class='muted'>No document was removed for a benchmark (or no decontamination ran).</p>")

    body.append(f"<h2 id='synthesis'>Synthesis</h2>{_synthesis(report)}")
    body.append(f"<h2 id='llm'>LLM use</h2>{_llm(report)}")
    body.append("<h2 id='samples'>Samples per score bucket</h2>")
    for p in phases:
        for bucket, records in p.samples.items():
            body.append(f"<h3>{_e(p.name)}: {_e(bucket)}</h3>")
            body += [f"<pre>{_e(r.get('id'))} {_e(r.get('url') or '')} ({_n(r.get('tokens') or 0)} tokens)\n"
                     f"{_with_formulas(r.get('text') or '')}</pre>" for r in records]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>megamath report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>")

