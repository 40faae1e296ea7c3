"""Find where a damaged (W)ARC file can be read again, and what was lost in between.

A ``.warc.gz`` holds one gzip member per record, so one flipped byte breaks one member and the
records after it are intact: reading resumes at the next member that decompresses whole (its CRC
checked) and starts a WARC record. Members in between that start a WARC record but do not decompress
are the records lost, each named by what its readable beginning says. Uncompressed files resume at
the next ``WARC/1.x`` header line that fastwarc reads as a record.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import IO

from fastwarc.warc import ArchiveIterator

GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_CHUNK = 1 << 20
_HEAD_BYTES = 4096           # decompressed bytes kept to name a damaged record
_MAX_MEMBER_BYTES = 64 << 20  # a gzip member larger than this is not taken for a record
_HEADER_FIELD = re.compile(rb"^(WARC-Target-URI|WARC-Record-ID|WARC-Type):[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class LostRecord:
    """A record whose bytes do not decode: where it starts and what its first bytes say."""

    offset: int
    url: str = ""
    record_id: str = ""
    warc_type: str = ""


@dataclass(frozen=True)
class Resync:
    """``resume``: the offset of the next readable record (None: nothing readable to the end);
    ``lost``: the damaged records found before it."""

    resume: int | None
    lost: tuple[LostRecord, ...]


def is_gzip(stream: IO[bytes]) -> bool:
    stream.seek(0)
    magic = stream.read(2)
    stream.seek(0)
    return magic == GZIP_MAGIC[:2]


def resynchronize(stream: IO[bytes], start: int, gzipped: bool, start_was_read: bool, judged: int = -1) -> Resync:
    """The first readable record after ``start`` (the last record the reader saw start before the
    damage showed) and after ``judged``.

    ``start_was_read``: the record at ``start`` came out whole, so it is not counted as lost.
    ``judged``: where an earlier resynchronization resumed, when no record was read since: the
    candidates up to it were judged then (the reader skips some record types unseen, so a resume
    point may lie before the damage and the damage show again). The offset returned is always after
    both, so a caller that resumes there makes progress.
    """
    lost: list[LostRecord] = []
    position = start if judged < start else judged + 1
    magic, at_line_start = (GZIP_MAGIC, False) if gzipped else (_WARC_MAGIC, True)
    while (candidate := _next_candidate(stream, position, magic, at_line_start)) is not None:
        readable, head = _probe_member(stream, candidate) if gzipped else _probe_plain(stream, candidate)
        if readable and candidate > start:
            return Resync(candidate, tuple(lost))
        if not readable and head.startswith(_WARC_MAGIC) and not (candidate == start and start_was_read):
            lost.append(_named(candidate, head))
        position = candidate + 1
    return Resync(None, tuple(lost))


def _next_candidate(stream: IO[bytes], position: int, magic: bytes, at_line_start: bool) -> int | None:
    """The next offset at or after ``position`` where ``magic`` occurs (at the start of a line)."""
    stream.seek(position)
    offset, carry = position, b""
    while chunk := stream.read(_CHUNK):
        window = carry + chunk
        base = offset - len(carry)
        found = window.find(magic)
        while found != -1:
            at = base + found
            if not at_line_start or at == 0 or (found > 0 and window[found - 1:found] == b"\n"):
                if at >= position:
                    return at
            found = window.find(magic, found + 1)
        carry = window[-(len(magic)):]
        offset += len(chunk)
    return None


def _probe_member(stream: IO[bytes], offset: int) -> tuple[bool, bytes]:
    """(whether the gzip member at ``offset`` decompresses whole and starts a WARC record, its first bytes)."""
    stream.seek(offset)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head, consumed = b"", 0
    while not inflater.eof:
        # small steps until the head is known: a step that hits the damage returns nothing of its output
        chunk = stream.read(256 if len(head) < _HEAD_BYTES else 1 << 16)
        consumed += len(chunk)
        if not chunk or consumed > _MAX_MEMBER_BYTES:
            return False, head
        try:
            data = inflater.decompress(chunk)
        except zlib.error:
            return False, head
        if len(head) < _HEAD_BYTES:
            head += data[:_HEAD_BYTES - len(head)]
    return head.startswith(_WARC_MAGIC), head


def _probe_plain(stream: IO[bytes], offset: int) -> tuple[bool, bytes]:
    """(whether fastwarc reads a whole record at ``offset`` of an uncompressed file, its first bytes)."""
    stream.seek(offset)
    head = stream.read(_HEAD_BYTES)
    stream.seek(offset)
    try:
        record = next(iter(ArchiveIterator(stream, parse_http=False)), None)
        readable = record is not None and record.stream_pos == offset and record.reader.read() is not None
    except OSError:
        readable = False
    return readable, head


def _named(offset: int, head: bytes) -> LostRecord:
    header = head.split(b"\r\n\r\n", 1)[0]
    fields = {name.decode().lower(): value.decode("utf-8", "replace") for name, value in _HEADER_FIELD.findall(header)}
    return LostRecord(offset, fields.get("warc-target-uri", ""), fields.get("warc-record-id", "").strip("<>"),
                      fields.get("warc-type", ""))
