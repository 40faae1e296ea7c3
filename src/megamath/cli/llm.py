"""``megamath llm score``."""

from __future__ import annotations

import click

from megamath.cli.app import llm
from megamath.cli.common import LLM_RERUN_NOTE, prepare_run, report_run
from megamath.cli.options import (
    cache_for,
    endpoint_from,
    endpoint_options,
    executor_from,
    executor_options,
    format_option,
    generation_from,
    run_folder_options,
)
from megamath.llm.stage import GenerationConfig
from megamath.report.llm_usage import format_llm_usage

_generation = GenerationConfig("", "")


@llm.command("score")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@executor_options
@endpoint_options
@click.option("--model", required=True, help="Model name the endpoint serves.")
@click.option("--prompt", default="educational_value", show_default=True,
              help="math_relevance, educational_value, or a prompt .toml file.")
@click.option("--key", default="", help="Name of the score in meta.llm [default: the prompt's name].")
@click.option("--max-tokens", type=click.IntRange(min=1), default=_generation.max_tokens, show_default=True)
def score(inputs, output_format, model, prompt, key, max_tokens, **options):
    """Score every document with a 0-5 rubric; the score goes to meta.llm.<key>.score.

    A malformed answer is asked again (sampling on) and then dropped and counted, never defaulted.
    Killed runs resume: answers already received are read from the cache.

    \b
    Examples:
      megamath llm score runs/cc/data/*.parquet -o runs/cc-edu --model Qwen2.5-72B-Instruct \\
          --base-url http://gpu-node:8000/v1 --concurrency 128
      megamath llm score seeds.jsonl -o runs/labels --prompt math_relevance --model gpt-4o-mini \\
          --base-url https://api.openai.com/v1 --price-in 0.15 --price-out 0.6
    """
    from megamath.llm.score import LLMScore, ScoreConfig
    from megamath.runtime.pipeline import Pipeline
    from megamath.runtime.runner import run_pipeline
    from megamath.sources.shards import ShardReader

    endpoint = endpoint_from(options)
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True, endpoint=endpoint)
    stage = LLMScore(ScoreConfig(generation_from(options, model, prompt, max_tokens=max_tokens), key=key),
                     endpoint, cache_for(options, folder.root))
    with executor_from(options) as executor:
        summary = run_pipeline(Pipeline(ShardReader(), [stage], output_suffix=f".{output_format}"), shards, folder,
                               executor, force=options["force"], show_progress=not options["quiet"], desc="llm score")
    report_run(summary, folder, extra=["\n" + format_llm_usage(summary)],
               partial_work_note=LLM_RERUN_NOTE)
