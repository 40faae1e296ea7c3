"""Decontamination: every planted GSM8K/MATH test item is found, real documents give no false hit."""

import json
import random

import numpy as np
import pytest

from megamath.decontam.index import BenchmarkIndex, locate_benchmarks
from megamath.decontam.stage import Decontaminate, DecontaminateConfig
from megamath.runtime.shards import ShardWriter, read_shard
from megamath.runtime.stage import Drop

from conftest import SHARED, run_cli
from test_dedup import real_documents

BENCHMARKS = SHARED / "data" / "benchmarks"
RECIPE_DIR = BENCHMARKS / "LLM360__MegaMath" / "web_pipeline" / "utils" / "decont_utils" / "data"
MATH_TEST = BENCHMARKS / "ZubinGou__math-evaluation-harness" / "data" / "math" / "test.jsonl"


@pytest.fixture(scope="module")
def benchmark_files() -> dict[str, str]:
    if not RECIPE_DIR.is_dir() or not MATH_TEST.is_file():
        pytest.skip(f"benchmarks not found under {BENCHMARKS}")
    files = locate_benchmarks(str(RECIPE_DIR))
    files["math"] = str(MATH_TEST)
    assert sorted(files) == ["aime24", "aime25", "amc", "asdiv", "gsm8k", "math", "mathqa", "mawps", "mmlu_stem",
                             "ocw", "sat", "svamp"]
    return files


def stage_for(files: dict[str, str], folder) -> Decontaminate:
    """The stage over an index of ``files`` saved in ``folder``."""
    path = str(folder / "index.arrays")
    BenchmarkIndex.build(files).save(path)
    return Decontaminate(DecontaminateConfig(path))


@pytest.fixture(scope="module")
def recipe_stage(benchmark_files, tmp_path_factory) -> Decontaminate:
    return stage_for(benchmark_files, tmp_path_factory.mktemp("index"))


def planted_documents(files: dict[str, str], seed: int = 0) -> list[dict]:
    """Every GSM8K and MATH test item, problem and solution, pasted into a real Common Crawl page."""
    rng = random.Random(seed)
    hosts = [d["text"] for d in real_documents()]
    planted = []
    for name, text_fields in (("gsm8k", ("question", "cot")), ("math", ("problem", "solution"))):
        for line_number, line in enumerate(open(files[name], encoding="utf-8")):
            row = json.loads(line)
            item = str(row.get("id", line_number))
            host = rng.choice(hosts).split()
            cut = rng.randrange(len(host))
            solved = "\n".join(row[f] for f in text_fields)  # a page that copies a solved problem
            text = " ".join(host[:cut]) + "\n\n" + solved + "\n\n" + " ".join(host[cut:])
            planted.append({"id": f"{name}-{item}", "text": text, "source": f"planted:{name}:{item}", "meta": {}})
    return planted


def test_planted_gsm8k_and_math_items_are_all_found(benchmark_files, recipe_stage):
    planted = planted_documents(benchmark_files)
    assert len(planted) == 1319 + 5000
    out = list(recipe_stage(planted))
    missed = [o["id"] for o in out if not isinstance(o, Drop)]
    assert missed == []
    first = next(o for o in out if o.record["id"].startswith("gsm8k"))
    assert first.reason == "benchmark_gsm8k"
    assert len(first.record["meta"]["contamination"]["ngram"].split()) == 13


def test_real_documents_give_no_false_hit(recipe_stage):
    docs = [{"id": d["id"], "text": d["text"], "source": d["id"], "meta": {}} for d in real_documents()]
    out = list(recipe_stage(docs))
    assert [o.record["id"] for o in out if isinstance(o, Drop)] == []


def test_short_items_are_matched_whole_and_tiny_ones_counted(tmp_path):
    bench = tmp_path / "tiny.jsonl"
    bench.write_text('{"id": "a", "problem": "Evaluate log base 3 of 27.", "solution": "It is 3 since 3^3 = 27."}\n'
                     '{"id": "b", "problem": "Compute 2+2."}\n'
                     '{"id": "c", "problem": "1 2 3 4 5 6 7 8 9 10 11 12 13 14"}\n')
    index = BenchmarkIndex.build({"tiny": str(bench)}, n=13)
    assert index.too_short == {"tiny": 2} and [item for _, item in index.items] == ["a"]
    assert index.counts == {"tiny": {"lines": 3, "items": 1, "too_short": 2, "malformed": 0}}
    stage = stage_for({"tiny": str(bench)}, tmp_path)
    docs = [{"id": "copy", "text": "Homework help. Evaluate log base 3 of 27. It is 3 since 3^3 = 27. Thanks!"},
            {"id": "other", "text": "Evaluate log base 3 of 81 instead, which is 4. Counting 1 2 3 4 5 6 7 8 9 10 11 12 13 14"}]
    out = list(stage(docs))
    assert isinstance(out[0], Drop) and out[0].record["meta"]["contamination"]["item"] == "a"
    assert out[1] is docs[1]


def test_cli_reports_what_it_removed(tmp_path, benchmark_files):
    gsm = [json.loads(line) for line in open(benchmark_files["gsm8k"], encoding="utf-8")][:3]
    docs = [{"id": d["id"], "text": d["text"], "url": f"https://x/{d['id']}", "source": d["id"], "meta": {}}
            for d in real_documents()[:50]]
    for i, row in enumerate(gsm):
        docs[i * 7]["text"] += "\n\n" + row["question"]
    shard = tmp_path / "in.jsonl.zst"
    with ShardWriter(shard) as writer:
        for doc in docs:
            writer.write(doc)
    run = run_cli("decontaminate", str(shard), "-o", str(tmp_path / "run"), "--benchmark-dir", str(RECIPE_DIR),
                  "--benchmark", f"math={MATH_TEST}", "-q")
    assert run.returncode == 0, run.stderr
    assert "removed 3 document(s): gsm8k 3" in run.stdout and "benchmark_gsm8k 3" in run.stdout
    report = [json.loads(line) for line in (tmp_path / "run" / "contamination.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in report) == sorted(docs[i * 7]["id"] for i in range(3))
    assert all(r["benchmark"] == "gsm8k" and len(r["ngram"].split()) == 13 for r in report)
    kept = [r for shard in (tmp_path / "run" / "data").glob("*.parquet") for r in read_shard(shard)]
    assert len(kept) == 47


def test_the_shipped_index_is_the_one_built_from_the_recipe_benchmarks(benchmark_files):
    """tools/build_benchmark_index.py built it from the same files (LLM360/MegaMath's and MATH's test
    set): any change to the n-gram hash, the fields read or the files shows here."""
    from megamath.decontam.index import shipped_index

    built, shipped = BenchmarkIndex.build(benchmark_files), BenchmarkIndex.load(shipped_index())
    assert (shipped.n, shipped.seed, shipped.items, shipped.counts) == (built.n, built.seed, built.items, built.counts)
    assert np.array_equal(shipped.hashes, built.hashes) and np.array_equal(shipped.item_of_hash, built.item_of_hash)
    assert np.array_equal(shipped.short_prefixes, built.short_prefixes) and sorted(shipped.short) == sorted(built.short)
    for k, (hashes, owners) in built.short.items():
        assert np.array_equal(shipped.short[k][0], hashes) and np.array_equal(shipped.short[k][1], owners)
    assert len(shipped.items) == 15_867 and len(np.unique(shipped.hashes)) == len(shipped.hashes)


def test_without_benchmarks_the_shipped_index_decontaminates(tmp_path, benchmark_files):
    documents = planted_documents(benchmark_files)[:40] + [{"id": "clean", "text": "A page about bread. " * 30}]
    shard = tmp_path / "in.jsonl"
    with ShardWriter(shard) as writer:
        for document in documents:
            writer.write(document)
    result = run_cli("decontaminate", str(shard), "-o", str(tmp_path / "out"), "-q")
    assert result.returncode == 0, result.stderr
    assert "the shipped index of the recipe's 12 benchmarks: 15,867 items" in result.stdout
    kept = [r["id"] for path in (tmp_path / "out" / "data").glob("*") for r in read_shard(path)]
    assert kept == ["clean"]
    refused = run_cli("decontaminate", str(shard), "-o", str(tmp_path / "n10"), "--ngram", "10")
    assert refused.returncode == 2 and "the shipped index is of 13-grams" in refused.stderr


def test_an_index_built_with_other_ngram_hashes_is_refused(tmp_path):
    from megamath.decontam.index import BenchmarkError
    from megamath.dedup.store import load_arrays, save_arrays

    (tmp_path / "b.jsonl").write_text(json.dumps({"question": "what is the sum of the first twenty odd numbers "
                                                              "in the list written on the board"}) + "\n")
    path = str(tmp_path / "index.arrays")
    BenchmarkIndex.build({"b": str(tmp_path / "b.jsonl")}).save(path)
    arrays = load_arrays(path)
    meta = json.loads(arrays["meta"].tobytes())
    meta["probe"] = ["1", "2", "3", "4"]  # what another version's hash would give
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    save_arrays(path, **arrays)
    with pytest.raises(BenchmarkError, match="another version's n-gram hashes"):
        BenchmarkIndex.load(path)


def test_a_run_folder_index_of_another_version_is_built_again(tmp_path):
    (tmp_path / "b.jsonl").write_text(json.dumps({"question": "what is the sum of the first twenty odd numbers "
                                                              "in the list written on the board"}) + "\n")
    shard = tmp_path / "in.jsonl"
    with ShardWriter(shard) as writer:
        writer.write({"id": "x", "text": "a page about bread and butter " * 10})
    args = ["decontaminate", str(shard), "-o", str(tmp_path / "out"), "--benchmark", f"b={tmp_path / 'b.jsonl'}", "-q"]
    assert run_cli(*args).returncode == 0
    done = next((tmp_path / "out" / "work" / "index" / ".megamath" / "done").glob("*.json"))
    record = json.loads(done.read_text())
    record["fingerprint"] = record["fingerprint"].split("|hash=")[0]  # as a version before the probe wrote it
    done.write_text(json.dumps(record))
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "hash=" in json.loads(next((tmp_path / "out" / "work" / "index" / ".megamath" / "done").glob("*.json")).read_text())["fingerprint"]
