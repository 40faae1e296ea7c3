"""The benchmark index: word n-gram hashes (13 by default) of every test item, built once per run.

The index holds the n-gram hashes of every item's problem and solution text (see
:class:`BenchmarkIndex`; items shorter than n words are matched whole). It is built by one task,
:class:`BuildIndex`, a global step before the documents are checked, and saved as a checksummed array
file the decontamination stage of every worker loads. Building counts, per benchmark, the lines read,
the items indexed, the items too short to match and the malformed lines; a benchmark that yields no
item, or any malformed line, is an error that names the file and the counts (a decontamination that
silently checks against nothing is worse than none).
"""

from __future__ import annotations

import io
import json
import logging
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from megamath.dedup.ngrams import MAX_N, NgramHasher, words
from megamath.dedup.store import load_arrays, save_arrays
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.task import Job, ProgressFn, Task

log = logging.getLogger(__name__)

AUTO_FIELDS = ("problem", "question", "Question", "body", "Body", "input", "query", "solution", "cot",
               "rationale", "Rationale", "options", "answer", "Answer", "target")
MIN_SHORT_WORDS = 8


class BenchmarkError(ValueError):
    """A benchmark file that cannot serve decontamination (missing, empty, malformed lines)."""


def recipe_benchmarks() -> dict[str, dict]:
    """The shipped configuration of the recipe's 12 benchmarks."""
    return tomllib.loads(resources.files("megamath.decontam").joinpath("benchmarks.toml").read_text())


def locate_benchmarks(benchmark_dir: str, config: dict[str, dict] | None = None) -> dict[str, str]:
    """{benchmark: file} for every configured benchmark found under ``benchmark_dir``."""
    config = config or recipe_benchmarks()
    found = {}
    for name, entry in config.items():
        path = next((Path(benchmark_dir) / f for f in entry.get("files", []) if (Path(benchmark_dir) / f).is_file()),
                    None)
        if path is None:
            log.warning("benchmark %s: none of %s under %s", name, entry.get("files"), benchmark_dir)
        else:
            found[name] = str(Path(path).resolve())
    return found


@dataclass(frozen=True)
class BenchmarkSpec:
    """What to index: ``benchmarks`` ((name, jsonl file), ...), ``ngram`` words per n-gram, the hash ``seed``."""

    benchmarks: tuple[tuple[str, str], ...]
    ngram: int = 13
    seed: int = 0

    def __post_init__(self):
        if not self.benchmarks:
            raise BenchmarkError("no benchmark to decontaminate against")
        if not 1 <= self.ngram <= MAX_N:
            raise BenchmarkError(f"the n-gram size must be between 1 and {MAX_N}, got {self.ngram}")


@dataclass
class BenchmarkIndex:
    """Sorted n-gram hashes of benchmark items, and whole-text hashes of items shorter than n words.

    An item contributes the n-grams of each text field and of all its fields together (a page that
    copies a solved problem runs from the problem into its solution). An item whose text is shorter
    than n words, but at least ``MIN_SHORT_WORDS``, is matched as a whole: its k-word hash equals the
    k-gram hash of the same words in a document. ``counts`` has, per benchmark, ``lines``, ``items``
    (indexed), ``too_short`` and ``malformed``.
    """

    n: int
    seed: int
    hashes: np.ndarray                       # sorted n-gram hashes
    item_of_hash: np.ndarray                 # index into ``items`` for each hash
    items: list[tuple[str, str]]             # (benchmark, item id)
    short: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # k -> (hashes, items)
    short_prefixes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))  # sorted
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, files: dict[str, str], n: int = 13, seed: int = 0, fields: dict[str, list[str]] | None = None,
              strict: bool = True) -> "BenchmarkIndex":
        """Index the jsonl ``files`` ({benchmark: path}); ``strict``: raise :class:`BenchmarkError` on a
        benchmark without items or with malformed lines (else they are only counted)."""
        hasher = NgramHasher(n, seed=seed)
        texts, owners, items = [], [], []
        short_texts: list[str] = []
        short_owners: list[int] = []
        counts: dict[str, dict[str, int]] = {}
        for benchmark, path in sorted(files.items()):
            count = counts[benchmark] = {"lines": 0, "items": 0, "too_short": 0, "malformed": 0}
            try:
                fh = io.TextIOWrapper(storage.open_input(path), encoding="utf-8", errors="replace")
            except (OSError, storage.StorageError) as exc:
                raise BenchmarkError(f"benchmark {benchmark}: cannot read {path}: {exc}") from exc
            with fh:
                for line_number, line in enumerate(fh):
                    if not line.strip():
                        continue
                    count["lines"] += 1
                    try:
                        row = json.loads(line)
                        if not isinstance(row, dict):
                            raise ValueError("not a JSON object")
                    except ValueError:
                        count["malformed"] += 1
                        log.warning("%s line %d: malformed JSON; skipped", path, line_number + 1)
                        continue
                    item_id = str(row.get("id", row.get("idx", row.get("ID", line_number))))
                    chosen = (fields or {}).get(benchmark) or [f for f in AUTO_FIELDS if isinstance(row.get(f), str)]
                    values = [row[f] for f in chosen if isinstance(row.get(f), str) and row[f].strip()]
                    whole = "\n".join(values)
                    length = len(words(whole))
                    if length < MIN_SHORT_WORDS or not _informative(words(whole)):
                        count["too_short"] += 1
                        continue
                    count["items"] += 1
                    items.append((benchmark, item_id))
                    if length < n:
                        short_texts.append(whole)
                        short_owners.append(len(items) - 1)
                        continue
                    long_enough = [v for v in values if len(words(v)) >= n] + ([whole] if len(values) > 1 else [])
                    texts.extend(long_enough)
                    owners.extend([len(items) - 1] * len(long_enough))
            if strict:
                _check(benchmark, path, count)
        hashes, offsets = hasher.hash_batch(texts)
        item_of_hash = np.repeat(np.array(owners, dtype=np.int64), np.diff(offsets))
        informative = _informative_windows(texts, n)
        hashes, item_of_hash = hashes[informative], item_of_hash[informative]
        order = np.argsort(hashes, kind="stable")
        hashes, item_of_hash = _first_of_each(hashes[order], item_of_hash[order], len(items))
        short: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        prefixes = np.zeros(0, dtype=np.uint64)
        if short_texts:
            heads = [" ".join(words(t)[:MIN_SHORT_WORDS]) for t in short_texts]
            prefixes = np.unique(hasher.ngrams(hasher.word_hashes(heads), MIN_SHORT_WORDS)[0])
            whole_hashes, _ = hasher.ngrams(hasher.word_hashes(short_texts), MAX_N)  # one hash per text
            lengths = np.array([len(words(t)) for t in short_texts])
            for k in np.unique(lengths):
                chosen_k = np.flatnonzero(lengths == k)
                k_order = np.argsort(whole_hashes[chosen_k], kind="stable")
                short[int(k)] = _first_of_each(whole_hashes[chosen_k][k_order],
                                               np.array(short_owners)[chosen_k][k_order], len(items))
        return cls(n, seed, hashes, item_of_hash, items, short, prefixes, counts)

    @property
    def too_short(self) -> dict[str, int]:
        return {name: c["too_short"] for name, c in self.counts.items() if c["too_short"]}

    def save(self, path: str) -> None:
        meta = {"n": self.n, "seed": self.seed, "items": self.items, "counts": self.counts,
                "short_sizes": sorted(self.short), "probe": _probe(self.n, self.seed)}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), "hashes": self.hashes,
                  "item_of_hash": self.item_of_hash, "short_prefixes": self.short_prefixes}
        for k, (hashes, owners) in self.short.items():
            arrays[f"short{k}.hashes"], arrays[f"short{k}.items"] = hashes, owners
        save_arrays(path, **arrays)

    @classmethod
    def load(cls, path: str) -> "BenchmarkIndex":
        """The index saved at ``path`` (``.zst``: compressed, as the shipped one is). An index whose
        n-gram hashes no longer match this version's is refused: it would match nothing."""
        arrays = load_arrays(path)
        meta = json.loads(arrays["meta"].tobytes())
        if meta.get("probe") != _probe(meta["n"], meta["seed"]):
            raise BenchmarkError(f"{path} was built with another version's n-gram hashes: build it again "
                                 "(the shipped one: tools/build_benchmark_index.py)")
        short = {k: (arrays[f"short{k}.hashes"], arrays[f"short{k}.items"]) for k in meta["short_sizes"]}
        return cls(meta["n"], meta["seed"], arrays["hashes"], arrays["item_of_hash"],
                   [tuple(item) for item in meta["items"]], short, arrays["short_prefixes"], meta["counts"])


def _first_of_each(sorted_hashes: np.ndarray, owners: np.ndarray, items: int) -> tuple[np.ndarray, np.ndarray]:
    """One entry per hash, its first owner: a lookup finds the first of equal hashes, so the others
    never answer (about half of the entries: a problem's n-grams also come with problem + solution)."""
    first = np.ones(len(sorted_hashes), dtype=bool)
    first[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    return sorted_hashes[first], owners[first].astype(np.uint16 if items <= 1 << 16 else np.int64)


_PROBE_TEXT = "a probe of the n-gram hash: if these words hash otherwise, an index built before matches nothing"


def _probe(n: int, seed: int) -> list[str]:
    hashes, _ = NgramHasher(n, seed=seed).hash_batch([" ".join([_PROBE_TEXT] * (1 + n // 10))])
    return [str(h) for h in hashes[:4]]


SHIPPED_INDEX = "recipe_benchmarks.arrays.zst"


def shipped_index() -> str:
    """The path of the shipped index of the recipe's 12 benchmarks (13-grams; how it is built and the
    benchmarks' sources and licences: docs/benchmarks.md)."""
    return str(resources.files("megamath.decontam").joinpath("data", SHIPPED_INDEX))


def _check(benchmark: str, path: str, count: dict[str, int]) -> None:
    summary = (f"{count['lines']:,} line(s), {count['items']:,} item(s) indexed, {count['too_short']:,} too short, "
               f"{count['malformed']:,} malformed")
    if count["malformed"]:
        raise BenchmarkError(f"benchmark {benchmark}: {path} has malformed lines ({summary}); fix or remove them")
    if not count["items"]:
        raise BenchmarkError(f"benchmark {benchmark}: {path} yields no item to match ({summary}); is it the "
                             "right file, with problem/question/solution fields?")


def _informative(item_words: list[str]) -> bool:
    return not all(word.isdigit() for word in item_words)


def _informative_windows(texts: list[str], n: int) -> np.ndarray:
    """Per n-gram of ``texts`` (in hash order), False for runs of bare numbers such as "1 2 3 ... 13",
    which real documents share with a benchmark without copying it."""
    masks = []
    for text in texts:
        numeric = np.array([word.isdigit() for word in words(text)], dtype=np.int64)
        if len(numeric) < n:
            continue
        run = np.convolve(numeric, np.ones(n, dtype=np.int64), mode="valid")
        masks.append(run < n)
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


class BuildIndex(Job):
    """The global step: the benchmark files of a spec → one index file (a single task)."""

    name = "benchmark_index"

    def __init__(self, spec: BenchmarkSpec):
        self.spec = spec

    def config(self) -> dict:
        return {"benchmarks": [list(b) for b in self.spec.benchmarks], "ngram": self.spec.ngram, "seed": self.spec.seed}

    def task(self, folder: RunFolder) -> Task:
        """The one task, identified by the content of every benchmark file and by the n-gram hash (an
        index built by a version that hashes otherwise is built again, not refused on every rerun)."""
        fingerprint = "|".join(f"{name}={storage.fingerprint(path)}" for name, path in self.spec.benchmarks)
        fingerprint += "|hash=" + ",".join(_probe(self.spec.ngram, self.spec.seed))
        return Task("index", "benchmarks", storage.join(folder.data, "index.arrays"), fingerprint)

    def run(self, task: Task, folder: RunFolder, progress: ProgressFn | None, *, disposable: bool) -> dict:
        index = BenchmarkIndex.build(dict(self.spec.benchmarks), self.spec.ngram, self.spec.seed)
        index.save(task.output)
        return {"docs_written": len(index.items), "funnel": [], "counts": index.counts}
