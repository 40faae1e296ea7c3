"""One labelling round: sample records per crawl (or per code language), label the sample with an
LLM, read it back.

Round 2 of the math classifier (labels from the ``math_relevance`` rubric), Web-Pro's
``--score-sample`` (labels from ``educational_value``) and MegaMath-Code's ``score-sample`` (two
rubrics, ``code_math`` and ``code_education``) all train a fastText model on such a sample.
Each step is a phase of the runtime in a folder of its own, so a rerun reuses the sample (unless the
shards changed) and the answers already received (the LLM cache).

    FOLDER/sample/   the sample (one task: a global step over every shard)
    FOLDER/labels/   the sample through the LLM scoring stage
"""

from __future__ import annotations

from dataclasses import dataclass, field

from megamath.classify.seeds import SampleShards
from megamath.llm.score import LLMScore
from megamath.runtime import storage
from megamath.runtime.executor import Executor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder
from megamath.runtime.runner import RunSummary, input_fingerprint, run_phase, run_pipeline, write_manifest
from megamath.runtime.shards import read_records
from megamath.runtime.stage import Record
from megamath.runtime.task import Task
from megamath.sources.shards import ShardReader


class LabellingError(RuntimeError):
    """The sample could not be drawn or labelled (the summary of the failed phase says why)."""


@dataclass
class LabelledSample:
    """``sample``: the sampled records; ``labelled``: those the LLM scored (with ``meta.llm[key]`` of
    every stage); ``per_group``: survivors and sampled per crawl or language; ``summary``: the
    labelling phase."""

    sample: list[Record]
    labelled: list[Record]
    per_group: dict
    summary: RunSummary
    sample_path: str = ""
    extra: dict = field(default_factory=dict)


def label_sample(shards: list[str], folder: RunFolder, per_group: int, stages: LLMScore | list[LLMScore],
                 executor: Executor, *, group: str = "crawl", seed: int = 0, show_progress: bool = True
                 ) -> LabelledSample:
    sample_folder = folder.sub("sample")
    manifest, fingerprint = write_manifest(sample_folder, "shards", {
        "shards": shards, "fingerprints": [input_fingerprint(shard)[0] for shard in shards]})
    task = Task("sample", manifest, storage.join(sample_folder.data, "sample.jsonl"), fingerprint)
    drawn = run_phase(SampleShards(per_group, seed, group), [task], sample_folder, executor,
                      show_progress=show_progress, desc=f"sample per {group}")
    if drawn.failed:
        raise LabellingError(f"drawing the sample failed: {next(iter(drawn.failed.values()))}")
    sample = list(read_records([task.output]))

    labels_folder = folder.sub("labels")
    stages = stages if isinstance(stages, list) else [stages]
    summary = run_pipeline(Pipeline(ShardReader(), stages, output_suffix=".jsonl"), [task.output], labels_folder,
                           executor, show_progress=show_progress,
                           desc=f"LLM labels ({', '.join(stage.key for stage in stages)})")
    labelled = list(read_records(summary.shards)) if not summary.failed else []
    return LabelledSample(sample, labelled, drawn.results[0]["per_group"], summary, task.output)
