"""The LLM lines of a run report: requests, cache hits, retries, malformed answers, tokens and cost per
stage, of the tasks this run finished (a resumed run's earlier tasks sent their requests before)."""

from __future__ import annotations

from megamath.runtime.runner import RunSummary


def format_llm_usage(summary: RunSummary) -> str:
    lines = []
    seconds = summary.seconds
    if summary.tasks_skipped and any(key.startswith("llm_") for stage in summary.funnel for key in stage.counters):
        lines.append(f"LLM use of this run ({summary.tasks_skipped} task(s) finished by earlier runs are not counted):")
    for stage in summary.funnel_this_run:
        c = stage.counters
        if not any(key.startswith("llm_") for key in c):
            continue
        retries = {k.removeprefix("llm_retries_"): n for k, n in c.items() if k.startswith("llm_retries_")}
        malformed = {k.removeprefix("llm_malformed_"): n for k, n in c.items() if k.startswith("llm_malformed_")}
        tokens = c["llm_prompt_tokens"] + c["llm_completion_tokens"]
        lines.append(
            f"{stage.name}: {c['llm_requests']:,} request(s) sent, {c['llm_cache_hits']:,} answered from the cache; "
            f"{c['llm_prompt_tokens']:,} prompt + {c['llm_completion_tokens']:,} completion tokens"
            f" ({tokens / seconds if seconds else 0:,.0f} tokens/s over {seconds:.1f}s), cost ${c['llm_cost_usd']:.4f}"
        )
        details = []
        if retries:
            details.append("retried: " + ", ".join(f"{k} {n:,}" for k, n in sorted(retries.items())))
        if malformed:
            details.append("malformed answers: " + ", ".join(f"{k} {n:,}" for k, n in sorted(malformed.items())))
        if c["llm_rejected"]:
            details.append(f"rejected by the server: {c['llm_rejected']:,}")
        if c["llm_inputs_chunked"]:
            details.append(f"long inputs sent in pieces: {c['llm_inputs_chunked']:,} ({c['llm_chunks']:,} pieces)")
        if c["llm_inputs_truncated"]:
            details.append(f"inputs cut to the length limit: {c['llm_inputs_truncated']:,}")
        if details:
            lines.append("  " + "; ".join(details))
    return "\n".join(lines)
