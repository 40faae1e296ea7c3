import zstandard

from megamath.runtime.shards import ShardWriter, read_shard
from megamath.runtime.stage import Drop

RECORDS = [
    {"id": f"r{i}", "text": f"text {i} ∑ é", "url": f"https://x.org/{i}", "source": f"f.warc@{i}",
     "meta": {"lang": "en", "score": i / 3, "nested": {"a": [1, 2]}}}
    for i in range(25)
]


def test_roundtrip_every_format(tmp_path):
    for suffix in (".parquet", ".jsonl.zst", ".jsonl.gz", ".jsonl"):
        path = tmp_path / f"shard{suffix}"
        with ShardWriter(path, row_group_size=7) as writer:
            for record in RECORDS:
                writer.write(dict(record, html="<p>x</p>"))
        assert writer.count == len(RECORDS)
        back = list(read_shard(path))
        assert back == [dict(r, html="<p>x</p>") for r in RECORDS], suffix


def test_drop_fields_are_not_written(tmp_path):
    path = tmp_path / "s.parquet"
    with ShardWriter(path, drop_fields=("html",)) as writer:
        writer.write(dict(RECORDS[0], html="<p>big</p>"))
    assert list(read_shard(path)) == [RECORDS[0]]


def test_parquet_is_written_in_row_groups(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "s.parquet"
    with ShardWriter(path, row_group_size=10) as writer:
        for record in RECORDS:
            writer.write(record)
    assert pq.ParquetFile(path).num_row_groups == 3


def test_broken_jsonl_lines_are_counted_drops(tmp_path):
    path = tmp_path / "bad.jsonl.zst"
    lines = b'{"id": "a", "text": "ok"}\n{"id": "b", "te\n[1, 2]\n\n{"id": "c", "text": "ok"}\n'
    path.write_bytes(zstandard.ZstdCompressor().compress(lines))
    items = list(read_shard(path))
    assert [i["id"] for i in items if not isinstance(i, Drop)] == ["a", "c"]
    assert [i.reason for i in items if isinstance(i, Drop)] == ["bad_json", "bad_json"]
    assert items[1].record["source"].endswith(":2")
