"""The base of stages that ask a model about each record.

The stage code stays sequential (records in, records out, in order); underneath, the process's
background event loop (:mod:`megamath.runtime.aio`) keeps up to ``max_concurrency`` requests in
flight per endpoint through :class:`LLMClient`. Records enter a bounded window and leave it in input
order, so memory stays flat however long the input, and the executor above sees an ordinary stage.

A malformed answer (no parsable score, empty, a refusal, a rewrite of the wrong length) is asked
again with sampling on (``retry_temperature``, a new seed) up to ``malformed_retries`` times, then
the record is dropped as ``llm_<reason>``; it never gets a default value. Only the verdict on a
malformed answer is cached (with its first characters), so junk answers do not fill the cache, and
the ids of dropped records are listed with their reason in the run folder's ``dropped/``.

Before a run the driver probes the endpoint once (``prepare``): one that does not answer at all
ends the command at once with the reason, instead of failing every task after its retries.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, NamedTuple

from megamath.llm.cache import ResponseCache
from megamath.llm.chunks import split_text
from megamath.llm.client import Completion, EndpointConfig, LLMClient, RequestRejected
from megamath.llm.parsers import MalformedAnswer
from megamath.llm.prompts import Prompt, PromptError, load_prompt
from megamath.runtime import aio
from megamath.runtime.stage import Drop, Record, Stage, StageConfigError, resource


@dataclass(frozen=True)
class GenerationConfig:
    """What is asked of the model (part of a run's fingerprint, unlike the endpoint).

    ``model``: the model name the endpoint serves.
    ``prompt``: a shipped prompt name (see :mod:`megamath.llm.prompts`) or a path to a prompt TOML file.
    ``max_input_chars``: the most characters of a document sent in one request: longer documents are
    sent in pieces by stages that can join their answers (refinement, synthesis) and cut at a word
    boundary, counted, by the others (scores).
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
    ``payload_for(record, text)`` where the request is more than the prompt filled in with a non-empty
    piece of the record's text,
    ``parse(record, text, completion)`` (the answer's value, or :class:`MalformedAnswer`) and
    ``finish(record, values)`` (the record, a :class:`Drop`, or a list of new records, from the values
    of every piece; it runs in the stage's thread, so it may do blocking work such as running code).

    ``long_inputs``: what happens to a text longer than ``max_input_chars``: ``chunk``, asked about piece
    by piece (:func:`~megamath.llm.chunks.split_text`, all pieces in flight at once); ``truncate``, cut
    to that length and counted (``llm_inputs_truncated``), which suits a score of the page's beginning;
    ``drop``, dropped as ``too_long`` (a source file cut in the middle is no program).
    ``malformed_prefix``: the drop reason of a record whose answers stayed malformed is this prefix
    and the parser's reason.
    """

    answer: ClassVar[str] = ""
    long_inputs: ClassVar[str] = "truncate"
    malformed_prefix: ClassVar[str] = "llm_"
    lists_dropped = True

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

    def prepare(self) -> None:
        probe_endpoint(self.endpoint)

    def payload_for(self, record: Record, text: str) -> dict:
        """The request: the prompt filled in with ``text``, the generation settings."""
        return self.base_payload(self.messages(record, text))

    def parse(self, record: Record, text: str, completion: Completion):
        raise NotImplementedError

    def finish(self, record: Record, values: list) -> Record | Drop | list[Record]:
        raise NotImplementedError

    def pieces(self, text: str) -> list[str]:
        """What is sent of a text (see ``long_inputs``): itself, its pieces, its beginning cut at a word
        boundary, or nothing."""
        limit = self.generation.max_input_chars
        if len(text) <= limit:
            return [text]
        if self.long_inputs == "drop":
            return []
        if self.long_inputs == "chunk":
            pieces = split_text(text, limit)
            self.counters["llm_inputs_chunked"] += 1
            self.counters["llm_chunks"] += len(pieces)
            return pieces
        self.counters["llm_inputs_truncated"] += 1
        cut = text.rfind(" ", 0, limit)
        return [text[: cut if cut > limit // 2 else limit]]

    def __call__(self, records: Iterable[Record]) -> Iterator[Record | Drop]:
        client = self.client
        window: deque = deque()
        # Records leave in input order, so one slow answer holds the ones behind it: a window many
        # times the concurrency keeps the other slots busy meanwhile.
        size = max(256, 8 * self.endpoint.max_concurrency)
        try:
            for record in records:
                window.append((record, aio.submit(self._answers(record))))
                if len(window) >= size:
                    yield from self._finished(*window.popleft())
            while window:
                yield from self._finished(*window.popleft())
        finally:
            for _, future in window:
                future.cancel()
            aio.submit(client.close()).result()

    def _finished(self, record: Record, future) -> Iterator[Record | Drop]:
        answers = future.result()
        if type(answers) is Drop:
            yield answers
            return
        result = self.finish(record, answers)
        if isinstance(result, list):
            yield from result
        else:
            yield result

    async def _answers(self, record: Record) -> list | Drop:
        """The parsed answer for each piece of the record's text, or the record dropped with the reason."""
        text = (record.get("text") or "").strip()
        if not text:
            return Drop(record, "empty_text")
        try:
            payloads = [(piece, self.payload_for(record, piece)) for piece in self.pieces(text)]
        except PromptError:  # the prompt needs a field this record lacks
            self.counters["llm_missing_field"] += 1
            return Drop(record, "llm_missing_field")
        if not payloads:
            return Drop(record, "too_long")
        answers = await asyncio.gather(*(self._ask(record, piece, payload) for piece, payload in payloads))
        for answer in answers:
            if type(answer) is _Failed:
                return Drop(record, answer.reason)
        return answers

    async def _ask(self, record: Record, text: str, payload: dict):
        reason = ""
        for attempt in range(self.generation.malformed_retries + 1):
            if attempt:
                payload = {**payload, "temperature": self.generation.retry_temperature, "seed": attempt}
            try:
                completion = await self.client.complete(payload)
            except RequestRejected:
                self.counters["llm_rejected"] += 1
                return _Failed("llm_rejected")  # a 4xx: the server's verdict, not a parse failure
            try:
                if completion.malformed:  # this answer was read before: only its verdict was kept
                    raise MalformedAnswer(completion.malformed)
                value = self.parse(record, text, completion)
            except MalformedAnswer as exc:
                reason = exc.reason
                self.counters[f"llm_malformed_{reason}"] += 1
                self.client.remember(payload, completion, malformed=reason)
                continue
            self.client.remember(payload, completion)
            return value
        return _Failed(f"{self.malformed_prefix}{reason}")

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


class _Failed(NamedTuple):
    reason: str


def probe_endpoint(endpoint: EndpointConfig, timeout_s: float = 10.0) -> None:
    """Refuse an endpoint that does not answer HTTP at all (any status means a server is there:
    some serve no ``/models``); raises :class:`StageConfigError` with the reason."""
    url = endpoint.base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=min(timeout_s, endpoint.timeout_s)):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        raise StageConfigError(f"the LLM endpoint {endpoint.base_url} does not answer ({why}): is the server "
                               "running, and is --base-url its API root?") from None
