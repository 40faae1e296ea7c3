"""The funnel table: how many documents each stage received, kept and dropped, and why. The profile
stage (:mod:`megamath.profile.stage`) drops nothing and is left out; its tokens are printed with the output."""

from __future__ import annotations

from collections import Counter

from megamath.profile.stage import Profile
from megamath.runtime.stats import StageStats

_HEADER = ("stage", "in", "out", "kept", "chars out", "dropped (top reasons)")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _row(stage: StageStats, top_reasons: int, label: str | None = None) -> tuple[str, ...]:
    reasons = sorted(stage.dropped.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{reason} {count:,}" for reason, count in reasons[:top_reasons])
    if len(reasons) > top_reasons:
        shown += f", +{len(reasons) - top_reasons} more"
    return (label or stage.name, f"{stage.docs_in:,}", f"{stage.docs_out:,}", _pct(stage.docs_out, stage.docs_in),
            f"{stage.chars_out:,}", shown or "-")


def _table(rows: list[tuple[str, ...]], notes: dict[int, str] | None = None) -> str:
    """Aligned columns; ``notes`` maps a row index to a line printed there instead of cells."""
    notes = notes or {}
    cells = [_HEADER] + rows
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEADER) - 1)]
    lines = []
    for index, row in enumerate(cells):
        if index - 1 in notes:
            lines.append(f"{row[0].ljust(widths[0])}  {notes[index - 1]}")
            continue
        padded = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:])]
        lines.append("  ".join(padded + [row[-1]]))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 21)
    return "\n".join(lines)


def _shown(funnel: list[StageStats]) -> list[StageStats]:
    return [stage for stage in funnel if stage.name != Profile.name]


def format_funnel(funnel: list[StageStats], top_reasons: int = 4) -> str:
    return _table([_row(stage, top_reasons) for stage in _shown(funnel)])


def format_phase_funnel(phases: list[tuple[str, list[StageStats] | str]], top_reasons: int = 4) -> str:
    """One funnel across the phases of a recipe: rows ``phase/stage``; a skipped phase gets a line
    with its reason. A phase's reading row is shown only for the first phase (later phases read what
    the one before wrote)."""
    rows: list[tuple[str, ...]] = []
    notes: dict[int, str] = {}
    for number, (phase, funnel) in enumerate(phases):
        if isinstance(funnel, str):
            notes[len(rows)] = funnel
            rows.append((phase,) + ("",) * (len(_HEADER) - 1))
            continue
        for stage in _shown(funnel):
            if number and stage.name == "read":
                continue
            rows.append(_row(stage, top_reasons, f"{phase}/{stage.name}"))
    return _table(rows, notes)


def profile_counters(funnel: list[StageStats]) -> Counter:
    """The counters of a phase's profile stage: its output's tokens and distributions (empty without one)."""
    return next((stage.counters for stage in reversed(funnel) if stage.name == Profile.name), Counter())
