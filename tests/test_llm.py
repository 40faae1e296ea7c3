"""The LLM layer against a real OpenAI-compatible HTTP server on 127.0.0.1 (scripted answers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.scripted_server import ScriptedServerProcess
from megamath.llm.cache import ResponseCache
from megamath.llm.client import EndpointConfig, EndpointUnavailable
from megamath.llm.parsers import MalformedAnswer, parse_refinement, parse_score
from megamath.llm.prompts import PromptError, load_prompt
from megamath.llm.refine import LLMRefine, RefineConfig
from megamath.llm.score import LLMScore, ScoreConfig
from megamath.llm.stage import GenerationConfig
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop
from megamath.sources.crawl import crawl_year
from megamath.web.pro import ScoreThreshold, ScoreThresholdConfig, parse_year_thresholds

from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def server():
    with ScriptedServerProcess(latency=0.0, stall=3.0) as running:
        yield running


def endpoint(server, **overrides) -> EndpointConfig:
    settings = dict(base_url=server.base_url, max_concurrency=8, timeout_s=1.0, max_retries=4, backoff_s=0.01)
    return EndpointConfig(**{**settings, **overrides})


def scorer(server, tmp_path=None, **overrides) -> LLMScore:
    cache = str(tmp_path / "cache.sqlite") if tmp_path else None
    return LLMScore(ScoreConfig(GenerationConfig("scripted", "educational_value")), endpoint(server, **overrides), cache)


def doc(i: int, text: str = "", **meta) -> dict:
    return {"id": f"d{i}", "text": text or f"Document {i} about the quadratic formula $x^2$.", "source": f"s@{i}",
            "meta": meta}


def test_score_parser_reads_text_and_json_and_never_defaults():
    assert parse_score("Good page.\nScore: 4", 0, 5) == 4
    assert parse_score("score - 2 out of 5 ... final Score: 3/5", 0, 5) == 3
    assert parse_score('{"reason": "ok", "score": 5}', 0, 5) == 5
    for answer, reason in [("", "empty"), ("   ", "empty"), ("I'm sorry, but I can't help.", "refusal"),
                           ("It is very good.", "no_score"), ("Score: 9", "score_out_of_range"),
                           ("Score: 2.5", "score_out_of_range"), ('{"score": "high"}', "no_score"),
                           ("Score: -1", "signed_score"), ("Score:+3", "signed_score"),
                           ('{"score": -1}', "score_out_of_range"), ('{"score": true}', "no_score"),
                           ("Score: 4/10", "other_scale"), ("Score: 4 out of 10", "other_scale"),
                           ("Score: 5/100", "other_scale")]:
        with pytest.raises(MalformedAnswer) as caught:
            parse_score(answer, 0, 5)
        assert caught.value.reason == reason, answer


def test_a_signed_score_from_the_server_is_a_malformed_answer_never_a_score(server):
    """The scripted server on 127.0.0.1 answers "Score: -1": the record is dropped, not scored 1."""
    stage = scorer(server)
    out = list(stage([doc(0, "Text [[script: score=-1]]"), doc(1, "Text [[script: score=4]]")]))
    assert isinstance(out[0], Drop) and out[0].reason == "llm_signed_score"
    assert out[1]["meta"]["llm"]["educational_value"]["score"] == 4
    assert stage.counters["llm_malformed_signed_score"] == 3  # the first answer and both retries


def test_refinement_parser_checks_length():
    original = "word " * 100
    assert parse_refinement(f"<refined>{original}</refined>", original, 0.5, 1.5) == original.strip()
    with pytest.raises(MalformedAnswer, match="too_short"):
        parse_refinement("<refined>short</refined>", original, 0.5, 1.5)
    with pytest.raises(MalformedAnswer, match="too_long"):
        parse_refinement(original * 3, original, 0.5, 1.5)


def test_shipped_prompts_and_prompt_files(tmp_path):
    for name in ("math_relevance", "educational_value", "refine"):
        prompt = load_prompt(name)
        messages = prompt.messages("$\\frac{a}{b}$ {not a placeholder}")
        assert "$\\frac{a}{b}$ {not a placeholder}" in messages[-1]["content"]
        assert prompt.id == f"{name}.v1"
    custom = tmp_path / "mine.toml"
    custom.write_text('name = "mine"\nversion = 3\nanswer = "score"\nmax_score = 10\nuser = "Rate: {text}"\n')
    assert load_prompt(str(custom)).id == "mine.v3"
    custom.write_text('name = "broken"\nversion = 1\nanswer = "score"\nuser = "no placeholder"\n')
    with pytest.raises(PromptError):
        load_prompt(str(custom))
    with pytest.raises(PromptError, match="shipped are"):
        load_prompt("no_such_prompt")


def test_code_rubrics_are_filled_with_the_file_language_and_a_record_without_it_is_dropped(server):
    education = load_prompt("code_education")
    messages = education.messages("fn main() {}", {"language": "rust", "path": "src/main.rs"})
    assert "teacher of rust" in messages[0]["content"] and "rust file below (src/main.rs)" in messages[1]["content"]
    assert "{language}" not in json.dumps(messages) and "fn main() {}" in messages[1]["content"]
    with pytest.raises(PromptError, match="'language'"):
        education.messages("x = 1", {"path": "a.py"})
    stage = LLMScore(ScoreConfig(GenerationConfig("scripted", "code_math"), key="code_math"),
                     EndpointConfig(base_url=server.base_url))
    file = {"id": "f", "text": "import math\n[[script: score=5]]", "meta": {"code": {"language": "python", "path": "a.py"}}}
    unnamed = {"id": "g", "text": "print(1)", "meta": {}}
    scored, dropped = list(stage([file, unnamed]))
    assert scored["meta"]["llm"]["code_math"] == {"score": 5, "prompt": "code_math.v1", "model": "scripted"}
    assert isinstance(dropped, Drop) and dropped.reason == "llm_missing_field"


def test_retries_on_rate_limits_server_errors_timeouts_and_broken_answers(server):
    stage = scorer(server)
    scripts = ["429x2, score=1", "500x1, 503x1, score=2", "timeoutx1, score=3", "hangupx1, score=4",
               "badjsonx2, score=5", "score=0"]
    records = [doc(i, f"Text {i} [[script: {script}]]") for i, script in enumerate(scripts)]
    out = list(stage(records))
    assert [r["meta"]["llm"]["educational_value"]["score"] for r in out] == [1, 2, 3, 4, 5, 0]
    counters = stage.counters
    assert counters["llm_retries_429"] == 2
    assert counters["llm_retries_500"] == 1 and counters["llm_retries_503"] == 1
    assert counters["llm_retries_timeout"] == 1
    assert counters["llm_retries_connection"] == 1
    assert counters["llm_retries_bad_response"] == 2
    assert counters["llm_prompt_tokens"] > 0 and counters["llm_completion_tokens"] > 0


def test_malformed_answers_are_asked_again_then_dropped_never_defaulted(server):
    stage = scorer(server)
    records = [doc(1, "A [[script: malformedx1, score=4]]"), doc(2, "B [[script: refusex9]]"),
               doc(3, "C [[script: emptyx9]]"), doc(4, "D [[script: 400x1]]"), doc(5, " ")]
    out = list(stage(records))
    assert out[0]["meta"]["llm"]["educational_value"]["score"] == 4
    assert [(type(o) is Drop and o.reason) for o in out[1:]] == ["llm_refusal", "llm_empty", "llm_rejected",
                                                                 "empty_text"]
    assert stage.counters["llm_malformed_refusal"] == 3  # the first try and two retries with sampling on
    assert stage.counters["llm_malformed_no_score"] == 1


def test_endpoint_down_fails_loudly_instead_of_dropping(server):
    stage = LLMScore(ScoreConfig(GenerationConfig("scripted", "educational_value")),
                     EndpointConfig(base_url="http://127.0.0.1:9/v1", max_retries=2, backoff_s=0.01, timeout_s=1))
    with pytest.raises(EndpointUnavailable, match="gave up after 3 attempt"):
        list(stage([doc(1)]))
    stage = scorer(server, max_retries=1)
    with pytest.raises(EndpointUnavailable, match="503"):
        list(stage([doc(2, "[[script: 503x5]]")]))


def test_the_time_one_request_spends_on_retries_is_capped(server):
    """Fifty retries with one second of backoff would take minutes; the cap ends them after 1.5 s."""
    stage = scorer(server, max_retries=50, backoff_s=1.0, max_backoff_s=1.0, max_retry_s=1.5)
    started = time.monotonic()
    with pytest.raises(EndpointUnavailable, match=r"gave up after \d attempt\(s\) in [12]s \(503"):
        list(stage([doc(3, "[[script: 503x100]]")]))
    assert time.monotonic() - started < 4


def test_a_down_endpoint_is_refused_at_start_with_the_default_retries(tmp_path):
    """With 8 retries and backoff up to a minute, a dead endpoint used to cost every task many minutes."""
    shard = write_jsonl(tmp_path / "in.jsonl", [doc(i) for i in range(3)])
    started = time.monotonic()
    result = run_cli("llm", "score", str(shard), "-o", str(tmp_path / "run"), "--model", "scripted", "-q",
                     "--base-url", "http://127.0.0.1:9/v1", timeout=120)
    assert result.returncode == 1 and "http://127.0.0.1:9/v1 does not answer" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 30


def test_a_long_document_is_refined_in_pieces_and_joined_never_cut(server):
    paragraphs = [f"Paragraph {i}: since $a_{i} = {i}^2$, the sum grows by {i * i} at step {i}. " * 6 for i in range(60)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > 5 * 4000
    stage = LLMRefine(RefineConfig(GenerationConfig("scripted-echo", "refine", max_input_chars=4000)), endpoint(server))
    (out,) = list(stage([doc(1, text)]))
    assert out["text"] == text  # every piece came back and the pieces were joined at paragraph breaks
    pieces = out["meta"]["refined_from"]["pieces"]
    assert pieces >= 6 and stage.counters["llm_requests"] == pieces and stage.counters["llm_inputs_chunked"] == 1
    # a score reads the beginning of a long page, and says it did
    score = scorer(server)
    list(score([doc(2, text)]))
    assert score.counters["llm_inputs_truncated"] == 1


def test_malformed_answers_are_cached_as_verdicts_not_in_full(tmp_path):
    """A server that answers a megabyte of junk: the cache keeps the verdict, and a rerun asks nothing."""
    records = [doc(i, f"Junk answer {i} [[script: junkx9]]") for i in range(10)]
    with ScriptedServerProcess() as running:
        # a megabyte may take more than the suite's 1 s timeout on a loaded machine: a retry then would
        # be a second request, so this test waits as long as the answer takes
        first = scorer(running, tmp_path, timeout_s=300.0)
        assert [o.reason for o in first(records)] == ["llm_no_score"] * 10
        assert first.counters["llm_requests"] == 30
        again = scorer(running, tmp_path, timeout_s=300.0)
        assert [o.reason for o in again(records)] == ["llm_no_score"] * 10
        assert again.counters["llm_requests"] == 0 and again.counters["llm_cache_hits"] == 30
    files = list(tmp_path.glob("cache.sqlite*"))
    assert sum(f.stat().st_size for f in files) < 1_000_000  # 30 answers of 1 MB each were 30 MB


def test_dropped_ids_are_written_with_their_reason(server, tmp_path):
    records = [doc(0), doc(1, "B [[script: malformedx9]]"), doc(2, "C [[script: 400x1]]"), doc(3)]
    shard = write_jsonl(tmp_path / "in.jsonl", records)
    result = run_cli("llm", "score", str(shard), "-o", str(tmp_path / "run"), "--model", "scripted", "-q",
                     "--base-url", server.base_url)
    assert result.returncode == 0, result.stderr
    (listing,) = (tmp_path / "run" / "dropped").glob("*.jsonl.zst")
    assert sorted((r["id"], r["stage"], r["reason"]) for r in read_shard(str(listing))) == [
        ("d1", "llm_score", "llm_no_score"), ("d2", "llm_score", "llm_rejected")]


def test_a_rerun_reports_only_the_requests_it_sent(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [doc(i) for i in range(5)])
    second = write_jsonl(tmp_path / "b.jsonl", [doc(i) for i in range(5, 12)])
    with ScriptedServerProcess() as running:
        args = ["llm", "score", "-o", str(tmp_path / "run"), "--model", "scripted", "--base-url", running.base_url]
        assert run_cli(*args, str(first)).returncode == 0
        before = running.stats()["requests"]
        rerun = run_cli(*args, str(first), str(second))
        assert rerun.returncode == 0, rerun.stderr
        sent = running.stats()["requests"] - before
    assert sent == 7 and "llm_score: 7 request(s) sent, 0 answered from the cache" in rerun.stdout, rerun.stdout
    assert "1 task(s) finished by earlier runs are not counted" in rerun.stdout


def test_cache_answers_repeat_requests_without_sending(server, tmp_path):
    records = [doc(i) for i in range(20)]
    first = scorer(server, tmp_path)
    scores = [r["meta"]["llm"]["educational_value"]["score"] for r in first([dict(r, meta={}) for r in records])]
    assert first.counters["llm_requests"] == 20
    again = scorer(server, tmp_path)
    assert [r["meta"]["llm"]["educational_value"]["score"] for r in again([dict(r, meta={}) for r in records])] == scores
    assert again.counters["llm_requests"] == 0 and again.counters["llm_cache_hits"] == 20
    assert len(ResponseCache(tmp_path / "cache.sqlite")) == 20


def test_refine_links_to_source_and_rejects_wrong_length(server):
    stage = LLMRefine(RefineConfig(GenerationConfig("scripted-echo", "refine")), endpoint(server))
    text = "Let $x = 2$. Then $x^2 = 4$, as the square of two is four. " * 5
    out = list(stage([doc(1, text), doc(2, "Short [[script: malformedx9]] " + "padding words " * 40)]))
    assert out[0]["text"] == text.strip()
    assert out[0]["meta"]["refined_from"]["id"] == "d1" and out[0]["meta"]["refined_from"]["source"] == "s@1"
    assert out[0]["meta"]["refined_from"]["prompt"] == "refine.v1"
    assert type(out[1]) is Drop and out[1].reason == "llm_too_short"


def test_year_thresholds():
    steps = parse_year_thresholds("0:4,2023:3")
    gate = ScoreThreshold(ScoreThresholdConfig(year_thresholds=steps))
    assert crawl_year({"meta": {"crawl": "CC-MAIN-2016-07"}}) == 2016
    assert crawl_year({"meta": {"warc_date": "2024-02-21T10:00:00Z"}}) == 2024
    assert (gate.threshold_for(2016), gate.threshold_for(2020), gate.threshold_for(2023), gate.threshold_for(None)) \
        == (4, 4, 3, 4)
    with pytest.raises(ValueError):
        parse_year_thresholds("2023=3")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_webpro_cli_scores_filters_by_year_and_refines(server, tmp_path):
    records = []
    for i in range(12):
        year, score = (2016, 3 + i % 2) if i < 6 else (2024, 2 + i % 2)
        text = f"Worked example {i}: solve $x^2 = {i}$ step by step. [[script: score={score}]] " * 3
        records.append(doc(i, text, crawl=f"CC-MAIN-{year}-10"))
    shard = write_jsonl(tmp_path / "in.jsonl", records)
    result = run_cli("web", "pro", str(shard), "-o", str(tmp_path / "pro"), "--model", "scripted",
                     "--refine-model", "scripted-echo", "--base-url", server.base_url, "-q", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    out = [r for path in sorted((tmp_path / "pro" / "data").glob("*.jsonl")) for r in read_shard(str(path))]
    kept = sorted(r["id"] for r in out)
    # 2016 needs 4: odd i (score 4); 2024 needs 3: odd i (score 3)
    assert kept == sorted(f"d{i}" for i in range(12) if i % 2 == 1)
    assert all(r["meta"]["refined_from"]["id"] == r["id"] for r in out)
    assert "llm_score: 12 request(s) sent" in result.stdout and "llm_refine: 6 request(s) sent" in result.stdout
    assert "below_threshold 6" in result.stdout
    stats = json.loads((tmp_path / "pro" / "stats.json").read_text())
    counters = {stage["name"]: stage.get("counters", {}) for stage in stats["funnel"]}
    assert counters["llm_score"]["llm_requests"] == 12 and counters["llm_score"]["llm_prompt_tokens"] > 0


def test_cli_reports_an_endpoint_that_fails_midway_and_the_rerun_resumes(tmp_path):
    shard = write_jsonl(tmp_path / "in.jsonl", [doc(i) for i in range(4)] + [doc(4, "[[script: 503x2]]")])
    args = ["llm", "score", str(shard), "-o", str(tmp_path / "run"), "--model", "scripted", "-q",
            "--max-retries", "1", "--timeout", "2"]
    with ScriptedServerProcess() as running:
        down = run_cli(*args, "--base-url", running.base_url)
        assert down.returncode == 1 and "input not finished" in down.stderr and "503" in down.stderr
        up = run_cli(*args, "--base-url", running.base_url)
        assert up.returncode == 0, up.stderr
        assert "5 documents" in up.stdout and running.stats()["resent_after_answer"] == 0


def test_killed_run_resends_no_finished_request(tmp_path):
    """SIGKILL the whole command halfway; the rerun sends exactly the requests whose answers were not cached."""
    total = 600
    shard = write_jsonl(tmp_path / "in.jsonl", [doc(i, f"Document number {i} on integrals.") for i in range(total)])
    with ScriptedServerProcess(latency=0.02) as running:
        command = [sys.executable, "-m", "megamath.cli", "llm", "score", str(shard), "-o", str(tmp_path / "run"),
                   "--model", "scripted", "--base-url", running.base_url, "--concurrency", "8", "-q"]
        process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while running.stats()["answered"] < total // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        cached = len(ResponseCache(tmp_path / "run" / ".megamath" / "llm_cache.sqlite"))
        assert 0 < cached < total
        before = running.stats()["requests"]
        rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        sent_again = running.stats()["requests"] - before
    assert sent_again == total - cached
    counters = json.loads((tmp_path / "run" / "stats.json").read_text())["funnel"][1]["counters"]
    assert counters["llm_cache_hits"] == cached and counters["llm_requests"] == total - cached
    out = [r for path in (tmp_path / "run" / "data").glob("*.parquet") for r in read_shard(str(path))]
    assert sorted(r["id"] for r in out) == sorted(f"d{i}" for i in range(total))


def test_the_stages_of_a_worker_share_one_request_budget_per_endpoint(tmp_path):
    """Web-Pro's scoring and refinement run in the same worker: --concurrency bounds them together."""
    shard = write_jsonl(tmp_path / "in.jsonl", [doc(i, f"Worked example {i}: the derivative of x^{i} is {i} x^{i - 1}.")
                                               for i in range(120)])
    with ScriptedServerProcess(latency=0.05) as running:
        result = run_cli("web", "pro", str(shard), "-o", str(tmp_path / "pro"), "--model", "scripted",
                         "--refine-model", "scripted-echo", "--thresholds", "0:0", "--base-url", running.base_url,
                         "--concurrency", "4", "-w", "1", "-q")
        assert result.returncode == 0, result.stderr
        stats = running.stats()
    assert stats["requests"] == 240 and stats["max_in_flight"] == 4


def test_long_texts_are_split_at_the_best_break_within_the_limit():
    from megamath.llm.chunks import split_text

    text = "First paragraph. It has two sentences.\n\nSecond one, a little longer than the first.\nIts next line."
    assert split_text(text, 1000) == [text]
    assert split_text(text, 60) == ["First paragraph. It has two sentences.",
                                    "Second one, a little longer than the first.\nIts next line."]
    assert split_text("One. Two three four five six seven. Eight nine ten eleven.", 40) == [
        "One. Two three four five six seven.", "Eight nine ten eleven."]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]  # no break at all: cut where it must
    pieces = split_text(" ".join(f"word{i}" for i in range(3000)), 997)
    assert all(len(p) <= 997 for p in pieces) and " ".join(pieces).split() == [f"word{i}" for i in range(3000)]


def test_a_stalled_endpoint_ends_the_task_after_one_retry_budget_not_one_per_document():
    """Models listed, chats never answered: once the first requests have spent their retry budget, the
    documents queued behind them fail at once instead of each waiting out a budget of its own."""
    with ScriptedServerProcess(stall=60.0) as running:
        stage = scorer(running, max_concurrency=2, timeout_s=1.0, max_retries=8, backoff_s=0.01, max_retry_s=2.0)
        with pytest.raises(EndpointUnavailable, match="nothing but failures from the endpoint for 2s"):
            list(stage([doc(i, f"Doc {i} [[script: timeoutx99]]") for i in range(40)]))
        sent = running.stats()["requests"]
    assert sent <= 12, f"{sent} requests: each document spent a budget of its own"  # 2 slots x a few attempts
