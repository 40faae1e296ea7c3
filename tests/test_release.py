"""The release: typed Parquet shards, the mixture by token ratios, the card inside the folder (loaded by
`datasets`), and tokenized training data — Megatron-LM's indexed dataset and MosaicML Streaming's MDS,
checked byte by byte against the layouts their readers document (docs/training-data.md), on the example's
real pages. Reading them back with megatron-core and mosaicml-streaming (which pull in torch) is the
optional `train-readers` extra: tests/test_release_readers.py."""

import json
import struct

import numpy as np
import pytest

from megamath.profile.tokenizer import load_tokenizer
from megamath.release.dataset import ReleaseConfig, ReleaseError, mixture_plan, write_release
from megamath.release.tokenized import MdsWriter, export_tokenized, read_megatron
from megamath.runtime.shards import ShardWriter, read_records

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


def test_a_release_folder_loads_alone_with_meta_as_a_struct(corpus, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    run = corpus[0].rsplit("/data/", 1)[0]
    out = tmp_path / "release"
    result = run_cli("release", f"web={run}", "-o", str(out), "--mix", "web=1")
    assert result.returncode == 0, result.stderr
    assert (out / "report.html").is_file() and json.loads((out / "release.json").read_text())["subsets"]["web"]["rows"]
    shards = sorted((out / "data" / "web").glob("*.parquet"))
    assert [p.name for p in shards] == ["web-00000.parquet"]
    assert pq.read_schema(shards[0]).field("meta").type.num_fields > 10
    card = (out / "README.md").read_text()
    assert "path: data/web/*.parquet" in card and "path: data/mix/*.parquet" in card and "## Release" in card
    exported = run_cli("export", str(out / "data" / "mix" / "*.parquet"), "-o", str(tmp_path / "mds"), "--format", "mds")
    assert exported.returncode == 0 and f"{len(list(read_records(corpus)))} documents" in exported.stdout, exported.stderr
    moved = tmp_path / "moved"
    out.rename(moved)  # the folder alone: nothing outside it is needed
    web = datasets.load_dataset(str(moved), "web", split="train")
    original = list(read_records(corpus))
    assert web.num_rows == len(original) and web[0]["text"] == original[0]["text"]
    assert isinstance(web.features["meta"], dict) and web.features["meta"]["math_score"].dtype == "float64"
    assert web[0]["meta"]["lang"] == original[0]["meta"]["lang"] and "lang_unmasked" in json.loads(web[0]["meta_rest"])
    assert datasets.load_dataset(str(moved), "mix", split="train").num_rows == len(original)


def _synthetic_subset(folder, name: str, docs: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    path = folder / f"{name}.parquet"
    with ShardWriter(path) as writer:
        for i in range(docs):
            tokens = int(rng.integers(20, 600))
            writer.write({"id": f"{name}-{i}", "text": "x " * tokens, "url": None, "source": name,
                          "meta": {"tokens": tokens, "lang": "en",
                                   "code": {"language": "python", "licenses": ["MIT", "Apache-2.0"]} if name == "code" else None}})
    return [str(path)]


def test_the_mixture_meets_its_token_ratios_by_repeating_and_sampling_subsets(tmp_path):
    subsets = {"web": _synthetic_subset(tmp_path / "w", "web", 3000, 1), "code": _synthetic_subset(tmp_path / "c", "code", 400, 2)}
    config = ReleaseConfig(shard_rows=500, mix={"web": 0.4, "code": 0.6}, seed=7)
    summary = write_release(subsets, str(tmp_path / "out"), config)
    web, code = summary["subsets"]["web"], summary["subsets"]["code"]
    assert [s["rows"] for s in web["shards"]] == [500] * 6 and len(code["shards"]) == 1
    import pyarrow.parquet as pq

    first = pq.read_table(code["shards"][0]["path"]).slice(0, 1).to_pylist()[0]
    assert first["meta"]["code_language"] == "python" and first["meta"]["code_licence"] == "MIT, Apache-2.0"
    assert first["meta"]["tokens"] > 0 and first["meta"]["math_score"] is None and first["subset"] == "code"
    assert sorted(p.name for p in (tmp_path / "out" / "data" / "web").iterdir()) == [f"web-{i:05d}.parquet" for i in range(6)]
    mix = summary["mix"]
    # the default size takes no subset more than once: code, the scarcer for its share, is taken whole
    assert mix["subsets"]["code"]["epochs"] == 1.0 and mix["subsets"]["web"]["epochs"] < 1
    for name, share in config.mix.items():
        assert abs(mix["subsets"][name]["achieved_share"] - share) <= 0.01, mix["subsets"]
    # a larger mixture repeats the scarce subset: whole passes, then a sample
    bigger = ReleaseConfig(mix={"web": 0.4, "code": 0.6}, mix_tokens=3 * code["tokens"], seed=7)
    summary = write_release(subsets, str(tmp_path / "out2"), bigger)
    for name, share in bigger.mix.items():
        assert abs(summary["mix"]["subsets"][name]["achieved_share"] - share) <= 0.01
    assert abs(summary["mix"]["tokens"] - 3 * code["tokens"]) <= 0.01 * 3 * code["tokens"]
    ids = [r["id"] for r in read_records(sorted(str(p) for p in (tmp_path / "out2" / "data" / "mix").glob("*.parquet")))]
    assert len(ids) > len(set(ids)) and ids != sorted(ids)  # repeated documents, shuffled together
    again = write_release(subsets, str(tmp_path / "out3"), bigger)  # the same seed gives the same mixture
    assert again["mix"]["tokens"] == summary["mix"]["tokens"]
    with pytest.raises(ReleaseError, match="names qa, which is not a subset"):
        mixture_plan(summary["subsets"], ReleaseConfig(mix={"qa": 1.0}))


def test_the_python_api_example_runs_as_documented(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "examples" / "python_api.py"), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "$ax^2 + bx + c = 0$" in done.stdout and "https://forum.example.net/q/1234/product-rule" in done.stdout
    assert "release: 5 rows" in done.stdout and (tmp_path / "release" / "README.md").is_file()
    assert (tmp_path / "megatron" / "corpus.idx").is_file()


def test_a_release_made_again_keeps_nothing_of_the_old_one(corpus, tmp_path):
    run = corpus[0].rsplit("/data/", 1)[0]
    out = tmp_path / "release"
    assert run_cli("release", f"web={run}", f"old={run}", "-o", str(out), "--tokenized", "megatron").returncode == 0
    assert (out / "data" / "old").is_dir() and (out / "tokenized" / "old").is_dir()
    again = run_cli("release", f"web={run}", "-o", str(out))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in (out / "data").iterdir()) == ["web"] and not (out / "tokenized").exists()
    assert json.loads((out / "release.json").read_text())["state"] == "finished"
    mine = tmp_path / "mine"  # a folder of the user's: its files stay
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert run_cli("release", f"web={run}", "-o", str(mine)).returncode == 0 and (mine / "notes.txt").is_file()


def test_a_release_counts_the_tokens_of_records_whose_meta_has_none(tmp_path):
    import pyarrow.parquet as pq

    texts = [f"document {i} " + "x y " * (i % 50) for i in range(5000)]
    with ShardWriter(tmp_path / "in.parquet") as writer:
        for i, text in enumerate(texts):
            writer.write({"id": str(i), "text": text, "meta": {"tokens": 7} if i % 3 == 0 else {}})
    summary = write_release({"a": [str(tmp_path / "in.parquet")]}, str(tmp_path / "out"), tokenizer_spec="qwen2.5")
    want = [7 if i % 3 == 0 else n for i, n in enumerate(load_tokenizer("qwen2.5").count(texts))]
    got = [m["tokens"] for s in summary["subsets"]["a"]["shards"] for m in pq.read_table(s["path"]).column("meta").to_pylist()]
    assert got == want and summary["subsets"]["a"]["tokens"] == sum(want)
    assert summary["subsets"]["a"]["tokens_counted_here"] == sum(1 for i in range(5000) if i % 3)
