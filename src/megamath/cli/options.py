"""The options commands share, each set defined once, and the configurations they map to.

Every command that runs tasks takes the same executor options (``--executor``, ``-w/--workers``,
``--max-attempts``, ``--ray-address``) and run-folder options (``-o``, ``--force``, ``-q``, ``-v``);
commands that write shards take ``--format``; LLM commands take the endpoint options; commands that
train a fastText model take its hyper-parameters; commands that run code take the sandbox's limits; commands whose text is final count its tokens.
"""

from __future__ import annotations

import functools
import importlib.util

import click

from megamath.classify.model import TrainConfig
from megamath.llm.client import EndpointConfig
from megamath.llm.stage import GenerationConfig
from megamath.runtime.executor import EXECUTORS, Executor, ExecutorConfig, make_executor
from megamath.synth.sandbox import ISOLATIONS, SandboxConfig
from megamath.profile.stage import ProfileConfig

_endpoint = EndpointConfig()
_generation = GenerationConfig("", "")
_executor = ExecutorConfig()
_train = TrainConfig()
FORMATS = ("parquet", "jsonl.zst", "jsonl")


def apply_options(options: list):
    """One decorator applying several click options (or option sets) in order."""
    def decorate(command):
        return functools.reduce(lambda fn, option: option(fn), reversed(options), command)
    return decorate


run_folder_options = apply_options([
    click.option("-o", "--output", required=True, metavar="FOLDER",
                 help="Run folder (created): a local path or a URL such as s3://bucket/run."),
    click.option("--force", is_flag=True, help="Discard the results already in OUTPUT and start over."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors on the terminal."),
    click.option("-v", "--verbose", is_flag=True, help="Also show informational messages on the terminal."),
])

format_option = click.option("--format", "output_format", type=click.Choice(FORMATS), default="parquet",
                             show_default=True, help="Output shard format.")

executor_options = apply_options([
    click.option("--executor", "executor_kind", type=click.Choice(EXECUTORS), default="local", show_default=True,
                 help="Where tasks run: local worker processes, a Ray cluster, or serially in this process."),
    click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
                 help="Tasks at a time [default: every core, or every CPU of the Ray cluster]."),
    click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
                 help="Attempts per task when its worker (or node) dies."),
    click.option("--ray-address", default=None, metavar="ADDRESS",
                 help="With --executor ray: a running cluster (host:6379, ray://host:10001) [default: RAY_ADDRESS, "
                      "else a local cluster]."),
    click.option("--stall-timeout", type=click.FloatRange(min=0, min_open=True), default=_executor.stall_timeout_s,
                 show_default=True, help="With --executor ray: seconds without a task finishing or reporting progress "
                                         "after which the run stops, saying so (every worker node lost, say)."),
])


def executor_from(options: dict) -> Executor:
    """The executor the options ask for (use it as a context manager: a Ray cluster it starts is stopped)."""
    return make_executor(ExecutorConfig(kind=options["executor_kind"], workers=options["workers"],
                                        max_attempts=options["max_attempts"], ray_address=options["ray_address"],
                                        stall_timeout_s=options["stall_timeout"]))


endpoint_options = apply_options([
    click.option("--base-url", envvar="MEGAMATH_LLM_BASE_URL", default=_endpoint.base_url, show_default=True,
                 help="OpenAI-compatible API root (env MEGAMATH_LLM_BASE_URL)."),
    click.option("--api-key-env", default=_endpoint.api_key_env, show_default=True,
                 help="Environment variable holding the API key (the key is never written to the run folder)."),
    click.option("--concurrency", type=click.IntRange(min=1), default=_endpoint.max_concurrency, show_default=True,
                 help="Requests in flight per worker, shared by the command's LLM stages."),
    click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=_endpoint.timeout_s,
                 show_default=True, help="Seconds per request."),
    click.option("--max-retries", type=click.IntRange(min=0), default=_endpoint.max_retries, show_default=True,
                 help="Retries of a request on 429, 5xx, timeouts and dropped connections."),
    click.option("--max-retry-time", type=click.FloatRange(min=0, min_open=True), default=_endpoint.max_retry_s,
                 show_default=True, help="Seconds a request may spend on attempts and waits before the endpoint counts "
                                         "as down; then every request fails at once and the task fails (a rerun "
                                         "resumes): a stalled endpoint ends a task within about this long."),
    click.option("--price-in", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="Dollars per million prompt tokens (for the cost line)."),
    click.option("--price-out", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="Dollars per million completion tokens."),
    click.option("--response-format", type=click.Choice(["none", "json_schema", "json_object"]), default="none",
                 show_default=True, help="Constrain score answers to JSON: json_schema (OpenAI, vLLM, SGLang), "
                                         "json_object (llama.cpp server)."),
    click.option("--max-input-chars", type=click.IntRange(min=100), default=_generation.max_input_chars,
                 show_default=True, help="The most characters of a document in one request: longer documents are sent "
                                         "in pieces where answers can be joined (refinement, synthesis) and cut for "
                                         "scores (counted)."),
    click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
                 help="Answer cache (SQLite) [default: OUTPUT/.megamath/llm_cache.sqlite]; a rerun never sends a "
                      "request whose answer is in it."),
])


def endpoint_from(options: dict) -> EndpointConfig:
    if importlib.util.find_spec("aiohttp") is None:
        raise click.ClickException("the LLM client needs the llm extra: pip install 'megamath[llm]'")
    return EndpointConfig(base_url=options["base_url"], api_key_env=options["api_key_env"],
                          max_concurrency=options["concurrency"], timeout_s=options["timeout"],
                          max_retries=options["max_retries"], max_retry_s=options["max_retry_time"],
                          input_price_per_mtok=options["price_in"],
                          output_price_per_mtok=options["price_out"])


def generation_from(options: dict, model: str, prompt: str, **overrides) -> GenerationConfig:
    return GenerationConfig(model=model, prompt=prompt, max_input_chars=options["max_input_chars"],
                            response_format=options["response_format"], **overrides)


def cache_for(options: dict, output: str) -> str:
    from pathlib import Path

    from megamath.llm.stage import default_cache_path

    return str(Path(options["cache_path"]).resolve()) if options["cache_path"] else default_cache_path(output)


train_options = apply_options([
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
])


# on the math classifier's commands only: the code classifier's figures were measured without them
math_train_options = apply_options([
    click.option("--balance-lines/--no-balance-lines", default=True, show_default=True,
                 help="Repeat the smaller label's training lines to the larger's count (bench/classifier.py: "
                      "fewer false positives at the same recall)."),
    click.option("--formula-free-copies/--no-formula-free-copies", default=True, show_default=True,
                 help="Also train on each math document with its formulas taken out, so that a math page's "
                      "prose reads as math on its own (bench/classifier.py: higher recall on word problems "
                      "and textbooks)."),
])


def train_config_from(options: dict) -> TrainConfig:
    return TrainConfig(dim=options["dim"], lr=options["lr"], word_ngrams=options["word_ngrams"],
                       min_count=options["min_count"], epoch=options["epoch"], bucket=options["bucket"],
                       max_words_per_line=options["max_words"], threads=options["threads"],
                       quantize=options["quantize"], balance_lines=options.get("balance_lines", False),
                       formula_free_copies=options.get("formula_free_copies", False))


def csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


benchmark_options = apply_options([
    click.option("--benchmark-dir", type=click.Path(file_okay=False, exists=True), default=None,
                 help="Folder holding the recipe's 12 benchmarks (GSM8K, MATH, MMLU-STEM, AIME24/25, AMC, ASDiv, MathQA, "
                      "MAWPS, OCW, SAT, SVAMP) as jsonl; megamath/decontam/benchmarks.toml names the files."),
    click.option("--benchmark", "extra_benchmarks", multiple=True, metavar="NAME=FILE",
                 help="Another (or a replacement) benchmark jsonl file (repeatable)."),
])


def benchmark_spec_from(options: dict, ngram: int = 13):
    """The benchmarks the options name, or None when they name none."""
    from pathlib import Path

    from megamath.decontam.index import BenchmarkSpec, locate_benchmarks

    files = {}
    if options["benchmark_dir"]:
        files = locate_benchmarks(options["benchmark_dir"])
        if not files:
            raise click.BadParameter(f"no benchmark file found under {options['benchmark_dir']} "
                                     "(megamath/decontam/benchmarks.toml names the files looked for)",
                                     param_hint="--benchmark-dir")
    for entry in options["extra_benchmarks"]:
        name, _, path = entry.partition("=")
        if not name or not Path(path).is_file():
            raise click.BadParameter(f"expected NAME=FILE with an existing file, got {entry!r}", param_hint="--benchmark")
        files[name] = str(Path(path).resolve())
    return BenchmarkSpec(tuple(sorted(files.items())), ngram=ngram) if files else None


_sandbox = SandboxConfig()

sandbox_options = apply_options([
    click.option("--isolation", type=click.Choice(ISOLATIONS), default=_sandbox.isolation, show_default=True,
                 help="bwrap: snippets run under bubblewrap (no network, read-only root, private /tmp, seccomp). "
                      "unsafe-rlimits-only: NO sandbox, only the limits (a snippet can read the environment and "
                      "files, reach the network): trusted code only; refused as root unless "
                      "MEGAMATH_ALLOW_UNSAFE_SANDBOX=root is set too."),
    click.option("--snippet-timeout", type=click.FloatRange(min=1), default=_sandbox.wall_seconds, show_default=True,
                 help="Seconds of wall time per snippet (CPU time is limited to one second less)."),
    click.option("--snippet-memory-mb", type=click.IntRange(min=64), default=_sandbox.memory_mb, show_default=True,
                 help="Address space per snippet."),
])


def sandbox_from(options: dict) -> SandboxConfig:
    wall = options["snippet_timeout"]
    return SandboxConfig(wall_seconds=wall, cpu_seconds=max(1, int(wall) - 1), memory_mb=options["snippet_memory_mb"],
                         isolation=options["isolation"])


token_options = apply_options([
    click.option("--tokenizer", default=ProfileConfig().tokenizer, show_default=True, metavar="NAME|FILE",
                 help="Count each output record's tokens (meta.tokens, summed per crawl year and code language) "
                      "with qwen2.5, cl100k_base, or a tokenizer.json / .tiktoken file."),
    click.option("--no-token-count", is_flag=True, help="Count no tokens (the report's distributions are still kept)."),
])


def profile_from(options: dict) -> ProfileConfig:
    return ProfileConfig(None if options["no_token_count"] else options["tokenizer"])


# a phase that asks a model about corpus shards and writes corpus records (Web-Pro, the synthesis kinds)
llm_corpus_options = apply_options([run_folder_options, format_option, token_options, executor_options,
                                    endpoint_options])
