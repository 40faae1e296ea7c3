"""The LLM lines of a run report: requests, cache hits, retries, malformed answers, tokens and cost per stage."""

from __future__ import annotations

from megamath.runtime.stats import StageStats


def format_llm_usage(funnel: list[StageStats], seconds: float) -> str:
    lines = []
    for stage in funnel:
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
        if c["llm_inputs_truncated"]:
            details.append(f"inputs cut to the length limit: {c['llm_inputs_truncated']:,}")
        if details:
            lines.append("  " + "; ".join(details))
    return "\n".join(lines)
