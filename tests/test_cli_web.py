"""End-to-end runs of `megamath web extract` through the real command line."""

import json
import shutil

from megamath.runtime.shards import read_shard
from fixtures.warc_writer import Fetch, write_warc

from conftest import EXAMPLE_WARC, run_cli

ENGLISH = ("<html><body><article><h1>{title}</h1><p>This is an ordinary English paragraph about {title}, long "
           "enough for the language identifier to be sure of itself, with a second sentence for good "
           "measure.</p></article></body></html>")


def outputs(run_dir):
    records = []
    for shard in sorted((run_dir / "data").glob("*.parquet")):
        records.extend(read_shard(shard))
    return records


def test_help_lists_commands_with_examples():
    top = run_cli("--help")
    assert top.returncode == 0 and "web" in top.stdout
    web = run_cli("web", "--help")
    assert "extract" in web.stdout
    extract = run_cli("web", "extract", "--help")
    assert "Examples:" in extract.stdout and "--workers" in extract.stdout and "--lid-model" in extract.stdout


def test_example_run_funnel_output_and_stats(tmp_path):
    run = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "run"), "-q")
    assert run.returncode == 0, run.stderr
    assert "language" in run.stdout and "other_language 1" in run.stdout
    records = outputs(tmp_path / "run")
    assert [r["url"].split("/")[2] for r in records] == [
        "mathnotes.example.org", "calculus.example.edu", "geometry.example.com", "forum.example.net",
        "recipes.example.com"]
    for record in records:
        assert set(record) == {"id", "text", "url", "source", "meta"}  # html is not kept by default
        assert record["meta"]["lang"] == "en" and record["meta"]["lang_score"] >= 0.65
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    funnel = {stage["name"]: stage for stage in stats["funnel"]}
    assert funnel["read"]["docs_in"] == 11 and funnel["language"]["docs_out"] == 5
    assert funnel["url_filter"]["dropped"] == {"curated_source": 1}
    assert (tmp_path / "run" / "logs" / "run.log").stat().st_size > 0


def test_rerun_resumes_and_config_change_is_refused(tmp_path):
    out = str(tmp_path / "run")
    first = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", out, "-q")
    assert first.returncode == 0
    again = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", out, "-q")
    assert again.returncode == 0 and "1 of 1 input(s) resumed" in again.stdout
    assert len(outputs(tmp_path / "run")) == 5
    changed = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", out, "-q", "--lid-threshold", "0.9")
    assert changed.returncode != 0 and "different configuration" in changed.stderr
    assert "changed: stages.language.threshold)" in changed.stderr
    forced = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", out, "-q", "--lid-threshold", "0.9", "--force")
    assert forced.returncode == 0 and "0 of 1 input(s) resumed" in forced.stdout
    assert all(r["meta"]["lang_score"] >= 0.9 for r in outputs(tmp_path / "run"))


def test_empty_output_fails_with_the_funnel(tmp_path):
    run = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "run"), "-q", "--languages", "ja")
    assert run.returncode == 1
    assert "output is empty" in run.stderr and "other_language" in run.stdout


def test_missing_input_is_a_usage_error(tmp_path):
    run = run_cli("web", "extract", str(tmp_path / "nope.warc.gz"), "-o", str(tmp_path / "run"))
    assert run.returncode == 2 and "input not found" in run.stderr


def test_damaged_files_in_a_batch_are_reported_and_others_finish(tmp_path, shared_warc):
    batch = tmp_path / "batch"
    batch.mkdir()
    shutil.copy(EXAMPLE_WARC, batch / "a-example.warc.gz")
    data = (shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz").read_bytes()
    (batch / "b-truncated.warc.gz").write_bytes(data[: len(data) // 2])
    (batch / "c-corrupt.warc.gz").write_bytes(data[:60_000] + b"\x00garbage" * 500 + data[60_000:])
    (batch / "d-not-a-warc.warc.gz").write_bytes(b"this is not a WARC file\n" * 100)
    shutil.copy(shared_warc / "chatnoir-eu__chatnoir-resiliparse/tests/data/clueweb-quirk.warc.gz", batch / "e.warc.gz")
    run = run_cli("web", "extract", str(batch / "*.warc.gz"), "-o", str(tmp_path / "run"), "-q", "-w", "2",
                  "--languages", "en,ja")
    assert run.returncode == 0, run.stderr
    for name in ("b-truncated", "d-not-a-warc"):
        assert f"damaged input, kept what was readable: {batch / name}" in run.stderr
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert len(stats["input_errors"]) == 2 and stats["failed_tasks"] == {}
    read = stats["funnel"][0]
    assert read["dropped"]["truncated_record"] == 1
    assert read["dropped"]["damaged_record"] == 1  # c-corrupt: read again after its damaged record
    by_source = {}
    for record in outputs(tmp_path / "run"):
        by_source.setdefault(record["source"].rsplit("@", 1)[0].rsplit("/", 1)[-1], []).append(record)
    assert len(by_source["a-example.warc.gz"]) == 5
    assert len(by_source["e.warc.gz"]) > 10  # ClueWeb09 Japanese pages
    assert 0 < len(by_source["b-truncated.warc.gz"]) < len(by_source["c-corrupt.warc.gz"]) < 22


def test_hostile_pages_are_skipped_and_counted(tmp_path):
    hostile = [
        Fetch("https://deep.example/", b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000 + b"</body></html>"),
        Fetch("https://huge.example/", b"<html><body>" + b"<p>word</p>" * 5_000_000 + b"</body></html>"),
        Fetch("https://garbage.example/", bytes(range(256)) * 4000),
        Fetch("https://wrong-charset.example/",
              ENGLISH.format(title="the café and its crème brûlée").encode("cp1252"), charset="utf-8"),
        Fetch("https://unclosed.example/", b"<b>" * 200_000 + b"text"),
        Fetch("https://fine.example/", ENGLISH.format(title="prime numbers").encode()),
    ]
    write_warc(tmp_path / "hostile.warc.gz", hostile)
    run = run_cli("web", "extract", str(tmp_path / "hostile.warc.gz"), "-o", str(tmp_path / "run"), "-q")
    assert run.returncode == 0, run.stderr
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    funnel = {stage["name"]: stage for stage in stats["funnel"]}
    assert funnel["read"]["dropped"] == {"too_large": 1}
    assert funnel["extract"]["dropped"]["dom_too_deep"] == 2
    kept = {r["url"]: r for r in outputs(tmp_path / "run")}
    assert "https://fine.example/" in kept
    assert "the café and its crème brûlée" in kept["https://wrong-charset.example/"]["text"]


def test_web_pipeline_with_decontamination_and_dedup(tmp_path):
    from conftest import SHARED

    recipe = SHARED / "data" / "benchmarks" / "LLM360__MegaMath" / "web_pipeline" / "utils" / "decont_utils" / "data"
    if not recipe.is_dir():
        import pytest

        pytest.skip(f"benchmarks not found at {recipe}")
    question = json.loads((recipe / "gsm8k.jsonl").read_text().splitlines()[0])["question"]
    import random

    rng = random.Random(0)
    vocabulary = "the a of river garden engine market planet violin harbor prime triangle city music bread".split()
    bodies = [" ".join(rng.choice(vocabulary) for _ in range(120)) for _ in range(4)]
    html = "<html><body><article><h1>Notes</h1><p>{}</p></article></body></html>"
    pages = [Fetch(f"https://site.example/{i}", html.format(body).encode()) for i, body in enumerate(bodies)]
    pages.append(Fetch("https://copy.example/", html.format(bodies[1]).encode()))
    pages.append(Fetch("https://leak.example/", ENGLISH.format(title=question).encode()))
    write_warc(tmp_path / "in.warc.gz", pages)
    run = run_cli("web", "extract", str(tmp_path / "in.warc.gz"), "-o", str(tmp_path / "run"), "-q",
                  "--benchmark-dir", str(recipe), "--dedup")
    assert run.returncode == 0, run.stderr
    assert "benchmark_gsm8k 1" in run.stdout and "decontamination removed 1 document(s)" in run.stdout
    assert "1 exact and 0 near duplicates removed, 4 kept" in run.stdout
    report = (tmp_path / "run" / "contamination.jsonl").read_text()
    assert "leak.example" in report and '"benchmark":"gsm8k"' in report
