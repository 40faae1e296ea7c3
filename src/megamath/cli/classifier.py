"""``megamath classifier ...``: train, evaluate, bootstrap seeds, apply, and round 2 with LLM labels."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from megamath.cli.llm import cache_for, endpoint_from, endpoint_options, generation_from, run_llm_pipeline
from megamath.cli.main import cli, run_in_folder, start_run
from megamath.classify.model import TrainConfig

_train = TrainConfig()


def _texts(spec: str, fields: str) -> tuple[str, list[str]]:
    """``[NAME=]FILE`` → (name, documents)."""
    from megamath.classify.seeds import SeedFileError, read_texts

    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).name, spec
    try:
        return name, list(read_texts(path, tuple(f.strip() for f in fields.split(","))))
    except SeedFileError as exc:
        raise click.BadParameter(str(exc)) from exc


def _train_config(dim, lr, word_ngrams, min_count, epoch, bucket, max_words, threads, quantize) -> TrainConfig:
    return TrainConfig(dim=dim, lr=lr, word_ngrams=word_ngrams, min_count=min_count, epoch=epoch, bucket=bucket,
                       max_words_per_line=max_words, threads=threads, quantize=quantize)


def train_options(command):
    options = [
        click.option("--dim", type=click.IntRange(min=1), default=_train.dim, show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=_train.lr, show_default=True),
        click.option("--word-ngrams", type=click.IntRange(min=1), default=_train.word_ngrams, show_default=True),
        click.option("--min-count", type=click.IntRange(min=1), default=_train.min_count, show_default=True),
        click.option("--epoch", type=click.IntRange(min=1), default=_train.epoch, show_default=True),
        click.option("--bucket", type=click.IntRange(min=1), default=_train.bucket, show_default=True),
        click.option("--max-words", type=click.IntRange(min=0), default=_train.max_words_per_line, show_default=True,
                     help="Cut longer documents into several training lines (0: never)."),
        click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Training threads (0: every core; 1: the same model on every run)."),
        click.option("--quantize", is_flag=True, help="Also write a compressed .ftz (slow; scored by fastText)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.group()
def classifier() -> None:
    """The fastText math classifier: seeds, training, evaluation, round 2."""


@classifier.command("train")
@click.option("--positive", "positives", multiple=True, required=True, metavar="FILE",
              help="Math seed file (.txt one document a line, .jsonl[.gz|.zst], .parquet); repeatable.")
@click.option("--negative", "negatives", multiple=True, required=True, metavar="FILE", help="Non-math seed file.")
@click.option("--text-field", default="text", show_default=True,
              help="Field(s) holding the text in jsonl/parquet, comma-separated (joined), e.g. question,answer.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file (.bin).")
@train_options
def train(positives, negatives, text_field, output, **hyper):
    """Train a math classifier from seed files (preprocessing: NFKC, lower case, numbers → 0, math symbols as
    tokens, long documents cut into lines; hyper-parameters: the recipe's).

    Writes the model, its folded scoring table (MODEL.folded.npz) and, with --quantize, MODEL.ftz.

    \b
    Examples:
      megamath classifier train --positive runs/seeds/positive.jsonl --negative runs/seeds/negative.jsonl -o math.bin
      megamath classifier train --positive gsm8k_train.jsonl --text-field question,answer --negative cc.jsonl -o m.bin
    """
    from megamath.classify.model import ClassifierError
    from megamath.classify.model import train as train_model

    pos = [text for spec in positives for text in _texts(spec, text_field)[1]]
    neg = [text for spec in negatives for text in _texts(spec, text_field)[1]]
    started = time.monotonic()
    try:
        summary = train_model(pos, neg, output, _train_config(**hyper), progress=True)
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"trained on {summary['positive_docs']:,} math and {summary['negative_docs']:,} other documents "
               f"({summary['positive_lines']:,} + {summary['negative_lines']:,} lines) in "
               f"{time.monotonic() - started:.1f}s: {', '.join(summary['files'])}")


@classifier.command("eval")
@click.argument("model", type=click.Path(dir_okay=False, exists=True))
@click.option("--positive", "positives", multiple=True, metavar="[in:|out:]NAME=FILE",
              help="A labelled math set (repeatable); in: marks it in-domain (default out-of-domain).")
@click.option("--negative", "negatives", multiple=True, metavar="[in:|out:]NAME=FILE", help="A labelled non-math set.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the report here as JSON.")
def evaluate(model, positives, negatives, text_field, threshold, output):
    """Precision, recall and F1 per labelled set and pooled per domain, with a threshold sweep.

    \b
    Example:
      megamath classifier eval math.bin --positive in:seeds=heldout_pos.jsonl --negative in:seeds=heldout_neg.jsonl \\
          --positive math=html_math.jsonl --negative news=news.jsonl -o report.json
    """
    from megamath.classify.evaluate import LabelledSet, evaluate as run_eval, format_report
    from megamath.classify.model import ClassifierError, MathClassifier

    if not positives or not negatives:
        raise click.UsageError("give at least one --positive and one --negative set")
    try:
        scorer = MathClassifier(model)
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    sets = []
    for specs, positive in ((positives, True), (negatives, False)):
        for spec in specs:
            domain, sep, rest = spec.partition(":")
            if not sep or domain not in ("in", "out") or "=" not in rest:
                domain, rest = "out", spec
            name, texts = _texts(rest, text_field)
            sets.append(LabelledSet(name, positive, scorer.scores(texts), domain))
    report = run_eval(sets, threshold)
    click.echo(format_report(report))
    if output:
        Path(output).write_text(json.dumps(report, indent=2))


@classifier.command("bootstrap")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder for positive.jsonl, negative.jsonl and bootstrap.json.")
@click.option("--min-formulas", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--min-density", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Formulas per 1,000 characters for a positive.")
@click.option("--negatives-per-positive", type=click.FloatRange(min=0), default=2.0, show_default=True)
@click.option("--per-crawl", type=click.IntRange(min=0), default=0, show_default=True,
              help="Positives per crawl (0: as many as the crawl with fewest has).")
@click.option("--seed", type=int, default=0, show_default=True)
def bootstrap(inputs, output, min_formulas, min_density, negatives_per_positive, per_crawl, seed):
    """Collect round-1 seeds from stage-1 output itself: unmistakable math pages (formulas from math
    markup or TeX, dense enough) as positives, pages without any formula as negatives, evenly per crawl.

    \b
    Example:
      megamath web extract crawl/*.warc.gz -o runs/s1
      megamath classifier bootstrap 'runs/s1/data/*.parquet' -o runs/seeds
      megamath classifier train --positive runs/seeds/positive.jsonl --negative runs/seeds/negative.jsonl -o r1.bin
    """
    from megamath.classify.seeds import BootstrapConfig, bootstrap_seeds, write_seed_file
    from megamath.runtime.shards import read_records

    folder, shards = start_run(output, inputs, quiet=True)
    records = read_records(shards)
    config = BootstrapConfig(min_formulas=min_formulas, min_density=min_density,
                             negatives_per_positive=negatives_per_positive, per_crawl=per_crawl, seed=seed)
    positives, negatives, counts = bootstrap_seeds(records, config)
    out = Path(output)
    write_seed_file(out / "positive.jsonl", positives)
    write_seed_file(out / "negative.jsonl", negatives)
    (out / "bootstrap.json").write_text(json.dumps({"config": config.__dict__, **counts}, indent=2))
    for crawl, row in counts["per_crawl"].items():
        click.echo(f"{crawl}: {row['positives']:,} positives of {row['positive_pool']:,} candidates, "
                   f"{row['negatives']:,} negatives of {row['negative_pool']:,}")
    click.echo(f"{len(positives):,} positives and {len(negatives):,} negatives under {out}")
    if not positives or not negatives:
        click.echo("error: no positive or no negative seed found (see the counts above)", err=True)
        sys.exit(1)


@classifier.command("apply")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("--model", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--force", is_flag=True, help="Discard OUTPUT's results and start over.")
@click.option("-q", "--quiet", is_flag=True)
def apply(inputs, model, output, threshold, workers, force, quiet):
    """Score shards with a classifier (meta.math_score) and keep those at or above the threshold."""
    from megamath.classify.model import ClassifierError, MathClassifier
    from megamath.classify.stage import ClassifierConfig, MathClassify
    from megamath.report.funnel import format_funnel
    from megamath.runtime.pipeline import Pipeline
    from megamath.sources.shards import ShardReader

    folder, shards = start_run(output, inputs, quiet=quiet)
    model = str(Path(model).resolve())
    try:
        MathClassifier(model)
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    pipeline = Pipeline(ShardReader(), [MathClassify(ClassifierConfig(model, threshold))])
    summary = run_in_folder(pipeline, folder, shards, workers=workers, force=force, quiet=quiet)
    click.echo(format_funnel(summary.funnel))
    click.echo(f"\n{summary.docs_written:,} documents under {folder.data} ({summary.seconds:.1f}s)")
    if summary.failed:
        sys.exit(1)


@classifier.command("round2")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder (created).")
@click.option("--round1", "round1_model", required=True, type=click.Path(dir_okay=False, exists=True),
              help="The round-1 model.")
@click.option("--seeds", "seed_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="Round-1 seeds: a folder with positive.jsonl and negative.jsonl (from bootstrap).")
@click.option("--extra-positive", "extra_positives", multiple=True, metavar="FILE",
              help="More positives, e.g. chain-of-thought solutions (repeatable; --text-field applies).")
@click.option("--text-field", default="text", show_default=True)
@click.option("--model", "llm_model", required=True, help="The LLM that labels the sample.")
@click.option("--per-crawl", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Stage-1 survivors sampled per crawl for labelling.")
@click.option("--positive-min-score", type=click.IntRange(0, 5), default=3, show_default=True)
@click.option("--negative-max-score", type=click.IntRange(0, 5), default=1, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Classifier threshold for the round-over-round comparison.")
@click.option("--seed", type=int, default=0, show_default=True)
@train_options
@endpoint_options
def round2(inputs, output, round1_model, seed_dir, extra_positives, text_field, llm_model, per_crawl,
           positive_min_score, negative_max_score, threshold, seed, dim, lr, word_ngrams, min_count, epoch,
           bucket, max_words, threads, quantize, **options):
    """Round 2: sample stage-1 survivors evenly per crawl, label them with the LLM math-relevance rubric,
    retrain on round-1 seeds + LLM labels (+ extra positives), and report how recall and the kept set
    moved. Rerunning resumes: the sample is kept and LLM answers are cached.

    \b
    Example:
      megamath classifier round2 'runs/s1/data/*.parquet' -o runs/round2 --round1 r1.bin --seeds runs/seeds \\
          --model Qwen2.5-72B-Instruct --base-url http://gpu-node:8000/v1 --extra-positive cot.jsonl
    """
    from megamath.classify.model import ClassifierError, MathClassifier
    from megamath.classify.model import train as train_model
    from megamath.classify.round2 import Round2Config, compare_rounds, format_comparison, split_labels
    from megamath.classify.seeds import read_texts, sample_per_crawl, write_seed_file
    from megamath.llm.score import LLMScore, ScoreConfig
    from megamath.runtime.pipeline import Pipeline
    from megamath.runtime.resume import RunFolder
    from megamath.runtime.shards import read_records
    from megamath.sources.shards import ShardReader

    folder, shards = start_run(output, inputs, quiet=options["quiet"])
    out = Path(output)
    config = Round2Config(per_crawl=per_crawl, positive_min_score=positive_min_score,
                          negative_max_score=negative_max_score, threshold=threshold, seed=seed)
    sample_path = out / "sample.jsonl"
    if sample_path.is_file() and not options["force"]:
        sample = list(read_records([sample_path]))
        click.echo(f"reusing the sample of {len(sample):,} documents in {sample_path}")
    else:
        records = read_records(shards)
        sample, per_crawl_counts = sample_per_crawl(records, per_crawl, seed)
        write_seed_file(sample_path, sample)
        for crawl, row in per_crawl_counts.items():
            click.echo(f"{crawl}: sampled {row['sampled']:,} of {row['survivors']:,} survivors")

    labels = RunFolder(out / "labels")
    stage = LLMScore(ScoreConfig(generation_from(options, llm_model, "math_relevance"), key="math_relevance"),
                     endpoint_from(options), cache_for(options, labels))
    labels.logs.mkdir(parents=True, exist_ok=True)
    run_llm_pipeline(Pipeline(ShardReader(), [stage], output_suffix=".jsonl"), labels, [str(sample_path)], options)
    labelled = list(read_records(sorted(labels.data.glob("*.jsonl"))))

    train_pos, train_neg, held_pos, held_neg, counts = split_labels(labelled, config)
    click.echo(f"\nLLM labels: {counts['positive']:,} math (score >= {positive_min_score}), {counts['negative']:,} "
               f"other (<= {negative_max_score}), {counts['ambiguous']:,} in between left out; "
               f"{counts['held_out']:,} held out for the comparison")
    seeds = Path(seed_dir)
    positives = list(read_texts(seeds / "positive.jsonl")) + [r["text"] for r in train_pos]
    negatives = list(read_texts(seeds / "negative.jsonl")) + [r["text"] for r in train_neg]
    for spec in extra_positives:
        positives += _texts(spec, text_field)[1]
    model_path = out / "model.bin"
    try:
        summary = train_model(positives, negatives, model_path,
                              _train_config(dim, lr, word_ngrams, min_count, epoch, bucket, max_words, threads, quantize))
    except ClassifierError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"round-2 model: {model_path} ({summary['positive_docs']:,} math, {summary['negative_docs']:,} other)")
    report = compare_rounds(MathClassifier(round1_model), MathClassifier(model_path), held_pos, held_neg, sample,
                            threshold)
    report["labels"] = counts
    (out / "round2.json").write_text(json.dumps(report, indent=2))
    click.echo("\n" + format_comparison(report))

