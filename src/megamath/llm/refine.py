"""Refining documents with a model: the rewritten text replaces ``text``; ``meta.refined_from`` links
it to the record it came from. A document longer than ``max_input_chars`` is refined piece by piece
and the pieces joined (``meta.refined_from.pieces``), so no part of it is lost."""

from __future__ import annotations

from dataclasses import dataclass, field

from megamath.llm.client import Completion
from megamath.llm.stage import GenerationConfig, LLMStage
from megamath.runtime.stage import Record

_CHARS_PER_TOKEN = 3.5  # conservative for English with LaTeX, so the answer budget is rarely short


@dataclass(frozen=True)
class RefineConfig:
    """``min_length_ratio`` / ``max_length_ratio``: a rewrite whose length falls outside these multiples
    of the original is malformed (the recipe keeps about the original length).
    ``generation.max_tokens`` caps the answer; the budget per document follows its length."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "refine", max_tokens=4096))
    min_length_ratio: float = 0.5
    max_length_ratio: float = 1.5


class LLMRefine(LLMStage):
    name = "llm_refine"
    answer = "text"
    long_inputs = "chunk"

    def payload_for(self, record: Record, text: str) -> dict:
        budget = int(len(text) / _CHARS_PER_TOKEN * self.config.max_length_ratio) + 64
        return self.base_payload(self.messages(record, text), max_tokens=min(budget, self.generation.max_tokens))

    def parse(self, record: Record, text: str, completion: Completion) -> str:
        return self.prompt.parse_text(completion.text, text, self.config.min_length_ratio,
                                      self.config.max_length_ratio)

    def finish(self, record: Record, values: list[str]) -> Record:
        meta = record.setdefault("meta", {})
        meta["refined_from"] = {"id": record.get("id"), "source": record.get("source"), "chars": len(record["text"]),
                                "pieces": len(values), **self.provenance()}
        record["text"] = "\n\n".join(values)
        return record
