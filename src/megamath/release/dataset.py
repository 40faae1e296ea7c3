"""The release: a corpus's subsets as evenly sized Parquet shards with stable names and a typed schema,
the mixture of the subsets by token ratios, the dataset card inside the folder and the report beside it.

A run's shards hold ``meta`` as a JSON string (any stage may add a field). A release types the fields a
training run or a query filters on — :data:`META_FIELDS`, a struct — and keeps the rest of ``meta`` as
JSON in ``meta_rest``, so ``datasets`` shows ``meta`` as a struct and DuckDB reads ``meta.math_score``
without ``json_extract``.

Layout (``docs/output.md``)::

    RELEASE/README.md                    the card; its data_files are the folders below
    RELEASE/data/<subset>/<subset>-00000.parquet …
    RELEASE/data/mix/mix-00000.parquet …  with --mix: the mixture, rows shuffled, each with its subset
    RELEASE/release.json                 rows, tokens and shards per subset; the mixture's plan and result
    RELEASE/report.html                  the report of the runs the subsets came from
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from megamath.runtime import storage
from megamath.runtime.shards import read_records

# (name in the struct, type, where it is read from a record's meta)
META_FIELDS = (
    ("lang", pa.string(), ("lang",)),
    ("lang_score", pa.float64(), ("lang_score",)),
    ("math_score", pa.float64(), ("math_score",)),
    ("edu_score", pa.float64(), ("llm", "educational_value", "score")),
    ("tokens", pa.int64(), ("tokens",)),
    ("crawl", pa.string(), ("crawl",)),
    ("warc_date", pa.string(), ("warc_date",)),
    ("code_language", pa.string(), ("code", "language")),
    ("code_repo", pa.string(), ("code", "repo")),
    ("code_path", pa.string(), ("code", "path")),
    ("code_licence", pa.string(), ("code", "license")),  # or code.licenses, a list: see typed_row
    ("code_score", pa.float64(), ("code", "model_score")),
    ("synth_kind", pa.string(), ("synth", "kind")),
    ("synth_from", pa.string(), ("synth", "from", "id")),
)
META_TYPE = pa.struct([(name, kind) for name, kind, _ in META_FIELDS])
SCHEMA = pa.schema([("id", pa.string()), ("subset", pa.string()), ("text", pa.string()), ("url", pa.string()),
                    ("source", pa.string()), ("meta", META_TYPE), ("meta_rest", pa.string()), ("extra", pa.string())])
_ROW_GROUP = 4096


class ReleaseError(ValueError):
    """A release that cannot be made as asked (an unknown subset in the mixture, no tokens to mix by)."""


@dataclass(frozen=True)
class ReleaseConfig:
    """``shard_bytes``: a shard is closed once its text reaches this many bytes (the file is smaller:
    Parquet compresses); ``shard_rows``: or once it holds this many rows (0: no limit). ``mix``: subset →
    share of the mixture's tokens (empty: no mixture); ``mix_tokens``: the mixture's size in tokens (0: the
    largest that repeats no subset); ``seed``: the mixture's sampling and order."""

    shard_bytes: int = 256 << 20
    shard_rows: int = 0
    mix: dict[str, float] = field(default_factory=dict)
    mix_tokens: int = 0
    seed: int = 0


def _pick(meta: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(meta, dict):
            return None
        meta = meta.get(key)
    return meta


def typed_row(record: dict, subset: str) -> dict:
    """A record as a release row: the stable meta fields typed, the rest of meta as JSON."""
    meta = record.get("meta") or {}
    typed = {}
    for name, kind, path in META_FIELDS:
        value = _pick(meta, path)
        if value is not None:
            try:
                value = float(value) if pa.types.is_floating(kind) else int(value) if pa.types.is_integer(kind) \
                    else str(value)
            except (TypeError, ValueError):
                value = None
        typed[name] = value
    if typed["code_licence"] is None and isinstance(licences := _pick(meta, ("code", "licenses")), list):
        typed["code_licence"] = ", ".join(map(str, licences)) or None
    taken = {path[0] for name, kind, path in META_FIELDS if len(path) == 1}
    rest = {k: v for k, v in meta.items() if k not in taken}
    extra = {k: v for k, v in record.items() if k not in ("id", "text", "url", "source", "meta")}
    return {"id": record.get("id"), "subset": subset, "text": record.get("text"), "url": record.get("url"),
            "source": record.get("source"), "meta": typed, "meta_rest": orjson.dumps(rest).decode() if rest else None,
            "extra": orjson.dumps(extra).decode() if extra else None}


class _ShardSeries:
    """Writes rows into ``folder/<name>-NNNNN.parquet``, a new shard whenever the text bytes or rows reach
    the limits; shards are written locally under temporary names and published when closed."""

    def __init__(self, folder: str, name: str, config: ReleaseConfig):
        self.folder, self.name, self.config = folder, name, config
        storage.makedirs(folder)
        self.shards: list[dict] = []
        self._rows: list[dict] = []
        self._writer = None
        self._local = None
        self._text_bytes = 0
        self._count = 0

    def add(self, row: dict) -> None:
        self._rows.append(row)
        self._text_bytes += len((row["text"] or "").encode())
        self._count += 1
        if len(self._rows) >= _ROW_GROUP:
            self._flush()
        if self._text_bytes >= self.config.shard_bytes or (self.config.shard_rows and self._count >= self.config.shard_rows):
            self.close_shard()

    def _flush(self) -> None:
        if not self._rows:
            return
        if self._writer is None:
            import os
            import tempfile

            handle, name = tempfile.mkstemp(suffix=".parquet")
            os.close(handle)
            self._local = Path(name)
            self._writer = pq.ParquetWriter(str(self._local), SCHEMA, compression="zstd")
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=SCHEMA))
        self._rows = []

    def close_shard(self) -> None:
        self._flush()
        if self._writer is None:
            return
        self._writer.close()
        target = storage.join(self.folder, f"{self.name}-{len(self.shards):05d}.parquet")
        storage.publish(str(self._local), target)
        self._local.unlink(missing_ok=True)
        self.shards.append({"path": target, "rows": self._count, "text_bytes": self._text_bytes})
        self._writer, self._count, self._text_bytes = None, 0, 0


def write_subset(name: str, shards: list[str], folder: str, config: ReleaseConfig, tokenizer=None) -> dict:
    """One subset's records as typed shards; tokens from ``meta.tokens``, else counted by ``tokenizer``."""
    series = _ShardSeries(folder, name, config)
    rows = tokens = counted = 0
    pending: list[dict] = []

    def write_pending() -> None:  # the rows without meta.tokens counted in one call to the tokenizer
        nonlocal rows, tokens, counted
        uncounted = [row for row in pending if row["meta"]["tokens"] is None] if tokenizer is not None else []
        for row, n in zip(uncounted, tokenizer.count([row["text"] or "" for row in uncounted]) if uncounted else []):
            row["meta"]["tokens"] = n
        counted += len(uncounted)
        for row in pending:
            tokens += row["meta"]["tokens"] or 0
            series.add(row)
        rows += len(pending)
        pending.clear()

    for record in read_records(shards):
        pending.append(typed_row(record, name))
        if len(pending) >= _ROW_GROUP:
            write_pending()
    write_pending()
    series.close_shard()
    return {"rows": rows, "tokens": tokens, "tokens_counted_here": counted, "shards": series.shards}


def mixture_plan(subsets: dict[str, dict], config: ReleaseConfig) -> dict[str, dict]:
    """Target tokens and epochs per subset of the mixture: shares as given (normalized to 1), the total
    ``mix_tokens`` or, by default, the largest that takes no subset more than once."""
    unknown = sorted(set(config.mix) - set(subsets))
    if unknown:
        raise ReleaseError(f"--mix names {', '.join(unknown)}, which is not a subset (subsets: {', '.join(subsets)})")
    total_share = sum(config.mix.values())
    if total_share <= 0:
        raise ReleaseError("the mixture's shares add up to 0")
    shares = {name: share / total_share for name, share in config.mix.items() if share > 0}
    empty = [name for name in shares if subsets[name]["tokens"] <= 0]
    if empty:
        raise ReleaseError(f"subset(s) {', '.join(empty)} have no tokens to mix by (give the recipe a tokenizer, "
                           "or --tokenizer)")
    total = config.mix_tokens or int(min(subsets[name]["tokens"] / share for name, share in shares.items()))
    return {name: {"share": share, "target_tokens": round(total * share),
                   "epochs": round(total * share / subsets[name]["tokens"], 4)} for name, share in shares.items()}


def _selection(tokens: list[int], target: int, rng: random.Random) -> list[int]:
    """Row indices whose tokens add up to ``target`` (to within one document): whole passes over the
    subset while the target holds one, then a seeded sample of documents for the rest."""
    order = list(range(len(tokens)))
    total = sum(tokens)
    chosen: list[int] = []
    while target >= total > 0:
        chosen += order
        target -= total
    rng.shuffle(order)
    for index in order:
        if target <= 0:
            break
        if tokens[index] <= 0:
            continue
        if target - tokens[index] < -target:  # overshooting by more than it closes: take a smaller one later
            continue
        chosen.append(index)
        target -= tokens[index]
    return chosen


def write_mixture(subsets: dict[str, dict], plan: dict[str, dict], folder: str, config: ReleaseConfig) -> dict:
    """The mixture's shards: the planned documents of each subset, shuffled together (seeded)."""
    rng = random.Random(config.seed)
    picks: list[tuple[str, int, int]] = []  # (subset, shard, row)
    achieved = {}
    for name, target in plan.items():
        places, tokens = [], []
        for shard_index, shard in enumerate(subsets[name]["shards"]):
            column = pq.read_table(storage.local_copy(shard["path"]), columns=["meta"]).column("meta")
            for row, value in enumerate(column.combine_chunks().field("tokens").to_pylist()):
                places.append((shard_index, row))
                tokens.append(value or 0)
        chosen = _selection(tokens, target["target_tokens"], rng)
        achieved[name] = sum(tokens[i] for i in chosen)
        picks += [(name, *places[i]) for i in chosen]
    rng.shuffle(picks)
    series = _ShardSeries(folder, "mix", config)
    rows: dict[tuple[str, int], list[dict]] = {}  # a subset's shards are read once, when first drawn from
    for name, shard_index, row in picks:
        key = (name, shard_index)
        if key not in rows:
            rows[key] = pq.read_table(storage.local_copy(subsets[name]["shards"][shard_index]["path"])).to_pylist()
        series.add(rows[key][row])
    series.close_shard()
    total = sum(achieved.values())
    return {"rows": len(picks), "tokens": total, "shards": series.shards,
            "subsets": {name: {**plan[name], "tokens": achieved[name],
                               "achieved_share": round(achieved[name] / total, 6) if total else 0.0}
                        for name in plan}}


def clear_release(out: str) -> None:
    """Empty a folder that holds an earlier release, or an attempt at one (it has a ``release.json``), so
    that a release made again serves nothing of the old one: no shard of a subset it no longer has, no
    card or report that outlives a failed attempt. Another folder's files are left as they are (``-o``
    may name a folder of the user's)."""
    marker = storage.join(out, "release.json")
    if storage.exists(marker):
        for name in ("README.md", "report.html"):
            if storage.exists(path := storage.join(out, name)):
                storage.remove(path)
        for folder in ("data", "tokenized"):
            storage.remove_tree(storage.join(out, folder))
    # an attempt that stops half-way leaves this marker, so the next one clears what it wrote
    storage.write_bytes(marker, b'{"state": "writing"}\n')


def write_release(subsets: dict[str, list[str]], out: str, config: ReleaseConfig | None = None,
                  tokenizer_spec: str | None = None) -> dict:
    """Write every subset (name → its shards), the mixture if asked, and ``release.json``; returns the
    summary (:func:`release` adds the card and the report)."""
    config = config or ReleaseConfig()
    tokenizer = None
    if tokenizer_spec:
        from megamath.profile.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_spec)
    summary = {"state": "finished", "subsets": {}, "config": {"shard_bytes": config.shard_bytes, "shard_rows": config.shard_rows,
                                         "mix": config.mix, "mix_tokens": config.mix_tokens, "seed": config.seed,
                                         "tokenizer": tokenizer_spec}}
    for name, shards in subsets.items():
        summary["subsets"][name] = write_subset(name, shards, storage.join(out, "data", name), config, tokenizer)
    if config.mix:
        plan = mixture_plan(summary["subsets"], config)
        summary["mix"] = write_mixture(summary["subsets"], plan, storage.join(out, "data", "mix"), config)
    storage.write_bytes(storage.join(out, "release.json"), json.dumps(_relative(summary, out), indent=2).encode() + b"\n")
    return summary


def _relative(summary: dict, out: str) -> dict:
    """The summary with each shard's path relative to the release folder (which may move)."""
    def shards(items: list[dict]) -> list[dict]:
        return [{**item, "path": item["path"][len(out):].lstrip("/")} if item["path"].startswith(out) else item
                for item in items]
    copy = {**summary, "subsets": {n: {**s, "shards": shards(s["shards"])} for n, s in summary["subsets"].items()}}
    if "mix" in summary:
        copy["mix"] = {**summary["mix"], "shards": shards(summary["mix"]["shards"])}
    return copy


def release(locations: dict[str, str], out: str, config: ReleaseConfig | None = None,
            tokenizer_spec: str | None = None, *, history: list[str] | None = None,
            tokenized: tuple[str, ...] = ()) -> dict:
    """The whole release of ``locations`` (subset name → a run folder or a recipe's folder, whose final
    phase's shards are the subset): the typed shards and the mixture, the card inside ``out`` (its data
    files those shards), the report of every run the subsets came from beside it (``history``: those runs,
    when the locations do not name them all), and each subset and the mixture tokenized in ``tokenized``
    formats (``tokenized/<subset>/<format>/``)."""
    from megamath.release.tokenized import export_tokenized
    from megamath.report.card import subset_runs, write_card
    from megamath.report.collect import collect
    from megamath.report.html import render

    out = storage.normalize(out)
    clear_release(out)
    subsets, runs = {}, []
    for name, location in locations.items():
        final, found = subset_runs(location)
        subsets[name] = sorted(storage.list_files(storage.join(final, "data"), ".parquet"))
        runs += found
    runs = history or runs
    summary = write_release(subsets, out, config, tokenizer_spec)
    write_card(locations, out, release=summary, history=runs)
    storage.write_bytes(storage.join(out, "report.html"), render(collect(runs)).encode())
    written = {**{n: s["shards"] for n, s in summary["subsets"].items()},
               **({"mix": summary["mix"]["shards"]} if "mix" in summary else {})}
    for fmt in tokenized:
        for name, shards in written.items():
            export_tokenized([shard["path"] for shard in shards], storage.join(out, "tokenized", name, fmt), fmt,
                             tokenizer_spec or "qwen2.5")
    return summary
