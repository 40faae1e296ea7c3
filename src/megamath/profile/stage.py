"""The last stage of every phase that writes corpus records: it profiles what the phase keeps.

Tokens are counted (``meta.tokens``) where a phase's text is final — stage 1, stage 2, refinement,
code reading, synthesis: ``ProfileConfig.tokenizer`` set — and carried by the phases that only filter
(the classifier, dedup, decontamination: ``tokenizer`` None), which sum the records' ``meta.tokens``.
Counters, all sums over the phase's output:

* ``tokens``; ``tokens_year_<YYYY>`` and ``docs_year_<YYYY>`` (``unknown`` without a crawl year);
  ``tokens_lang_<language>`` and ``docs_lang_<language>`` for code files;
* ``hist_lang_score_<b>``, ``hist_math_score_<b>`` (tenths: ``0.9`` holds 0.9 ≤ s ≤ 1), ``hist_edu_<n>``
  (the educational score, rounded), ``grid_code_<math>_<edu>`` (the code rubrics' two scores);
* ``formulas_<family>`` (formulas kept per markup family, ``meta.math``);
* ``dedup_size_<n>`` (kept documents by the size of their duplicate cluster: 1, 2, 3-4, 5-8, ...);
* ``length_chars_<a-b>`` and ``length_tokens_<a-b>``: documents by the length of their text, in
  characters and (where counted) tokens, in powers of two (``1024-2047``);
* ``domain_<host>``: documents per web host (``www.`` dropped), the :data:`TOP_DOMAINS` most frequent of
  each task only, the rest summed as ``domain_(other)``: a crawl holds millions of hosts, and a run's
  statistics must stay small. Summed over tasks, a host frequent everywhere is counted exactly and one
  frequent in a few tasks only is undercounted (the report says "top domains, approximate").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit

from megamath.profile.tokenizer import NAMES, Tokenizer, TokenizerError, load_tokenizer
from megamath.runtime.stage import BatchStage, Record, StageConfigError, resource
from megamath.sources.crawl import crawl_year


@dataclass(frozen=True)
class ProfileConfig:
    """``tokenizer``: ``qwen2.5``, ``cl100k_base``, a path to a ``tokenizer.json`` or ``.tiktoken`` file,
    or None to sum the tokens earlier phases counted."""

    tokenizer: str | None = "qwen2.5"
    batch_size: int = 256


CARRY = ProfileConfig(tokenizer=None)  # the profile of a phase that only filters
TOP_DOMAINS = 50


def host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        name = urlsplit(url).hostname
    except ValueError:
        return None
    return name.removeprefix("www.") if name else None


def tenth(score: float) -> str:
    return f"{min(int(score * 10), 9) / 10:.1f}"


def length_bucket(n: int) -> str:
    """``0``, or the power-of-two range ``n`` falls in (``1024-2047``)."""
    if n <= 0:
        return "0"
    low = 1 << (n.bit_length() - 1)
    return f"{low}-{2 * low - 1}"


def cluster_bucket(size: int) -> str:
    if size <= 2:
        return str(max(size, 1))
    low = 1 << (size - 1).bit_length() - 1
    return f"{low + 1}-{low * 2}"


class Profile(BatchStage):
    name = "profile"

    def __init__(self, config: ProfileConfig | None = None):
        self.config = config or ProfileConfig()
        self.counters: Counter = Counter()
        self.domains: Counter = Counter()  # this task's hosts, reported by task_counters()

    def task_counters(self) -> Counter:
        """The counters of the task that just ended that are not kept for the worker's life: the task's
        most frequent hosts (the runtime calls this once per task)."""
        top = Counter({f"domain_{name}": n for name, n in self.domains.most_common(TOP_DOMAINS)})
        if rest := sum(self.domains.values()) - sum(top.values()):
            top["domain_(other)"] = rest
        self.domains = Counter()
        return top

    @resource
    def counter(self) -> Tokenizer | None:
        if self.config.tokenizer is None:
            return None
        try:
            return load_tokenizer(self.config.tokenizer)
        except TokenizerError as exc:
            raise StageConfigError(str(exc)) from exc

    def dependencies(self) -> tuple[str, ...]:
        return () if self.config.tokenizer in (None, *NAMES) else (self.config.tokenizer,)

    def prepare(self) -> None:
        self.counter

    def process_batch(self, batch: list[Record]) -> Iterator[Record]:
        counts = self.counter.count([r.get("text") or "" for r in batch]) if self.counter else [None] * len(batch)
        for record, tokens in zip(batch, counts):
            meta = record.setdefault("meta", {})
            if tokens is not None:
                meta["tokens"] = tokens
            self._profile(record, meta)
            yield record

    def _profile(self, record: Record, meta: dict) -> None:
        c = self.counters
        tokens = meta.get("tokens") or 0
        year = crawl_year(record) or "unknown"
        c["tokens"] += tokens
        c[f"length_chars_{length_bucket(len(record.get('text') or ''))}"] += 1
        if "tokens" in meta:
            c[f"length_tokens_{length_bucket(tokens)}"] += 1
        c[f"tokens_year_{year}"] += tokens
        c[f"docs_year_{year}"] += 1
        if name := host(record.get("url")):
            self.domains[name] += 1
        code = meta.get("code") or {}
        if language := code.get("language"):
            c[f"tokens_lang_{language}"] += tokens
            c[f"docs_lang_{language}"] += 1
        licences = code.get("licenses") or code.get("license") or code.get("license_type") or []
        for licence in [licences] if isinstance(licences, str) else licences:
            c[f"license_{licence}"] += 1
        if "math" in code and "edu" in code:
            c[f"grid_code_{code['math']}_{code['edu']}"] += 1
        for key in ("lang_score", "math_score"):
            if isinstance(meta.get(key), (int, float)):
                c[f"hist_{key}_{tenth(meta[key])}"] += 1
        edu = ((meta.get("llm") or {}).get("educational_value") or {}).get("score")
        if isinstance(edu, (int, float)):
            c[f"hist_edu_{round(edu)}"] += 1
        for family, n in (meta.get("math") or {}).items():
            if isinstance(n, int):
                c[f"formulas_{family}"] += n
        if isinstance(size := meta.get("dedup_cluster_size"), int):
            c[f"dedup_size_{cluster_bucket(size)}"] += 1
