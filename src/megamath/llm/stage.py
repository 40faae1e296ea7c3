"""The base of stages that ask a model about each record.

The stage code stays sequential (records in, records out, in order); underneath, the process's
background event loop (:mod:`megamath.runtime.aio`) keeps up to ``max_concurrency`` requests in
flight per endpoint through :class:`LLMClient`. Records enter a bounded window and leave it in input
order, so memory stays flat however long the input, and the executor above sees an ordinary stage.

A malformed answer (no parsable score, empty, a refusal, a rewrite of the wrong length) is asked
again with sampling on (``retry_temperature``, a new seed) up to ``malformed_retries`` times, then
the record is dropped as ``llm_<reason>``; it never gets a default value.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Iterable, Iterator

from megamath.llm.cache import ResponseCache
from megamath.llm.client import Completion, EndpointConfig, LLMClient, RequestRejected
from megamath.llm.parsers import MalformedAnswer
from megamath.llm.prompts import Prompt, PromptError, load_prompt
from megamath.runtime import aio
from megamath.runtime.stage import Drop, Record, Stage, resource


@dataclass(frozen=True)
class GenerationConfig:
    """What is asked of the model (part of a run's fingerprint, unlike the endpoint).

    ``model``: the model name the endpoint serves.
    ``prompt``: a shipped prompt name (see :mod:`megamath.llm.prompts`) or a path to a prompt TOML file.
    ``max_input_chars``: documents are cut to this many characters (at a word boundary) before prompting.
    ``response_format``: ``none``; ``json_schema`` (OpenAI, vLLM, SGLang) or ``json_object`` (llama.cpp's
    server) to constrain score answers to ``{"reason": ..., "score": N}``.
    """

    model: str
    prompt: str
    temperature: float = 0.0
    max_tokens: int = 256
    max_input_chars: int = 12_000
    response_format: str = "none"
    malformed_retries: int = 2
    retry_temperature: float = 0.7


class LLMStage(Stage):
    """Subclasses set ``answer`` (the kind of answer their prompt must ask for) and write
    ``payload_for(record, text)`` (the request for the record's non-empty, length-capped text) and
    ``accept(record, completion)`` (the updated record, or :class:`MalformedAnswer`)."""

    answer: ClassVar[str] = ""

    def __init__(self, config, endpoint: EndpointConfig, cache_path: str | None = None):
        self.config = config  # a dataclass with a ``generation`` field, plus the subclass's own settings
        self.generation: GenerationConfig = config.generation
        self.endpoint = endpoint
        self.cache_path = cache_path
        self.counters: Counter = Counter()
        if self.prompt.answer != self.answer:
            raise ValueError(f"prompt {self.prompt.id} asks for a {self.prompt.answer}, {self.name} needs a {self.answer}")

    @cached_property
    def prompt(self) -> Prompt:
        return load_prompt(self.generation.prompt)

    @resource
    def client(self) -> LLMClient:
        """The client and its cache, made on the background loop's thread that uses them."""
        return aio.submit(self._make_client()).result()

    async def _make_client(self) -> LLMClient:
        cache = ResponseCache(self.cache_path) if self.cache_path else None
        return LLMClient(self.endpoint, cache, self.counters)

    def payload_for(self, record: Record, text: str) -> dict:
        raise NotImplementedError

    def accept(self, record: Record, completion: Completion) -> Record:
        raise NotImplementedError

    def document_text(self, record: Record) -> str:
        """The record's text, cut at a word boundary to ``max_input_chars``."""
        text = record.get("text") or ""
        limit = self.generation.max_input_chars
        if len(text) <= limit:
            return text
        cut = text.rfind(" ", 0, limit)
        return text[: cut if cut > limit // 2 else limit]

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        client = self.client
        window: deque = deque()
        # Records leave in input order, so one slow answer holds the ones behind it: a window many
        # times the concurrency keeps the other slots busy meanwhile.
        size = max(256, 8 * self.endpoint.max_concurrency)
        try:
            for record in records:
                window.append(aio.submit(self._process(record)))
                if len(window) >= size:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()
            aio.submit(client.close()).result()

    async def _process(self, record: Record) -> Record | Drop:
        text = self.document_text(record)
        if not text.strip():
            return Drop(record, "empty_text")
        try:
            payload = self.payload_for(record, text)
        except PromptError:  # the prompt needs a field this record lacks
            self.counters["llm_missing_field"] += 1
            return Drop(record, "llm_missing_field")
        if len(record.get("text") or "") > self.generation.max_input_chars:
            self.counters["llm_inputs_truncated"] += 1
        reason = ""
        for attempt in range(self.generation.malformed_retries + 1):
            if attempt:
                payload = {**payload, "temperature": self.generation.retry_temperature, "seed": attempt}
            try:
                completion = await self.client.complete(payload)
            except RequestRejected:
                self.counters["llm_rejected"] += 1
                return Drop(record, "llm_rejected")
            try:
                return self.accept(record, completion)
            except MalformedAnswer as exc:
                reason = exc.reason
                self.counters[f"llm_malformed_{reason}"] += 1
        return Drop(record, f"llm_{reason}")

    def messages(self, record: Record, text: str) -> list[dict]:
        """The prompt for a record's text, its fields (:attr:`Prompt.fields`) from the record's
        ``meta.code`` (a source file's language and path)."""
        return self.prompt.messages(text, (record.get("meta") or {}).get("code"))

    def base_payload(self, messages: list[dict], max_tokens: int | None = None) -> dict:
        return {
            "model": self.generation.model,
            "messages": messages,
            "temperature": self.generation.temperature,
            "max_tokens": max_tokens or self.generation.max_tokens,
        }

    def provenance(self) -> dict:
        """What produced an answer, stored with it: the prompt's versioned id and the model."""
        return {"prompt": self.prompt.id, "model": self.generation.model}


def default_cache_path(run_dir: str | Path) -> str:
    """Where a run keeps its answers: inside a local run folder, so that rerunning the command resumes;
    for a run folder on an object store (where SQLite cannot live) in this machine's scratch folder
    for it (give ``--cache`` a path on a shared filesystem for a multi-node cluster)."""
    from megamath.runtime.resume import RunFolder

    return str(RunFolder(run_dir).scratch.resolve() / "llm_cache.sqlite")
