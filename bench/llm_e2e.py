"""End to end with a real model: Web-Pro (score, threshold, refine) on 20 documents through the CLI,
against Gemma 3 270M served by llama.cpp's OpenAI-compatible server on 127.0.0.1.

Installs the ``llm-e2e`` extra first when it is missing (llama-cpp-python builds from source, ~4
minutes). The documents are the stage-1 text of real math pages from ../shared (or, without it,
of the example WARC). The 270M base model is for the plumbing, not for quality: scores are
constrained to JSON (``--response-format json_object``) and every score passes the threshold
(``--thresholds 0:0``) so that all 20 documents reach refinement.

    python bench/llm_e2e.py [--docs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))  # fixtures.llamacpp: llama.cpp's server, a test fixture


def ensure_installed() -> None:
    from fixtures.llamacpp import local_model_available

    if not local_model_available():
        print("installing the llm-e2e extra (llama-cpp-python builds from source, ~4 minutes)...", flush=True)
        # a portable build: llama.cpp 0.3.36 built for this machine's own CPU (GGML_NATIVE, the default)
        # died of a general protection fault in libggml-cpu at its first completion here
        env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", "-DGGML_NATIVE=OFF")}
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[llm-e2e]"], check=True, env=env)


def sample_documents(count: int, max_chars: int) -> list[dict]:
    from _corpus import SHARED

    from megamath.web.extract import extract_text

    if (SHARED / "data" / "html-math").is_dir():
        pages = sorted((SHARED / "data" / "html-math").rglob("*.htm*"))
        texts = (extract_text(p.read_bytes()) for p in pages)
    else:
        from megamath.sources.warc import WarcReader

        texts = (extract_text(r["html"]) for r in WarcReader()(str(ROOT / "examples" / "example.warc.gz"))
                 if isinstance(r, dict))
    docs = []
    for text in texts:
        if len(text) >= 400:
            year = 2016 if len(docs) % 2 else 2024
            docs.append({"id": f"doc{len(docs)}", "text": text[:max_chars], "source": f"sample@{len(docs)}",
                         "meta": {"crawl": f"CC-MAIN-{year}-10"}})
        if len(docs) == count:
            break
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--max-chars", type=int, default=1200)
    args = parser.parse_args()
    ensure_installed()
    from fixtures.llamacpp import LlamaCppServer

    with tempfile.TemporaryDirectory() as tmp:
        shard = Path(tmp) / "docs.jsonl"
        docs = sample_documents(args.docs, args.max_chars)
        shard.write_text("".join(json.dumps(d) + "\n" for d in docs))
        print(f"{len(docs)} documents, {sum(len(d['text']) for d in docs):,} characters")
        started = time.monotonic()
        with LlamaCppServer(log_path=Path(tmp) / "llama.log") as server:
            print(f"llama.cpp server up in {time.monotonic() - started:.1f}s at {server.base_url}\n", flush=True)
            command = [sys.executable, "-m", "megamath.cli", "web", "pro", str(shard), "-o", str(Path(tmp) / "pro"),
                       "--model", server.model, "--base-url", server.base_url, "--response-format", "json_object",
                       "--thresholds", "0:0", "--min-length-ratio", "0.05", "--max-length-ratio", "3",
                       "--refine-max-tokens", "200", "--concurrency", "2", "--timeout", "600", "--format", "jsonl",
                       "-q"]
            print("$ megamath " + " ".join(command[3:]).replace(tmp, "TMP"), flush=True)
            result = subprocess.run(command, capture_output=True, text=True)
            print(result.stdout.replace(tmp, "TMP"))
            if result.returncode != 0:
                sys.exit(f"web pro failed ({result.returncode}):\n{result.stderr[-2000:]}")
            out = [json.loads(line) for path in sorted((Path(tmp) / "pro" / "data").glob("*.jsonl"))
                   for line in path.read_text().splitlines()]
            print(f"refined documents: {len(out)}; first one, linked to {out[0]['meta']['refined_from']['id']}:")
            print("  " + out[0]["text"][:300].replace("\n", "\n  "))


if __name__ == "__main__":
    main()
