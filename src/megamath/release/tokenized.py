"""Tokenized training data in the two layouts training frameworks read, written without them.

* **Megatron-LM's indexed dataset** (``PREFIX.bin`` + ``PREFIX.idx``, read by megatron-core's
  ``IndexedDataset``): the ``.bin`` file is every document's token ids back to back; the ``.idx``
  file is the magic ``MMIDIDX\\x00\\x00``, the version (uint64 1), the dtype code (uint8: 8 for uint16,
  4 for int32), the number of sequences and of document indices (uint64 each), then each sequence's
  length (int32), its byte offset in ``.bin`` (int64) and the document indices (int64: 0, then the
  end of each document). One document is one sequence, its ids followed by the end-of-document token,
  as Megatron's ``preprocess_data.py --append-eod`` writes.
* **MosaicML Streaming's MDS** (``index.json`` + ``shard.NNNNN.mds``, read by ``StreamingDataset``):
  each shard is the number of samples (uint32), their offsets (uint32, from the file's start), the
  shard's configuration as JSON, then the samples; a sample is the byte sizes of its variable-size
  columns (uint32 each, columns in name order) then their data. Columns: ``id`` (``str``) and
  ``tokens`` (``ndarray:uint16`` or ``ndarray:uint32``: a shape byte, the length, then the ids, the
  end-of-document token last). ``index.json`` lists every shard's configuration, size and count.

Both writers write each file under a temporary name and publish it whole at the end (see
:func:`megamath.runtime.storage.atomic_output`), so a killed export leaves no file that reads as
finished.
"""

from __future__ import annotations

import json
import os
import struct
from contextlib import ExitStack
from typing import BinaryIO

import numpy as np

from megamath.runtime import storage

MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
_MEGATRON_DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
_MDS_SHAPE_UINT16, _MDS_SHAPE_UINT32 = 1, 2  # NDArray shape dtype codes
MDS_SIZE_LIMIT = 1 << 26  # bytes per MDS shard before the next one starts (the library's default)


def megatron_dtype(vocab_size: int) -> np.dtype:
    """The dtype Megatron picks for a vocabulary: uint16 below 65,500 ids, else int32."""
    return np.dtype(np.uint16) if vocab_size < 65_500 else np.dtype(np.int32)


def mds_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


class MegatronWriter:
    """``with MegatronWriter(prefix, vocab_size) as out: out.add(doc_id, ids)`` writes ``prefix.bin/.idx``."""

    def __init__(self, prefix: str, vocab_size: int):
        self.prefix = prefix
        self.dtype = megatron_dtype(vocab_size)
        self.lengths: list[int] = []
        self._files = ExitStack()
        self._bin_path = self._files.enter_context(storage.atomic_output(prefix + ".bin"))
        self._idx_path = self._files.enter_context(storage.atomic_output(prefix + ".idx"))
        self._bin: BinaryIO = self._files.enter_context(open(self._bin_path, "wb"))

    def add(self, doc_id: str, ids: np.ndarray) -> None:
        """One document (its id is not kept: the indexed dataset holds tokens only)."""
        self._bin.write(np.asarray(ids, dtype=self.dtype).tobytes())
        self.lengths.append(len(ids))

    def __enter__(self) -> "MegatronWriter":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is None:
            self._bin.close()
            lengths = np.array(self.lengths, dtype=np.int32)
            pointers = np.zeros(len(lengths), dtype=np.int64)
            if len(lengths):
                pointers[1:] = np.cumsum(lengths[:-1], dtype=np.int64) * self.dtype.itemsize
            documents = np.arange(len(lengths) + 1, dtype=np.int64)  # one sequence per document
            with open(self._idx_path, "wb") as idx:
                idx.write(MEGATRON_MAGIC + struct.pack("<Q", 1) + struct.pack("<B", _MEGATRON_DTYPE_CODES[self.dtype]))
                idx.write(struct.pack("<Q", len(lengths)) + struct.pack("<Q", len(documents)))
                idx.write(lengths.tobytes() + pointers.tobytes() + documents.tobytes())
        self._files.__exit__(exc_type, *exc_info)  # publishes both files, or removes them on an error


class MdsWriter:
    """``with MdsWriter(folder, vocab_size) as out: out.add(doc_id, ids)`` writes an MDS dataset."""

    def __init__(self, folder: str, vocab_size: int, size_limit: int = MDS_SIZE_LIMIT):
        self.folder = folder
        self.dtype = mds_dtype(vocab_size)
        self.size_limit = size_limit
        self.config = {"version": 2, "format": "mds", "compression": None, "hashes": [], "size_limit": size_limit,
                       "column_names": ["id", "tokens"],
                       "column_encodings": ["str", f"ndarray:{self.dtype.name}"], "column_sizes": [None, None]}
        self._config_bytes = json.dumps(self.config, sort_keys=True).encode("utf-8")
        self._samples: list[bytes] = []
        self._bytes = 0
        self.shards: list[dict] = []

    def add(self, doc_id: str, ids: np.ndarray) -> None:
        name = doc_id.encode("utf-8")
        length = len(ids)
        shape_code = _MDS_SHAPE_UINT16 if length < 1 << 16 else _MDS_SHAPE_UINT32
        shape = np.array([length], dtype=np.uint16 if shape_code == _MDS_SHAPE_UINT16 else np.uint32)
        tokens = bytes([(1 << 2) | shape_code]) + shape.tobytes() + np.asarray(ids, dtype=self.dtype).tobytes()
        sample = np.array([len(name), len(tokens)], dtype=np.uint32).tobytes() + name + tokens
        if self._samples and self._head_bytes(len(self._samples) + 1) + self._bytes + len(sample) > self.size_limit:
            self._flush()
        self._samples.append(sample)
        self._bytes += len(sample)

    def _head_bytes(self, count: int) -> int:
        """A shard's bytes before its samples: the count, ``count + 1`` offsets, the configuration."""
        return 4 + 4 * (count + 1) + len(self._config_bytes)

    def _flush(self) -> None:
        count = len(self._samples)
        offsets = self._head_bytes(count) + np.concatenate([[0], np.cumsum([len(s) for s in self._samples])])
        basename = f"shard.{len(self.shards):05d}.mds"
        with storage.atomic_output(storage.join(self.folder, basename)) as tmp, open(tmp, "wb") as out:
            out.write(np.uint32(count).tobytes() + offsets.astype(np.uint32).tobytes() + self._config_bytes)
            for sample in self._samples:
                out.write(sample)
            size = out.tell()
        self.shards.append({**self.config, "raw_data": {"basename": basename, "bytes": size, "hashes": {}},
                            "samples": count, "zip_data": None})
        self._samples, self._bytes = [], 0

    def __enter__(self) -> "MdsWriter":
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        if exc_type is not None:
            return
        if self._samples:
            self._flush()
        storage.write_bytes(storage.join(self.folder, "index.json"),
                            json.dumps({"shards": self.shards, "version": 2}, indent=2, sort_keys=True).encode("utf-8"))


def read_megatron(prefix: str) -> list[np.ndarray]:
    """Every document of ``prefix.bin/.idx``, by the layout above (for checks and tests)."""
    with open(prefix + ".idx", "rb") as idx:
        data = idx.read()
    if data[:9] != MEGATRON_MAGIC or struct.unpack("<Q", data[9:17])[0] != 1:
        raise ValueError(f"{prefix}.idx is not a Megatron index (version 1)")
    code = data[17]
    dtype = {v: k for k, v in _MEGATRON_DTYPE_CODES.items()}[code]
    sequences, documents = struct.unpack("<QQ", data[18:34])
    at = 34
    lengths = np.frombuffer(data, np.int32, sequences, at)
    pointers = np.frombuffer(data, np.int64, sequences, at + 4 * sequences)
    tokens = np.fromfile(prefix + ".bin", dtype=dtype)
    if os.path.getsize(prefix + ".bin") != int(lengths.sum()) * dtype.itemsize or documents != sequences + 1:
        raise ValueError(f"{prefix}: the index does not describe the data file")
    return [tokens[p // dtype.itemsize: p // dtype.itemsize + n] for p, n in zip(pointers, lengths)]


FORMATS = ("megatron", "mds")


def export_tokenized(shards: list[str], out: str, fmt: str, tokenizer_spec: str = "qwen2.5", *,
                     batch: int = 512, show_progress: bool = False) -> dict:
    """Tokenize every record's ``text`` of ``shards`` (in their order) and write them to ``out`` in
    ``fmt`` (``megatron``: ``out/corpus.bin/.idx``; ``mds``: ``out/index.json`` and its shards), each
    document followed by the tokenizer's end-of-document token. Writes and returns ``out/export.json``
    (what was written, with which tokenizer). Records without text are skipped and counted."""
    from megamath.profile.tokenizer import TokenizerError, load_tokenizer

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: {' or '.join(FORMATS)}")
    tokenizer = load_tokenizer(tokenizer_spec)
    if tokenizer.eod_id is None:
        raise TokenizerError(f"tokenizer {tokenizer_spec}: no end-of-document token in its vocabulary, so documents "
                             "could not be told apart in training data")
    eod = np.array([tokenizer.eod_id])
    counts = {"documents": 0, "tokens": 0, "skipped_without_text": 0}
    progress = None
    if show_progress:
        from tqdm import tqdm

        progress = tqdm(unit=" docs", desc=f"export {fmt}")
    writer = (MegatronWriter(storage.join(out, "corpus"), tokenizer.vocab_size) if fmt == "megatron"
              else MdsWriter(out, tokenizer.vocab_size))
    with writer:
        pending: list[tuple[str, str]] = []

        def write_pending() -> None:
            for (doc_id, _), ids in zip(pending, tokenizer.encode([text for _, text in pending])):
                document = np.concatenate([np.asarray(ids, dtype=np.int64), eod])
                writer.add(doc_id, document)
                counts["documents"] += 1
                counts["tokens"] += len(document)
            if progress is not None:
                progress.update(len(pending))
            pending.clear()

        for doc_id, text in _ids_and_texts(shards):
            if not isinstance(text, str) or not text:
                counts["skipped_without_text"] += 1
                continue
            pending.append((doc_id, text))
            if len(pending) >= batch:
                write_pending()
        write_pending()
    if progress is not None:
        progress.close()
    summary = {"format": fmt, "tokenizer": tokenizer.name, "eod_id": tokenizer.eod_id,
               "dtype": writer.dtype.name, **counts, "inputs": shards,
               "files": ["corpus.bin", "corpus.idx"] if fmt == "megatron" else
               ["index.json"] + [s["raw_data"]["basename"] for s in writer.shards]}
    storage.write_bytes(storage.join(out, "export.json"), json.dumps(summary, indent=2).encode("utf-8"))
    return summary


def _ids_and_texts(shards: list[str]):
    """(id, text) of every record in order: Parquet shards by their two columns alone (their ``meta``
    JSON is not parsed), other formats record by record."""
    import pyarrow.parquet as pq

    from megamath.runtime.shards import read_records, shard_format

    for shard in shards:
        if shard_format(shard) != ".parquet":
            yield from ((str(r.get("id", "")), r.get("text")) for r in read_records([shard]))
            continue
        with storage.open_input(shard) as raw:
            for batch in pq.ParquetFile(raw).iter_batches(columns=["id", "text"], batch_size=2048):
                yield from zip((str(i or "") for i in batch.column("id").to_pylist()), batch.column("text").to_pylist())
