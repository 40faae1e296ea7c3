"""An OpenAI-compatible chat-completions client for bulk work: bounded concurrency, retries with
backoff, a persistent answer cache, and token/cost counters.

Any server that speaks ``POST {base_url}/chat/completions`` works: vLLM, SGLang, llama.cpp's server,
hosted APIs. The client is asynchronous (aiohttp) because a corpus run keeps hundreds of requests in
flight from one process; :class:`megamath.llm.stage.LLMStage` drives it from ordinary stages.

Failures are sorted by what a rerun could change:

* 429, 5xx, timeouts, dropped connections and unreadable bodies are retried with exponential backoff
  (``Retry-After`` is honoured); when retries (or ``max_retry_s``) run out the endpoint is considered down and
  :class:`EndpointUnavailable` fails the task, so a later run resumes it (finished answers are cached).
* other 4xx (a prompt longer than the context, say) raise :class:`RequestRejected`: the document is
  dropped and counted, the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass

import orjson

from megamath.llm.cache import ResponseCache, request_key

log = logging.getLogger(__name__)

_MALFORMED_KEPT_CHARS = 500


@dataclass(frozen=True)
class EndpointConfig:
    """Where requests go and how hard to try.

    ``base_url``: the API root, e.g. ``http://127.0.0.1:8000/v1`` or ``https://api.openai.com/v1``.
    ``api_key_env``: the environment variable holding the key (never written to the run folder).
    ``max_concurrency``: requests in flight per worker process to this endpoint, shared by every stage
        of the process that sends to it with this configuration.
    ``timeout_s``: seconds for one request, connection to last byte.
    ``max_retries``: retries of one request on 429/5xx/timeouts/connection errors; ``max_retry_s``: the
        most seconds one request spends on attempts and waits, counted from its first attempt (not
        from waiting for a slot), before the endpoint counts as down; every other request then fails
        at once, so a stalled endpoint ends a task within about ``max_retry_s``.
    ``backoff_s``, ``max_backoff_s``: first and largest wait between retries (doubling, with jitter).
    ``input_price_per_mtok``, ``output_price_per_mtok``: dollars per million tokens, for the cost line.
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 32
    timeout_s: float = 300.0
    max_retries: int = 8
    max_retry_s: float = 600.0
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0


class EndpointUnavailable(Exception):
    """Retries ran out on errors a later run may not see (rate limits, server errors, timeouts)."""


class RequestRejected(Exception):
    """The server refused this request for good (a 4xx other than 408/429)."""


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False
    malformed: str = ""  # a cached answer's parser verdict (its text is then only the beginning)


class _Retry(Exception):
    def __init__(self, kind: str, detail: str, wait_s: float | None = None):
        super().__init__(detail)
        self.kind = kind
        self.wait_s = wait_s


class LLMClient:
    """Sends chat-completion payloads; use from one event loop (its session and cache belong to it).

    Counters (added to ``counters``): ``llm_requests`` sent, ``llm_cache_hits``, ``llm_retries_<why>``,
    ``llm_prompt_tokens``, ``llm_completion_tokens`` and ``llm_cost_usd`` for answers that came over
    the network.
    """

    def __init__(self, endpoint: EndpointConfig, cache: ResponseCache | None, counters: Counter):
        self.endpoint = endpoint
        self.cache = cache
        self.counters = counters
        self._url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self._session = None
        self._slots = _endpoint_budget(endpoint)
        self._health = _Health(endpoint.max_retry_s)

    async def _http(self):
        if self._session is None:
            import aiohttp

            headers = {"Content-Type": "application/json"}
            if key := os.environ.get(self.endpoint.api_key_env):
                headers["Authorization"] = f"Bearer {key}"
            self._session = aiohttp.ClientSession(
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.endpoint.timeout_s),
                connector=aiohttp.TCPConnector(limit=self.endpoint.max_concurrency, ttl_dns_cache=300),
            )
        return self._session

    async def complete(self, payload: dict) -> Completion:
        """The answer to ``payload``, from the cache or the endpoint; pass it to :meth:`remember` once
        it is judged, so that a rerun finds it."""
        key = request_key(payload)
        if self.cache is not None and (answer := self.cache.get(key)) is not None:
            self.counters["llm_cache_hits"] += 1
            return Completion(answer["text"], answer["finish_reason"], answer["prompt_tokens"],
                              answer["completion_tokens"], cached=True, malformed=answer.get("malformed", ""))
        body = orjson.dumps(payload)
        last_error = ""
        started: float | None = None  # the budget counts from the first attempt, not from waiting for a slot
        for attempt in range(self.endpoint.max_retries + 1):
            try:
                async with self._slots:
                    self._health.check()
                    attempt_started = time.monotonic()
                    started = attempt_started if started is None else started
                    remaining = self.endpoint.max_retry_s - (attempt_started - started)
                    try:
                        completion = await self._send(body, min(self.endpoint.timeout_s, max(remaining, 0.001)))
                    except _Retry as retry:
                        self._health.failed(attempt_started, f"{retry.kind}: {retry}")
                        raise
                    except RequestRejected:
                        self._health.answered()
                        raise
            except _Retry as retry:
                self.counters[f"llm_retries_{retry.kind}"] += 1
                last_error = f"{retry.kind}: {retry}"
                wait = self._backoff(attempt, retry.wait_s)
                if attempt == self.endpoint.max_retries or time.monotonic() - started + wait >= self.endpoint.max_retry_s:
                    break
                await asyncio.sleep(wait)
                continue
            self._health.answered()
            self._count_usage(completion)
            return completion
        raise EndpointUnavailable(f"{self._url}: gave up after {attempt + 1} attempt(s) in "
                                  f"{time.monotonic() - started:.0f}s ({last_error})")

    def remember(self, payload: dict, completion: Completion, malformed: str = "") -> None:
        """Cache an answer that came over the network; of a ``malformed`` one (the parser's reason)
        only the verdict and the answer's first characters, so that junk does not fill the cache."""
        if self.cache is None or completion.cached:
            return
        text = completion.text[:_MALFORMED_KEPT_CHARS] if malformed else completion.text
        answer = {"text": text, "finish_reason": completion.finish_reason, "prompt_tokens": completion.prompt_tokens,
                  "completion_tokens": completion.completion_tokens}
        self.cache.put(request_key(payload), {**answer, "malformed": malformed} if malformed else answer)

    async def _send(self, body: bytes, timeout_s: float) -> Completion:
        import aiohttp

        session = await self._http()
        self.counters["llm_requests"] += 1
        try:
            async with session.post(self._url, data=body, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except asyncio.TimeoutError as exc:
            raise _Retry("timeout", f"no answer within {timeout_s:.0f}s") from exc
        except aiohttp.ClientError as exc:
            raise _Retry("connection", f"{type(exc).__name__}: {exc}") from exc
        if status == 429 or status == 408 or status >= 500:
            raise _Retry(str(status), raw[:200].decode("utf-8", "replace"), _seconds(retry_after))
        if status >= 400:
            raise RequestRejected(f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
        try:
            answer = orjson.loads(raw)
            choice = answer["choices"][0]
            text = choice["message"].get("content") or ""
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise _Retry("bad_response", f"unreadable answer: {raw[:120]!r}") from exc
        usage = answer.get("usage") or {}
        return Completion(text, choice.get("finish_reason") or "", int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.endpoint.max_backoff_s)
        wait = min(self.endpoint.backoff_s * 2 ** attempt, self.endpoint.max_backoff_s)
        return wait * random.uniform(0.5, 1.0)

    def _count_usage(self, completion: Completion) -> None:
        self.counters["llm_prompt_tokens"] += completion.prompt_tokens
        self.counters["llm_completion_tokens"] += completion.completion_tokens
        cost = (completion.prompt_tokens * self.endpoint.input_price_per_mtok
                + completion.completion_tokens * self.endpoint.output_price_per_mtok) / 1e6
        if cost:
            self.counters["llm_cost_usd"] += cost

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# One request budget per endpoint in a process: the stages of a worker that send to the same endpoint
# (scoring and refinement of one command) keep at most ``max_concurrency`` requests in flight between them.
_budgets: dict[tuple[int, EndpointConfig], asyncio.Semaphore] = {}


class _Health:
    """The endpoint as one client sees it: when nothing but failures (timeouts, 5xx, 429, dropped
    connections) has come back for ``max_retry_s``, counted from the start of the first failed attempt,
    the endpoint is down and every request of the client fails at once. Without this a stalled server
    held a task for documents / concurrency x the timeout: each retry went to the back of the queue,
    behind every document still waiting for its first attempt."""

    def __init__(self, max_retry_s: float):
        self.max_retry_s = max_retry_s
        self.failing_since: float | None = None
        self.why = ""

    def check(self) -> None:
        if self.failing_since is not None and time.monotonic() - self.failing_since >= self.max_retry_s:
            raise EndpointUnavailable(f"nothing but failures from the endpoint for {self.max_retry_s:.0f}s "
                                      f"(the last: {self.why})")

    def failed(self, attempt_started: float, why: str) -> None:
        self.failing_since = attempt_started if self.failing_since is None else min(self.failing_since, attempt_started)
        self.why = why

    def answered(self) -> None:
        self.failing_since = None


def _endpoint_budget(endpoint: EndpointConfig) -> asyncio.Semaphore:
    """Called on the event loop that will use the budget (a semaphore belongs to one loop)."""
    key = (id(asyncio.get_running_loop()), endpoint)
    if key not in _budgets:
        _budgets[key] = asyncio.Semaphore(endpoint.max_concurrency)
    return _budgets[key]


def _seconds(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
