"""``megamath code ...``: read source trees and archives, train a code model, recall math code, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from megamath.cli.app import code
from megamath.cli.common import prepare_run, report_run
from megamath.cli.options import (
    cache_for,
    endpoint_from,
    endpoint_options,
    executor_from,
    executor_options,
    format_option,
    generation_from,
    run_folder_options,
    token_options,
    profile_from,
    train_config_from,
    train_options,
)
from megamath.sources.code_files import LANGUAGES


@code.command("read")
@click.argument("inputs", nargs=-1, required=True, metavar="SOURCE...")
@run_folder_options
@format_option
@token_options
@executor_options
@click.option("--languages", default=",".join(LANGUAGES), show_default=True, help="Languages kept, comma-separated.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Larger files are dropped (too_large) before they are read.")
@click.option("--content-store", metavar="LOCATION",
              help="Where rows with only a blob_id find their file, {blob_id} in it, e.g. "
                   "s3://softwareheritage/content/{blob_id} (The Stack v2) or a local folder.")
@click.option("--content-compression", type=click.Choice(["auto", "gzip", "none"]), default="auto", show_default=True,
              help="How the content store's blobs are compressed (auto: gzip when they start like gzip).")
@click.option("--fetch-concurrency", type=click.IntRange(min=1), default=16, show_default=True,
              help="Blobs fetched from the content store at once, per worker.")
def read(inputs, output_format, languages, max_bytes, content_store, content_compression, fetch_concurrency,
         **options):
    """Source files as shards, one record per file with meta.code = {repo, path, language, bytes}: trees and
    archives (.tar.*, .zip, .whl, .jar, Debian .dsc), or Parquet / JSON Lines rows in The Stack v2's layout
    (a content column, or a blob_id fetched from --content-store; repo_name, path, language and licence
    fields kept). Other languages are counted; vendored, generated, minified, binary and oversized files
    and blobs the store lacks are dropped with their reason.

    \b
    Examples:
      megamath code read src/ 'sdists/*.tar.gz' gsl_2.7.1+dfsg-5.dsc -o runs/code
      megamath code read 'stack-v2/python/*.parquet' -o runs/stack \\
        --content-store 's3://softwareheritage/content/{blob_id}'
    """
    from megamath.pipelines.code import read_code
    from megamath.sources.code_files import CodeReaderConfig
    from megamath.sources.code_rows import ContentStoreConfig

    chosen = tuple(part.strip() for part in languages.split(",") if part.strip())
    unknown = [language for language in chosen if language not in LANGUAGES]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown language(s) {', '.join(unknown) or '(none given)'}; known: "
                                 f"{', '.join(LANGUAGES)}", param_hint="'--languages'")
    try:
        store = ContentStoreConfig(content_store, content_compression, fetch_concurrency)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--content-store'") from None
    config = CodeReaderConfig(languages=chosen, max_bytes=max_bytes, content_store=store)
    folder, sources = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                  folders=True)
    with executor_from(options) as executor:
        summary = read_code(sources, folder.root, executor, config, output_suffix=f".{output_format}",
                            profile=profile_from(options),
                            force=options["force"], show_progress=not options["quiet"])
    report_run(summary, folder, what="files")


@code.command("score-sample")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@executor_options
@endpoint_options
@click.option("--model", "llm_model", required=True, help="The LLM that scores the sample.")
@click.option("--per-language", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Files sampled per language.")
@click.option("--math-threshold", type=click.IntRange(0, 5), default=4, show_default=True,
              help="A positive's math score is at least this.")
@click.option("--edu-threshold", type=click.IntRange(0, 5), default=4, show_default=True,
              help="A positive's programming-education score is at least this.")
@click.option("--math-prompt", default="code_math", show_default=True, help="Math rubric: a shipped prompt or a TOML file.")
@click.option("--edu-prompt", default="code_education", show_default=True,
              help="Education rubric, filled with the file's language: a shipped prompt or a TOML file.")
@click.option("--seed", type=int, default=0, show_default=True)
def score_sample(inputs, llm_model, per_language, math_threshold, edu_threshold, math_prompt, edu_prompt, seed,
                 **options):
    """LLM labels for training a code model: sample files evenly per language (shards from `megamath code
    read`), score each with two additive 0-5 rubrics (math content; educational value for programming in
    its language), and split them: positive when both reach their thresholds. Writes OUTPUT/positive.jsonl
    and OUTPUT/negative.jsonl (for `megamath code train`) and OUTPUT/labels.json (counts and the score
    grid per language). Rerunning resumes: the sample and the cached answers are reused.

    \b
    Example:
      megamath code score-sample 'runs/code/data/*.parquet' -o runs/code-labels --per-language 2000 \\
          --model Qwen2.5-72B-Instruct --base-url http://gpu-node:8000/v1
      megamath code train --positive runs/code-labels/positive.jsonl \\
          --negative runs/code-labels/negative.jsonl -o runs/code-model
    """
    from megamath.llm.prompts import PromptError
    from megamath.llm.score import LLMScore, ScoreConfig
    from megamath.pipelines.code import CodeLabelConfig, score_code_sample
    from megamath.report.funnel import format_funnel
    from megamath.report.llm_usage import format_llm_usage

    endpoint = endpoint_from(options)
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True, endpoint=endpoint)
    cache = cache_for(options, folder.root)
    try:
        stages = [LLMScore(ScoreConfig(generation_from(options, llm_model, prompt), key=key), endpoint, cache)
                  for prompt, key in ((math_prompt, "code_math"), (edu_prompt, "code_education"))]
    except (PromptError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--math-prompt' / '--edu-prompt'") from None
    config = CodeLabelConfig(per_language, math_threshold, edu_threshold, seed)
    with executor_from(options) as executor:
        labels = score_code_sample(shards, folder.root, config, *stages, executor, force=options["force"],
                                   show_progress=not options["quiet"])
    click.echo(f"{'language':12s} {'files':>9s} {'sampled':>8s} {'labelled':>9s} {'positive':>9s} {'negative':>9s}")
    for language, row in labels.per_language.items():
        click.echo(f"{language:12s} {row['survivors']:9,} {row['sampled']:8,} {row['labelled']:9,} {row['positive']:9,} "
                   f"{row['negative']:9,}")
    click.echo("\n" + format_funnel(labels.summary.funnel))
    click.echo("\n" + format_llm_usage(labels.summary))
    click.echo(f"\npositives (math >= {math_threshold} and education >= {edu_threshold}): {labels.positive}\n"
               f"negatives: {labels.negative}")


@code.command("train")
@click.option("--positive", "positives", multiple=True, required=True, metavar="SHARD",
              help="Shards of math code (from `megamath code read`); repeatable, globs allowed.")
@click.option("--negative", "negatives", multiple=True, required=True, metavar="SHARD", help="Shards of other code.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for model.bin.")
@click.option("--no-rule-feature", is_flag=True, help="Leave out the math-import tokens.")
@click.option("--max-ratio", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Sample the larger side down to this many times the smaller (0: keep every file).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@executor_options
@train_options
def train(positives, negatives, output, no_rule_feature, max_ratio, **options):
    """Train a code model on labelled files: code-aware tokens (identifiers split, numbers folded, comments
    and strings as words, operators as tokens), the language, and a token per math library imported."""
    from megamath.pipelines.code import train_code_model
    from megamath.sources.inputs import resolve_inputs

    with executor_from(options) as executor:
        result = train_code_model(resolve_inputs(list(positives)), resolve_inputs(list(negatives)), output, executor,
                                  rule_feature=not no_rule_feature, config=train_config_from(options),
                                  max_ratio=max_ratio, show_progress=not options["quiet"])
    docs = result.training["docs"]
    click.echo(f"trained on {docs.get('__label__math', 0):,} math and {docs.get('__label__other', 0):,} other files: "
               f"{result.model}")


@code.command("recall")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@executor_options
@click.option("--classifier", "model", default="default", show_default=True, metavar="MODEL",
              help="A model from `megamath code train` (its model.bin), or `default`: the code classifier megamath "
                   "ships (docs/code-classifier-card.md).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Keep files with P(math) at least this, in every language [default: with the shipped model, the "
                   "threshold calibrated for each language; with another, 0.5].")
@click.option("--no-rule-feature", is_flag=True, help="The model was trained without math-import tokens.")
@click.option("--scorer", default="fasttext", show_default=True, metavar="NAME",
              help="fasttext (a model from `code train`), or package.module:factory, whose factory(MODEL) returns "
                   "an object with math_scores(texts, languages, imports) (a fine-tuned transformer, say).")
def recall(inputs, output_format, model, threshold, no_rule_feature, scorer, **options):
    """Score every file (meta.code.model_score, meta.code.math_imports) and keep those at or above the threshold."""
    from megamath.code.shipped import is_default, model_and_thresholds
    from megamath.code.stage import CodeClassifierConfig
    from megamath.pipelines.code import recall_code
    from megamath.runtime import storage

    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True)
    path, threshold, per_language = model_and_thresholds(model if is_default(model) else storage.normalize(model),
                                                         threshold)
    config = CodeClassifierConfig(path, threshold, per_language, rule_feature=not no_rule_feature, scorer=scorer)
    with executor_from(options) as executor:
        summary = recall_code(shards, folder.root, config, executor, output_suffix=f".{output_format}",
                              force=options["force"], show_progress=not options["quiet"])
    report_run(summary, folder, what="files")


@code.command("eval")
@click.argument("model", type=click.Path(exists=True))
@click.option("--positive", "positives", multiple=True, required=True, metavar="NAME=SHARDS",
              help="Math code (a glob of shards); repeatable.")
@click.option("--negative", "negatives", multiple=True, required=True, metavar="NAME=SHARDS", help="Other code.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--base-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="The share of math code among the files to classify: also report the precision they would see.")
@click.option("--no-rule-feature", is_flag=True)
@click.option("--scorer", default="fasttext", show_default=True, metavar="NAME",
              help="fasttext, or package.module:factory (as for `code recall`).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write the report here as JSON.")
def evaluate(model, positives, negatives, threshold, base_rate, no_rule_feature, scorer, output):
    """Precision, recall and F1 of a code model per language and over all languages."""
    from megamath.classify.evaluate import format_report
    from megamath.pipelines.code import evaluate_code
    from megamath.sources.inputs import resolve_inputs

    def named(specs):
        sets: dict[str, list[str]] = {}
        for spec in specs:
            name, sep, glob = spec.partition("=")
            if not sep:
                raise click.BadParameter(f"{spec!r}: give NAME=SHARDS")
            sets.setdefault(name, []).extend(resolve_inputs([glob]))  # a name given twice gathers both
        return sets

    report = evaluate_code(model, named(positives), named(negatives), threshold=threshold,
                           rule_feature=not no_rule_feature, base_rate=base_rate, scorer=scorer)
    click.echo(format_report(report))
    if output:
        Path(output).write_text(json.dumps(report, indent=2))
