"""Tokenized training data: Megatron-LM's indexed dataset and MosaicML Streaming's MDS, checked byte by
byte against the layouts their readers document (docs/training-data.md), on the example's real pages.
Reading them back with megatron-core and mosaicml-streaming (which pull in torch) is the optional
`train-readers` extra: tests/test_release_readers.py."""

import json
import struct

import numpy as np
import pytest

from megamath.profile.tokenizer import load_tokenizer
from megamath.release.tokenized import MdsWriter, export_tokenized, read_megatron
from megamath.runtime.shards import read_records

from conftest import EXAMPLE_WARC, run_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    run = tmp_path_factory.mktemp("corpus") / "run"
    result = run_cli("web", "extract", str(EXAMPLE_WARC), "-o", str(run), "-q")
    assert result.returncode == 0, result.stderr
    return [str(p) for p in sorted((run / "data").glob("*.parquet"))]


def expected_documents(shards: list[str], tokenizer: str) -> list[tuple[str, list[int]]]:
    encoder = load_tokenizer(tokenizer)
    records = list(read_records(shards))
    return [(r["id"], ids + [encoder.eod_id]) for r, ids in zip(records, encoder.encode([r["text"] for r in records]))]


@pytest.mark.parametrize("tokenizer, dtype, code", [("qwen2.5", np.int32, 4), ("cl100k_base", np.int32, 4)])
def test_megatron_index_and_data_follow_the_documented_layout(corpus, tmp_path, tokenizer, dtype, code):
    summary = export_tokenized(corpus, str(tmp_path), "megatron", tokenizer)
    want = expected_documents(corpus, tokenizer)
    assert summary["documents"] == len(want) == 5 and summary["tokens"] == sum(len(ids) for _, ids in want)
    idx = (tmp_path / "corpus.idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", idx[9:17]) == (1,) and idx[17] == code
    sequences, documents = struct.unpack("<QQ", idx[18:34])
    assert (sequences, documents) == (5, 6)
    lengths = np.frombuffer(idx, np.int32, 5, 34)
    pointers = np.frombuffer(idx, np.int64, 5, 34 + 20)
    document_index = np.frombuffer(idx, np.int64, 6, 34 + 20 + 40)
    assert len(idx) == 34 + 20 + 40 + 48
    assert lengths.tolist() == [len(ids) for _, ids in want]
    assert pointers.tolist() == (np.concatenate([[0], np.cumsum(lengths)[:-1]]) * np.dtype(dtype).itemsize).tolist()
    assert document_index.tolist() == [0, 1, 2, 3, 4, 5]
    data = np.fromfile(tmp_path / "corpus.bin", dtype=dtype)
    assert data.tolist() == [t for _, ids in want for t in ids]
    assert [d.tolist() for d in read_megatron(str(tmp_path / "corpus"))] == [ids for _, ids in want]


def test_a_small_vocabulary_is_written_as_uint16(corpus, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = [r["text"] for r in read_records(corpus)]
    trained = Tokenizer(models.BPE(unk_token="[UNK]"))
    trained.pre_tokenizer = pre_tokenizers.Whitespace()
    trained.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]", "</s>"]))
    trained.save(str(tmp_path / "tokenizer.json"))
    summary = export_tokenized(corpus, str(tmp_path / "out"), "megatron", str(tmp_path / "tokenizer.json"))
    assert summary["dtype"] == "uint16" and summary["eod_id"] == trained.token_to_id("</s>")
    assert (tmp_path / "out" / "corpus.idx").read_bytes()[17] == 8
    documents = read_megatron(str(tmp_path / "out" / "corpus"))
    assert [d[-1] for d in documents] == [summary["eod_id"]] * 5


def _read_mds_shard(path) -> tuple[dict, list[tuple[str, list[int]]]]:
    """The shard by the layout alone: count, offsets, configuration, samples (sizes, then columns)."""
    data = path.read_bytes()
    count = int(np.frombuffer(data, np.uint32, 1, 0)[0])
    offsets = np.frombuffer(data, np.uint32, count + 1, 4)
    config = json.loads(data[4 + 4 * (count + 1): offsets[0]])
    assert offsets[-1] == len(data)
    samples = []
    for start, end in zip(offsets[:-1], offsets[1:]):
        id_size, tokens_size = np.frombuffer(data, np.uint32, 2, start)
        body = data[start + 8: end]
        assert id_size + tokens_size == len(body)
        doc_id, tokens = body[:id_size].decode("utf-8"), body[id_size:]
        ndim, shape_code = tokens[0] >> 2, tokens[0] & 3
        shape_dtype = {1: np.uint16, 2: np.uint32}[shape_code]
        (length,) = np.frombuffer(tokens, shape_dtype, ndim, 1)
        values = np.frombuffer(tokens, config["column_encodings"][1].split(":")[1], length, 1 + np.dtype(shape_dtype).itemsize)
        assert 1 + np.dtype(shape_dtype).itemsize + values.nbytes == len(tokens)
        samples.append((doc_id, values.tolist()))
    return config, samples


def test_mds_shards_and_index_follow_the_documented_layout(corpus, tmp_path):
    summary = export_tokenized(corpus, str(tmp_path), "mds", "qwen2.5")
    want = expected_documents(corpus, "qwen2.5")
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["version"] == 2 and len(index["shards"]) == 1
    shard = index["shards"][0]
    assert shard["column_names"] == ["id", "tokens"] and shard["column_encodings"] == ["str", "ndarray:uint32"]
    assert shard["column_sizes"] == [None, None] and shard["format"] == "mds" and shard["samples"] == 5
    path = tmp_path / shard["raw_data"]["basename"]
    assert shard["raw_data"]["bytes"] == path.stat().st_size
    config, samples = _read_mds_shard(path)
    assert config == {k: shard[k] for k in ("column_encodings", "column_names", "column_sizes", "compression",
                                            "format", "hashes", "size_limit", "version")}
    assert samples == want and summary["tokens"] == sum(len(ids) for _, ids in want)


def test_mds_starts_a_new_shard_at_the_size_limit(tmp_path):
    rng = np.random.default_rng(0)
    documents = [(f"d{i}", rng.integers(0, 150_000, size=int(rng.integers(1, 3000)))) for i in range(200)]
    with MdsWriter(str(tmp_path), vocab_size=151_644, size_limit=100_000) as writer:
        for doc_id, ids in documents:
            writer.add(doc_id, ids)
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["shards"]) > 5 and sum(s["samples"] for s in index["shards"]) == 200
    read = []
    for shard in index["shards"]:
        assert shard["raw_data"]["bytes"] <= 100_000
        read += _read_mds_shard(tmp_path / shard["raw_data"]["basename"])[1]
    assert read == [(doc_id, ids.tolist()) for doc_id, ids in documents]


def test_the_command_writes_both_and_refuses_a_tokenizer_without_an_end_of_document_token(corpus, tmp_path):
    result = run_cli("export", *corpus, "-o", str(tmp_path / "m"), "--format", "megatron", "-q")
    assert result.returncode == 0, result.stderr
    assert "5 documents" in result.stdout and "end-of-document id 151643" in result.stdout
    assert json.loads((tmp_path / "m" / "export.json").read_text())["files"] == ["corpus.bin", "corpus.idx"]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    plain = Tokenizer(models.BPE(unk_token="[UNK]"))
    plain.pre_tokenizer = pre_tokenizers.Whitespace()
    plain.train_from_iterator(["a few words"] * 5, trainers.BpeTrainer(vocab_size=40, special_tokens=["[UNK]"]))
    plain.save(str(tmp_path / "plain.json"))
    refused = run_cli("export", *corpus, "-o", str(tmp_path / "x"), "--format", "mds", "--tokenizer",
                      str(tmp_path / "plain.json"))
    assert refused.returncode == 1 and "no end-of-document token" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x" / "index.json").exists()
