"""The funnel table: how many documents each stage received, kept and dropped, and why."""

from __future__ import annotations

from megamath.runtime.stats import StageStats


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def format_funnel(funnel: list[StageStats], top_reasons: int = 4) -> str:
    rows = [("stage", "in", "out", "kept", "chars out", "dropped (top reasons)")]
    for stage in funnel:
        reasons = sorted(stage.dropped.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{reason} {count:,}" for reason, count in reasons[:top_reasons])
        if len(reasons) > top_reasons:
            shown += f", +{len(reasons) - top_reasons} more"
        rows.append((stage.name, f"{stage.docs_in:,}", f"{stage.docs_out:,}", _pct(stage.docs_out, stage.docs_in),
                     f"{stage.chars_out:,}", shown or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:])]
        lines.append("  ".join(cells + [row[-1]]))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 21)
    return "\n".join(lines)
