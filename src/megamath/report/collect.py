"""What the HTML report and the dataset card show, gathered from run folders.

Every number comes from the per-task statistics of the runs (``.megamath/done/<task>.json``: the funnel
of each task, its stages' counters — among them the profile stage's tokens and distributions, see
:mod:`megamath.profile.stage` — and the first drops of each reason), summed here; nothing is counted
from the corpus again. What the report shows of the corpus itself is a few sample records per score
bucket, read from the first shards, and the contamination matches the decontamination stage kept.

A recipe's folder holds one run folder per phase (``1-extract``, ``2-classify`` ...); a workflow keeps
its own phases inside (``dedup/``); :func:`find_runs` finds them all, in order.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from megamath import __version__
from megamath.profile.stage import tenth
from megamath.report.funnel import profile_counters
from megamath.runtime import storage
from megamath.runtime.resume import RunFolder
from megamath.runtime.shards import read_shard
from megamath.runtime.stats import StageStats, merge_funnels

SAMPLES_PER_BUCKET = 3

log = logging.getLogger(__name__)


@dataclass
class PhaseReport:
    """One run folder: its funnel (summed over its finished tasks) and what the report draws of it."""

    name: str
    root: str
    state: str  # finished, running, or empty (no task finished yet)
    tasks_done: int
    tasks_total: int | None
    docs_written: int
    funnel: list[StageStats]
    task_seconds: float  # the sum over tasks: CPU-bound work, so about core-seconds
    wall_seconds: float  # the last run of the phase, start to end
    inputs: list[str]
    config: dict
    fingerprint: str
    contamination: list[dict] = field(default_factory=list)
    samples: dict[str, list[dict]] = field(default_factory=dict)
    input_errors: dict[str, str] = field(default_factory=dict)  # input -> why it could not be read
    verification: dict = field(default_factory=dict)  # a dedup run's verified removals (summed counts, examples)

    @property
    def profile(self) -> Counter:
        """The counters of the phase's profile stage (its output's tokens and distributions)."""
        return profile_counters(self.funnel)

    def counters_with(self, prefix: str) -> dict[str, int]:
        return {key[len(prefix):]: n for key, n in self.profile.items() if key.startswith(prefix)}

    @property
    def llm(self) -> dict[str, Counter]:
        return {stage.name: Counter({k: n for k, n in stage.counters.items() if k.startswith("llm_")})
                for stage in self.funnel if any(k.startswith("llm_") for k in stage.counters)}


def config_items(config: dict, prefix: str = ""):
    """(dotted path, value) of every leaf of a run's configuration (``stages.profile.tokenizer``)."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from config_items(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# the configuration leaves that say what a phase decided with: its models, thresholds and benchmark index
_SETTINGS = ("threshold", "model_path", "year_thresholds", "math_threshold", "edu_threshold", "index",
             "min_number_share", "rel_tol")


def settings_used(phase) -> list[tuple[str, str]]:
    """(dotted path, value) of the models, thresholds and benchmark index a phase's stages used; the files
    that ship with megamath are named as such rather than by their path inside the installation."""
    from megamath.classify.shipped import SHIPPED_MODEL
    from megamath.decontam.index import shipped_index

    shipped = {str(SHIPPED_MODEL): "the math classifier megamath ships (docs/classifier-card.md)",
               shipped_index(): "the index of the recipe's 12 benchmarks megamath ships (docs/benchmarks.md)"}
    return [(path, shipped.get(str(value), str(value))) for path, value in config_items(phase.config.get("stages", {}))
            if path.rsplit(".", 1)[-1] in _SETTINGS and value not in (None, "")]


def is_run(location: str) -> bool:
    return storage.exists(RunFolder(location).config_path)


def find_runs(location: str) -> list[str]:
    """``location`` if it is a run folder, and the run folders inside it, depth first in name order
    (a workflow's intermediate passes under ``work/`` are not outputs, and are left out; nor is a
    recipe's sample run, ``sample-<N>/``, which is reported on its own)."""
    found = [location] if is_run(location) else []
    for child in sorted(storage.list_dirs(location)):
        name = storage.name_of(child)
        if name in ("work", "data", "excluded", "dropped", "logs", ".megamath") or re.fullmatch(r"sample-\d+", name):
            continue
        found += find_runs(child)
    return found


def collect_phase(location: str, name: str | None = None) -> PhaseReport:
    folder = RunFolder(location)
    results = list(folder.finished_results())
    stats, config = _readable_json(folder.stats_path), _readable_json(folder.config_path)
    state = stats.get("state", "finished") if results else "empty"
    phase = PhaseReport(
        name=name or storage.name_of(folder.root), root=folder.root, state=state, tasks_done=len(results),
        tasks_total=stats.get("tasks_total"), docs_written=sum(r["docs_written"] for r in results),
        funnel=merge_funnels(r["funnel"] for r in results), task_seconds=sum(r.get("seconds", 0.0) for r in results),
        wall_seconds=stats.get("seconds", 0.0),
        inputs=sorted(r["source"] for r in results), config=config.get("config", {}),
        fingerprint=config.get("fingerprint", ""))
    phase.input_errors = {r["source"]: r["input_error"] for r in results if r.get("input_error")}
    phase.contamination = _contamination(folder)
    phase.verification = _verification(RunFolder(storage.join(folder.root, "work", "verify")))
    phase.samples = _samples(sorted(r["output"] for r in results if r.get("output")))
    return phase


def _readable_json(location: str) -> dict:
    """A run folder's JSON summary, or {} when it is absent or damaged: the report is built from the
    done records, and these files only add to them."""
    if not storage.exists(location):
        return {}
    try:
        data = json.loads(storage.read_bytes(location))
    except ValueError:
        log.warning("%s is damaged; the report is built from the done records without it", location)
        return {}
    return data if isinstance(data, dict) else {}


def _verification(folder: RunFolder) -> dict:
    """What a dedup run's verify pass counted: removals confirmed and refused, and refused examples."""
    counts = [result["counts"] for result in folder.finished_results() if "counts" in result] \
        if storage.exists(folder.root) else []
    if not counts:
        return {}
    summed = {name: sum(c.get(name, 0) for c in counts) for name in
              ("exact_duplicates", "near_duplicates", "refused", "refused_then_removed", "clusters_split", "unverified")}
    return {**summed, "examples": [e for c in counts for e in c.get("examples", [])][:10]}


def _contamination(folder: RunFolder) -> list[dict]:
    matches = []
    for shard in storage.list_files(folder.excluded, ".jsonl.zst"):
        for record in read_shard(shard):
            found = (record.get("meta") or {}).get("contamination")
            if found:
                matches.append({"id": record.get("id"), "url": record.get("url"), **found})
    return matches


def score_bucket(record: dict) -> str | None:
    """The bucket a sample record is shown under: its educational score, else its math score's tenth,
    else its code math score."""
    meta = record.get("meta") or {}
    edu = ((meta.get("llm") or {}).get("educational_value") or {}).get("score")
    if isinstance(edu, (int, float)):
        return f"educational score {round(edu)}"
    if isinstance(meta.get("math_score"), (int, float)):
        return f"math score {tenth(meta['math_score'])}"
    code = meta.get("code") or {}
    if "math" in code:
        return f"code math score {code['math']}"
    return None


def _samples(shards: list[str], max_records: int = 5_000) -> dict[str, list[dict]]:
    """Up to :data:`SAMPLES_PER_BUCKET` records per score bucket from the first records of ``shards``."""
    buckets: dict[str, list[dict]] = {}
    seen = 0
    for shard in shards:
        for record in read_shard(shard):
            seen += 1
            bucket = score_bucket(record) or "all"
            chosen = buckets.setdefault(bucket, [])
            if len(chosen) < SAMPLES_PER_BUCKET:
                chosen.append({"id": record.get("id"), "url": record.get("url"), "text": (record.get("text") or "")[:1500],
                               "tokens": (record.get("meta") or {}).get("tokens")})
            if seen >= max_records:
                return dict(sorted(buckets.items()))
    return dict(sorted(buckets.items()))


@dataclass
class RunReport:
    phases: list[PhaseReport]
    version: str = __version__
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (phase, why) of the recipes reported

    @property
    def raw_inputs(self) -> list[str]:
        """The inputs no reported phase wrote: a recipe's own inputs, not its phases' intermediate shards."""
        roots = [p.root.rstrip("/") + "/" for p in self.phases]
        return sorted({i for p in self.phases for i in p.inputs if not any(i.startswith(r) for r in roots)})

    @property
    def core_hours(self) -> float:
        return sum(p.task_seconds for p in self.phases) / 3600


def collect(locations: list[str]) -> RunReport:
    """The report of every run folder found under ``locations``, named by their path below each location."""
    phases, skipped = [], []
    for location in locations:
        root = storage.normalize(location)
        for run in find_runs(root):
            relative = run[len(root):].strip("/") or storage.name_of(root)
            phases.append(collect_phase(run, relative))
        recipe = _readable_json(storage.join(root, "recipe.json"))
        skipped += [(str(phase.get("phase")), str(phase["skipped"])) for phase in recipe.get("phases", [])
                    if isinstance(phase, dict) and phase.get("skipped")]
    return RunReport(phases, skipped=skipped)
