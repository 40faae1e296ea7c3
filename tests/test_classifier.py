"""The fastText math classifier: preprocessing, training, folded scoring, seeds, evaluation, CLI, round 2."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import EXAMPLE_WARC, run_cli
from megamath.classify.evaluate import LabelledSet, evaluate
from megamath.classify.model import (
    ClassifierError,
    MathClassifier,
    TextClassifier,
    TrainConfig,
    folded_path,
    preprocessing_path,
    train,
    train_labelled,
    write_training_file,
)
from megamath.classify.preprocess import PREPROCESS_VERSION, chunk_words, preprocess, without_formulas
from megamath.classify.seeds import BootstrapConfig, bootstrap_seeds, read_texts
from fixtures.scripted_server import ScriptedServerProcess
from megamath.runtime.shards import read_shard

# dim 16 with 20,000 buckets sometimes trains into NaN on these few examples; these settings do not
SMALL = TrainConfig(dim=32, bucket=100_000, epoch=5, threads=1)
PROSE = ("the city council met on tuesday to discuss the new park and the budget for the library while residents "
         "asked about parking traffic and the summer festival music food and weather reports from the coast").split()
MATH = ["Let $f(x) = {a}x^2 + {b}$. Then $f'(x) = {c}x$ and the integral $\\int_0^1 f(x)\\,dx = {d}$.",
        "Solve ${a}x + {b} = {c}$: subtract ${b}$ and divide by ${a}$, so $x = \\frac{{{c}-{b}}}{{{a}}}$.",
        "By the theorem, the sum $\\sum_{{k=1}}^{{n}} k = \\frac{{n(n+1)}}{{2}}$ holds for every integer $n \\ge {a}$.",
        "The determinant of the matrix is $ad - bc = {d}$, hence the equation has a unique solution."]


def math_doc(rng: random.Random) -> str:
    return " ".join(rng.choice(MATH).format(a=rng.randint(2, 9), b=rng.randint(1, 9), c=rng.randint(10, 99),
                                            d=rng.randint(1, 50)) for _ in range(4))


def prose_doc(rng: random.Random) -> str:
    return " ".join(rng.choice(PROSE) for _ in range(60)) + "."


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("model") / "math.bin"
    train([math_doc(rng) for _ in range(300)], [prose_doc(rng) for _ in range(300)], path, SMALL)
    return path


def test_preprocess_normalizes_numbers_symbols_and_unicode():
    assert preprocess("Let $f(x) = 3x^2 + 2.5x$; then \\frac{a}{b}, 1,000 people!") == \
        "let mathspan f x = 0 x ^ 0 + 0 x mathend then \\frac a b 0 people"
    assert preprocess("ＡＢＣ Ünïcode ﬁ") == "abc ünïcode fi"
    assert preprocess("") == ""
    assert chunk_words("a b c d e", 2) == ["a b", "c d", "e"] and chunk_words("a b", 0) == ["a b"]


def test_preprocess_tells_prices_code_and_tables_from_math():
    """A price is not the formula $0$, a table of numbers is not a run of 0, code is not TeX."""
    assert preprocess("It costs $169.99, and $0$ is a formula.") == "it costs shopprice and mathspan 0 mathend is a formula"
    assert preprocess("Tiers $$ · Italian · Open $$ and $NVDA/$AMD") == \
        "tiers pricetier · italian · open pricetier and codevar / codevar"
    assert preprocess("Tiers: $ or ($$$), then $ 20 and US$") == "tiers pricetier or pricetier then price and us dollar"
    # a shell's parameter expansion is no formula, though its dollars pair by Pandoc's rule (version 5)
    assert preprocess('HOME="${APP_HOME:-$HOME}" n=${#name} $x$') == "home = codevar - codevar n = codevar # name } mathspan x mathend"
    # stage 1 escapes a prose dollar only on a page with formulas: that amount is no shop's (version 6)
    assert preprocess("Stage 1 wrote \\$5 and $x$, a shop $5.") == \
        "stage 0 wrote escapedprice and mathspan x mathend a shop price"
    # a prose dollar right before a formula (inline or display), and a display formula at the start
    assert preprocess("It costs \\$$x$ and \\$$$y$$.") == "it costs \\ dollar mathspan x mathend and \\ dollar mathspan y mathend"
    assert preprocess("$$z$$ and $$") == "mathspan z mathend and pricetier"
    # a formula's grouping braces are no content; a brace in prose is code's (version 6)
    assert preprocess("$x^{10} = \\frac{a}{b}$ and {code}, \\emph{Proof}") == \
        "mathspan x ^ 0 = \\frac a b mathend and { code } \\emph proof"
    # who speaks is no topic: I, you, we are dropped, but not inside a formula (version 6)
    assert preprocess("I think you and we know $i^2 = -1$ for us.") == "think and know mathspan i ^ 0 = - 0 mathend for us"
    # a math symbol typed as a character is its TeX command; an arrow, a degree sign, a Greek word are not (version 6)
    assert preprocess("For all ε > 0, ∀ x ∈ ℝ: ¬p → q at 350°F, λόγος") == \
        "for all \\varepsilon > 0 \\forall x \\in \\mathbb { r } \\neg p → q at 0 ° f λόγος"
    # markup that is no formula: a StackExchange post's group markers, an Asymptote figure's code (version 6)
    assert preprocess("0\n$\\begingroup$\n\nHow loud is $x$?\n\n$\\endgroup$") == "0 how loud is mathspan x mathend"
    assert preprocess("Find $x$. [asy]\ndraw((0,0)--(3,0));\nlabel(\"$A$\", (0,0));\n[/asy]") == \
        "find mathspan x mathend asyfigure"
    # an equation in plain text is a formula the page did not delimit; an assignment, a breadcrumb, an
    # amount's sum, code's comparison are not; no equation is read inside a formula (version 7)
    assert preprocess("In Lean, a * b * c = b * (a * c) and 2 + 2 = 4. So (x + 1)(x - 1) = 0, x ^ n ≠ z ^ n") == \
        "in lean mathspan a * b * c = b * a * c mathend and mathspan 0 + 0 = 0 mathend " \
        "so mathspan x + 0 x - 0 = 0 mathend mathspan x ^ n \\ne z ^ n mathend"
    assert preprocess("n = n + 1\nHome > News > World, $5 * 3 = $15, a+b==c, x = 3, and $a+b=c$") == \
        "n = n + 0 home > news > world price * 0 = price a + b = = c x = 0 and mathspan a + b = c mathend"
    assert preprocess("20 USD or 15 € or 7% off on 2024-05-01 at 12:30, 5 pm") == \
        "price or price or percent off on date at clock clock"
    assert preprocess("Selling 2 x JCM800 heads") == "selling qty model heads"
    assert preprocess("Arsenal\t\t38\t\t26\n| a | 2 |") == "tablerow arsenal tnum tnum tablerow a tnum"
    # a table reads the same written with tabs (an extractor's) or as Markdown (stage 1's on math pages)
    assert preprocess("| Team | P |\n| --- | ---: |\n| Arsenal | 38 |") == preprocess("Team\tP\nArsenal\t38") == \
        "tablerow team p tablerow arsenal tnum"
    assert preprocess("x = torch.nn.Linear(in_features, 3);") == "codeline x = torch nn apicall in_features 0"
    assert preprocess("Let $x_1 = 2$ and x_1 in prose") == "let mathspan x 0 = 0 mathend and x 0 in prose"
    assert preprocess("LaTeX: \\[|x|\\le 7\\] and \\(a\\)") == "latex mathspan | x | \\le 0 mathend and mathspan a mathend"
    # where a token starts decides what follows: a model number's digits are not an amount's, a TeX
    # command takes letters only, a variable takes what follows its sign; letters of other scripts
    assert preprocess("H100 USD and x2 % and \\alpha12 usd, $ 20 or $ab_1 usd") == \
        "model usd and x percent and \\alpha price price or codevar usd"
    assert preprocess("Größe 12:30 pm, ۳ € and 😀 n_1 ², α2 usd") == "größe clock ۳ € and 😀 n 0 2 \\alpha price"


def test_a_model_trained_with_another_preprocessing_is_refused(model, tmp_path):
    import shutil

    old = tmp_path / "old.bin"
    shutil.copy(model, old)  # no record of its preprocessing: a model from before versions were recorded
    with pytest.raises(ClassifierError, match="version 1.*train it again"):
        MathClassifier(old)
    (tmp_path / "old.bin.preprocess.json").write_text('{"preprocess_version": 2}')
    with pytest.raises(ClassifierError, match=f"version 2; this megamath preprocesses by version {PREPROCESS_VERSION}"):
        MathClassifier(old)
    (tmp_path / "old.bin.preprocess.json").write_text(f'{{"preprocess_version": {PREPROCESS_VERSION}}}')
    assert MathClassifier(old).scores(["x"]).shape == (1,)


def test_folded_scores_equal_fasttext_predict(model):
    rng = random.Random(1)
    classifier = MathClassifier(model)
    texts = [math_doc(rng) for _ in range(20)] + [prose_doc(rng) for _ in range(20)] + \
        ["", "x", "unseen words only zzz qqq", "ünïcode ＡＢ 3.5 $", "word " * 5000, "a lone \ud800 surrogate"]
    folded = classifier.scores(texts)
    assert np.allclose(folded, classifier.fasttext_scores(texts), atol=1e-4)
    assert (folded[:20] > 0.9).all() and (folded[20:40] < 0.1).all()


def test_three_labels_fold_and_a_quantized_model_scores_as_it_is(tmp_path):
    """A softmax over three labels folds to two numbers a row with the same probabilities; a
    quantized model cannot be folded and is scored through fastText as it is."""
    rng = random.Random(2)
    texts = {"__label__math": [math_doc(rng) for _ in range(100)], "__label__other": [prose_doc(rng) for _ in range(100)],
             "__label__code": [f"def f{i}(x):\n    return x.append({i});" * 5 for i in range(100)]}
    examples = [(label, text) for label, group in texts.items() for text in group]
    summary = train_labelled(examples, tmp_path / "three.bin", dataclasses.replace(SMALL, quantize=True))
    assert str(tmp_path / "three.ftz") in summary["files"]
    three = TextClassifier(tmp_path / "three.bin")
    sample = [math_doc(rng), prose_doc(rng), "def g(x):\n    return x;", "unseen zzz"]
    assert np.allclose(three.probabilities(sample), three.fasttext_probabilities(sample), atol=1e-4)
    quantized = TextClassifier(tmp_path / "three.ftz")
    assert not folded_path(tmp_path / "three.ftz").exists()
    best = quantized.probabilities(sample[:3]).argmax(axis=1)
    assert [quantized.labels[j] for j in best] == ["__label__math", "__label__other", "__label__code"]


def test_model_files_and_errors(model, tmp_path):
    assert folded_path(model).is_file()
    copy = tmp_path / "copy.bin"
    copy.write_bytes(model.read_bytes())
    preprocessing_path(copy).write_bytes(preprocessing_path(model).read_bytes())
    MathClassifier(copy)  # folds it and caches the table next to it
    assert folded_path(copy).is_file()
    with pytest.raises(ClassifierError, match="not found"):
        MathClassifier(tmp_path / "missing.bin")
    (tmp_path / "junk.bin").write_bytes(b"not a model at all" * 10)
    preprocessing_path(tmp_path / "junk.bin").write_bytes(preprocessing_path(model).read_bytes())
    with pytest.raises(ClassifierError):
        MathClassifier(tmp_path / "junk.bin")
    with pytest.raises(ClassifierError, match="both positive and negative"):
        train(["only math $x$"] * 5, [], tmp_path / "none.bin", SMALL)


def test_seed_files_in_every_format(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("first document\n\nsecond document\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"question": "Q1", "answer": "A1"}) + "\n{broken\n")
    pq.write_table(pa.table({"text": ["p1", "", "p2"]}), tmp_path / "c.parquet")
    assert list(read_texts(tmp_path / "a.txt")) == ["first document", "second document"]
    assert list(read_texts(tmp_path / "b.jsonl", ("question", "answer"))) == ["Q1\n\nA1"]
    assert "b.jsonl: skipped 1 unreadable line(s)" in caplog.text
    assert list(read_texts(tmp_path / "c.parquet")) == ["p1", "p2"]


def test_evaluation_metrics_per_set_and_sweep():
    sets = [LabelledSet("math-a", True, np.array([0.9, 0.8, 0.4, 0.7])),
            LabelledSet("news", False, np.array([0.1, 0.6, 0.2, 0.0]))]
    report = evaluate(sets, threshold=0.5)["domains"]["out"]
    assert report["pooled"] == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "positives": 4, "negatives": 4,
                                "false_positive_rate": 0.25}
    rows = {row["set"]: row for row in report["sets"]}
    assert rows["math-a"]["classified_math"] == 0.75 and rows["news"]["classified_math"] == 0.25
    assert report["best_threshold"]["threshold"] == 0.21 and report["best_threshold"]["f1"] == 0.8889


def stage1_record(i: int, crawl: str, formulas: int, chars: int = 600) -> dict:
    return {"id": f"{crawl}-{i}", "url": f"https://e.example/{i}", "text": "x" * chars,
            "meta": {"crawl": crawl, **({"math": {"katex": formulas, "katex_failed": 3}} if formulas else {})}}


def test_bootstrap_is_balanced_across_crawls_and_keeps_ambiguous_pages_out():
    records = [stage1_record(i, "CC-MAIN-2016-07", 10) for i in range(10)]
    records += [stage1_record(i, "CC-MAIN-2024-10", 10) for i in range(40)]
    records += [stage1_record(100 + i, crawl, 0) for crawl in ("CC-MAIN-2016-07", "CC-MAIN-2024-10") for i in range(50)]
    records += [stage1_record(200, "CC-MAIN-2024-10", 1), stage1_record(201, "CC-MAIN-2024-10", 10, chars=100)]
    positives, negatives, counts = bootstrap_seeds(records, BootstrapConfig(negatives_per_positive=2))
    per_crawl = counts["per_crawl"]
    assert per_crawl["CC-MAIN-2016-07"]["positives"] == per_crawl["CC-MAIN-2024-10"]["positives"] == 10
    assert per_crawl["CC-MAIN-2016-07"]["negatives"] == per_crawl["CC-MAIN-2024-10"]["negatives"] == 20
    assert all(p["formulas"] >= 5 for p in positives) and all(n["formulas"] == 0 for n in negatives)
    assert counts["skipped"] == {"some_math": 1, "too_short": 1}
    again = bootstrap_seeds(records, BootstrapConfig(negatives_per_positive=2))
    assert [p["id"] for p in again[0]] == [p["id"] for p in positives]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_balanced_lines_repeat_the_smaller_labels_to_the_largest(tmp_path):
    examples = [("__label__math", f"m{i}") for i in range(10)] + [("__label__other", f"o{c}") for c in "abcd"] + \
        [("__label__code", "code")]
    plain = write_training_file(examples, tmp_path / "plain.txt", SMALL)
    assert plain["lines"] == {"__label__math": 10, "__label__other": 4, "__label__code": 1}
    config = dataclasses.replace(SMALL, balance_lines=True)
    balanced = write_training_file(examples, tmp_path / "balanced.txt", config)
    assert balanced["lines"] == {"__label__math": 10, "__label__other": 10, "__label__code": 10}
    lines = (tmp_path / "balanced.txt").read_text().splitlines()
    others = [line for line in lines if line.startswith("__label__other")]
    assert sorted(others.count(f"__label__other o{c}") for c in "abcd") == [2, 2, 3, 3]  # 2 copies + 2 drawn
    assert balanced["docs"] == plain["docs"]
    write_training_file(examples, tmp_path / "again.txt", config)
    assert (tmp_path / "again.txt").read_text() == (tmp_path / "balanced.txt").read_text()  # seeded


def test_a_math_document_with_formulas_is_also_trained_on_without_them(tmp_path):
    examples = [("__label__math", "Solve $x^2 = 4$ for the root."), ("__label__math", "How many ways are there?"),
                ("__label__other", "A shop sells $x$ and costs \\$5.")]
    summary = write_training_file(examples, tmp_path / "train.txt", dataclasses.replace(SMALL, formula_free_copies=True))
    lines = sorted((tmp_path / "train.txt").read_text().splitlines())
    assert lines == ["__label__math how many ways are there", "__label__math solve for the root",
                     "__label__math solve mathspan x ^ 0 = 0 mathend for the root",
                     "__label__other a shop sells mathspan x mathend and costs escapedprice"]  # math only
    assert summary["docs"] == {"__label__math": 2, "__label__other": 1}
    assert without_formulas("mathspan x mathend") == "" and without_formulas("no formula") == "no formula"


def test_cli_train_eval_apply_and_web_extract_stage(model, tmp_path):
    rng = random.Random(2)
    pos = write_jsonl(tmp_path / "pos.jsonl", [{"text": math_doc(rng)} for _ in range(200)])
    neg = write_jsonl(tmp_path / "neg.jsonl", [{"text": prose_doc(rng)} for _ in range(200)])
    result = run_cli("classifier", "train", "--positive", str(pos), "--negative", str(neg), "-o",
                     str(tmp_path / "m.bin"), "--dim", "16", "--bucket", "20000", "--epoch", "5")
    assert result.returncode == 0, result.stderr
    assert "trained on 200 math and 200 other documents" in result.stdout
    held_pos = write_jsonl(tmp_path / "hp.jsonl", [{"text": math_doc(rng)} for _ in range(50)])
    held_neg = write_jsonl(tmp_path / "hn.jsonl", [{"text": prose_doc(rng)} for _ in range(50)])
    result = run_cli("classifier", "eval", str(tmp_path / "m.bin"), "--positive", f"in:held-math={held_pos}",
                     "--negative", f"in:held-news={held_neg}", "--positive", f"other-math={pos}", "-o",
                     str(tmp_path / "report.json"))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["domains"]["in"]["pooled"]["f1"] == 1.0 and "out" in report["domains"]
    assert "in-domain" in result.stdout and "best F1 at threshold" in result.stdout

    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{"id": f"m{i}", "text": math_doc(rng)} for i in range(5)]
                        + [{"id": f"n{i}", "text": prose_doc(rng)} for i in range(5)])
    result = run_cli("classifier", "apply", str(mixed), "--classifier", str(tmp_path / "m.bin"), "-o",
                     str(tmp_path / "applied"), "-q")
    assert result.returncode == 0, result.stderr
    kept = [r for p in (tmp_path / "applied" / "data").glob("*.parquet") for r in read_shard(str(p))]
    assert sorted(r["id"] for r in kept) == [f"m{i}" for i in range(5)]
    assert all(r["meta"]["math_score"] >= 0.5 for r in kept) and "not_math 5" in result.stdout

    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "web"), "-q", "-w", "1",
                     "--classifier", str(model), "--math-threshold", "0")
    assert result.returncode == 0, result.stderr
    records = [r for p in (tmp_path / "web" / "data").glob("*.parquet") for r in read_shard(str(p))]
    assert records and all(0 <= r["meta"]["math_score"] <= 1 for r in records)
    (tmp_path / "junk.bin").write_bytes(b"junk" * 100)
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(tmp_path / "web2"), "--classifier",
                     str(tmp_path / "junk.bin"))
    assert result.returncode != 0 and "not a fastText model" in result.stderr


def labelled_crawls(rng: random.Random, per_crawl: int) -> list[dict]:
    """Stage-1-like records of two crawls, math and prose alternating; the scripted LLM gives math 5, prose 0."""
    records = []
    for crawl in ("CC-MAIN-2016-07", "CC-MAIN-2024-10"):
        for i in range(per_crawl):
            is_math = i % 2 == 0
            text = (math_doc(rng) if is_math else prose_doc(rng)) + f" [[script: score={5 if is_math else 0}]]"
            records.append({"id": f"{crawl}-{i}", "text": text, "url": f"https://e.example/{i}",
                            "meta": {"crawl": crawl, **({"math": {"tex_text": 12}} if is_math else {})}})
    return records


def test_cli_bootstrap_then_round2_with_llm_labels(model, tmp_path):
    records = labelled_crawls(random.Random(3), 30)
    shard = write_jsonl(tmp_path / "s1.jsonl", records)
    result = run_cli("classifier", "bootstrap", str(shard), "-o", str(tmp_path / "seeds"), "--negatives-per-positive", "1")
    assert result.returncode == 0, result.stderr
    assert "CC-MAIN-2016-07: 15 positives of 15 candidates, 15 negatives of 15" in result.stdout
    with ScriptedServerProcess() as server:
        args = ["classifier", "round2", str(shard), "-o", str(tmp_path / "r2"), "--round1", str(model), "--seeds",
                str(tmp_path / "seeds"), "--model", "scripted", "--base-url", server.base_url, "--per-crawl", "20",
                "--dim", "16", "--bucket", "20000", "--threads", "1", "-q"]
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        first = server.stats()["requests"]
        rerun = run_cli(*args)
        assert rerun.returncode == 0, rerun.stderr
        assert server.stats()["requests"] == first == 40  # 20 per crawl, labelled once
    report = json.loads((tmp_path / "r2" / "round2.json").read_text())
    assert report["labels"]["positive"] == 20 and report["labels"]["negative"] == 20
    assert report["kept"]["sample"] == 40 and set(report["kept"]["per_crawl"]) == {"CC-MAIN-2016-07", "CC-MAIN-2024-10"}
    assert report["round2"]["held_out"]["f1"] == 1.0
    assert "held-out LLM labels" in result.stdout and "llm_score: 40 request(s) sent" in result.stdout


def test_webpro_scores_with_a_classifier_trained_on_a_sample_of_llm_scores(tmp_path):
    records = labelled_crawls(random.Random(4), 150)
    shard = write_jsonl(tmp_path / "s2.jsonl", records)
    with ScriptedServerProcess() as server:
        result = run_cli("web", "pro", str(shard), "-o", str(tmp_path / "pro"), "--model", "scripted", "--refine-model",
                         "scripted-echo", "--base-url", server.base_url, "--score-sample", "100", "-q", "--format",
                         "jsonl", "--thresholds", "0:2.6")
        # 100 documents a crawl train a model of modest confidence: expected scores sit near the midpoint of
        # 0 and 5 (math 2.7–2.9, prose 2.5 here), on the right sides of it
        assert result.returncode == 0, result.stderr
        out = [r for p in (tmp_path / "pro" / "data").glob("*.jsonl") for r in read_shard(str(p))]
        # the LLM scored only the sample; everything else was scored by the classifier, then the kept refined
        assert server.stats()["requests"] == 200 + len(out)
    math_ids = {r["id"] for i, r in enumerate(records) if i % 2 == 0}
    assert out and {r["id"] for r in out} <= math_ids
    assert all(r["meta"]["llm"]["educational_value"]["model"] == "fasttext:educational_value.bin" for r in out)
    assert "classifier_score" in result.stdout and "score classifier" in result.stdout


def test_webpro_score_sample_with_a_single_score_is_a_clear_error(tmp_path):
    records = [{"id": f"d{i}", "text": f"text {i} [[script: score=3]]", "meta": {"crawl": "CC-MAIN-2020-10"}}
               for i in range(20)]
    with ScriptedServerProcess() as server:
        result = run_cli("web", "pro", str(write_jsonl(tmp_path / "s.jsonl", records)), "-o", str(tmp_path / "pro"),
                         "--model", "scripted", "--base-url", server.base_url, "--score-sample", "10", "-q")
    assert result.returncode == 1 and "cannot train the score classifier" in result.stderr
    assert "Traceback" not in result.stderr


def test_precision_at_a_base_rate_and_thresholds_for_a_target():
    """1% false positives and 99% recall: 0.99 precision on a balanced sample, 0.84 in a crawl with 5% math."""
    positives = np.array([0.9] * 99 + [0.2])
    negatives = np.array([0.1] * 99 + [0.8])
    sets = [LabelledSet("math", True, positives), LabelledSet("news", False, negatives)]
    pooled = evaluate(sets, 0.5, base_rate=0.05)["domains"]["out"]["pooled"]
    assert pooled["precision"] == 0.99 and pooled["false_positive_rate"] == 0.01
    assert pooled["precision_at_base_rate"] == round(0.99 * 0.05 / (0.99 * 0.05 + 0.01 * 0.95), 4) == 0.8390
    picked = evaluate(sets, 0.5, base_rate=0.05, target_precision=0.95)["domains"]["out"]["target"]["threshold"]
    assert picked["threshold"] == 0.81 and picked["precision_at_base_rate"] == 1.0 and picked["recall"] == 0.99
    kept = evaluate(sets, 0.5, target_recall=1.0)["domains"]["out"]["target"]["threshold"]
    assert kept["threshold"] == 0.2 and kept["recall"] == 1.0
    assert evaluate(sets, 0.5, target_precision=1.01)["domains"]["out"]["target"]["threshold"] is None


def test_bootstrap_draws_hard_negatives_of_each_kind_in_every_crawl():
    def page(i: int, crawl: str, text: str) -> dict:
        return {"id": f"{crawl}-{i}", "url": f"https://e.example/{i}", "text": text * 5, "meta": {"crawl": crawl}}

    code = "import os\nx = os.path.join(a, b);\nreturn x;\n"
    table = "Arsenal\t38\t26\t84\nChelsea\t38\t20\t70\nLeeds\t38\t10\t40\n"
    shop = "Amp head $999.99, cabinet $449, cables $19.99 each, now $5 off. "
    plain = "The council met on Tuesday to discuss the new park and the library budget. "
    records = []
    for crawl in ("CC-MAIN-2016-07", "CC-MAIN-2024-10"):
        records += [stage1_record(i, crawl, 10) for i in range(6)]
        records += [page(i, crawl, text) for i, text in enumerate([code, table, shop] * 4 + [plain] * 12)]
    _, negatives, counts = bootstrap_seeds(records, BootstrapConfig(negatives_per_positive=2, hard_share=0.5))
    for crawl, row in counts["per_crawl"].items():
        assert row["negatives"] == 12 and row["hard_negatives"] == {"code": 2, "tables": 2, "prices": 2}, crawl
    assert sum(1 for seed in negatives if seed["kind"] == "plain") == 12


def test_the_shipped_model_is_small_current_and_tells_math_from_prices_code_and_tables():
    """The model megamath ships (tools/build_math_classifier.py): under 50 MB, trained with today's
    preprocessing (loading refuses any other version), its threshold calibrated, and right on pages of
    the kinds it was built to tell apart."""
    from megamath.classify.shipped import SHIPPED_MODEL, model_and_threshold, shipped_card, shipped_threshold

    assert SHIPPED_MODEL.stat().st_size < 50e6
    classifier = MathClassifier(SHIPPED_MODEL)
    threshold = shipped_threshold()
    calibration = shipped_card()["calibration"]
    assert 0 < threshold < 1 and calibration["precision_at_5pct"] >= 0.97
    assert calibration["false_positive_rates"]["ordinary"] <= 0.001 and max(calibration["false_positive_rates"].values()) <= 0.01
    assert model_and_threshold("default", None) == (str(SHIPPED_MODEL), threshold)
    assert model_and_threshold("default", 0.7) == (str(SHIPPED_MODEL), 0.7)
    assert model_and_threshold("m.bin", None) == ("m.bin", 0.5)
    math_pages = [
        "Completing the square\n\nFor $x^2 + 6x + 5 = 0$ we add and subtract $9$: $(x+3)^2 - 4 = 0$, so $x = -1$ or "
        "$x = -5$. In general the roots of $ax^2 + bx + c$ are $\\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$.",
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many "
        "clips did Natalia sell altogether in April and May? In May she sold 48 / 2 = 24 clips, so 48 + 24 = 72.",
        "Theorem. Every bounded monotone sequence of real numbers converges. Proof. Let $(a_n)$ be increasing and "
        "bounded, and let $L = \\sup_n a_n$. For $\\varepsilon > 0$ there is $N$ with $a_N > L - \\varepsilon$.",
    ]
    other_pages = [
        "Trail Running Jacket\n\n$89.00\n\nIn stock\n\nSKU#: WJ08\n\nQty Add to Cart\n\nDetails\n\nA light shell "
        "for wet days.\n\nSubtotal $178.00\nShipping $5.00\nTax $14.69\nOrder Total $197.69",
        "requests.get(url, params=None, **kwargs)\n\nSends a GET request. Returns a Response object.\n\n"
        "r = requests.get('https://api.github.com/user', auth=('user', 'pass'))\nr.status_code\n200",
        "| Pos | Team | P | W | D | L | GF | GA | Pts |\n| 1 | Arsenal | 38 | 26 | 6 | 6 | 88 | 43 | 84 |\n"
        "| 2 | Chelsea | 38 | 24 | 7 | 7 | 76 | 33 | 79 |\n| 3 | Everton | 38 | 20 | 9 | 9 | 61 | 40 | 69 |",
        "Simple country bread\n\n500 g flour, 350 g water, 10 g salt and 2 g dry yeast. Mix in the evening, "
        "fold twice, shape in the morning and bake for 45 minutes at 230 °C.",
    ]
    scores = classifier.scores(math_pages + other_pages)
    assert (scores[:3] >= threshold).all() and (scores[3:] < threshold).all(), scores


def test_web_extract_and_classifier_apply_take_the_shipped_model_by_name(tmp_path):
    from megamath.classify.shipped import shipped_threshold

    out = tmp_path / "s1"
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(out), "-q", "--classifier", "default")
    assert result.returncode == 0, result.stderr
    assert "not_math 1" in result.stdout  # the example's bread recipe; its four math pages are kept
    kept = [r for shard in out.glob("data/*.parquet") for r in read_shard(str(shard))]
    assert len(kept) == 4 and all(r["meta"]["math_score"] >= shipped_threshold() for r in kept)
    applied = run_cli("classifier", "apply", *map(str, out.glob("data/*.parquet")), "-o", str(tmp_path / "a"), "-q",
                      "--classifier", "default", "--threshold", "0.999999")
    assert applied.returncode == 0, applied.stderr
    assert "not_math" in applied.stdout  # the threshold given overrides the calibrated one
