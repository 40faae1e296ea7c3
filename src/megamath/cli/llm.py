"""``megamath llm ...`` commands and the endpoint options every LLM command shares."""

from __future__ import annotations

import functools
import sys

import click

from megamath.cli.main import cli, run_in_folder, start_run
from megamath.llm.client import EndpointConfig
from megamath.llm.stage import GenerationConfig, default_cache_path
from megamath.report.funnel import format_funnel
from megamath.report.llm_usage import format_llm_usage
from megamath.runtime.pipeline import Pipeline

_endpoint = EndpointConfig()
_generation = GenerationConfig("", "")


def endpoint_options(command):
    """The options that say where requests go and how; they are not part of a run's fingerprint."""
    options = [
        click.option("--base-url", envvar="MEGAMATH_LLM_BASE_URL", default=_endpoint.base_url, show_default=True,
                     help="OpenAI-compatible API root (env MEGAMATH_LLM_BASE_URL)."),
        click.option("--api-key-env", default=_endpoint.api_key_env, show_default=True,
                     help="Environment variable holding the API key (the key is never written to the run folder)."),
        click.option("--concurrency", type=click.IntRange(min=1), default=_endpoint.max_concurrency,
                     show_default=True, help="Requests in flight per worker."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=_endpoint.timeout_s,
                     show_default=True, help="Seconds per request."),
        click.option("--max-retries", type=click.IntRange(min=0), default=_endpoint.max_retries, show_default=True,
                     help="Retries of a request on 429, 5xx, timeouts and dropped connections."),
        click.option("--price-in", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Dollars per million prompt tokens (for the cost line)."),
        click.option("--price-out", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Dollars per million completion tokens."),
        click.option("--response-format", type=click.Choice(["none", "json_schema", "json_object"]),
                     default="none", show_default=True,
                     help="Constrain score answers to JSON: json_schema (OpenAI, vLLM, SGLang), "
                          "json_object (llama.cpp server)."),
        click.option("--max-input-chars", type=click.IntRange(min=100), default=_generation.max_input_chars,
                     show_default=True, help="Cut documents to this many characters before prompting."),
        click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
                     help="Answer cache (SQLite) [default: OUTPUT/.megamath/llm_cache.sqlite]; "
                          "a rerun never sends a request whose answer is in it."),
        click.option("-w", "--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Worker processes (each keeps --concurrency requests in flight)."),
        click.option("--force", is_flag=True, help="Discard OUTPUT's results and start over (the cache stays)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors on the terminal."),
    ]
    return functools.reduce(lambda fn, option: option(fn), reversed(options), command)


def endpoint_from(options: dict) -> EndpointConfig:
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        raise click.ClickException("the LLM client needs the llm extra: pip install 'megamath[llm]'")
    return EndpointConfig(base_url=options["base_url"], api_key_env=options["api_key_env"],
                          max_concurrency=options["concurrency"], timeout_s=options["timeout"],
                          max_retries=options["max_retries"], input_price_per_mtok=options["price_in"],
                          output_price_per_mtok=options["price_out"])


def run_llm_pipeline(pipeline: Pipeline, folder, shards: list[str], options: dict) -> None:
    """Run, print the funnel and the LLM usage, and exit 1 when inputs failed or nothing survived."""
    summary = run_in_folder(pipeline, folder, shards, workers=options["workers"], force=options["force"],
                            quiet=options["quiet"])
    click.echo(format_funnel(summary.funnel))
    click.echo("\n" + format_llm_usage(summary.funnel, summary.seconds))
    click.echo(f"\n{summary.docs_written:,} documents under {folder.data} ({summary.tasks_skipped} of "
               f"{summary.tasks_total} input(s) resumed, {summary.seconds:.1f}s). Funnel: {folder.stats_path}")
    for source, error in summary.failed.items():
        click.echo(f"error: input not finished: {source}: {error} (rerun the command: answers already "
                   "received are cached and not requested again)", err=True)
    if summary.failed:
        sys.exit(1)
    if summary.docs_written == 0:
        click.echo("error: the output is empty: no document survived (see the funnel above)", err=True)
        sys.exit(1)


def generation_from(options: dict, model: str, prompt: str, **overrides) -> GenerationConfig:
    return GenerationConfig(model=model, prompt=prompt, max_input_chars=options["max_input_chars"],
                            response_format=options["response_format"], **overrides)


def cache_for(options: dict, folder) -> str:
    from pathlib import Path

    return str(Path(options["cache_path"]).resolve()) if options["cache_path"] else default_cache_path(folder.root)


@cli.group()
def llm() -> None:
    """Ask a model about documents through any OpenAI-compatible endpoint."""


@llm.command("score")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("--model", required=True, help="Model name the endpoint serves.")
@click.option("--prompt", default="educational_value", show_default=True,
              help="math_relevance, educational_value, or a prompt .toml file.")
@click.option("--key", default="", help="Name of the score in meta.llm [default: the prompt's name].")
@click.option("--max-tokens", type=click.IntRange(min=1), default=_generation.max_tokens, show_default=True)
@endpoint_options
def score(inputs, output, model, prompt, key, max_tokens, **options):
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
    from megamath.llm.prompts import PromptError
    from megamath.llm.score import LLMScore, ScoreConfig
    from megamath.sources.shards import ShardReader

    folder, shards = start_run(output, inputs, quiet=options["quiet"])
    try:
        stage = LLMScore(ScoreConfig(generation_from(options, model, prompt, max_tokens=max_tokens), key=key),
                         endpoint_from(options), cache_for(options, folder))
    except (PromptError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    run_llm_pipeline(Pipeline(ShardReader(), [stage]), folder, shards, options)
