"""``megamath synth qa | translate | blocks``."""

from __future__ import annotations

import click

from megamath.cli.app import synth
from megamath.cli.common import LLM_RERUN_NOTE, prepare_run, report_run
from megamath.cli.options import (
    cache_for,
    endpoint_from,
    executor_from,
    generation_from,
    llm_corpus_options,
    profile_from,
    sandbox_from,
    sandbox_options,
)


def _run(kind: str, inputs, output_format, config, options) -> None:
    from megamath.pipelines.synth import run_synth
    from megamath.report.llm_usage import format_llm_usage
    from megamath.report.synth import format_synth_outcomes

    endpoint = endpoint_from(options)
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True, endpoint=endpoint)
    with executor_from(options) as executor:
        summary = run_synth(kind, shards, folder.root, config, endpoint, cache_for(options, folder.root),
                            executor, output_suffix=f".{output_format}", profile=profile_from(options),
                            force=options["force"],
                            show_progress=not options["quiet"])
    report_run(summary, folder, what="records", extra=["\n" + format_synth_outcomes(summary.funnel),
                                                       "\n" + format_llm_usage(summary)],
               partial_work_note=LLM_RERUN_NOTE)


@synth.command("qa")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@llm_corpus_options
@click.option("--model", required=True, help="Model that extracts the problems.")
@click.option("--refine-model", default=None, help="Model that writes the solutions [default: --model].")
@click.option("--no-refine", is_flag=True, help="Keep the problems and answers as the pages give them.")
@click.option("--min-number-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Part of the question's numbers a solution must use.")
def qa(inputs, output_format, model, refine_model, no_refine, min_number_share, **options):
    """Q&A pairs from web pages: extract each page's problems (self-contained, with the page's answer
    where it gives one), then refine each into a step-by-step solution.

    One record per problem (id PAGE_ID/qaN); meta.synth holds the question, the page's answer, the
    source record and the prompt of each step. Pages without a problem are dropped as no_qa; answers
    the parsers reject (a question that leans on the page, a changed question, a solution without the
    question's numbers) are asked again, then dropped as parse_failed_<reason>.

    \b
    Example:
      megamath synth qa 'runs/pro/data/*.parquet' -o runs/synth-qa --model Llama-3.3-70B-Instruct \\
          --base-url http://gpu-node:8000/v1 --concurrency 128
    """
    from megamath.pipelines.synth import QAConfig
    from megamath.synth.qa import QAExtractConfig, QARefineConfig

    refine = None if no_refine else QARefineConfig(
        generation_from(options, refine_model or model, "qa_refine", max_tokens=QARefineConfig().generation.max_tokens),
        min_number_share=min_number_share)
    extract = QAExtractConfig(generation_from(options, model, "qa_extract",
                                              max_tokens=QAExtractConfig().generation.max_tokens))
    _run("qa", inputs, output_format, QAConfig(extract, refine), options)


@synth.command("translate")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@llm_corpus_options
@sandbox_options
@click.option("--model", required=True, help="Model that translates.")
@click.option("--max-tokens", type=click.IntRange(min=16), default=4096, show_default=True)
def translate(inputs, output_format, model, max_tokens, **options):
    """Code files (from `megamath code read` or `code recall`) translated into commented Python.

    The translation must parse; where it has a main block or tests they run in the sandbox and must
    end cleanly. Dropped per reason: already_python, too_long (longer than --max-input-chars),
    untranslatable (the model's verdict), syntax_error, ast_blocked, runtime_error, timeout, memory,
    parse_failed_<reason>. Records keep meta.code (language python, the original language in
    meta.synth.from).

    \b
    Example:
      megamath synth translate 'runs/code-recall/data/*.parquet' -o runs/synth-py --model Qwen2.5-Coder-32B-Instruct
    """
    from megamath.synth.translate import TranslateConfig

    config = TranslateConfig(generation_from(options, model, "code_to_python", max_tokens=max_tokens),
                             sandbox=sandbox_from(options))
    _run("translate", inputs, output_format, config, options)


@synth.command("blocks")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@llm_corpus_options
@sandbox_options
@click.option("--model", required=True, help="Model that writes the blocks.")
@click.option("--max-tokens", type=click.IntRange(min=16), default=2048, show_default=True)
@click.option("--rel-tol", type=click.FloatRange(min=0), default=1e-6, show_default=True,
              help="Relative tolerance of numeric results (a result stated with decimals also allows its rounding).")
def blocks(inputs, output_format, model, max_tokens, rel_tol, **options):
    """Text+code blocks: for each computation of a math document, conditions, the expression in LaTeX,
    the stated result and a Python snippet; a block is kept only when its snippet runs cleanly in the
    sandbox and prints the stated result.

    The verified blocks of a document are packed into one record (id DOC_ID/blocks). Block outcomes
    are counted: verified, mismatch, unverifiable (never passed), syntax_error, ast_blocked,
    runtime_error, timeout, memory, parse_failed; documents are dropped as no_blocks or
    no_verified_block.

    \b
    Example:
      megamath synth blocks 'runs/pro/data/*.parquet' -o runs/synth-blocks --model Qwen2.5-72B-Instruct \\
          --base-url http://gpu-node:8000/v1 --concurrency 64 -w 16
    """
    from megamath.synth.blocks import BlocksConfig

    config = BlocksConfig(generation_from(options, model, "math_blocks", max_tokens=max_tokens), rel_tol=rel_tol,
                          sandbox=sandbox_from(options))
    _run("blocks", inputs, output_format, config, options)
