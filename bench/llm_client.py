"""The LLM client against a real OpenAI-compatible server on 127.0.0.1 that answers after a fixed latency.

* throughput: 3,000 documents of ~2 KB scored through the real stage (cache on), at several
  concurrency limits; the ceiling a limit allows is concurrency / latency requests per second;
* kill and resume: ``megamath llm score`` is SIGKILLed halfway and run again; the server counts the
  requests it receives, so any finished request sent again shows up.

    python bench/llm_client.py [--latency 0.05] [--docs 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from megamath.llm.cache import ResponseCache
from megamath.llm.client import EndpointConfig
from megamath.llm.score import LLMScore, ScoreConfig
from megamath.llm.stage import GenerationConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fixtures.scripted_server import ScriptedServerProcess  # noqa: E402
WORDS = ("the derivative of a polynomial is found term by term and the power rule gives n x to the n minus one "
         "so the slope of the tangent line at any point follows").split()


def documents(count: int, tag: str) -> list[dict]:
    return [{"id": f"d{i}", "text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(350)) + f" ({tag} {i})"}
            for i in range(count)]


def throughput(base_url: str, concurrency: int, docs: list[dict], cache_dir: str) -> float:
    endpoint = EndpointConfig(base_url=base_url, max_concurrency=concurrency)
    stage = LLMScore(ScoreConfig(GenerationConfig("scripted", "educational_value")), endpoint,
                     os.path.join(cache_dir, f"cache-{concurrency}.sqlite"))
    start = time.perf_counter()
    out = list(stage([dict(d) for d in docs]))
    seconds = time.perf_counter() - start
    assert len(out) == len(docs) and stage.counters["llm_requests"] == len(docs)
    return len(docs) / seconds


def kill_and_resume(base_url: str, server: ScriptedServerProcess, workdir: Path, total: int) -> None:
    shard = workdir / "docs.jsonl"
    shard.write_text("".join(json.dumps(d) + "\n" for d in documents(total, "resume")))
    command = [sys.executable, "-m", "megamath.cli", "llm", "score", str(shard), "-o", str(workdir / "run"),
               "--model", "scripted", "--base-url", base_url, "--concurrency", "16", "-q"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    start_requests = server.stats()["requests"]
    while server.stats()["requests"] - start_requests < total // 2:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    cached = len(ResponseCache(workdir / "run" / ".megamath" / "llm_cache.sqlite"))
    before = server.stats()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    after = server.stats()
    sent_again = after["requests"] - before["requests"]
    print(f"  killed at {before['requests'] - start_requests:,} requests received, {cached:,} answers cached")
    print(f"  rerun sent {sent_again:,} request(s) for the {total - cached:,} unanswered documents; "
          f"finished requests sent again: {sent_again - (total - cached)}")
    print(f"  (the server also counts {after['resent_after_answer'] - before['resent_after_answer']} repeat(s) "
          "of requests it had answered: answers that were on the wire when the run was killed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--concurrency", default="8,16,32,64")
    args = parser.parse_args()
    docs = documents(args.docs, "throughput")
    with ScriptedServerProcess(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        print(f"== throughput, {args.docs:,} documents of ~{len(docs[0]['text']) / 1000:.1f} KB, "
              f"server latency {1000 * args.latency:.0f} ms ==")
        for concurrency in map(int, args.concurrency.split(",")):
            rate = throughput(server.base_url, concurrency, docs, tmp)
            ceiling = concurrency / args.latency
            print(f"  concurrency {concurrency:3d}: {rate:7.1f} requests/s of {ceiling:6.0f} allowed = "
                  f"{100 * rate / ceiling:5.1f}%")
        print("\n== kill halfway and resume (megamath llm score, concurrency 16) ==")
        kill_and_resume(server.base_url, server, Path(tmp), 2000)


if __name__ == "__main__":
    main()
