"""``megamath dedup run``: sign every shard, find duplicate pairs band by band, cluster, filter."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from megamath.dedup.lsh import EXACT, band_edges, sign_shard, write_components
from megamath.dedup.minhash import MinHashConfig
from megamath.dedup.stage import DedupFilter, DedupFilterConfig
from megamath.dedup.store import CorruptFileError, load_arrays
from megamath.runtime.executor import LocalExecutor
from megamath.runtime.pipeline import Pipeline
from megamath.runtime.resume import RunFolder, config_fingerprint
from megamath.runtime.runner import RunSummary, run_pipeline, task_id_for
from megamath.sources.shards import ShardReader

log = logging.getLogger(__name__)


def _valid(path: Path) -> bool:
    """Whether a signature file from an earlier run can be reused; a damaged one is named and redone."""
    if not path.exists():
        return False
    try:
        load_arrays(path)
        return True
    except CorruptFileError as exc:
        log.warning("damaged signature file, signing its shard again: %s", exc)
        return False


def deduplicate(shards: list[str], run_dir: str | os.PathLike[str], config: MinHashConfig, *, workers: int,
                output_suffix: str = ".parquet", force: bool = False, show_progress: bool = True) -> tuple[RunSummary, dict]:
    folder = RunFolder(run_dir)
    work = folder.state / "dedup" / config_fingerprint({"minhash": asdict(config), "inputs": sorted(shards)})
    signatures_dir = work / "signatures"
    signatures_dir.mkdir(parents=True, exist_ok=True)
    signature_files = [str(signatures_dir / f"{task_id_for(shard)}.sig") for shard in shards]

    todo = [(s, f) for s, f in zip(shards, signature_files) if force or not _valid(Path(f))]
    # forkserver, as the local executor uses: forking a driver that runs threads can deadlock
    context = multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, tqdm(total=len(todo), desc="dedup: sign shards",
                                                                 disable=not show_progress) as bar:
        for _ in pool.map(sign_shard, [s for s, _ in todo], [f for _, f in todo], [config] * len(todo)):
            bar.update()
    bands = [EXACT] + list(range(config.bands))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, tqdm(total=len(bands), desc="dedup: bands",
                                                                 disable=not show_progress) as bar:
        edges = []
        for pair in pool.map(band_edges, [signature_files] * len(bands), bands):
            edges.append(pair)
            bar.update()
    components = work / "components.bin"
    counts = write_components(signature_files, components, config, edges[1:], edges[0])
    log.info("dedup clusters: %s", counts)
    pipeline = Pipeline(ShardReader(), [DedupFilter(DedupFilterConfig(str(components.resolve())))],
                        output_suffix=output_suffix)
    summary = run_pipeline(pipeline, shards, folder.root, LocalExecutor(workers=workers), force=force,
                           show_progress=show_progress)
    return summary, counts
