"""Scoring documents with a model: a 0-5 rubric answer per document, written to ``meta.llm``."""

from __future__ import annotations

from dataclasses import dataclass, field

from megamath.llm.client import Completion
from megamath.llm.stage import GenerationConfig, LLMStage
from megamath.runtime.stage import Record


@dataclass(frozen=True)
class ScoreConfig:
    """``generation.prompt`` names a score prompt (``educational_value``, ``math_relevance`` or a file);
    the score goes to ``meta.llm[key]`` (default: the prompt's name) with the prompt version and model."""

    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig("", "educational_value"))
    key: str = ""


class LLMScore(LLMStage):
    name = "llm_score"
    answer = "score"

    @property
    def key(self) -> str:
        return self.config.key or self.prompt.name

    def payload_for(self, record: Record, text: str) -> dict:
        payload = self.base_payload(self.messages(record, text))
        if self.generation.response_format == "json_schema":
            payload["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": self.prompt.name, "schema": self.prompt.score_schema()}}
        elif self.generation.response_format == "json_object":
            payload["response_format"] = {"type": "json_object", "schema": self.prompt.score_schema()}
        return payload

    def parse(self, record: Record, text: str, completion: Completion) -> int:
        return self.prompt.parse_score(completion.text)

    def finish(self, record: Record, values: list[int]) -> Record:
        scores = record.setdefault("meta", {}).setdefault("llm", {})
        scores[self.key] = {"score": values[0], **self.provenance()}
        return record
