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
    counts = next(s for s in stats["funnel"] if s["name"] == "code_languages")["counters"]
    assert counts["files_python"] == len(records(tmp_path / "other")) >= 3

    result = run_cli("code", "train", "--positive", shards["math"], "--negative", shards["other"], "-o",
                     str(tmp_path / "model"), "--dim", "32", "--bucket", "100000", "--threads", "1", "--epoch", "5", "-q",
                     "--executor", "serial")
    assert result.returncode == 0, result.stderr
    assert "trained on 3 math and" in result.stdout
    model = tmp_path / "model" / "model.bin"
    assert json.loads((tmp_path / "model" / "model.bin.preprocess.json").read_text())["preprocess"] == "code"

    result = run_cli("code", "recall", shards["test-math"], shards["test-other"], "-o", str(tmp_path / "recall"),
                     "--model", str(model), "--threshold", "0", "-q", "--format", "jsonl", "--executor", "serial")
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
    result = run_cli("code", "recall", shards, "-o", str(tmp_path / "recall"), "--model", str(web))
    assert result.returncode != 0 and "is not a code model" in result.stderr and "Traceback" not in result.stderr
