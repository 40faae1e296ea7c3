"""Seed text for the classifier: reading seed files, and collecting round-1 seeds from a crawl itself.

Seed files are ``.txt`` (one document per line), JSON Lines (optionally ``.gz``/``.zst``) or Parquet;
the text is the ``text`` field or the fields named (joined by a blank line, e.g. GSM8K's
``question,answer``).

The bootstrap needs no outside corpus: in stage-1 output, pages whose math markup and LaTeX density
are unmistakable are positives, and pages with no formula at all are the negatives' pool; both are
sampled evenly across crawls (the CC-MAIN id, else the WARC year), so no single crawl sets the
classifier's idea of the web. Part of the negatives (``hard_share``) is drawn from the pages that
look most like math to a bag of tokens without being math: pages with code, with tables of numbers,
and with many prices, an even part of each kind in every crawl.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from megamath.classify.preprocess import page_traits
from megamath.runtime import storage
from megamath.runtime.shards import read_records
from megamath.runtime.stage import Record
from megamath.runtime.task import Job
from megamath.sources.crawl import crawl_of
from megamath.web.math.markup import formulas_in


class SeedFileError(ValueError):
    """A seed file cannot be read or holds no text in the fields asked for."""


def read_texts(path: str | Path, fields: tuple[str, ...] = ("text",)) -> Iterator[str]:
    """The documents of a seed file (a local path or URL; see the module docstring); empty documents
    are skipped."""
    path = str(path)
    name = storage.name_of(path).lower()
    if not storage.is_file(path):
        raise SeedFileError(f"seed file not found: {path}")
    if name.endswith((".txt", ".txt.gz")):
        with storage.open_input(path) as raw:
            stream = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw
            for line in io.TextIOWrapper(stream, encoding="utf-8", errors="replace"):
                if line.strip():
                    yield line.strip()
        return
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with storage.open_input(path) as raw:
            table = pq.read_table(raw)
        missing = [f for f in fields if f not in table.column_names]
        if missing:
            raise SeedFileError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(table.column_names)})")
        rows = table.select(list(fields)).to_pylist()
    else:
        rows = read_records([path])
    for row in rows:
        text = "\n\n".join(str(row[f]) for f in fields if row.get(f))
        if text.strip():
            yield text


def formula_count(record: Record) -> int:
    """Formulas stage 1 found in a record (``meta.math``): from math markup and from TeX in the text,
    where stage 1 tells prices from formulas (a bare ``$`` count would not)."""
    return formulas_in((record.get("meta") or {}).get("math", {}))


@dataclass(frozen=True)
class BootstrapConfig:
    """``min_formulas`` and ``min_density`` (formulas per 1,000 characters): what makes a page an
    unmistakable positive. ``negatives_per_positive``: negatives drawn per positive, from pages with
    no formula. ``per_crawl``: positives per crawl (0: as many as the crawl with fewest has, so every
    crawl weighs the same). ``min_chars``: shorter pages are not seeds. ``hard_share``: the part of
    the negatives drawn from hard negatives (pages with ``min_code_lines`` lines of code,
    ``min_table_rows`` table rows, or ``min_prices_per_1000`` amounts per 1,000 characters), split
    evenly between the kinds a crawl has; what they cannot fill comes from the other negatives."""

    min_formulas: int = 5
    min_density: float = 2.0
    negatives_per_positive: float = 2.0
    per_crawl: int = 0
    min_chars: int = 200
    seed: int = 0
    max_pool_per_crawl: int = 200_000
    hard_share: float = 0.5
    min_code_lines: int = 3
    min_table_rows: int = 3
    min_prices_per_1000: float = 3.0


HARD_KINDS = ("code", "tables", "prices")


def hard_kind(text: str, config: BootstrapConfig) -> str:
    """"code", "tables" or "prices" for a page without formulas that has enough of them, else "plain"."""
    traits = page_traits(text)
    if traits["code"] >= config.min_code_lines:
        return "code"
    if traits["tables"] >= config.min_table_rows:
        return "tables"
    if traits["prices"] * 1000 / max(len(text), 1) >= config.min_prices_per_1000:
        return "prices"
    return "plain"


class _Reservoir:
    """A uniform sample of at most ``size`` items from a stream of unknown length."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.items, self.seen = size, rng, [], 0

    def add(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (slot := self.rng.randrange(self.seen)) < self.size:
            self.items[slot] = item


def bootstrap_seeds(records: Iterable[Record], config: BootstrapConfig) -> tuple[list[Record], list[Record], dict]:
    """(positives, negatives, counts per crawl) from stage-1 records."""
    rng = random.Random(config.seed)
    positives: dict[str, _Reservoir] = defaultdict(lambda: _Reservoir(config.max_pool_per_crawl, rng))
    negatives: dict[tuple[str, str], _Reservoir] = defaultdict(lambda: _Reservoir(config.max_pool_per_crawl, rng))
    skipped = Counter()
    for record in records:
        text = record.get("text") or ""
        if len(text) < config.min_chars:
            skipped["too_short"] += 1
            continue
        formulas = formula_count(record)
        seed = {"id": record.get("id"), "url": record.get("url"), "crawl": crawl_of(record), "text": text,
                "formulas": formulas}
        if formulas >= config.min_formulas and formulas * 1000 / len(text) >= config.min_density:
            positives[seed["crawl"]].add(seed)
        elif formulas == 0:
            seed["kind"] = hard_kind(text, config)
            negatives[seed["crawl"], seed["kind"]].add(seed)
        else:
            skipped["some_math"] += 1
    crawls = sorted(set(positives) | {crawl for crawl, _ in negatives})
    per_crawl = config.per_crawl or min((len(positives[c].items) for c in crawls if positives[c].items), default=0)
    chosen_pos, chosen_neg, counts = [], [], {}
    for crawl in crawls:
        pos = rng.sample(positives[crawl].items, min(per_crawl, len(positives[crawl].items)))
        neg = _negatives(crawl, negatives, round(per_crawl * config.negatives_per_positive), config.hard_share, rng)
        chosen_pos += pos
        chosen_neg += neg
        counts[crawl] = {"positive_pool": positives[crawl].seen,
                         "negative_pool": sum(negatives[crawl, k].seen for k in ("plain", *HARD_KINDS)),
                         "positives": len(pos), "negatives": len(neg),
                         "hard_negatives": dict(Counter(seed["kind"] for seed in neg if seed["kind"] != "plain"))}
    return chosen_pos, chosen_neg, {"per_crawl": counts, "skipped": dict(skipped)}


def _negatives(crawl: str, pools: dict, wanted: int, hard_share: float, rng: random.Random) -> list[Record]:
    """``wanted`` negatives of a crawl: ``hard_share`` of them split evenly between the hard kinds it
    has (a kind short of its part leaves it to the others), the rest from the plain pages."""
    kinds = [k for k in HARD_KINDS if pools.get((crawl, k)) and pools[crawl, k].items]
    hard_wanted = round(wanted * hard_share) if kinds else 0
    chosen: list[Record] = []
    for i, kind in enumerate(kinds):
        part = (hard_wanted - len(chosen)) // (len(kinds) - i)
        pool = pools[crawl, kind].items
        chosen += rng.sample(pool, min(part, len(pool)))
    plain = pools[crawl, "plain"].items if (crawl, "plain") in pools else []
    chosen += rng.sample(plain, min(wanted - len(chosen), len(plain)))
    if len(chosen) < wanted:  # too few plain pages: the hard pools fill in
        taken = {id(seed) for seed in chosen}
        rest = [seed for kind in kinds for seed in pools[crawl, kind].items if id(seed) not in taken]
        chosen += rng.sample(rest, min(wanted - len(chosen), len(rest)))
    return chosen


def write_seed_file(path: str | Path, seeds: list[Record]) -> None:
    """Write records as JSON Lines, atomically (a local path or URL). A file that already holds
    exactly these records is left untouched, so what was trained on it is not seen as changed."""
    path = str(path)
    data = b"".join(orjson.dumps(seed) + b"\n" for seed in seeds)
    if storage.is_file(path) and storage.read_bytes(path) == data:
        return
    storage.makedirs(storage.parent_of(path))
    storage.write_bytes(path, data)


def code_language_of(record: Record) -> str:
    """A source file's language (``meta.code.language``, from ``megamath code read``)."""
    return str(((record.get("meta") or {}).get("code") or {}).get("language") or "unknown")


# What a labelling sample is stratified by: web pages by crawl, source files by language.
SAMPLE_GROUPS = {"crawl": crawl_of, "language": code_language_of}


def sample_per_group(records: Iterable[Record], per_group: int, seed: int, group: str = "crawl"
                     ) -> tuple[list[Record], dict]:
    """Up to ``per_group`` records of each group (:data:`SAMPLE_GROUPS`), uniformly (reservoir
    sampling, deterministic)."""
    group_of = SAMPLE_GROUPS[group]
    rng = random.Random(seed)
    reservoirs: dict[str, _Reservoir] = defaultdict(lambda: _Reservoir(per_group, rng))
    for record in records:
        reservoirs[group_of(record)].add(record)
    sample = [r for name in sorted(reservoirs) for r in reservoirs[name].items]
    return sample, {name: {"survivors": reservoirs[name].seen, "sampled": len(reservoirs[name].items)}
                    for name in sorted(reservoirs)}


class SampleShards(Job):
    """The global step of a labelling round: up to ``per_group`` records of each group (crawl or
    language) from every shard of a manifest (``{"shards": [...]}``), uniformly and deterministically,
    into one JSON Lines file."""

    name = "sample_per_group"

    def __init__(self, per_group: int, seed: int = 0, group: str = "crawl"):
        if group not in SAMPLE_GROUPS:
            raise ValueError(f"a sample is stratified by {' or '.join(SAMPLE_GROUPS)}, not {group!r}")
        self.per_group = per_group
        self.seed = seed
        self.group = group

    def config(self) -> dict:
        return {"per_group": self.per_group, "seed": self.seed, "group": self.group}

    def run(self, task, folder, progress, *, disposable: bool) -> dict:
        shards = json.loads(storage.read_bytes(task.source))["shards"]
        sample, per_group = sample_per_group(read_records(shards), self.per_group, self.seed, self.group)
        write_seed_file(task.output, sample)
        return {"docs_written": len(sample), "funnel": [], "per_group": per_group}
