"""megamath code read → train → recall → eval, on real code: the standard library's math modules against
its others, labelled by the module's purpose, evaluated on modules never seen in training."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

from conftest import run_cli
from megamath.runtime.shards import read_shard

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TRAIN_MATH, TEST_MATH = ("statistics.py", "fractions.py", "random.py"), ("_pydecimal.py", "colorsys.py")
TRAIN_OTHER, TEST_OTHER = ("json", "csv.py", "argparse.py"), ("email", "ftplib.py")


def read(tmp_path: Path, name: str, modules: tuple[str, ...]) -> str:
    result = run_cli("code", "read", *[str(STDLIB / m) for m in modules], "-o", str(tmp_path / name), "-q",
                     "--format", "jsonl", "--executor", "serial")
    assert result.returncode == 0, result.stderr
    return str(tmp_path / name / "data" / "*.jsonl")


def records(folder: Path) -> list[dict]:
    return [r for p in sorted((folder / "data").glob("*.jsonl")) for r in read_shard(str(p))]


def test_read_train_recall_and_eval_per_language(tmp_path):
    shards = {name: read(tmp_path, name, modules) for name, modules in
              (("math", TRAIN_MATH), ("other", TRAIN_OTHER), ("test-math", TEST_MATH), ("test-other", TEST_OTHER))}
    stats = json.loads((tmp_path / "other" / "stats.json").read_text())
    counts = next(s for s in stats["funnel"] if s["name"] == "profile")["counters"]
    assert counts["docs_lang_python"] == len(records(tmp_path / "other")) >= 3

    result = run_cli("code", "train", "--positive", shards["math"], "--negative", shards["other"], "-o",
                     str(tmp_path / "model"), "--dim", "32", "--bucket", "100000", "--threads", "1", "--epoch", "5", "-q",
                     "--executor", "serial")
    assert result.returncode == 0, result.stderr
    assert "trained on 3 math and" in result.stdout
    model = tmp_path / "model" / "model.bin"
    assert json.loads((tmp_path / "model" / "model.bin.preprocess.json").read_text())["preprocess"] == "code"

    result = run_cli("code", "recall", shards["test-math"], shards["test-other"], "-o", str(tmp_path / "recall"),
                     "--classifier", str(model), "--threshold", "0", "-q", "--format", "jsonl", "--executor", "serial")
    assert result.returncode == 0, result.stderr
    scored = {r["meta"]["code"]["path"]: r["meta"]["code"] for r in records(tmp_path / "recall")}
    assert all(0 <= c["model_score"] <= 1 for c in scored.values()) and len(scored) == len(records(tmp_path / "test-math")) \
        + len(records(tmp_path / "test-other"))
    assert "decimal" in scored["_pydecimal.py"]["math_imports"] or "math" in scored["_pydecimal.py"]["math_imports"]
    math_mean = sum(scored[m]["model_score"] for m in TEST_MATH) / len(TEST_MATH)
    other_mean = sum(c["model_score"] for p, c in scored.items() if p not in TEST_MATH) / (len(scored) - len(TEST_MATH))
    assert math_mean > other_mean  # modules never seen in training

    result = run_cli("code", "eval", str(model), "--positive", f"math={shards['test-math']}", "--negative",
                     f"other={shards['test-other']}", "-o", str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["domains"]) == {"all", "python"} and "python, threshold 0.5" in result.stdout


def test_a_web_model_is_refused_for_code_and_unknown_languages_are_refused(tmp_path):
    result = run_cli("code", "read", str(STDLIB / "json"), "-o", str(tmp_path / "r"), "--languages", "python,cobol")
    assert result.returncode != 0 and "unknown language(s) cobol" in result.stderr
    shards = read(tmp_path, "json", ("json",))
    web = tmp_path / "web.bin"
    (tmp_path / "math.txt").write_text("Let $x^2 = 4$, so $x = 2$.\n" * 50)
    (tmp_path / "news.txt").write_text("The council met on Tuesday.\n" * 50)
    result = run_cli("classifier", "train", "--positive", str(tmp_path / "math.txt"), "--negative",
                     str(tmp_path / "news.txt"), "-o", str(web), "--dim", "32", "--bucket", "100000", "--threads", "1")
    assert result.returncode == 0, result.stderr
    result = run_cli("code", "recall", shards, "-o", str(tmp_path / "recall"), "--classifier", str(web))
    assert result.returncode != 0 and "is not a code model" in result.stderr and "Traceback" not in result.stderr


def test_score_sample_labels_files_per_language_with_two_rubrics_then_trains(tmp_path):
    """The LLM path end to end against a scripted OpenAI-compatible server on 127.0.0.1: real stdlib files,
    each carrying the score the scripted model gives it for both rubrics (5 for math modules, 4 and 2
    for others), sampled per language, split by both scores, and the split trains a code model."""
    from fixtures.scripted_server import ScriptedServerProcess

    tree = tmp_path / "tree"
    tree.mkdir()
    scores = {"statistics.py": 5, "fractions.py": 5, "random.py": 5, "csv.py": 2, "argparse.py": 4, "ftplib.py": 2}
    for name, score in scores.items():
        (tree / name).write_text(f"# [[script: score={score}]]\n" + (STDLIB / name).read_text(encoding="utf-8"))
    (tree / "sum.js").write_text("// [[script: score=1]]\nmodule.exports = (a, b) => a + b;\n")
    shards = read(tmp_path, "files", (str(tree),))
    with ScriptedServerProcess() as server:
        args = ["code", "score-sample", shards, "-o", str(tmp_path / "labels"), "--model", "scripted", "--base-url",
                server.base_url, "--per-language", "5", "-q", "--executor", "serial"]
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert server.stats()["requests"] == 2 * 6  # 5 python files sampled of 6, 1 javascript file; two rubrics
        again = run_cli(*args)
        assert again.returncode == 0, again.stderr
        assert server.stats()["requests"] == 12  # the sample and the answers are reused
    labels = json.loads((tmp_path / "labels" / "labels.json").read_text())
    python, javascript = labels["per_language"]["python"], labels["per_language"]["javascript"]
    assert (python["survivors"], python["sampled"], python["labelled"]) == (6, 5, 5)
    assert javascript == {"survivors": 1, "sampled": 1, "labelled": 1, "positive": 0, "negative": 1, "grid": {"1,1": 1}}
    assert labels["config"]["math_prompt"] == "code_math.v1" and labels["config"]["edu_prompt"] == "code_education.v1"
    positive = [json.loads(line) for line in (tmp_path / "labels" / "positive.jsonl").read_text().splitlines()]
    negative = [json.loads(line) for line in (tmp_path / "labels" / "negative.jsonl").read_text().splitlines()]
    assert len(positive) + len(negative) == 6
    for side, records_ in (("positive", positive), ("negative", negative)):  # both rubrics at or above 4
        assert all((r["meta"]["code"]["math"] == r["meta"]["code"]["edu"] == scores[r["meta"]["code"]["path"]] >= 4)
                   == (side == "positive") for r in records_ if r["meta"]["code"]["language"] == "python")
    assert all(r["meta"]["llm"]["code_math"]["prompt"] == "code_math.v1" for r in positive + negative)
    trained = run_cli("code", "train", "--positive", str(tmp_path / "labels" / "positive.jsonl"), "--negative",
                      str(tmp_path / "labels" / "negative.jsonl"), "-o", str(tmp_path / "model"), "--dim", "32",
                      "--bucket", "100000", "--threads", "1", "-q", "--executor", "serial")
    assert trained.returncode == 0, trained.stderr


def test_files_are_deduplicated_and_decontaminated_with_the_web_commands(tmp_path):
    """Code shards go through `megamath dedup run` and `megamath decontaminate` as web shards do: a
    copied package is removed as exact duplicates, an edited copy of a file as a near duplicate, and a
    file that carries a benchmark problem in a comment is removed with its match; meta.code survives."""
    import shutil

    first, second = tmp_path / "pkg-a", tmp_path / "pkg-b"
    shutil.copytree(STDLIB / "json", first, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(first, second)
    decoder = (second / "decoder.py").read_text()
    (second / "decoder.py").write_text(decoder.replace("import re\n", "import re  # the regular expressions\n", 1))
    problem = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips to her "
               "friends in May. How many clips did Natalia sell altogether in April and May?")
    (first / "homework.py").write_text(f'"""{problem}"""\n\nprint(48 + 48 // 2)\n')
    shards = read(tmp_path, "files", (str(first), str(second)))
    total = len(records(tmp_path / "files"))
    result = run_cli("dedup", "run", shards, "-o", str(tmp_path / "dedup"), "-q", "--format", "jsonl",
                     "--executor", "serial")
    assert result.returncode == 0, result.stderr
    kept = records(tmp_path / "dedup")
    dropped = next(s for s in json.loads((tmp_path / "dedup" / "stats.json").read_text())["funnel"]
                   if s["name"] == "dedup")["dropped"]
    assert dropped == {"exact_duplicate": total // 2 - 1, "near_duplicate": 1}  # the copy: all exact but the edit
    assert len(kept) == total - total // 2
    assert all(r["meta"]["code"]["language"] == "python" for r in kept)
    benchmarks = tmp_path / "bench"
    benchmarks.mkdir()
    (benchmarks / "gsm8k.jsonl").write_text(json.dumps({"question": problem, "answer": "72"}) + "\n")
    result = run_cli("decontaminate", str(tmp_path / "dedup" / "data" / "*.jsonl"), "-o", str(tmp_path / "clean"),
                     "--benchmark", f"gsm8k={benchmarks / 'gsm8k.jsonl'}", "-q", "--format", "jsonl",
                     "--executor", "serial")
    assert result.returncode == 0, result.stderr
    clean = records(tmp_path / "clean")
    assert len(clean) == len(kept) - 1 and "homework.py" not in {r["meta"]["code"]["path"] for r in clean}
    matches = [json.loads(line) for line in (tmp_path / "clean" / "contamination.jsonl").read_text().splitlines()]
    assert [m["benchmark"] for m in matches] == ["gsm8k"]


def test_code_eval_refuses_a_web_model(tmp_path):
    (tmp_path / "math.txt").write_text("".join(f"Let $x^2 = {i}$, so $x$ is a root of {i}.\n" for i in range(30)))
    (tmp_path / "other.txt").write_text("".join(f"The council met on Tuesday {i} about the park.\n" for i in range(30)))
    web = tmp_path / "web.bin"
    trained = run_cli("classifier", "train", "--positive", str(tmp_path / "math.txt"), "--negative",
                      str(tmp_path / "other.txt"), "-o", str(web), "--dim", "32", "--bucket", "100000", "--threads", "1")
    assert trained.returncode == 0, trained.stderr
    shards = read(tmp_path, "files", ("colorsys.py",))
    result = run_cli("code", "eval", str(web), "--positive", f"math={shards}", "--negative", f"other={shards}")
    assert result.returncode == 1 and "is not a code model" in result.stderr and "Traceback" not in result.stderr


def test_recall_and_eval_take_a_scorer_of_another_kind(tmp_path):
    """``--scorer package.module:factory``: the way a fine-tuned transformer would be brought in."""
    math, other = read(tmp_path, "math", ("statistics.py",)), read(tmp_path, "other", ("csv.py",))
    words = tmp_path / "words.txt"
    words.write_text("mean median variance stdev pvariance mode quantiles sqrt fraction")
    env = {"PYTHONPATH": str(Path(__file__).parent)}
    scorer = ["--scorer", "fixtures.code_scorers:word_list_scorer", "--classifier", str(words)]
    result = run_cli("code", "recall", math, other, "-o", str(tmp_path / "recall"), *scorer, "--threshold", "0.01",
                     "-q", "--format", "jsonl", env=env)
    assert result.returncode == 0, result.stderr
    kept = {r["meta"]["code"]["path"]: r["meta"]["code"]["model_score"] for r in records(tmp_path / "recall")}
    assert list(kept) == ["statistics.py"] and kept["statistics.py"] > 0.01
    result = run_cli("code", "eval", str(words), "--positive", f"math={math}", "--negative", f"other={other}",
                     "--scorer", "fixtures.code_scorers:word_list_scorer", "--threshold", "0.01", env=env)
    assert result.returncode == 0, result.stderr and "python, threshold 0.01" in result.stdout
    for name, message in (("fixtures.code_scorers:not_a_scorer", "has no math_scores"),
                          ("fixtures.nowhere:factory", "cannot be loaded"), ("bert", "give 'fasttext' or")):
        refused = run_cli("code", "recall", math, "-o", str(tmp_path / name.replace(":", "-")), "--scorer", name,
                          "--classifier", str(words), env=env)
        assert refused.returncode == 1 and message in refused.stderr and "Traceback" not in refused.stderr


SHIPPED_MATH = ("statistics.py", "fractions.py", "_pydecimal.py", "colorsys.py", "random.py")
SHIPPED_OTHER = ("json", "csv.py", "argparse.py", "ftplib.py", "email", "logging", "http")


def test_the_shipped_code_model_keeps_the_standard_library_math_modules_at_its_calibrated_thresholds(tmp_path):
    from megamath.code.shipped import SHIPPED_MODEL, model_and_thresholds, shipped_card

    assert SHIPPED_MODEL.stat().st_size < 50e6
    card = shipped_card()
    path, threshold, per_language = model_and_thresholds("default", None)
    assert path == str(SHIPPED_MODEL) and dict(per_language) == card["thresholds"] and 0 < threshold < 1
    assert "python" in card["thresholds"] and card["calibration"]["per_language"]["python"]["math_files"] >= 30
    assert model_and_thresholds("default", 0.7) == (str(SHIPPED_MODEL), 0.7, ())
    assert model_and_thresholds("model.bin", None) == ("model.bin", 0.5, ())
    assert {s["role"] for s in card["sources"]} == {"train", "calibrate"} and all(s["licence"] for s in card["sources"])
    # real modules it was neither trained nor calibrated on; no --classifier: the shipped model
    shards = read(tmp_path, "stdlib", SHIPPED_MATH + SHIPPED_OTHER)
    result = run_cli("code", "recall", shards, "-o", str(tmp_path / "recall"), "-q", "--format", "jsonl",
                     "--executor", "serial")
    assert result.returncode == 0, result.stderr
    assert sorted(r["meta"]["code"]["path"] for r in records(tmp_path / "recall")) == sorted(SHIPPED_MATH)
    stats = json.loads((tmp_path / "recall" / "stats.json").read_text())
    dropped = next(s for s in stats["funnel"] if s["name"] == "code_classifier")["dropped"]
    assert dropped["not_math_code"] == len(records(tmp_path / "stdlib")) - len(SHIPPED_MATH) > 30


def test_a_language_threshold_holds_for_its_language_only():
    from megamath.code.shipped import SHIPPED_MODEL
    from megamath.code.stage import CodeClassifierConfig, CodeClassify
    from megamath.runtime.stage import Drop

    text = (STDLIB / "statistics.py").read_text()
    batch = [{"text": text, "meta": {"code": {"language": language, "path": f"statistics.{language}"}}}
             for language in ("python", "c", "rust")]
    stage = CodeClassify(CodeClassifierConfig(str(SHIPPED_MODEL), 0.0, (("python", 1.0), ("rust", 0.5))))
    kept = {item["meta"]["code"]["language"] for item in stage.process_batch(batch) if not isinstance(item, Drop)}
    assert kept == {"c", "rust"}  # python's threshold (1.0) is out of reach; c takes the general one (0)
