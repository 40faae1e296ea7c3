"""`megamath export`'s output read back by the training frameworks' own readers: megatron-core's
IndexedDataset and mosaicml-streaming's StreamingDataset. Both pull in torch, so they are the optional
`train-readers` extra (pip install -e '.[train-readers]'); without it these tests are skipped."""

import importlib.util

import numpy as np
import pytest

from megamath.profile.tokenizer import load_tokenizer
from megamath.release.tokenized import export_tokenized
from megamath.runtime.shards import read_records

from conftest import EXAMPLE_WARC, run_cli

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("streaming") is None or importlib.util.find_spec("megatron") is None,
    reason="needs the train-readers extra: pip install -e '.[train-readers]' (megatron-core, mosaicml-streaming)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("exported")
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(root / "run"), "-q")
    assert result.returncode == 0, result.stderr
    shards = [str(p) for p in sorted((root / "run" / "data").glob("*.parquet"))]
    export_tokenized(shards, str(root / "megatron"), "megatron")
    export_tokenized(shards, str(root / "mds"), "mds")
    tokenizer = load_tokenizer("qwen2.5")
    records = list(read_records(shards))
    want = [(r["id"], ids + [tokenizer.eod_id]) for r, ids in zip(records, tokenizer.encode([r["text"] for r in records]))]
    return root, want


def test_megatron_core_reads_the_indexed_dataset(exported):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    root, want = exported
    dataset = IndexedDataset(str(root / "megatron" / "corpus"))
    assert len(dataset) == len(want)
    assert [np.asarray(dataset[i]).tolist() for i in range(len(dataset))] == [ids for _, ids in want]
    assert list(dataset.document_indices) == list(range(len(want) + 1))


def test_streaming_reads_the_mds_dataset(exported):
    from streaming import StreamingDataset

    root, want = exported
    dataset = StreamingDataset(local=str(root / "mds"), shuffle=False, batch_size=1)
    got = [(sample["id"], np.asarray(sample["tokens"]).tolist()) for sample in (dataset[i] for i in range(dataset.num_samples))]
    assert got == want


def test_the_frameworks_read_a_releases_tokenized_mixture(tmp_path):
    """`megamath release --mix --tokenized`: the mixture's Megatron and MDS files, read by the frameworks,
    hold the mixture's rows in order, each document its text's tokens and the end-of-document token."""
    import pyarrow.parquet as pq
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from streaming import StreamingDataset

    run = tmp_path / "run"
    assert run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(run), "-q").returncode == 0
    result = run_cli("release", f"web={run}", "-o", str(tmp_path / "rel"), "--mix", "web=1", "--mix-tokens", "5000",
                     "--tokenized", "megatron,mds")
    assert result.returncode == 0, result.stderr
    rows = [r for p in sorted((tmp_path / "rel" / "data" / "mix").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    tokenizer = load_tokenizer("qwen2.5")
    want = [ids + [tokenizer.eod_id] for ids in tokenizer.encode([r["text"] for r in rows])]
    megatron = IndexedDataset(str(tmp_path / "rel" / "tokenized" / "mix" / "megatron" / "corpus"))
    assert [np.asarray(megatron[i]).tolist() for i in range(len(megatron))] == want
    mds = StreamingDataset(local=str(tmp_path / "rel" / "tokenized" / "mix" / "mds"), shuffle=False, batch_size=1)
    assert [np.asarray(mds[i]["tokens"]).tolist() for i in range(mds.num_samples)] == want
