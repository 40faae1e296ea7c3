"""MinHash-LSH dedup against a brute-force Jaccard oracle, determinism, integrity checks, the CLI."""

import random

import numpy as np
import pytest

from megamath.dedup.lsh import LshConfig, band_edges, document_key, slice_names
from megamath.dedup.minhash import Signer, detection_probability, suggest_parameters, threshold_at_half
from megamath.dedup.ngrams import NgramHasher, normalize
from megamath.dedup.store import CorruptFileError, load_arrays, save_arrays
from megamath.pipelines.dedup import deduplicate
from megamath.report.collect import collect
from megamath.report.html import render
from megamath.runtime import storage
from megamath.runtime.executor import LocalExecutor
from megamath.runtime.shards import ShardWriter, read_shard

from conftest import SHARED, run_cli
from fixtures.dedup_oracle import read_decisions, single_task_components

DOLMA = SHARED / "data" / "seeds" / "nonmath" / "allenai__dolma" / "tests" / "data" / "formats" / "gz"


def real_documents() -> list[dict]:
    if not DOLMA.is_dir():
        pytest.skip(f"Common Crawl sample not found at {DOLMA}")
    docs = []
    for path in sorted(DOLMA.glob("*.jsonl.gz")):
        docs.extend(r for r in read_shard(path) if isinstance(r, dict) and len(r.get("text", "").split()) >= 50)
    return docs


def edited(text: str, fraction: float, rng: random.Random) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[i] = rng.choice(["alpha", "beta", "gamma", "delta", "omega", "kappa"])
    return " ".join(words)


def corpus_with_near_duplicates(seed: int = 0) -> tuple[list[dict], dict[str, str]]:
    rng = random.Random(seed)
    docs = real_documents()
    records = [{"id": d["id"], "text": d["text"], "url": "", "source": f"orig:{d['id']}", "meta": {}} for d in docs]
    origin = {}
    for d in rng.sample(docs, 120):
        for fraction in (0.0, 0.01, 0.05, 0.3):
            rid = f"{d['id']}-edit{fraction}"
            records.append({"id": rid, "text": edited(d["text"], fraction, rng), "url": "", "source": f"copy:{rid}",
                            "meta": {}})
            origin[rid] = d["id"]
    rng.shuffle(records)
    return records, origin


def write_shards(records: list[dict], folder, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(folder / f"part-{i}.jsonl.zst") for i in range(count)]
    writers = [ShardWriter(p) for p in paths]
    for i, record in enumerate(records):
        writers[i % count].write(record)
    for writer in writers:
        writer.close()
    return paths


def kept_ids(run_dir) -> set[str]:
    return {r["id"] for shard in sorted((run_dir / "data").glob("*.parquet")) for r in read_shard(shard)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def test_matches_brute_force_oracle_and_is_deterministic(tmp_path):
    records, origin = corpus_with_near_duplicates()
    config = LshConfig()
    shards_a = write_shards(records, tmp_path / "in3", 3)
    counts = deduplicate(shards_a, str(tmp_path / "run-w1"), config, LocalExecutor(workers=1), show_progress=False).counts
    kept = kept_ids(tmp_path / "run-w1")
    # the 0%-edit copies, 1%-edits of short documents (no word changed), and exact duplicates in the crawl itself
    assert counts["documents"] == len(records) and counts["exact_duplicates"] >= 120
    # the oracle: exact Jaccard of 5-gram sets. At ≥ 0.92 detection is all but certain (P > 0.999 for
    # 11 × 10); at ≤ 0.5 it is all but impossible (P < 0.011)
    shingles = {r["id"]: set(_shingles(r["text"])) for r in records}
    for rid, original in origin.items():
        similarity = jaccard(shingles[rid], shingles[original])
        if similarity >= 0.92:
            assert not (rid in kept and original in kept), (rid, similarity)
        elif similarity <= 0.5:
            assert rid in kept or original not in kept, (rid, similarity)
    # no false merges among the real documents: brute-force Jaccard of every dropped original
    originals = {r["id"] for r in records if r["source"].startswith("orig:")}
    for dropped in originals - kept:
        best = max(jaccard(shingles[dropped], shingles[k]) for k in kept if k != dropped)
        assert best >= 0.5, (dropped, best)
    # same kept set with 2 workers, another sharding, and each band split in 3 partitions
    shards_b = write_shards(records, tmp_path / "in5", 5)
    deduplicate(shards_b, str(tmp_path / "run-w2"), LshConfig(partitions=3), LocalExecutor(workers=2),
                show_progress=False)
    assert kept_ids(tmp_path / "run-w2") == kept
    meta = next(read_shard(next((tmp_path / "run-w1" / "data").glob("*.parquet"))))["meta"]
    assert len(meta["dedup_cluster"]) == 16 and meta["dedup_cluster_size"] >= 1


def _shingles(text: str, n: int = 5) -> list[str]:
    words = normalize(text).split()
    return [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))]


def test_ngram_hashes_count_distinct_shingles():
    texts = ["The quick brown fox jumps over the lazy dog again and again.", "tiny", "", "a b c d e f"]
    hashes, offsets = NgramHasher(5).hash_batch(texts)
    for i, text in enumerate(texts):
        own = hashes[offsets[i]:offsets[i + 1]]
        assert len(own) == (len(_shingles(text)) if normalize(text).split() else 0)
    again, _ = NgramHasher(5).hash_batch(texts)
    assert np.array_equal(hashes, again)  # stable across instances (and processes: no salted hash())


def test_signing_in_chunks_and_exact_similarity_agree_with_whole_batches_and_python_sets(monkeypatch):
    from megamath.dedup import minhash

    rng = random.Random(5)
    vocabulary = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 60))) for _ in range(120)]
    whole = Signer(minhash.MinHashConfig()).signatures(texts, 64, shingles=True)
    monkeypatch.setattr(minhash, "_CHUNK_CHARACTERS", 500)  # a chunk every few documents, some empty
    chunked = Signer(minhash.MinHashConfig()).signatures(texts, 64, shingles=True)
    for field in whole._fields:
        assert np.array_equal(getattr(whole, field), getattr(chunked, field)), field
    counts, sets = minhash.shingle_sets(whole.shingle_counts, whole.shingles)
    starts = minhash.row_starts(counts)
    as_python = [set(sets[start:start + count].tolist()) for start, count in zip(starts, counts)]
    assert all(len(s) == c for s, c in zip(as_python, counts))
    a, b = (np.array([rng.randrange(len(texts)) for _ in range(300)]) for _ in range(2))
    monkeypatch.setattr(minhash, "_PAIR_ELEMENTS", 1000)  # several batches of pairs
    similarity = minhash.shingle_similarity(counts, starts, sets, a, b)
    expected = [len(as_python[i] & as_python[j]) / len(as_python[i] | as_python[j]) if as_python[i] | as_python[j]
                else 1.0 for i, j in zip(a, b)]
    assert np.allclose(similarity, expected) and 0 < np.mean(similarity) < 1


def test_s_curve_arithmetic():
    assert threshold_at_half(11, 10) == pytest.approx(0.756, abs=0.001)
    assert detection_probability(threshold_at_half(11, 10), 11, 10) == pytest.approx(0.5)
    bands, rows = suggest_parameters(0.8)
    assert abs(threshold_at_half(bands, rows) - 0.8) < 0.05


def test_damaged_signature_files_are_named(tmp_path):
    path = tmp_path / "x.sig"
    keys, hashes = slice_names(0, 0)
    save_arrays(path, **{keys: np.arange(10, dtype=np.uint64), hashes: np.arange(10, dtype=np.uint64)})
    assert load_arrays(path)[keys].tolist() == list(range(10))
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="x.sig.*checksum"):
        band_edges([str(path)], 0, 0)
    path.write_bytes(bytes(data[:-20]))
    with pytest.raises(CorruptFileError, match="cut short"):
        load_arrays(path)
    path.write_bytes(b"garbage\n")
    with pytest.raises(CorruptFileError, match="x.sig"):
        load_arrays(path)


def test_cli_plan_and_run(tmp_path):
    records, _ = corpus_with_near_duplicates(seed=1)
    shards = write_shards(records[:300], tmp_path / "in", 2)
    plan = run_cli("dedup", "plan", "--threshold", "0.7")
    assert plan.returncode == 0 and "50% at Jaccard similarity 0.756" in plan.stdout and "suggested" in plan.stdout
    run = run_cli("dedup", "run", *shards, "-o", str(tmp_path / "run"), "-q", "-w", "2")
    assert run.returncode == 0, run.stderr
    assert "dedup" in run.stdout and "near duplicates removed" in run.stdout
    kept = kept_ids(tmp_path / "run")
    # a signature file damaged after it was written: its seal no longer matches, so its shard is signed
    # again, and the result is the same
    signature = next((tmp_path / "run" / "work" / "sign" / "data").glob("*.sig"))
    signature.write_bytes(signature.read_bytes()[:-5])
    for folder in ("bands", "gather", "verify", *(f"components/{step.name}" for step in
                                                   (tmp_path / "run" / "work" / "components").iterdir())):
        storage.remove_tree(str(tmp_path / "run" / "work" / folder / ".megamath" / "done"))
    storage.remove_tree(str(tmp_path / "run" / ".megamath" / "done"))
    rerun = run_cli("dedup", "run", *shards, "-o", str(tmp_path / "run"), "-q")
    assert rerun.returncode == 0, rerun.stderr
    log = (tmp_path / "run" / "logs" / "run.log").read_text()
    assert f"is damaged ({signature} no longer matches the seal of its done record)" in log
    assert load_arrays(signature)["keys"].size > 0
    assert kept_ids(tmp_path / "run") == kept


def test_content_hash_follows_the_normalized_words():
    hasher = NgramHasher(5)
    texts = ["The  Cat sat, on the MAT!", "the cat sat on the mat", "the mat sat on the cat", "the cat sat on the"]
    hashes = hasher.sequence_hashes(hasher.word_hashes(texts)).tolist()
    assert hashes[0] == hashes[1] and len(set(hashes[1:])) == 3


def test_the_kept_set_does_not_depend_on_where_the_inputs_were_read_from(tmp_path):
    """The same WARC files in two places (a local copy and, in the issue, an object store): the pages
    of one near-duplicate cluster keep the same representative."""
    import shutil

    from fixtures.corpus import make_batch

    make_batch(tmp_path / "here", files=2, pages=150)  # templated pages: many near-duplicate clusters
    shutil.copytree(tmp_path / "here", tmp_path / "elsewhere" / "copy")
    kept = {}
    for place in ("here", "elsewhere/copy"):
        extract = run_cli("web", "extract", str(tmp_path / place / "*.warc.gz"), "-o", str(tmp_path / place / "s1"), "-q")
        assert extract.returncode == 0, extract.stderr
        shards = sorted(str(p) for p in (tmp_path / place / "s1" / "data").glob("*.parquet"))
        result = run_cli("dedup", "run", *shards, "-o", str(tmp_path / place / "dedup"), "-q")
        assert result.returncode == 0, result.stderr
        kept[place] = kept_ids(tmp_path / place / "dedup")
    assert 0 < len(kept["here"]) < 300 and kept["here"] == kept["elsewhere/copy"]


def decisions_of(run_dir) -> dict[int, tuple[int, int]]:
    """key → (representative key, reason) of every clustered document, from the verify phase's files."""
    decided = read_decisions(sorted((run_dir / "work" / "verify" / "data").glob("*.arrays")))
    return dict(zip(decided["keys"].tolist(), zip(decided["representative"].tolist(), decided["reason"].tolist())))


def single_task_kept(records: list[dict], config: LshConfig) -> set[str]:
    """The kept set of dedup's single-task clustering: every document linked to the first of each
    band or content hash it shares, connected components in one process, the smallest key kept."""
    signer = Signer(config.minhash)
    signed = signer.signatures([r["text"] for r in records])
    keys = np.array([document_key(r) for r in records], dtype=np.uint64)
    usable = signed.has_ngrams
    columns = [(keys, signed.content)] + [(keys[usable], column[usable]) for column in signer.band_hashes(signed.values).T]
    u, v = [], []
    for column_keys, hashes in columns:
        first: dict[int, int] = {}
        for key, h in sorted(zip(column_keys.tolist(), hashes.tolist()), key=lambda kh: (kh[1], kh[0])):
            if h in first:
                u.append(first[h])
                v.append(key)
            else:
                first[h] = key
    nodes, representative = single_task_components(keys, np.array(u, dtype=np.uint64), np.array(v, dtype=np.uint64))
    kept_keys = set(nodes[nodes == representative].tolist())
    return {r["id"] for r, key in zip(records, keys.tolist()) if key in kept_keys}


def test_unverified_clusters_are_the_single_task_ones_and_verified_removals_are_near_duplicates(tmp_path):
    records, _ = corpus_with_near_duplicates(seed=2)
    shards = write_shards(records, tmp_path / "in", 3)
    plain = LshConfig(partitions=2, verify=False)
    deduplicate(shards, str(tmp_path / "plain"), plain, LocalExecutor(workers=2), show_progress=False)
    assert kept_ids(tmp_path / "plain") == single_task_kept(records, plain)

    verified = LshConfig(partitions=2)
    counts = deduplicate(shards, str(tmp_path / "verified"), verified, LocalExecutor(workers=2),
                         show_progress=False).counts
    by_key = {document_key(r): r for r in records}
    shingles = {key: set(_shingles(r["text"])) for key, r in by_key.items()}
    removed = {key: rep for key, (rep, reason) in decisions_of(tmp_path / "verified").items() if reason}
    assert len(removed) == counts["exact_duplicates"] + counts["near_duplicates"] > 0
    similarity = [jaccard(shingles[key], shingles[rep]) for key, rep in removed.items()]
    threshold = verified.similarity_threshold
    assert min(similarity) >= threshold  # whole shingle sets: the exact similarity
    # without verification, chains of band collisions removed documents far from what was kept
    unverified = {key: rep for key, (rep, reason) in decisions_of(tmp_path / "plain").items() if reason}
    assert min(jaccard(shingles[key], shingles[rep]) for key, rep in unverified.items()) < threshold - 0.12
    assert counts["refused"] > 0 and len(counts["refused_examples"]) == 5
    assert kept_ids(tmp_path / "verified") > kept_ids(tmp_path / "plain")
    # with sketches of 512 values, estimates err by about 0.02 near the threshold
    counts = deduplicate(shards, str(tmp_path / "sketch"), LshConfig(partitions=2, verify_sketch=512),
                         LocalExecutor(workers=2), show_progress=False).counts
    removed = {key: rep for key, (rep, reason) in decisions_of(tmp_path / "sketch").items() if reason}
    assert len(removed) == counts["exact_duplicates"] + counts["near_duplicates"] > 0
    assert min(jaccard(shingles[key], shingles[rep]) for key, rep in removed.items()) >= threshold - 0.06
    # the report says what verification confirmed and refused, with examples
    counts = deduplicate(shards, str(tmp_path / "verified"), verified, LocalExecutor(workers=2),
                         show_progress=False).counts  # resumed: nothing runs again
    page = render(collect([str(tmp_path / "verified")]))
    assert "Verified removals" in page and f"<td>{counts['refused']:,}</td>" in page
    assert counts["refused_examples"][0]["key"] in page


def test_array_files_read_any_slice_and_every_damage_is_named(tmp_path):
    """The indexed format: every dtype and shape the passes write, a slice read alone, digests of every
    byte value (a digest may end in zero bytes), damage anywhere named; files of the first format (one
    line of JSON, then the bytes) still read."""
    rng = np.random.default_rng(3)
    arrays = {f"b{i}.p{i % 7}.keys": rng.integers(0, 2**63, size=int(rng.integers(0, 50)), dtype=np.uint64)
              for i in range(300)}
    arrays |= {"sketches": rng.integers(0, 256, size=(40, 64), dtype=np.uint8), "empty": np.zeros((0, 3), np.uint32),
               "flags": rng.random(17) < 0.5, "scalar": np.array(2.5)}
    import hashlib

    zero_ended = next(value for value in range(10**6)  # an array whose digest ends in a zero byte
                      if hashlib.sha256(np.array([value], np.uint64).tobytes()).digest()[-1] == 0)
    arrays["zero-ended digest"] = np.array([zero_ended], np.uint64)
    path = tmp_path / "a.arrays"
    save_arrays(path, **arrays)
    loaded = load_arrays(path)
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name], array), name
    assert list(load_arrays(path, ("b17.p3.keys", "sketches", "absent"))) == ["b17.p3.keys", "sketches"]
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 30):
        path.write_bytes(data[:cut])
        with pytest.raises(CorruptFileError, match="a.arrays.*cut short"):
            load_arrays(path, ("b1.p1.keys",))
    path.write_bytes(data + b"x")
    with pytest.raises(CorruptFileError, match="after the last array"):
        load_arrays(path, ("b1.p1.keys",))
    with pytest.raises(ValueError, match="at most 56 bytes"):
        save_arrays(tmp_path / "b.arrays", **{"n" * 57: np.zeros(1)})
    import json

    blob = np.arange(5, dtype=np.uint32).tobytes()
    header = {"magic": "megamath-array-1", "arrays": [{"name": "x", "dtype": "<u4", "shape": [5], "bytes": len(blob),
                                                          "sha256": hashlib.sha256(blob).hexdigest()}]}
    (tmp_path / "old.arrays").write_bytes(json.dumps(header).encode() + b"\n" + blob)
    assert load_arrays(tmp_path / "old.arrays")["x"].tolist() == [0, 1, 2, 3, 4]


def test_an_array_file_whose_index_claims_more_than_the_file_holds_is_named(tmp_path):
    path = tmp_path / "a.arrays"
    save_arrays(path, x=np.arange(4, dtype=np.uint64))
    data = bytearray(path.read_bytes())
    data[17:25] = (2**60).to_bytes(8, "little")  # the count of arrays, after the magic line
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="a.arrays: its index is cut short"):
        load_arrays(path)
