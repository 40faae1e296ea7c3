"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose "model" follows a script.

Tests and benchmarks start it as a separate process to exercise the LLM client over real sockets:
latency, rate limits, server errors, timeouts and malformed answers, without a model. It speaks
``POST /v1/chat/completions`` and ``GET /v1/models``, and reports what it received at ``GET /stats``.

What it answers is decided by the request:

* the model name ending in ``-echo``: the text between ``<document>`` and ``</document>`` in the last
  user message (a refinement that changes nothing); otherwise a rationale and ``Score: N``, N being
  ``score=N`` from the script or a hash of the prompt mod 6.
* a ``[[script: ...]]`` directive in the last user message: comma-separated actions, each applied to
  the first K requests carrying this exact prompt (``429x2``: two rate limits, then a normal answer):
  ``400``, ``429``, ``500``, ``503``, ``timeout`` (answers after ``--stall`` seconds), ``malformed`` (no
  score), ``empty``, ``refuse``, ``badjson`` (a body that is not JSON), ``hangup`` (closes the
  connection), and ``score=N``.

Run: ``python -m megamath.llm.scripted_server --port 0 --latency 0.05`` prints ``port N`` when ready.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import subprocess
import sys
import urllib.request
from collections import Counter

_SCRIPT = re.compile(r"\[\[script:([^\]]*)\]\]")
_DOCUMENT = re.compile(r"<document>\n?(.*?)\n?</document>", re.DOTALL)
_REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class ScriptedModel:
    def __init__(self, latency: float, stall: float):
        self.latency = latency
        self.stall = stall
        self.seen: Counter = Counter()  # requests received per prompt
        self.answered: set[str] = set()  # prompt keys that got a normal answer
        self.requests = 0
        self.resent_after_answer = 0  # requests for a prompt that had already been answered

    def stats(self) -> dict:
        return {"requests": self.requests, "answered": len(self.answered),
                "resent_after_answer": self.resent_after_answer, "max_per_prompt": max(self.seen.values(), default=0)}

    async def respond(self, body: bytes) -> tuple[int, bytes | None]:
        """(status, body); body None means: close the connection without answering."""
        self.requests += 1
        try:
            request = json.loads(body)
            messages = request["messages"]
            model = request.get("model", "scripted")
        except (ValueError, KeyError, TypeError):
            return 400, _error("invalid request body")
        key = hashlib.sha1(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if key in self.answered:
            self.resent_after_answer += 1
        prompt = str(messages[-1].get("content", "")) if messages else ""
        # scripts count requests per prompt, whatever the sampling parameters of a retry
        attempt = self.seen[prompt]
        self.seen[prompt] += 1
        action, score = _scripted_action(prompt, attempt)
        await asyncio.sleep(self.stall if action == "timeout" else self.latency)
        if action in ("400", "429", "500", "503"):
            return int(action), _error(_REASONS[int(action)])
        if action == "hangup":
            return 0, None
        if action == "badjson":
            return 200, b'{"choices": [{"message": {"content": "Sco'
        if action == "empty":
            content = ""
        elif action == "refuse":
            content = "I'm sorry, but I can't help with that."
        elif action == "malformed":
            content = "This page is about numbers. I would rate it highly."
        elif model.endswith("-echo"):
            match = _DOCUMENT.search(prompt)
            content = match.group(1) if match else prompt
        else:
            if score is None:
                score = int(hashlib.sha1(prompt.encode()).hexdigest(), 16) % 6
            content = f"The text was read with care.\nScore: {score}"
        if action is None:
            self.answered.add(key)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion_tokens = len(content.split())
        return 200, json.dumps({
            "id": f"chatcmpl-{key[:12]}-{attempt}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }).encode()


def _scripted_action(prompt: str, attempt: int) -> tuple[str | None, int | None]:
    match = _SCRIPT.search(prompt)
    if not match:
        return None, None
    score = None
    position = 0
    for part in match.group(1).split(","):
        part = part.strip()
        if part.startswith("score="):
            score = int(part[6:])
            continue
        name, _, times = part.partition("x")
        count = int(times) if times.strip().isdigit() else 1
        if attempt < position + count:
            return name, score
        position += count
    return None, score


def _error(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "scripted"}}).encode()


async def _handle(model: ScriptedModel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                status, payload = await model.respond(body)
                if payload is None:
                    break
            elif method == "GET" and path.rstrip("/").endswith("/models"):
                status, payload = 200, json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode()
            elif method == "GET" and path == "/stats":
                status, payload = 200, json.dumps(model.stats()).encode()
            else:
                status, payload = 404, _error(f"no route {method} {path}")
            retry_after = "Retry-After: 0\r\n" if status == 429 else ""
            writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(payload)}\r\n{retry_after}\r\n".encode() + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(port: int, latency: float, stall: float) -> None:
    model = ScriptedModel(latency, stall)
    server = await asyncio.start_server(lambda r, w: _handle(model, r, w), "127.0.0.1", port, backlog=1024)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class ScriptedServerProcess:
    """``with ScriptedServerProcess(latency=0.05) as server:`` runs the server in a child process;
    ``server.base_url`` is its API root and ``server.stats()`` what it has received so far."""

    def __init__(self, latency: float = 0.0, stall: float = 30.0):
        self.args = ["--latency", str(latency), "--stall", str(stall)]
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> "ScriptedServerProcess":
        self.process = subprocess.Popen([sys.executable, "-m", "megamath.llm.scripted_server", *self.args],
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"scripted server did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"
        return self

    def stats(self) -> dict:
        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/stats", timeout=10) as response:
            return json.loads(response.read())

    def __exit__(self, *exc_info) -> None:
        self.process.kill()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--stall", type=float, default=30.0, help="seconds a scripted timeout waits")
    args = parser.parse_args()
    try:
        import uvloop  # optional: less overhead per request, so the latency is what the test asked for

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        run(serve(args.port, args.latency, args.stall))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
