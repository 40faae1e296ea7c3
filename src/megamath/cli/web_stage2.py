"""``megamath web reextract`` and ``megamath web pro``: the second half of the web pipeline."""

from __future__ import annotations

import sys

import click

from megamath.cli.llm import cache_for, endpoint_from, endpoint_options, generation_from, run_llm_pipeline
from megamath.cli.main import run_in_folder, start_run, web
from megamath.report.funnel import format_funnel
from megamath.runtime.pipeline import Pipeline


@web.command("reextract")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("--no-math", is_flag=True, help="Do not rewrite formulas to LaTeX first.")
@click.option("--recall", is_flag=True, help="trafilatura's default balance instead of its precision mode.")
@click.option("--no-tables", is_flag=True, help="Leave tables out.")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl.zst", "jsonl"]), default="parquet",
              show_default=True)
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--force", is_flag=True, help="Discard OUTPUT's results and start over.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors on the terminal.")
def reextract(inputs, output, no_math, recall, no_tables, output_format, workers, force, quiet):
    """Extract stage-1 survivors again with trafilatura (precision mode), formulas kept as LaTeX.

    Each record's page is its `html` field (run `web extract --keep-html`) or, failing that, is read
    again from the WARC file at the `path@offset` in its `source`. The report shows how much of
    stage 1's text was removed as boilerplate; meta.stage1_chars keeps each document's old length.

    \b
    Examples:
      megamath web extract crawl/*.warc.gz -o runs/s1 --dedup
      megamath web reextract 'runs/s1/dedup/data/*.parquet' -o runs/s2
    """
    from megamath.sources.shards import ShardReader
    from megamath.web.reextract import Reextract, ReextractConfig

    folder, shards = start_run(output, inputs, quiet=quiet)
    stage = Reextract(ReextractConfig(math=not no_math, favor_precision=not recall, include_tables=not no_tables))
    pipeline = Pipeline(ShardReader(), [stage], output_suffix=f".{output_format}", drop_fields=("html",))
    summary = run_in_folder(pipeline, folder, shards, workers=workers, force=force, quiet=quiet)
    click.echo(format_funnel(summary.funnel))
    read, stage_stats = summary.funnel
    stage1_chars = read.chars_out
    click.echo(f"\nstage 1 text {stage1_chars:,} characters -> stage 2 {stage_stats.chars_out:,}: "
               f"{100 * (1 - stage_stats.chars_out / max(stage1_chars, 1)):.1f}% removed as boilerplate "
               f"(including the {stage_stats.docs_dropped:,} dropped document(s))")
    click.echo(f"{summary.docs_written:,} documents under {folder.data} ({summary.seconds:.1f}s)")
    for source, error in summary.failed.items():
        click.echo(f"error: input not processed: {source}: {error}", err=True)
    if summary.failed or summary.docs_written == 0:
        sys.exit(1)


@web.command("pro")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("--model", required=True, help="Model for scoring and refinement.")
@click.option("--refine-model", default=None, help="Another model for refinement [default: --model].")
@click.option("--thresholds", default="0:4,2023:3", show_default=True,
              help="Minimum educational score per crawl year, as FIRST_YEAR:SCORE steps (unknown year: the strictest).")
@click.option("--no-refine", is_flag=True, help="Score and filter only.")
@click.option("--score-sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="Score only N documents per crawl with the LLM, train a fastText model on those scores, "
                   "and score everything with it (cheap for a large corpus).")
@click.option("--min-length-ratio", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="A rewrite shorter than this fraction of the original is malformed.")
@click.option("--max-length-ratio", type=click.FloatRange(min=0), default=1.5, show_default=True,
              help="A rewrite longer than this multiple of the original is malformed.")
@click.option("--refine-max-tokens", type=click.IntRange(min=16), default=4096, show_default=True)
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl.zst", "jsonl"]), default="parquet",
              show_default=True)
@endpoint_options
def pro(inputs, output, model, refine_model, thresholds, no_refine, score_sample, min_length_ratio, max_length_ratio,
        refine_max_tokens, output_format, **options):
    """Web-Pro: score educational value with a model, keep by crawl-year threshold, refine the rest.

    Scores go to meta.llm.educational_value; refined records carry meta.refined_from (the source
    record's id, source and length). The report shows requests, cache hits, retries, malformed
    answers, tokens and cost per stage.

    \b
    Examples:
      megamath web pro 'runs/s2/data/*.parquet' -o runs/pro --model Llama-3.3-70B-Instruct \\
          --base-url http://gpu-node:8000/v1 --concurrency 256
      megamath web pro shard.parquet -o runs/pro --model m --thresholds 0:4,2018:3.5,2023:3 --no-refine
    """
    from megamath.llm.prompts import PromptError
    from megamath.llm.refine import RefineConfig
    from megamath.llm.score import ScoreConfig
    from megamath.web.pro import (
        ClassifierScoreConfig,
        ScoreThresholdConfig,
        WebProConfig,
        build_webpro_pipeline,
        parse_year_thresholds,
    )

    folder, shards = start_run(output, inputs, quiet=options["quiet"])
    try:
        steps = parse_year_thresholds(thresholds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--thresholds") from exc
    refine = None if no_refine else RefineConfig(
        generation_from(options, refine_model or model, "refine", max_tokens=refine_max_tokens),
        min_length_ratio=min_length_ratio, max_length_ratio=max_length_ratio)
    score = ScoreConfig(generation_from(options, model, "educational_value"))
    score_classifier = None
    if score_sample:
        score_classifier = ClassifierScoreConfig(_score_classifier(shards, folder, score, score_sample, options))
    config = WebProConfig(score=score, score_classifier=score_classifier,
                          threshold=ScoreThresholdConfig(year_thresholds=steps), refine=refine,
                          output_suffix=f".{output_format}")
    try:
        pipeline = build_webpro_pipeline(config, endpoint_from(options), cache_for(options, folder))
    except (PromptError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    run_llm_pipeline(pipeline, folder, shards, options)


def _score_classifier(shards: list[str], folder, score, per_crawl: int, options: dict) -> str:
    """LLM-score a sample of ``per_crawl`` documents per crawl (resumable), train a fastText model on
    the scores, and return its path."""
    from pathlib import Path

    from megamath.classify.model import ClassifierError, TrainConfig, train_labelled
    from megamath.classify.seeds import sample_per_crawl, write_seed_file
    from megamath.llm.score import LLMScore
    from megamath.runtime.resume import RunFolder
    from megamath.runtime.shards import read_records
    from megamath.sources.shards import ShardReader

    sample_run = RunFolder(Path(folder.root) / "score-sample")
    sample_path = sample_run.root / "sample.jsonl"
    if not sample_path.is_file() or options["force"]:
        records = read_records(shards)
        write_seed_file(sample_path, sample_per_crawl(records, per_crawl, seed=0)[0])
    sample_run.logs.mkdir(parents=True, exist_ok=True)
    click.echo(f"scoring the sample {sample_path} with the LLM:")
    stage = LLMScore(score, endpoint_from(options), cache_for(options, sample_run))
    run_llm_pipeline(Pipeline(ShardReader(), [stage], output_suffix=".jsonl"), sample_run, [str(sample_path)], options)
    labelled = list(read_records(sorted(sample_run.data.glob("*.jsonl"))))
    model_path = sample_run.root / "educational_value.bin"
    examples = ((f"__label__{r['meta']['llm']['educational_value']['score']}", r["text"]) for r in labelled)
    try:
        summary = train_labelled(examples, model_path, TrainConfig())
    except ClassifierError as exc:
        raise click.ClickException(f"cannot train the score classifier on the sample: {exc}; "
                                   "take a larger --score-sample or score with the LLM alone") from exc
    per_score = ", ".join(f"{label.removeprefix('__label__')}: {n}" for label, n in sorted(summary["docs"].items()))
    click.echo(f"score classifier {model_path}: trained on {sum(summary['docs'].values()):,} LLM-scored documents "
               f"(per score {per_score})\n")
    return str(model_path)
