"""The synthesis lines of a run report: what became of the records (and of the blocks) per reason."""

from __future__ import annotations

from megamath.runtime.stats import StageStats

SYNTH_STAGES = ("qa_extract", "qa_refine", "code_translate", "math_blocks")


def record_outcomes(stage: StageStats) -> dict[str, int]:
    """Records written and dropped per reason (records out, not in: Q&A extraction writes a record per
    problem of a page)."""
    return {"written": stage.docs_out, **stage.dropped}


def block_outcomes(stage: StageStats) -> list[tuple[str, int]]:
    """The text+code blocks' outcomes (``blocks_<outcome>`` counters), verified first, then by count."""
    blocks = {k.removeprefix("blocks_"): n for k, n in stage.counters.items() if k.startswith("blocks_")}
    return sorted(blocks.items(), key=lambda kv: (kv[0] != "verified", -kv[1]))


def format_synth_outcomes(funnel: list[StageStats]) -> str:
    lines = []
    for stage in funnel:
        if stage.name not in SYNTH_STAGES:
            continue
        lines.append(f"{stage.name}: " + ", ".join(f"{k} {n:,}" for k, n in record_outcomes(stage).items()))
        if blocks := block_outcomes(stage):
            lines.append(f"  blocks: {sum(n for _, n in blocks):,} written; " + ", ".join(f"{k} {n:,}" for k, n in blocks))
        blocked = {k.removeprefix("ast_blocked:"): n for k, n in stage.counters.items() if k.startswith("ast_blocked:")}
        if blocked:
            lines.append("  prefilter: " + ", ".join(f"{k} {n:,}" for k, n in sorted(blocked.items(), key=lambda kv: -kv[1])))
        if stage.counters.get("qa_pairs"):
            lines.append(f"  Q&A pairs: {stage.counters['qa_pairs']:,} from {stage.counters['qa_pages']:,} page(s), "
                         f"{stage.counters.get('qa_pairs_with_answer', 0):,} with the page's answer")
    return "\n".join(lines)
