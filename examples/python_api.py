"""The library without the CLI: a page on its own, stage 1 over the example WARC, its records, the
release and the tokenized export (docs/python-api.md).

    python examples/python_api.py [OUTPUT]        # OUTPUT: runs/api by default
"""

import sys
from pathlib import Path

from megamath.pipelines.web import WebExtractConfig, run_stage1
from megamath.release.dataset import release
from megamath.release.tokenized import export_tokenized
from megamath.runtime.executor import LocalExecutor
from megamath.runtime.shards import read_records
from megamath.web.extract import extract_text

HERE = Path(__file__).resolve().parent


def main(output: Path) -> None:
    print(extract_text((HERE / "pages" / "quadratic-raw-tex.html").read_text()))  # formulas as LaTeX

    run = output / "stage1"
    run_stage1(WebExtractConfig(), [str(HERE / "example.warc.gz")], str(run), LocalExecutor(workers=2))
    shards = sorted(str(p) for p in (run / "data").glob("*.parquet"))
    for record in read_records(shards):
        print(record["url"], record["meta"]["tokens"])
    summary = release({"web": str(run)}, str(output / "release"))  # typed shards, the card, the report
    print(f"release: {summary['subsets']['web']['rows']} rows under {output / 'release'}")
    export_tokenized(shards, str(output / "megatron"), "megatron")


if __name__ == "__main__":  # worker processes import this file again: start work only here
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/api"))
