"""The synthesis stages (Q&A, code to Python, text+code blocks): their parsers, and the stages against the
scripted model server on 127.0.0.1 with snippets run in the real sandbox; end to end through the CLI on
the example corpus."""

from __future__ import annotations

import json
import shutil

import pytest

from fixtures.scripted_server import ScriptedServerProcess
from megamath.llm.client import EndpointConfig
from megamath.llm.parsers import MalformedAnswer
from megamath.llm.stage import GenerationConfig
from megamath.runtime.shards import read_shard
from megamath.runtime.stage import Drop
from megamath.synth.blocks import BlocksConfig, MathBlocks, parse_blocks
from megamath.synth.qa import QAExtract, QAExtractConfig, QAPair, QARefine, QARefineConfig, parse_qa, parse_solution
from megamath.synth.translate import CodeTranslate, TranslateConfig, parse_translation, runs_something

from conftest import EXAMPLE_WARC, ROOT, run_cli

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (make install)")


@pytest.fixture(scope="module")
def server():
    with ScriptedServerProcess() as running:
        yield running


def endpoint(server) -> EndpointConfig:
    return EndpointConfig(base_url=server.base_url, max_concurrency=4, timeout_s=5, max_retries=1, backoff_s=0.01)


def test_qa_parser_reads_problems_and_verdicts_and_rejects_what_leans_on_the_page():
    assert parse_qa("NO_QA") == [] and parse_qa("  no qa. ") == []
    pairs = parse_qa("Question: What is $2+3$?\nAnswer: $5$\n---\nQuestion: Solve $x^2=4$.\nAnswer: none")
    assert pairs == [QAPair("What is $2+3$?", "$5$"), QAPair("Solve $x^2=4$.", None)]
    assert parse_qa("**Question:** A train covers 120 km in 2 h. Its speed?") == [
        QAPair("A train covers 120 km in 2 h. Its speed?", None)]
    for answer, reason in [("It is a nice page.", "no_question"), ("Question: \nAnswer: 4", "empty_question"),
                           ("Question: Using the figure above, find the area.\nAnswer: none", "leans_on_page"),
                           ("Question: Find x in the triangle shown below.", "leans_on_page"), ("", "empty")]:
        with pytest.raises(MalformedAnswer) as caught:
            parse_qa(answer)
        assert caught.value.reason == reason, answer


def test_solution_parser_keeps_the_question_its_numbers_and_the_given_result():
    pair = QAPair("A train covers 120 km in 2 hours. What is its speed?", "60 km/h")
    good = ("Question: A train covers 120 km in 2 hours.  What is its speed?\n"
            "Answer: Speed is distance over time: 120 / 2 = 60, so $\\boxed{60}$ km/h.")
    assert parse_solution(good, pair, 0.5).startswith("Speed is distance")
    for answer, reason in [
        ("Question: A bus covers 120 km in 2 hours. What is its speed?\nAnswer: 120 / 2 = 60.", "question_changed"),
        ("Question: " + pair.question + "\nAnswer: Divide the distance by the time to get 60.", "drops_question_numbers"),
        ("Question: " + pair.question + "\nAnswer: 120 / 2 = 61.", "answer_changed"),
        ("Answer: 60", "no_solution"),
    ]:
        with pytest.raises(MalformedAnswer) as caught:
            parse_solution(answer, pair, 0.5)
        assert caught.value.reason == reason, answer


def test_block_parser_reads_blocks_and_counts_incomplete_ones():
    answer = ("<block>\nConditions: a box holds 12 eggs.\nExpression: $3 \\cdot 12$\nResult: 36\n"
              "```python\nprint(3 * 12)\n```\n</block>\n<block>\nConditions: nothing\nExpression: $1+1$\n</block>")
    blocks, broken = parse_blocks(answer)
    assert broken == 1 and [(b.result, b.code, b.expression) for b in blocks] == [("36", "print(3 * 12)", "$3 \\cdot 12$")]
    assert parse_blocks("NO_BLOCKS") == ([], 0) == parse_blocks("```python\nNO_BLOCKS\n```")
    for answer, reason in [("The page computes things.", "no_block"), ("<block>Result: 3</block>", "blocks_incomplete")]:
        with pytest.raises(MalformedAnswer) as caught:
            parse_blocks(answer)
        assert caught.value.reason == reason


def test_translation_parser_takes_one_python_block_or_the_verdict():
    assert parse_translation("Here it is:\n```python\nprint(1)\n```\nDone.") == "print(1)\n"
    assert parse_translation("UNTRANSLATABLE: a build script") is None
    for answer, reason in [("print(1)", "no_code_block"), ("```python\na = 1\n```\n```python\nb = 2\n```", "several_code_blocks"),
                           ("```python\n\n```", "empty")]:
        with pytest.raises(MalformedAnswer) as caught:
            parse_translation(answer)
        assert caught.value.reason == reason
    import ast

    assert runs_something(ast.parse("def f():\n    pass\nif __name__ == '__main__':\n    f()"))
    assert runs_something(ast.parse("def test_f():\n    assert 1"))
    assert not runs_something(ast.parse("def f(x):\n    return x"))


def _block(result: str, code: str) -> str:
    return f"<block>\nConditions: c\nExpression: $e$\nResult: {result}\n```python\n{code}\n```\n</block>"


@needs_bwrap
def test_blocks_are_kept_only_when_the_sandboxed_snippet_prints_the_stated_result(server):
    """The echo model answers with the document, so each document below is the model's answer."""
    answer = "\n".join([
        _block("36", "print(3 * 12)"),                           # verified
        _block("\\frac{1}{3}", "from fractions import Fraction\nprint(Fraction(1, 3))"),  # verified (LaTeX form)
        _block("37", "print(3 * 12)"),                           # mismatch
        _block("a prime", "print('a prime')"),                   # unverifiable: words
        _block("<result>", "print(5)"),                          # a placeholder fails
        _block("4", "import os\nprint(4)"),                      # ast_blocked
        _block("4", "print(4"),                                  # syntax_error
        _block("4", "print(1 / 0)"),                             # runtime_error
        _block("4", "while True:\n    pass"),                    # timeout
        _block("4", "x = bytearray(4 << 30)\nprint(4)"),         # memory
    ])
    stage = MathBlocks(BlocksConfig(GenerationConfig("scripted-echo", "math_blocks")), endpoint(server))
    records = [{"id": "p1", "source": "s@1", "text": answer},
               {"id": "p2", "source": "s@2", "text": "NO_BLOCKS"},
               {"id": "p3", "source": "s@3", "text": _block("5", "print(4)")}]
    out = list(stage(records))
    assert [type(o) is Drop and o.reason for o in out[1:]] == ["no_blocks", "no_verified_block"]
    sample = out[0]
    assert sample["id"] == "p1/blocks" and sample["meta"]["synth"]["from"] == {"id": "p1", "source": "s@1"}
    assert sample["meta"]["synth"]["steps"] == [{"prompt": "math_blocks.v1", "model": "scripted-echo"}]
    assert sample["meta"]["synth"]["blocks"] == {"verified": 2, "mismatch": 2, "unverifiable": 1, "ast_blocked": 1,
                                                 "syntax_error": 1, "runtime_error": 1, "timeout": 1, "memory": 1}
    assert sample["text"].count("```output") == 2 and "print(3 * 12)" in sample["text"]
    assert stage.counters["blocks_verified"] == 2 and stage.counters["blocks_mismatch"] == 3
    assert stage.counters["ast_blocked:import:os"] == 1


@needs_bwrap
def test_translations_must_parse_and_their_main_block_must_run(server):
    main = "```python\ndef double(x):\n    return 2 * x\n\n\nif __name__ == '__main__':\n    assert double(2) == 4\n    print(double(21))\n```"
    failing = "```python\nif __name__ == '__main__':\n    assert 1 == 2\n```"
    library = "```python\ndef double(x):\n    \"\"\"Twice x.\"\"\"\n    return 2 * x\n```"
    files = [("c1", main), ("c2", failing), ("c3", library), ("c4", "```python\ndef f(:\n```"),
             ("c5", "UNTRANSLATABLE: a linker script"), ("c6", "x" * 13_000)]
    records = [{"id": i, "source": f"code:{i}", "text": t, "meta": {"code": {"language": "c", "path": f"src/{i}.c"}}}
               for i, t in files]
    stage = CodeTranslate(TranslateConfig(GenerationConfig("scripted-echo", "code_to_python")), endpoint(server))
    out = list(stage(records))
    assert [o.reason for o in out if type(o) is Drop] == ["runtime_error", "syntax_error", "untranslatable", "too_long"]
    kept = [o for o in out if type(o) is not Drop]
    assert [(r["id"], r["meta"]["synth"]["ran"]) for r in kept] == [("c1/python", "ok"), ("c3/python", None)]
    assert kept[0]["meta"]["code"]["path"] == "src/c1.py" and kept[0]["meta"]["code"]["language"] == "python"
    assert kept[0]["meta"]["synth"]["from"] == {"id": "c1", "source": "code:c1", "language": "c"}


def test_qa_extracts_every_piece_of_a_long_page_and_refines_each_problem(server):
    questions = [f"What is the sum of {i} and {i + 1} when both are whole numbers?" for i in range(12)]
    page = "\n\n".join(f"Exercise {i}. {q} Think about it before you read on. " * 1 + "Filler sentence here. " * 20
                       for i, q in enumerate(questions))
    extract = QAExtract(QAExtractConfig(GenerationConfig("scripted-qa", "qa_extract", max_input_chars=1200)),
                        endpoint(server))
    pairs = list(extract([{"id": "page", "source": "s@9", "text": page}, {"id": "plain", "text": "No problems here."}]))
    assert type(pairs[-1]) is Drop and pairs[-1].reason == "no_qa"
    pairs = pairs[:-1]
    assert extract.counters["llm_inputs_chunked"] == 1 and extract.counters["llm_chunks"] > 4
    assert sorted(p["meta"]["synth"]["question"] for p in pairs) == sorted(questions)
    assert {p["meta"]["synth"]["from"]["id"] for p in pairs} == {"page"}
    refine = QARefine(QARefineConfig(GenerationConfig("scripted-qa", "qa_refine")), endpoint(server))
    refined = list(refine(pairs + [{"id": "x", "text": "a record that is no Q&A pair"}]))
    assert type(refined[-1]) is Drop and refined[-1].reason == "llm_missing_field"
    for record in refined[:-1]:
        assert record["text"].startswith("Question: What is the sum of") and "Answer: Step 1" in record["text"]
        assert [s["prompt"] for s in record["meta"]["synth"]["steps"]] == ["qa_extract.v1", "qa_refine.v1"]


@needs_bwrap
def test_all_three_kinds_from_the_example_corpus_through_the_cli(tmp_path):
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "web"), "-q", "-w", "1").returncode == 0
    assert run_cli("code", "read", str(ROOT / "examples" / "code"), "-o", str(tmp_path / "code"), "-q").returncode == 0
    pages = [str(p) for p in (tmp_path / "web" / "data").glob("*.parquet")]
    files = [str(p) for p in (tmp_path / "code" / "data").glob("*.parquet")]
    page_ids = {r["id"] for p in pages for r in read_shard(p)}
    file_ids = {r["id"] for p in files for r in read_shard(p)}
    with ScriptedServerProcess() as running:
        runs = {}
        for kind, inputs in (("qa", pages), ("translate", files), ("blocks", pages)):
            args = ["synth", kind, *inputs, "-o", str(tmp_path / kind), "--model", f"scripted-{kind}", "--base-url",
                    running.base_url, "-q", "-w", "1"]
            result = run_cli(*args)
            assert result.returncode == 0, result.stderr
            again = run_cli(*args)
            assert again.returncode == 0 and "1 of 1 input(s) resumed" in again.stdout
            runs[kind] = result.stdout
        assert running.stats()["resent_after_answer"] == 0
    assert "qa_extract: written 2, no_qa 4" in runs["qa"] and "qa_refine: written 2" in runs["qa"]
    assert "already_python 1" in runs["translate"]
    assert "code_translate: written 3" in runs["translate"]
    assert "math_blocks: written 1, no_blocks 4" in runs["blocks"] and "verified 1, mismatch 1" in runs["blocks"]
    for kind, sources in (("qa", page_ids), ("translate", file_ids), ("blocks", page_ids)):
        out = [r for p in (tmp_path / kind / "data").glob("*.parquet") for r in read_shard(str(p))]
        assert out and all(r["meta"]["synth"]["from"]["id"] in sources for r in out)
        assert all(r["meta"]["synth"]["kind"] == kind and r["meta"]["synth"]["steps"] for r in out)
        funnel = json.loads((tmp_path / kind / "stats.json").read_text())["funnel"]
        assert funnel[0]["name"] == "read"
    listing = [r for p in (tmp_path / "blocks" / "dropped").glob("*.jsonl.zst") for r in read_shard(str(p))]
    assert sorted(r["reason"] for r in listing) == ["no_blocks"] * 4 and {r["id"] for r in listing} <= page_ids


def test_a_packed_sample_treats_what_a_snippet_printed_as_data():
    """An output cannot close its fence and show text as code that ran; terminal escapes, control
    characters and Unicode line separators do not reach the corpus."""
    from megamath.synth.blocks import Block, packed

    forged = "36\n```\n\n```python\nprint('this never ran')\n```\n\x1b[31mred\x1b[0m\u2028bell\x07\r\n"
    sample = packed([(Block("Let x = 6.", "x**2", "36", "print(6**2)"), forged)])
    assert "\x1b" not in sample and "\x07" not in sample and "\u2028" not in sample and "\r" not in sample
    assert "red\nbell" in sample
    output_fence = sample.split("output\n", 1)[0].rsplit("\n", 1)[-1]
    assert output_fence == "````"  # longer than the output's own fences: they stay inside it
    body = sample.split("````output\n", 1)[1].split("\n````", 1)[0]
    assert "print('this never ran')" in body
