"""``megamath classifier ...``: train, evaluate, bootstrap seeds, apply, and round 2 with LLM labels."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from megamath.cli.app import classifier, configure_logging
from megamath.cli.common import prepare_run, report_run
from megamath.cli.options import (
    math_train_options,
    cache_for,
    endpoint_from,
    endpoint_options,
    executor_from,
    executor_options,
    format_option,
    generation_from,
    run_folder_options,
    train_config_from,
    train_options,
)


def _texts(spec: str, fields: str) -> tuple[str, list[str]]:
    """``[NAME=]FILE`` → (name, documents)."""
    from megamath.classify.seeds import SeedFileError, read_texts

    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).name, spec
    try:
        return name, list(read_texts(path, _fields(fields)))
    except SeedFileError as exc:
        raise click.BadParameter(str(exc)) from exc


def _fields(fields: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in fields.split(",") if f.strip())


@classifier.command("train")
@click.option("--positive", "positives", multiple=True, required=True, metavar="FILE",
              help="Math seed file (.txt one document a line, .jsonl[.gz|.zst], .parquet); repeatable.")
@click.option("--negative", "negatives", multiple=True, required=True, metavar="FILE", help="Non-math seed file.")
@click.option("--text-field", default="text", show_default=True,
              help="Field(s) holding the text in jsonl/parquet, comma-separated (joined), e.g. question,answer.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file (.bin).")
@train_options
@math_train_options
def train(positives, negatives, text_field, output, **hyper):
    """Train a math classifier from seed files (preprocessing, versioned: formulas, prices, dates, tables and
    code as tokens of their own, NFKC, lower case, other numbers → 0, math symbols as tokens, long
    documents cut into lines; hyper-parameters: the recipe's).

    Writes the model, the preprocessing version it was trained with (MODEL.preprocess.json), its folded
    copy for scoring (MODEL.folded.bin) and, with --quantize, MODEL.ftz.

    \b
    Examples:
      megamath classifier train --positive runs/seeds/positive.jsonl --negative runs/seeds/negative.jsonl -o math.bin
      megamath classifier train --positive gsm8k_train.jsonl --text-field question,answer --negative cc.jsonl -o m.bin
    """
    from megamath.classify.model import ClassifierError
    from megamath.classify.model import train as train_model

    configure_logging(None, quiet=False)
    pos = [text for spec in positives for text in _texts(spec, text_field)[1]]
    neg = [text for spec in negatives for text in _texts(spec, text_field)[1]]
    started = time.monotonic()
    try:
        summary = train_model(pos, neg, output, train_config_from(hyper), progress=True)
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
@click.option("--base-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="The share of math among the pages to classify (e.g. 0.05): also report the precision they would see.")
@click.option("--target-precision", type=click.FloatRange(0, 1), default=None,
              help="Pick the lowest threshold that reaches this precision (at --base-rate when given).")
@click.option("--target-recall", type=click.FloatRange(0, 1), default=None,
              help="Pick the highest threshold that keeps this recall.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the report here as JSON.")
def evaluate(model, positives, negatives, text_field, threshold, base_rate, target_precision, target_recall, output):
    """Precision, recall and F1 per labelled set and pooled per domain, with a threshold sweep; with
    --base-rate, the precision a crawl with that share of math would see, and with --target-precision or
    --target-recall, the threshold that reaches it.

    \b
    Example:
      megamath classifier eval math.bin --positive in:seeds=heldout_pos.jsonl --negative in:seeds=heldout_neg.jsonl \\
          --positive math=html_math.jsonl --negative news=news.jsonl -o report.json
      megamath classifier eval math.bin --positive ... --negative ... --base-rate 0.05 --target-precision 0.93
    """
    from megamath.classify.evaluate import LabelledSet, evaluate as run_eval, format_report
    from megamath.classify.model import MathClassifier

    if not positives or not negatives:
        raise click.UsageError("give at least one --positive and one --negative set")
    if target_precision is not None and target_recall is not None:
        raise click.UsageError("give --target-precision or --target-recall, not both")
    scorer = MathClassifier(model)
    sets = []
    for specs, positive in ((positives, True), (negatives, False)):
        for spec in specs:
            domain, sep, rest = spec.partition(":")
            if not sep or domain not in ("in", "out") or "=" not in rest:
                domain, rest = "out", spec
            name, texts = _texts(rest, text_field)
            sets.append(LabelledSet(name, positive, scorer.scores(texts), domain))
    report = run_eval(sets, threshold, base_rate=base_rate, target_precision=target_precision,
                      target_recall=target_recall)
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
@click.option("--hard-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Part of the negatives drawn from pages with code, tables of numbers or many prices.")
@click.option("--seed", type=int, default=0, show_default=True)
def bootstrap(inputs, output, min_formulas, min_density, negatives_per_positive, per_crawl, hard_share, seed):
    """Collect round-1 seeds from stage-1 output itself: unmistakable math pages (formulas from math
    markup or TeX, dense enough) as positives, pages without any formula as negatives, evenly per crawl;
    --hard-share of the negatives are hard ones (code, tables of numbers, prices), an even part of each.

    \b
    Example:
      megamath web extract crawl/*.warc.gz -o runs/s1
      megamath classifier bootstrap 'runs/s1/data/*.parquet' -o runs/seeds
      megamath classifier train --positive runs/seeds/positive.jsonl --negative runs/seeds/negative.jsonl -o r1.bin
    """
    from megamath.classify.seeds import BootstrapConfig, bootstrap_seeds, write_seed_file
    from megamath.runtime.shards import read_records

    _, shards = prepare_run(output, inputs, quiet=True, shards=True)
    config = BootstrapConfig(min_formulas=min_formulas, min_density=min_density,
                             negatives_per_positive=negatives_per_positive, per_crawl=per_crawl, seed=seed,
                             hard_share=hard_share)
    positives, negatives, counts = bootstrap_seeds(read_records(shards), config)
    out = Path(output)
    write_seed_file(out / "positive.jsonl", positives)
    write_seed_file(out / "negative.jsonl", negatives)
    (out / "bootstrap.json").write_text(json.dumps({"config": config.__dict__, **counts}, indent=2))
    for crawl, row in counts["per_crawl"].items():
        hard = ", ".join(f"{n:,} {kind}" for kind, n in sorted(row["hard_negatives"].items()))
        click.echo(f"{crawl}: {row['positives']:,} positives of {row['positive_pool']:,} candidates, "
                   f"{row['negatives']:,} negatives of {row['negative_pool']:,}" + (f" (hard: {hard})" if hard else ""))
    click.echo(f"{len(positives):,} positives and {len(negatives):,} negatives under {out}")
    if not positives or not negatives:
        click.echo("error: no positive or no negative seed found (see the counts above)", err=True)
        sys.exit(1)


@classifier.command("apply")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@executor_options
@click.option("--classifier", "model", required=True, metavar="MODEL",
              help="A model from `megamath classifier train` (a path or URL), or `default` for the one megamath "
                   "ships (docs/classifier-card.md).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Keep documents with P(math) at least this [default: 0.5; with --classifier default, the shipped "
                   "model's calibrated threshold].")
def apply(inputs, output_format, model, threshold, **options):
    """Score shards with a classifier (meta.math_score) and keep those at or above the threshold."""
    from megamath.classify.shipped import is_default, model_and_threshold
    from megamath.classify.stage import ClassifierConfig
    from megamath.pipelines.classify import run_classifier
    from megamath.runtime import storage

    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True)
    with executor_from(options) as executor:
        path, threshold = model_and_threshold(model if is_default(model) else storage.normalize(model), threshold)
        summary = run_classifier(shards, folder.root, ClassifierConfig(path, threshold), executor,
                                 output_suffix=f".{output_format}", force=options["force"],
                                 show_progress=not options["quiet"])
    report_run(summary, folder)


@classifier.command("round2")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@executor_options
@endpoint_options
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
@math_train_options
def round2(inputs, round1_model, seed_dir, extra_positives, text_field, llm_model, per_crawl, positive_min_score,
           negative_max_score, threshold, seed, **options):
    """Round 2: sample stage-1 survivors evenly per crawl, label them with the LLM math-relevance rubric,
    retrain on round-1 seeds + LLM labels (+ extra positives), and report how recall and the kept set
    moved. Rerunning resumes: the sample, the answers (cached) and the model are reused while their
    inputs are unchanged. The model is OUTPUT/model.bin, the comparison OUTPUT/round2.json.

    \b
    Example:
      megamath classifier round2 'runs/s1/data/*.parquet' -o runs/round2 --round1 r1.bin --seeds runs/seeds \\
          --model Qwen2.5-72B-Instruct --base-url http://gpu-node:8000/v1 --extra-positive cot.jsonl
    """
    from megamath.classify.model import NEGATIVE, POSITIVE
    from megamath.classify.round2 import Round2Config, format_comparison
    from megamath.llm.score import ScoreConfig
    from megamath.pipelines.classify import round2 as run_round2
    from megamath.report.funnel import format_funnel
    from megamath.report.llm_usage import format_llm_usage

    endpoint = endpoint_from(options)
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True, endpoint=endpoint)
    config = Round2Config(per_crawl=per_crawl, positive_min_score=positive_min_score,
                          negative_max_score=negative_max_score, threshold=threshold, seed=seed)
    seeds = Path(seed_dir).resolve()
    round1_seeds = [(POSITIVE, str(seeds / "positive.jsonl"), ("text",)), (NEGATIVE, str(seeds / "negative.jsonl"), ("text",))]
    extra = [(POSITIVE, str(Path(path).resolve()), _fields(text_field)) for path in extra_positives]
    score = ScoreConfig(generation_from(options, llm_model, "math_relevance"), key="math_relevance")
    with executor_from(options) as executor:
        result = run_round2(shards, folder.root, str(Path(round1_model).resolve()), round1_seeds, extra, config, score,
                            endpoint, cache_for(options, folder.root), train_config_from(options),
                            executor, force=options["force"], show_progress=not options["quiet"])
    for crawl, row in result.per_crawl.items():
        click.echo(f"{crawl}: sampled {row['sampled']:,} of {row['survivors']:,} survivors")
    click.echo("\n" + format_funnel(result.labelling.funnel))
    click.echo("\n" + format_llm_usage(result.labelling))
    counts = result.report["labels"]
    click.echo(f"\nLLM labels: {counts['positive']:,} math (score >= {positive_min_score}), {counts['negative']:,} "
               f"other (<= {negative_max_score}), {counts['ambiguous']:,} in between left out; "
               f"{counts['held_out']:,} held out for the comparison")
    click.echo(f"round-2 model: {result.model}")
    click.echo("\n" + format_comparison(result.report))
