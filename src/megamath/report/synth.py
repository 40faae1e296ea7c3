"""The synthesis lines of a run report: what became of the records (and of the blocks) per reason."""

from __future__ import annotations

from megamath.runtime.stats import StageStats

_SYNTH_STAGES = ("qa_extract", "qa_refine", "code_translate", "math_blocks")


def format_synth_outcomes(funnel: list[StageStats]) -> str:
    lines = []
    for stage in funnel:
        if stage.name not in _SYNTH_STAGES:
            continue
        # records out, not in: Q&A extraction writes a record per problem of a page
        outcomes = {"written": stage.docs_out, **stage.dropped}
        lines.append(f"{stage.name}: " + ", ".join(f"{k} {n:,}" for k, n in outcomes.items()))
        blocks = {k.removeprefix("blocks_"): n for k, n in stage.counters.items() if k.startswith("blocks_")}
        if blocks:
            order = sorted(blocks.items(), key=lambda kv: (kv[0] != "verified", -kv[1]))
            lines.append(f"  blocks: {sum(blocks.values()):,} written; " + ", ".join(f"{k} {n:,}" for k, n in order))
        blocked = {k.removeprefix("ast_blocked:"): n for k, n in stage.counters.items() if k.startswith("ast_blocked:")}
        if blocked:
            lines.append("  prefilter: " + ", ".join(f"{k} {n:,}" for k, n in sorted(blocked.items(), key=lambda kv: -kv[1])))
        if stage.counters.get("qa_pairs"):
            lines.append(f"  Q&A pairs: {stage.counters['qa_pairs']:,} from {stage.counters['qa_pages']:,} page(s), "
                         f"{stage.counters.get('qa_pairs_with_answer', 0):,} with the page's answer")
    return "\n".join(lines)
