"""The dataset card a corpus is published with: ``README.md`` with Hugging Face YAML front matter, made
with ``huggingface_hub``'s card classes (offline).

One ``configs`` entry per subset (a run folder's ``data/*.parquet``, or a recipe folder's final phase's;
shards outside the card's folder are linked, or copied, into ``data/<subset>/`` beside the card, since
the Hub reads only files inside the dataset's folder), its ``dataset_info`` (features from the Parquet schema, rows and bytes from the run's statistics),
``size_categories`` from the rows; the body documents every field, the thresholds and models the runs
used, the tokenizer and token counts, the decontamination benchmarks with their n-gram size and hits,
and the licences the data inherits: Common Crawl's terms of use for web text, each code file's own
licence (counted from ``meta.code``), and the terms of every LLM whose outputs are included.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

from megamath.report.collect import PhaseReport, collect_phase, config_items, find_runs, settings_used
from megamath.runtime import storage

FIELDS = {
    "id": "the record's id: the WARC record ID of a page, a hash of a code file, `<source id>/qaN`, `/python` or "
          "`/blocks` for synthetic records",
    "text": "the text: extracted page text with formulas as LaTeX (`$…$`, `$$…$$`), a source file, or a synthetic sample",
    "url": "the page's URL (`WARC-Target-URI`), when there is one",
    "source": "where the record was read: `path@offset` of its WARC record, `repo:path` of a code file",
    "meta": "a JSON object; its keys are listed below",
    "extra": "a JSON object of any other fields the input carried",
}
META_FIELDS = {
    "tokens": "tokens of `text` with the card's tokenizer",
    "crawl": "the Common Crawl crawl (`CC-MAIN-YYYY-WW`)", "warc_date": "the WARC record's date",
    "lang": "language (fastText lid.176)", "lang_score": "its probability",
    "math": "formulas kept per markup family", "math_score": "P(math) of the fastText math classifier",
    "dedup_cluster": "the duplicate cluster's representative", "dedup_cluster_size": "the cluster's size",
    "stage1_chars": "the length of the stage-1 text before precise re-extraction",
    "stage2": "how the precise re-extraction found the text",
    "llm": "LLM scores, each `{score, prompt, model}`", "refined_from": "the record an LLM refinement rewrote",
    "code": "a code file's `repo`, `path`, `language`, `bytes`, licence fields, `math`/`edu` LLM scores, "
            "`model_score`, `math_imports`",
    "synth": "a synthetic record's `kind`, the record it came `from`, the prompt and model of each step, "
             "and its checks (`blocks` outcomes, `ran`)",
}
CC_TERMS = "https://commoncrawl.org/terms-of-use"


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` value for a number of rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
              (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T")]
    return next((label for bound, label in bounds if rows < bound), "n>1T")


_DTYPES = {"large_string": "string", "double": "float64", "float": "float32", "halffloat": "float16"}


def _feature(name: str, kind) -> dict:
    """A column as a ``dataset_info`` feature, in Hugging Face's names (``float64`` for Arrow's ``double``;
    a struct as its fields)."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return {"name": name, "struct": [_feature(f.name, f.type) for f in kind]}
    return {"name": name, "dtype": _DTYPES.get(str(kind), str(kind))}


def _features(shard: str) -> list[dict]:
    import pyarrow.parquet as pq

    with storage.open_input(shard) as handle:
        schema = pq.read_schema(handle)
    return [_feature(column.name, column.type) for column in schema]


def _used(phases: list[PhaseReport]) -> tuple[list[str], list[str], set[str], dict[str, int]]:
    """(thresholds and models used, LLM models, tokenizers, benchmark hits) from the runs' configurations."""
    settings, models, tokenizers, hits = [], set(), set(), Counter()
    for phase in phases:
        settings += [f"`{phase.name}` {path} = `{value}`" for path, value in settings_used(phase)]
        for path, value in config_items(phase.config.get("stages", {})):
            if path.endswith("generation.model") and value:
                models.add(str(value))
            if path.endswith("profile.tokenizer") and value:
                tokenizers.add(str(value))
        for stage in phase.funnel:
            hits.update({reason.removeprefix("benchmark_"): n for reason, n in stage.dropped.items()
                         if reason.startswith("benchmark_")})
    return settings, sorted(models), tokenizers, dict(hits)


def _benchmark_sizes(phases: list[PhaseReport]) -> dict[str, int]:
    """The n-gram size of each decontamination index the runs used."""
    from megamath.decontam.index import BenchmarkIndex

    sizes = {}
    for phase in phases:
        for path, value in config_items(phase.config.get("stages", {})):
            if path.endswith("decontaminate.index") and value and storage.exists(value):
                index = BenchmarkIndex.load(value)
                sizes.update({benchmark: index.n for benchmark in index.counts})
    return sizes


def subset_runs(location: str) -> tuple[str, list[str]]:
    """(the run folder whose shards are the subset, every run folder that made them): a run folder is
    both; a recipe's folder gives its final phase with output, and all of its phases, whose thresholds,
    models and benchmarks the card reports."""
    location = storage.normalize(location)
    runs = find_runs(location)
    if not runs:
        raise ValueError(f"{location} is neither a run folder nor a recipe's folder")
    from megamath.pipelines.recipe import WEB_PHASES  # here: the recipe's whole stack is heavy to import

    with_output = [run for run in runs if storage.list_files(storage.join(run, "data"), ".parquet")]
    web = [run for run in with_output if re.fullmatch(r"\d+-(" + "|".join(WEB_PHASES) + ")", storage.name_of(run))]
    if storage.exists(storage.join(location, "recipe.json")) and web:  # a recipe's folder: its web corpus
        with_output = web
    if not with_output:
        raise ValueError(f"{location} has no Parquet shards (the card describes Parquet output)")
    return with_output[-1], runs


def _data_inside(name: str, shards: list[str], data_folder: str, card_dir: str) -> str:
    """The subset's data folder relative to the card: where it is, if inside the card's folder; else
    ``data/<name>`` beside the card, its shards hard-linked there (copied across filesystems or from a
    store)."""
    local = storage.is_local(data_folder) and Path(storage.local_path(data_folder)).resolve()
    if local and local.is_relative_to(Path(card_dir).resolve()):
        return os.path.relpath(local, card_dir)
    target = Path(card_dir) / "data" / name
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.parquet"):
        old.unlink()  # a card made again from other runs: no stale shard may stay
    for shard in shards:
        destination = target / storage.name_of(shard)
        if storage.is_local(shard):
            try:
                os.link(storage.local_path(shard), destination)
                continue
            except OSError:  # another filesystem: copied
                pass
        with storage.open_input(shard) as source, open(destination, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    return f"data/{name}"


def build_card(subsets: dict[str, str], card_dir: str, *, title: str = "A math corpus built with megamath",
               release: dict | None = None, history: list[str] | None = None):
    """The card (a ``huggingface_hub.DatasetCard``) of ``subsets`` (name → run folder or recipe folder)
    for ``card_dir``. ``release``: the summary of a release written into ``card_dir``
    (:func:`megamath.release.dataset.write_release`): its typed shards under ``data/<subset>`` (and
    ``data/mix``) are the data files, instead of the runs' own shards. ``history``: the run folders whose
    models, thresholds and benchmarks the card lists (default: those of each subset's location)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    phases, used = {}, []
    for name, location in subsets.items():
        final, runs = subset_runs(location)
        phases[name] = collect_phase(final, name)
        used += [collect_phase(run) for run in runs if run != final] + [phases[name]]
    if history is not None:
        used = [collect_phase(run) for run in history]
    configs, infos, rows = [], [], 0
    if release:
        written = {**{name: s["shards"] for name, s in release["subsets"].items()},
                   **({"mix": release["mix"]["shards"]} if "mix" in release else {})}
        data = {name: ([shard["path"] for shard in shards], f"data/{name}", sum(shard["rows"] for shard in shards))
                for name, shards in written.items()}
    else:
        data = {}
        for name, phase in phases.items():
            shards = sorted(storage.list_files(storage.join(phase.root, "data"), ".parquet"))
            data[name] = (shards, _data_inside(name, shards, storage.join(phase.root, "data"), card_dir),
                          phase.docs_written)
    for name, (shards, relative, count) in data.items():
        configs.append({"config_name": name, "data_files": [{"split": "train", "path": f"{relative}/*.parquet"}]})
        nbytes = sum(storage.size(shard) or 0 for shard in shards)
        infos.append({"config_name": name, "features": _features(shards[0]) if shards else [],
                      "splits": [{"name": "train", "num_bytes": nbytes, "num_examples": count}],
                      "download_size": nbytes, "dataset_size": nbytes})
        rows += count
    settings, models, tokenizers, hits = _used(used)
    sizes = _benchmark_sizes(used)
    data = DatasetCardData(license="other", language=["en"], pretty_name=title, size_categories=[size_category(rows)],
                           task_categories=["text-generation"], configs=configs, dataset_info=infos,
                           tags=["math", "megamath"])
    folders = {name: os.path.relpath(storage.local_path(phase.root), card_dir) if storage.is_local(phase.root)
               else phase.root for name, phase in phases.items()}
    body = _body(phases, folders, settings, models, tokenizers, hits, sizes)
    if release:
        body += _release_section(release)
    card = DatasetCard.from_template(data, template_str=_TEMPLATE, title=title, body=body)
    return card


def _release_section(release: dict) -> str:
    from megamath.release.dataset import META_FIELDS as TYPED

    lines = ["", "## Release", "", "Every subset is in `data/<subset>/<subset>-NNNNN.parquet`; its rows have the "
             "columns `id`, `subset`, `text`, `url`, `source`, `meta` (a struct), `meta_rest` (the rest of the "
             "run's meta, JSON) and `extra` (JSON).", "", "`meta` fields: "
             + ", ".join(f"`{name}` ({kind})" for name, kind, _ in TYPED) + ".", "",
             "| subset | rows | tokens | shards |", "| --- | --- | --- | --- |"]
    lines += [f"| `{name}` | {s['rows']:,} | {s['tokens']:,} | {len(s['shards'])} |" for name, s in release["subsets"].items()]
    if "mix" in release:
        mix = release["mix"]
        lines += ["", f"The mixture (`data/mix`): {mix['rows']:,} rows, {mix['tokens']:,} tokens, rows shuffled "
                  f"(seed {release['config']['seed']}).", "",
                  "| subset | share asked | share of tokens | tokens | passes over the subset |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{name}` | {m['share']:.4f} | {m['achieved_share']:.4f} | {m['tokens']:,} | {m['epochs']} |"
                  for name, m in mix["subsets"].items()]
    return "\n".join(lines)


def write_card(subsets: dict[str, str], card_dir: str, **kwargs) -> Path:
    Path(card_dir).mkdir(parents=True, exist_ok=True)
    path = Path(card_dir) / "README.md"
    build_card(subsets, str(Path(card_dir).resolve()), **kwargs).save(path)
    return path


_TEMPLATE = "---\n{{ card_data }}\n---\n\n# {{ title }}\n\n{{ body }}\n"


def _body(phases: dict[str, PhaseReport], folders: dict[str, str], settings, models, tokenizers, hits, sizes) -> str:
    lines = ["Built with megamath, following the MegaMath recipe.", "", "## Subsets", "",
             "| subset | rows | tokens | folder |", "| --- | --- | --- | --- |"]
    for name, phase in phases.items():
        lines.append(f"| `{name}` | {phase.docs_written:,} | {phase.profile['tokens']:,} | `{folders[name]}` |")
    lines += ["", "## Fields", "", "| field | content |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in FIELDS.items()]
    lines += ["", "Keys of `meta` (each present where it applies):", "", "| key | content |", "| --- | --- |"]
    lines += [f"| `{k}` | {v} |" for k, v in META_FIELDS.items()]
    lines += ["", "## Tokens", "", f"Counted with {', '.join(f'`{t}`' for t in sorted(tokenizers)) or 'no tokenizer'} "
              "(special tokens excluded), once per record where its text became final."]
    lines += ["", "## Thresholds and models", ""] + ([f"- {s}" for s in settings] or ["- none recorded"])
    lines += ["", "## Decontamination", ""]
    if sizes or hits:
        lines += ["| benchmark | n-gram size | documents removed |", "| --- | --- | --- |"]
        lines += [f"| {b} | {sizes.get(b, '?')} | {hits.get(b, 0):,} |" for b in sorted(set(sizes) | set(hits))]
    else:
        lines.append("No decontamination was run on these subsets.")
    code_licences = Counter()
    for phase in phases.values():
        code_licences.update(phase.counters_with("license_"))
    lines += ["", "## Licences", "",
              f"- Web text comes from Common Crawl and is subject to its terms of use ({CC_TERMS}); the pages "
              "themselves remain under their authors' rights.",
              "- Code files keep their own licences" + (": " + ", ".join(f"{k} ({n:,} files)" for k, n in
                                                          code_licences.most_common()) if code_licences else
                                                          " (none recorded in these subsets)") + "."]
    if models:
        lines.append("- Records written or scored by LLMs are subject to the terms of those models: "
                     + ", ".join(f"`{m}`" for m in models) + ".")
    return "\n".join(lines)
