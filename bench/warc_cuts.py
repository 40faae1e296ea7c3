"""Cut real WARC files at random points: is every record a cut costs counted, as what it was?

For each file, the reader's outcome for every response record of the whole file is the truth. Each
trial cuts the file: 20 of every 30 cuts land within a record's first 600 compressed bytes, where
fastwarc ends without an error, and the rest anywhere in the last three quarters. A trial is wrong
when a record that ends before the cut is not reported as before, or when the record the cut runs
through is neither counted as cut (``truncated_record``, ``damaged_record``) nor read whole.

    python bench/warc_cuts.py [WARC ...]      # default: ../shared's dolma and pywb samples and the example
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
import zlib
from pathlib import Path

from megamath.runtime.pipeline import InputError
from megamath.runtime.stage import Drop
from megamath.sources.warc import WarcReader

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "warc"
DEFAULT = [SHARED / "allenai__dolma/tests/data/warc/sample-0000.warc.gz",
           SHARED / "allenai__dolma/tests/data/warc/sample-0001.warc.gz",
           SHARED / "pypi__pywb/sample_archive/warcs/iana.warc.gz", ROOT / "examples" / "example.warc.gz"]
TRIALS_PER_SEED, SEEDS = 30, 3
COUNTED_AS_CUT = {"truncated_record", "damaged_record"}


def outcomes(path: Path) -> dict[int, str]:
    """Offset of each response record → "kept" or its drop reason."""
    found = {}
    try:
        for item in WarcReader()(str(path)):
            record = item.record if isinstance(item, Drop) else item
            found[int(record["source"].rpartition("@")[2])] = item.reason if isinstance(item, Drop) else "kept"
    except InputError:
        pass  # a cut file is reported as such; what it held is what is compared
    return found


def member_ends(data: bytes) -> dict[int, int]:
    """Start → end of each gzip member (one per record)."""
    ends, offset = {}, 0
    while offset < len(data):
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[offset:])
        ends[offset] = len(data) - len(inflater.unused_data)
        offset = ends[offset]
    return ends


def wrong_cuts(path: Path, scratch: Path) -> tuple[int, int, list[str]]:
    data = path.read_bytes()
    whole = outcomes(path)
    ends = member_ends(data)
    starts = sorted(whole)
    wrong, trials, examples = 0, 0, []
    for seed in range(SEEDS):
        rng = random.Random(seed)
        for trial in range(TRIALS_PER_SEED):
            if trial < 20:
                cut = rng.choice(starts[1:]) + rng.randrange(1, 600)
            else:
                cut = rng.randrange(len(data) // 4, len(data))
            piece = scratch / "cut.warc.gz"
            piece.write_bytes(data[:cut])
            got = outcomes(piece)
            trials += 1
            problems = []
            for start, truth in whole.items():
                if start >= cut:
                    continue
                if ends[start] <= cut:
                    if got.get(start) != truth:
                        problems.append(f"@{start}: {truth} read as {got.get(start)}")
                elif got.get(start) not in COUNTED_AS_CUT and not got.get(start) == truth == "kept":
                    problems.append(f"@{start}: cut, reported as {got.get(start)}")
            if problems:
                wrong += 1
                examples.append(f"{path.name} cut at {cut}: {'; '.join(problems[:2])}")
    return wrong, trials, examples


def main(paths: list[Path]) -> None:
    logging.disable(logging.WARNING)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"not found: {', '.join(map(str, missing))}")
    total_wrong = total = 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            wrong, trials, examples = wrong_cuts(path, Path(scratch))
            total_wrong, total = total_wrong + wrong, total + trials
            print(f"{path.name:32} {wrong:4d} of {trials} cuts lose or miscount a record")
            for example in examples[:3]:
                print(f"    {example}")
    print(f"{'all':32} {total_wrong:4d} of {total} cuts lose or miscount a record")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or DEFAULT)
