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
WARC_MAGIC = b"WARC/1."
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
    magic, at_line_start = (GZIP_MAGIC, False) if gzipped else (WARC_MAGIC, True)
    while (candidate := _next_candidate(stream, position, magic, at_line_start)) is not None:
        readable, head, cut = _probe_member(stream, candidate) if gzipped else _probe_plain(stream, candidate)
        if readable and candidate > start:
            return Resync(candidate, tuple(lost))
        if not readable and _starts_a_record(head, cut) and not (candidate == start and start_was_read):
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


def _starts_a_record(head: bytes, cut: bool) -> bool:
    """Whether an unreadable member or record was a WARC record: its head says so, or the file ends
    within its first bytes (a cut there leaves too little to name it, but it is a lost record all the
    same; a chance magic number inside compressed data fails on a bad code, not at the end of the file)."""
    return head.startswith(WARC_MAGIC) or (cut and WARC_MAGIC.startswith(head[:len(WARC_MAGIC)]))


def first_unreadable(stream: IO[bytes], start: int, gzipped: bool) -> int | None:
    """The offset of the first member (record) at or after ``start`` that does not read whole, or None
    when every one does to the end of the file. fastwarc ends without an error on a file cut in the
    first bytes of a record, so the reader walks the tail after the last record it saw."""
    position = start
    while True:
        stream.seek(position)
        if not stream.read(1):
            return None
        readable, end = _member_end(stream, position) if gzipped else _plain_end(stream, position)
        if not readable:
            return position
        position = end


def _member_end(stream: IO[bytes], offset: int) -> tuple[bool, int]:
    """(whether the gzip member at ``offset`` decompresses whole, where the next one starts)."""
    stream.seek(offset)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    consumed = 0
    while not inflater.eof:
        chunk = stream.read(1 << 16)
        if not chunk:
            return False, offset
        consumed += len(chunk)
        try:
            inflater.decompress(chunk)
        except zlib.error:
            return False, offset
    return True, offset + consumed - len(inflater.unused_data)


_CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*(\d+)", re.MULTILINE | re.IGNORECASE)


def _plain_end(stream: IO[bytes], offset: int) -> tuple[bool, int]:
    """(whether the uncompressed record at ``offset`` is whole, where the next one starts)."""
    stream.seek(offset)
    head = stream.read(_HEAD_BYTES * 16)
    header_end = head.find(b"\r\n\r\n")
    length = _CONTENT_LENGTH.search(head[:header_end]) if header_end != -1 else None
    if not head.startswith(WARC_MAGIC) or length is None:
        return False, offset
    end = offset + header_end + 4 + int(length.group(1))
    stream.seek(end)
    if len(stream.read(4)) < 4:  # the block and the blank line after it
        return False, offset
    return True, end + 4


def _probe_member(stream: IO[bytes], offset: int) -> tuple[bool, bytes, bool]:
    """(whether the gzip member at ``offset`` decompresses whole and starts a WARC record, its first
    bytes, whether the file ends inside it)."""
    stream.seek(offset)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head, consumed = b"", 0
    while not inflater.eof:
        # small steps until the head is known: a step that hits the damage returns nothing of its output
        chunk = stream.read(256 if len(head) < _HEAD_BYTES else 1 << 16)
        consumed += len(chunk)
        if not chunk:
            return False, head, True
        if consumed > _MAX_MEMBER_BYTES:
            return False, head, False
        try:
            data = inflater.decompress(chunk)
        except zlib.error:
            return False, head, False
        if len(head) < _HEAD_BYTES:
            head += data[:_HEAD_BYTES - len(head)]
    return head.startswith(WARC_MAGIC), head, False


def _probe_plain(stream: IO[bytes], offset: int) -> tuple[bool, bytes, bool]:
    """(whether fastwarc reads a whole record at ``offset`` of an uncompressed file, its first bytes,
    whether the file ends inside it)."""
    stream.seek(offset)
    head = stream.read(_HEAD_BYTES)
    stream.seek(offset)
    try:
        record = next(iter(ArchiveIterator(stream, parse_http=False)), None)
        readable = record is not None and record.stream_pos == offset and record.reader.read() is not None
    except OSError:
        readable = False
    return readable, head, not readable and b"\r\n\r\n" not in head and len(head) < _HEAD_BYTES


def _named(offset: int, head: bytes) -> LostRecord:
    header = head.split(b"\r\n\r\n", 1)[0]
    fields = {name.decode().lower(): value.decode("utf-8", "replace") for name, value in _HEADER_FIELD.findall(header)}
    return LostRecord(offset, fields.get("warc-target-uri", ""), fields.get("warc-record-id", "").strip("<>"),
                      fields.get("warc-type", ""))
