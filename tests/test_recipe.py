"""The whole web recipe from one file: the template, the example, the LLM phases, resume."""

import json
import tomllib

import pytest

from fixtures.scripted_server import ScriptedServerProcess
from megamath.pipelines.recipe import PHASES, SECTIONS, RecipeError, check_recipe, load_recipe, recipe_template
from megamath.report.collect import collect
from megamath.runtime.shards import read_shard

from conftest import EXAMPLE_WARC, ROOT, run_cli

EXAMPLES = ROOT / "examples"


def example_recipe(tmp_path, **extra_sections: dict) -> str:
    """The example recipe with its paths made absolute and its output in ``tmp_path``, plus sections."""
    recipe = tomllib.loads((EXAMPLES / "recipe.toml").read_text())
    recipe["run"] = {"inputs": [str(EXAMPLES / "example.warc.gz")], "output": str(tmp_path / "run")}
    recipe["code"]["inputs"] = [str(EXAMPLES / p) for p in recipe["code"]["inputs"]]
    for section, values in extra_sections.items():
        recipe.setdefault(section, {}).update(values)
    path = tmp_path / "recipe.toml"
    path.write_text(_toml(recipe))
    return str(path)


def _toml(data: dict) -> str:
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, dict):
                value = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
            else:
                value = json.dumps(value)
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def test_the_template_documents_every_option_with_its_default(tmp_path):
    result = run_cli("recipe", "init", str(tmp_path / "r.toml"), "--input", "crawl/*.warc.gz", "--output", "runs/x")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "r.toml").read_text()
    options = [line for line in text.splitlines() if " = " in line and not line.startswith("#")]
    assert len(options) == sum(len(o) for _, o in SECTIONS.values()) and all("  # " in line for line in options)
    recipe = load_recipe(tmp_path / "r.toml")
    assert recipe["run"]["inputs"] == ["crawl/*.warc.gz"] and recipe["dedup"]["bands"] == 11
    assert recipe["extract"]["lid_threshold"] == 0.65 and recipe["webpro"]["thresholds"] == "0:4,2023:3"
    again = run_cli("recipe", "init", str(tmp_path / "r.toml"))
    assert again.returncode == 1 and "exists" in again.stderr
    assert tomllib.loads(recipe_template())  # the bare template is valid TOML too


def test_bad_recipes_are_refused_with_the_reason(tmp_path):
    cases = {"[dedup]\nbandz = 3\n": "unknown option 'bandz' in [dedup]",
             "[dedupe]\n": "unknown section [dedupe]",
             "[dedup]\nbands = \"eleven\"\n": "[dedup] bands should be an integer",
             "[executor]\nkind = \"spark\"\n": "choose one of local, ray, serial",
             "[llm]\nbase_url = \"http://x/v1\"\n": "model is empty",
             "[dedup\n": "is not valid TOML",
             "[run]\noutput = \"out\"\n": "[run] inputs is missing (for example inputs = [\"crawl/*.warc.gz\"])",
             "[classifier]\nmodel = \"no-such.bin\"\n": "[classifier] model: ",
             "[decontaminate]\nbenchmark_dir = \".\"\n": "holds none of the benchmark files",
             "[decontaminate]\nbenchmark_dir = \"benchmarkz\"\n": "[decontaminate] benchmark_dir: ",
             "[run]\ninputs = [\"x.warc.gz\"]\ntokenizer = \"qwen9\"\n": "[run] tokenizer: ",
             "[extract]\nlid_model = \"lid.bin\"\n": "[extract] lid_model: "}
    for number, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{number}.toml"
        path.write_text(f'[run]\ninputs = ["{EXAMPLE_WARC}"]\n{text}' if "[run]" not in text else text)
        with pytest.raises(RecipeError) as refused:
            check_recipe(load_recipe(path))
        assert message in str(refused.value)
        result = run_cli("run", str(path))
        assert result.returncode == 1 and message in result.stderr, (text, result.stderr)
        assert "Traceback" not in result.stderr


def test_the_example_recipe_runs_end_to_end_and_resumes(tmp_path):
    recipe = example_recipe(tmp_path)
    plan = run_cli("run", recipe, "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("1 input(s): ") and "nothing was run (--dry-run)" in plan.stdout
    assert "runs (0 task(s) already done)" in plan.stdout and "skipped: no LLM endpoint configured" in plan.stdout
    assert not (tmp_path / "run").exists()
    first = run_cli("run", recipe, "-q")
    assert first.returncode == 0, first.stderr
    for phase in ("extract", "classify", "dedup", "decontaminate", "reextract"):
        assert f"phase {phase}: " in first.stdout and list((tmp_path / "run").glob(f"*-{phase}/data/*.parquet"))
    assert "phase webpro: skipped (no LLM endpoint configured ([llm] base_url))" in first.stdout
    # one funnel across all phases
    for row in ("extract/read", "extract/language", "classify/math_classifier", "dedup/dedup",
                "decontaminate/decontaminate", "reextract/reextract", "code/read_code", "code_recall/code_classifier",
                "code_dedup/dedup",
                "code_decontaminate/decontaminate"):
        assert row in first.stdout, row
    lines = {line.split()[0]: line for line in first.stdout.splitlines() if line.strip()}
    assert "skipped: no LLM endpoint configured ([llm] base_url)" in lines["webpro"]
    assert "code_recall/code_classifier        4    4" in first.stdout and "written under" in lines["release"]
    assert "the code classifier megamath ships (docs/code-classifier-card.md), thresholds " in first.stdout
    # the release: web and code subsets, the mixture at the asked shares (as near as 10 documents allow)
    release = json.loads((tmp_path / "run" / "14-release" / "release.json").read_text())
    assert set(release["subsets"]) == {"web", "code"} and release["subsets"]["code"]["rows"] == 4
    assert abs(release["mix"]["subsets"]["web"]["achieved_share"] - 0.7) < 0.05
    # with no [classifier] or [decontaminate] section, the shipped model and benchmark index are used
    assert "the math classifier megamath ships (docs/classifier-card.md), threshold" in first.stdout
    assert "not_math 1" in first.stdout and "the shipped index of the recipe's 12 benchmarks" in first.stdout
    assert "corpus: 4 documents under" in first.stdout
    progress = json.loads((tmp_path / "run" / "recipe.json").read_text())
    assert [p["phase"] for p in progress["phases"]] == list(PHASES)
    assert "runs (1 task(s) already done)" in run_cli("run", recipe, "--dry-run").stdout
    rerun = run_cli("run", recipe, "-q", "--executor", "serial", "-w", "1")  # the executor chosen on the command line
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("(1 of 1 task(s) resumed") == 9  # five web phases, four code phases
    # the card of the recipe's folder: its final phase's shards inside the card's folder, and what every
    # phase used (the classifier, the benchmarks)
    card = run_cli("card", f"example={tmp_path / 'run'}", "-o", str(tmp_path / "release"))
    assert card.returncode == 0, card.stderr
    text = (tmp_path / "release" / "README.md").read_text()
    assert "path: data/example/*.parquet" in text and len(list((tmp_path / "release" / "data" / "example").glob("*.parquet"))) == 1
    assert "| gsm8k | 13 | 0 |" in text and "`2-classify` math_classifier.threshold" in text
    assert "math_classifier.model_path = `the math classifier megamath ships" in text
    assert "No decontamination was run" not in text and "- none recorded" not in text
    # the report of the recipe's folder: its own input once (not the phases' shards), the skipped phase,
    # tokens "not counted" where a phase counts none, and each distribution drawn once
    assert run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")).returncode == 0
    page = (tmp_path / "r.html").read_text()
    assert "<summary>2 input(s)</summary>" in page and "Skipped: <b>webpro</b>" in page  # the WARC, the code folder
    assert "<td>2-classify</td><td style='text-align:left'>math_classifier.model_path</td><td style='text-align:left'>" \
           "the math classifier megamath ships" in page
    assert "<td>1-extract</td><td>finished</td><td>1</td><td>5</td><td>not counted</td>" in page
    assert page.count("language score (5-reextract)") == 2 and "1-extract: language score" not in page  # title + svg title
    assert "<td>1-extract / read</td><td>11</td>" in page and "2-classify / read" not in page  # one funnel, raw to last
    assert "<td>webpro</td><td colspan='4' style='text-align:left'>skipped: no LLM endpoint" in page
    assert "top domains, approximate (documents) (5-reextract)" in page and "forum.example.net" in page


def test_a_recipe_of_inputs_and_output_alone_classifies_and_decontaminates_with_what_ships(tmp_path):
    from megamath.pipelines.recipe import skip_reasons

    path = tmp_path / "recipe.toml"
    path.write_text(f'[run]\ninputs = ["{EXAMPLE_WARC}"]\noutput = "{tmp_path / "run"}"\n')
    reasons = skip_reasons(load_recipe(path))
    assert "decontaminate" not in reasons and "classify" not in reasons
    path.write_text(path.read_text() + "[decontaminate]\nngram = 10\n")
    with pytest.raises(RecipeError, match="ngram = 10 needs benchmark_dir or benchmarks"):
        check_recipe(load_recipe(path))


def test_the_llm_phase_runs_against_an_endpoint_and_resumes_without_new_requests(tmp_path):
    with ScriptedServerProcess() as server:
        recipe = example_recipe(tmp_path, llm={"base_url": server.base_url, "model": "scripted"},
                                webpro={"thresholds": "0:0", "refine_model": "scripted-echo"}, synth={"kinds": []},
                                code={"inputs": []}, release={"mix": {}})
        first = run_cli("run", recipe, "-q")
        assert first.returncode == 0, first.stderr
        requests = server.stats()["requests"]
        assert requests == 8  # 4 documents scored, 4 refined
        assert "webpro/llm_score" in first.stdout and "webpro/llm_refine" in first.stdout
        assert "webpro: llm_score: 4 request(s) sent" in first.stdout
        assert "corpus: 4 documents under" in first.stdout and "6-webpro" in first.stdout
        # the report of the whole recipe: every phase; tokens counted where the text is final (stage 2,
        # then the refined text), not in stage 1 whose text stage 2 replaces
        report = run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html"))
        assert report.returncode == 0 and "6 phase(s)" in report.stdout, report.stderr
        page = (tmp_path / "report.html").read_text()
        assert all(f"<h3>{n}-{phase}</h3>" in page for n, phase in enumerate(
            ("extract", "classify", "dedup", "decontaminate", "reextract", "webpro"), start=1))
        assert "6-webpro / llm_refine" in page
        phases = {p.name: p for p in collect([str(tmp_path / "run")]).phases}
        final = [r for f in (tmp_path / "run" / "6-webpro" / "data").glob("*.parquet") for r in read_shard(str(f))]
        assert phases["6-webpro"].profile["tokens"] == sum(r["meta"]["tokens"] for r in final) > 0
        assert phases["1-extract"].profile["tokens"] == 0 and phases["5-reextract"].profile["tokens"] > 0
        again = run_cli("run", recipe, "-q")
        assert again.returncode == 0 and server.stats()["requests"] == requests
        assert again.stdout.count("(1 of 1 task(s) resumed") == 6
        # --from discards that phase and the ones after it; the answers come from the cache
        redo = run_cli("run", recipe, "-q", "--from", "webpro")
        assert redo.returncode == 0 and server.stats()["requests"] == requests
        assert "phase webpro: 4 documents" in redo.stdout and "(0 of 1 task(s) resumed" in redo.stdout
        assert redo.stdout.count("(1 of 1 task(s) resumed") == 5


def test_the_recipe_reference_in_docs_is_generated_from_the_option_table():
    from megamath.pipelines.recipe import recipe_reference

    reference = (ROOT / "docs" / "recipe.md").read_text()
    assert reference == recipe_reference() + "\n", "docs/recipe.md is stale: megamath recipe reference -o docs/recipe.md"
    for section, (_, options) in SECTIONS.items():
        assert f"## [{section}]" in reference and all(f"| `{o.key}` |" in reference for o in options)


def test_a_sample_run_reads_the_first_records_of_each_input_beside_the_full_run(tmp_path):
    recipe = example_recipe(tmp_path)
    plan = run_cli("run", recipe, "--limit", "3", "--dry-run")
    assert plan.returncode == 0 and f"{tmp_path / 'run' / 'sample-3' / '1-extract'}: runs" in plan.stdout
    sample = run_cli("run", recipe, "--limit", "3", "-q")
    assert sample.returncode == 0, sample.stderr
    assert "a sample run: the first 3 record(s) of each input" in sample.stdout
    reads = {line.split()[0]: line.split()[1] for line in sample.stdout.splitlines() if "/read" in line}
    assert reads == {"extract/read": "3", "code/read_code": "3"}
    assert list((tmp_path / "run" / "sample-3" / "5-reextract" / "data").glob("*.parquet"))
    assert not (tmp_path / "run" / "1-extract").exists()  # the full run's folders are not touched
    from megamath.report.collect import find_runs

    assert find_runs(str(tmp_path / "run")) == []  # the sample's phases are not the recipe folder's own
    assert len(find_runs(str(tmp_path / "run" / "sample-3"))) == 9  # five web phases, four code phases


def test_one_recipe_makes_web_code_and_synthetic_subsets_mixes_them_and_releases_them(tmp_path):
    """The whole MegaMath recipe in one run over examples/: web and Web-Pro, code, the three synthetic
    kinds (scripted LLM answers on 127.0.0.1, generated code run in the sandbox), the mixture at the asked
    token shares, typed shards that `datasets` loads, Megatron and MDS files, one report."""
    import datasets
    import numpy as np

    from megamath.release.tokenized import read_megatron

    shares = {"web": 0.3, "web-pro": 0.1, "code": 0.2, "qa": 0.2, "translate": 0.1, "blocks": 0.1}
    with ScriptedServerProcess() as server:
        recipe = example_recipe(
            tmp_path, llm={"base_url": server.base_url, "model": "scripted"},
            webpro={"thresholds": "0:0", "refine_model": "scripted-echo"},
            synth={"qa_model": "scripted-qa", "translate_model": "scripted-translate", "blocks_model": "scripted-blocks"},
            release={"mix": shares, "mix_tokens": 200_000, "tokenized": ["megatron", "mds"]})
        result = run_cli("run", recipe, "-q")
    assert result.returncode == 0, result.stderr
    release_dir = tmp_path / "run" / "14-release"
    summary = json.loads((release_dir / "release.json").read_text())
    assert set(summary["subsets"]) == set(shares) and all(s["rows"] > 0 for s in summary["subsets"].values())
    for name, share in shares.items():
        assert abs(summary["mix"]["subsets"][name]["achieved_share"] - share) <= 0.01, summary["mix"]["subsets"]
    assert abs(summary["mix"]["tokens"] - 200_000) <= 2_000
    mix = datasets.load_dataset(str(release_dir), "mix", split="train")
    assert mix.num_rows == summary["mix"]["rows"] and isinstance(mix.features["meta"], dict)
    assert set(mix["subset"]) == set(shares) and {r["synth_kind"] for r in mix["meta"]} >= {"qa", "translate", "blocks"}
    documents = read_megatron(str(release_dir / "tokenized" / "mix" / "megatron" / "corpus"))
    assert len(documents) == mix.num_rows and sum(len(d) for d in documents) == summary["mix"]["tokens"] + mix.num_rows
    assert json.loads((release_dir / "tokenized" / "qa" / "mds" / "index.json").read_text())["shards"]
    assert np.all([d[-1] == 151643 for d in documents])  # each document ends with Qwen2.5's end of text
    page = (release_dir / "report.html").read_text()
    assert all(f"<h3>{n}-{phase}</h3>" in page for n, phase in ((11, "qa"), (12, "translate"), (13, "blocks")))
    _rendered_in_chromium(release_dir / "report.html", tmp_path / "shot.png")
    card = (release_dir / "README.md").read_text()
    assert "config_name: mix" in card and "| `translate` |" in card


def _rendered_in_chromium(page, shot) -> None:
    """The whole recipe's report as a browser draws it: its new parts are in the DOM, and the page is drawn
    (bars in the charts' colour, text)."""
    import subprocess

    from test_report import CHROMIUM, _png_pixels

    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (make install installs it as root)")
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2400"]
    dom = subprocess.run([*command, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    for part in ("Models, thresholds and benchmarks", "the math classifier megamath ships", "top domains, approximate",
                 "<h3>13-blocks</h3>", "files per code language"):
        assert part in dom, part
    assert subprocess.run([*command, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120).returncode == 0
    width, height, pixels = _png_pixels(shot)
    bars = sum(1 for p in pixels if p == bytes.fromhex("3b6fd4"))
    assert (width, height) == (1280, 2400) and bars > 2_000 and sum(1 for p in pixels if max(p) < 90) > 5_000
