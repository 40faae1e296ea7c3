"""WARC reader: HTML responses from WARC files, decoded to text, as records.

Only ``response`` records are kept. Records that are not HTTP 200 HTML, are larger than the memory
limit, or were cut short come out as counted drops. In a file damaged part-way, reading resumes at the
next record that reads whole (:mod:`megamath.sources.warc_resync`) and each record lost is a counted
``damaged_record`` drop (``damaged_region``: bytes skipped where no record could be named), a record
whose content does not match its ``WARC-Block-Digest`` a ``digest_mismatch`` drop. A file that is empty,
not WARC (ARC, WET, WAT: each named), or unreadable to its end raises
:class:`~megamath.runtime.pipeline.InputError` after yielding every record it could read.
"""

from __future__ import annotations

import logging
import re
import zlib
from itertools import islice
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from megamath.runtime import storage
from megamath.runtime.pipeline import InputError
from megamath.runtime.stage import Drop, Record
from megamath.sources.decoding import mostly_utf8
from megamath.sources.remote import download
from megamath.sources.warc_resync import GZIP_MAGIC, WARC_MAGIC, LostRecord, first_unreadable, is_gzip, resynchronize

log = logging.getLogger(__name__)

_CRAWL_ID = re.compile(r"CC-MAIN-\d{4}-\d{2}")


@dataclass(frozen=True)
class WarcReaderConfig:
    """
    ``content_types``: HTTP content types kept (compared without parameters, case-insensitively).
    ``status_codes``: HTTP status codes kept.
    ``max_html_bytes``: larger payloads are dropped as ``too_large`` before they are read into
        memory (Common Crawl itself truncates payloads at 1 MiB).
    ``lenient_http``: accept malformed HTTP headers (ClueWeb09's LF-only lines, for example).
    ``lenient_warc``: skip over bytes that are not WARC records instead of reporting the file as
        damaged (off by default: on, a wrong or corrupt file would silently yield nothing).
    ``download_dir``: where HTTP(S) inputs are downloaded (the run folder sets it); inputs on other
        filesystems (``s3://``...) are streamed.
    ``keep_downloads``: keep downloaded files after they have been read.
    ``max_records``: read only the first this many response records of each input (0: all; a sample run).
    """

    content_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    status_codes: tuple[int, ...] = (200,)
    max_html_bytes: int = 5_000_000
    lenient_http: bool = True
    lenient_warc: bool = False
    download_dir: str | None = None
    keep_downloads: bool = False
    max_records: int = 0


def decode_html(body: bytes, declared_charset: str | None) -> tuple[str, str]:
    """Decode with the server's charset when the bytes agree with it, else with the detected one.

    UTF-8 with a few invalid bytes (a truncated sequence, one corrupt byte) is still UTF-8: those
    bytes become U+FFFD, rather than the whole page being read in a single-byte charset (``≤`` → ``â‰¤``).
    """
    if declared_charset:
        try:
            return body.decode(declared_charset), declared_charset
        except (UnicodeDecodeError, LookupError):
            pass
    text = mostly_utf8(body)
    if text is not None:
        return text, "utf-8"
    encoding = detect_encoding(body, from_html_meta=True)
    return bytes_to_str(body, encoding), encoding


_READ_TYPES = WarcRecordType.response | WarcRecordType.warcinfo


@dataclass
class _Cursor:
    """Where reading stands: the last record started (``start``), whether it came out whole."""

    start: int | None = None
    done: bool = False
    records: int = 0
    responses: int = 0
    cut_short: int = 0
    held: Record | Drop | None = None  # the last record read, given out once the next one starts
    held_at: int = -1

    def last_start(self, segment: int) -> int:
        """Where the last record read in the segment that began at ``segment`` starts (the segment's
        start when none was read in it)."""
        return self.start if self.start is not None and self.start >= segment else segment

    def hand_over(self) -> Iterator[Record | Drop]:
        if self.held is not None:
            yield self.held
            self.held = None

    def recount_held_as_cut(self, at: int) -> None:
        """The record at ``at`` does not end whole: if it is the one held and was judged by what a cut
        changes (its first bytes: not HTTP, not HTML...; its digest), it was a record cut short, and is
        counted as one."""
        held = self.held
        if at == self.held_at and type(held) is Drop and held.reason in _MISJUDGED_WHEN_CUT:
            log.warning("%s: record cut short (the file ends inside it); skipped", held.record["source"])
            self.held = Drop(held.record, "truncated_record")
            self.cut_short += 1


_HTTP_HEADER_ALLOWANCE = 1 << 16
_MISJUDGED_WHEN_CUT = frozenset({"bad_http_headers", "not_http", "http_status", "not_html", "digest_mismatch"})


def _crawl_of_warcinfo(warc) -> str | None:
    """The crawl a Common Crawl file belongs to, from its warcinfo record (``isPartOf: CC-MAIN-…``)."""
    match = _CRAWL_ID.search(warc.reader.read(65536).decode("utf-8", "replace"))
    return match.group(0) if match else None


class WarcReader:
    name = "read"

    def __init__(self, config: WarcReaderConfig | None = None):
        self.config = config or WarcReaderConfig()
        self.bytes_read = 0
        self._wanted_types = {t.lower() for t in self.config.content_types}
        self._crawl: str | None = None

    def __call__(self, source: str) -> Iterator[Record | Drop]:
        self.bytes_read = 0
        path = self._readable_location(source)
        try:
            records = self._read(path, source)
            yield from islice(records, self.config.max_records) if self.config.max_records else records
        finally:
            if storage.is_http(source) and not self.config.keep_downloads:
                Path(path).unlink(missing_ok=True)

    def _readable_location(self, source: str) -> str:
        if not storage.is_http(source):
            return source  # local, or streamed from its filesystem
        if not self.config.download_dir:
            raise ValueError("HTTP(S) inputs need WarcReaderConfig.download_dir")
        # A failed download is not an input error: the task fails and a rerun tries again.
        return str(download(source, self.config.download_dir))

    def _read(self, path: str, source: str) -> Iterator[Record | Drop]:
        """Every record of the file; past damage, reading resumes at the next readable record and
        each record lost in between comes out as a ``damaged_record`` drop."""
        crawl = _CRAWL_ID.search(source)
        self._crawl = crawl.group(0) if crawl else None
        try:
            size = storage.size(path) or 0
            stream = storage.open_input(path)
        except (OSError, storage.StorageError) as exc:
            raise InputError(f"cannot open {source}: {exc}") from exc
        if size == 0:
            stream.close()
            raise InputError(f"{source} is empty")
        with stream:
            gzipped = is_gzip(stream)
            _refuse_other_formats(stream, gzipped, source)
            cursor = _Cursor()
            segment: int | None = 0
            judged = -1  # candidates up to here were judged by an earlier resynchronization
            # bytes skipped where no record could be named; real once a record is read after them or
            # the file reads to its end (a resumption may land before the damage, on a record type
            # the reader skips, and meet it again)
            region: LostRecord | None = None
            records_then = 0
            while segment is not None:
                try:
                    yield from self._records_from(stream, segment, source, cursor)
                    damaged = first_unreadable(stream, cursor.last_start(segment), gzipped)
                    if damaged is not None and damaged == cursor.start and cursor.done:
                        cursor.recount_held_as_cut(damaged)  # the last record, cut: the file ends there
                    elif damaged is not None:
                        raise _UnreadableMember(damaged)
                    yield from cursor.hand_over()
                    segment = None
                except OSError as exc:
                    yield from cursor.hand_over()
                    if region is not None and cursor.records > records_then:
                        yield self._lost(source, region, "damaged_region")
                    start = cursor.last_start(segment)
                    found = resynchronize(stream, start, gzipped, start_was_read=cursor.done and start == cursor.start,
                                          judged=judged if cursor.records == records_then else -1)
                    for lost in found.lost:
                        yield self._lost(source, lost, "damaged_record")
                    if (found.resume is None and isinstance(exc, _UnreadableMember)
                            and not any(lost.offset >= exc.offset for lost in found.lost)
                            and _magic_begins_at(stream, exc.offset, gzipped)):
                        # too few bytes of the member are left to look for (the file ends within its magic number)
                        yield self._lost(source, LostRecord(exc.offset), "damaged_record")
                    if found.resume is None:
                        if not cursor.records and not found.lost:
                            raise InputError(f"no WARC record could be read in {source}: {exc}") from exc
                        raise InputError(f"{source} is damaged after byte {start} ({exc}); nothing after it "
                                         f"reads as a WARC record ({len(found.lost)} damaged record(s) counted)") from exc
                    log.warning("%s is damaged after byte %d (%s): %d record(s) lost, reading again at byte %d",
                                source, start, exc, len(found.lost), found.resume)
                    region = None if found.lost else LostRecord(start)
                    records_then = cursor.records
                    segment = judged = found.resume
            if region is not None:
                yield self._lost(source, region, "damaged_region")
            if not cursor.responses:
                _refuse_derived_files(stream, source)
        self.bytes_read = size
        if cursor.cut_short:
            raise InputError(f"{source} is truncated: {cursor.cut_short} record(s) end before their declared length")

    def _records_from(self, stream, offset: int, source: str, cursor: "_Cursor") -> Iterator[Record | Drop]:
        """The response (and warcinfo) records from ``offset`` on; ``cursor`` says where the reading
        stands when it fails. Other records are skipped by fastwarc without a Python object each."""
        wanted_types = self._wanted_types
        stream.seek(offset)
        for warc in ArchiveIterator(stream, record_types=_READ_TYPES, parse_http=False,
                                    quirks_mode=self.config.lenient_warc):
            cursor.start, cursor.done = warc.stream_pos, False
            cursor.records += 1
            self.bytes_read = warc.stream_pos
            kind = warc.record_type
            if kind == WarcRecordType.response:
                cursor.responses += 1
                record = self._record(warc, source, self._crawl)
                item = self._payload(warc, record, wanted_types)
                if type(item) is Drop and item.reason == "truncated_record":
                    cursor.cut_short += 1
                cursor.done = True
                yield from cursor.hand_over()
                cursor.held, cursor.held_at = item, warc.stream_pos
            elif kind == WarcRecordType.warcinfo and self._crawl is None:
                self._crawl = _crawl_of_warcinfo(warc)
            cursor.done = True

    @staticmethod
    def _lost(source: str, lost: LostRecord, reason: str) -> Drop:
        if reason == "damaged_record":
            log.warning("%s@%d: %s record %s of %s does not decode; lost", source, lost.offset,
                        lost.warc_type or "a", lost.record_id or "(no id)", lost.url or "(no URL)")
        position = f"{source}@{lost.offset}"
        record = {"id": lost.record_id.removeprefix("urn:uuid:") or position, "text": "", "url": target_uri(lost.url),
                  "source": position, "meta": {}}
        return Drop(record, reason)

    @staticmethod
    def _record(warc, source: str, crawl: str | None) -> Record:
        headers = warc.headers
        record_id = (warc.record_id or "").strip("<>")
        meta = {"warc_date": headers.get("WARC-Date"), "crawl": crawl}
        if headers.get("WARC-Truncated"):
            meta["warc_truncated"] = headers.get("WARC-Truncated")
        return {
            "id": record_id.removeprefix("urn:uuid:") or f"{source}@{warc.stream_pos}",
            "text": "",
            "url": target_uri(headers.get("WARC-Target-URI", "")),
            "source": f"{source}@{warc.stream_pos}",
            "meta": meta,
        }

    def _payload(self, warc, record: Record, wanted_types: set[str]) -> Record | Drop:
        # the block digest, where the file gives one, is checked before the HTTP headers are parsed (it
        # covers them); a record too large to keep is not read for it
        intact = (warc.content_length > self.config.max_html_bytes + _HTTP_HEADER_ALLOWANCE
                  or not warc.headers.get("WARC-Block-Digest") or warc.verify_block_digest(consume=False))
        try:
            warc.parse_http(quirks_mode=self.config.lenient_http)
        except OSError:
            return Drop(record, "bad_http_headers")
        http = warc.http_headers
        if http is None:
            return Drop(record, "not_http")
        if http.status_code not in self.config.status_codes:
            return Drop(record, "http_status")
        content_type = (warc.http_content_type or "").lower()
        if content_type not in wanted_types:
            return Drop(record, "not_html")
        expected = warc.content_length
        if expected > self.config.max_html_bytes:
            return Drop(record, "too_large")
        body = warc.reader.read()
        if len(body) < expected:
            log.warning("%s: record cut short (%d of %d bytes); skipped", record["source"], len(body), expected)
            return Drop(record, "truncated_record")
        if not intact:
            log.warning("%s: the record's content does not match its WARC-Block-Digest; skipped", record["source"])
            return Drop(record, "digest_mismatch")
        html, charset = decode_html(body, warc.http_charset)
        record["html"] = html
        record["meta"]["charset"] = charset
        return record


class _UnreadableMember(OSError):
    """fastwarc ended without an error, but the member (record) at ``offset`` does not read whole."""

    def __init__(self, offset: int):
        super().__init__(f"the record at byte {offset} does not read whole")
        self.offset = offset


def _magic_begins_at(stream, offset: int, gzipped: bool) -> bool:
    magic = GZIP_MAGIC if gzipped else WARC_MAGIC
    stream.seek(offset)
    found = stream.read(len(magic))
    return bool(found) and magic.startswith(found)


def _refuse_other_formats(stream, gzipped: bool, source: str) -> None:
    """ARC files (``filedesc://`` first) are not read: fastwarc reads WARC only."""
    stream.seek(0)
    head = stream.read(512)
    stream.seek(0)
    if gzipped:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
    if head.startswith(b"filedesc://"):
        raise InputError(f"{source} is an ARC file, which megamath does not read: convert it to WARC first "
                         "(warcio, for one, reads ARC and writes WARC)")


def _refuse_derived_files(stream, source: str) -> None:
    """A file without a single response record may be one Common Crawl derived from the WARC files:
    saying so beats reading it as an empty crawl."""
    stream.seek(0)
    kinds = [warc.record_type for _, warc in zip(range(4), ArchiveIterator(stream, parse_http=False))]
    if WarcRecordType.conversion in kinds:
        raise InputError(f"{source} is a WET file (text Common Crawl extracted, without the HTML and its formulas): "
                         "give the WARC file it was made from")
    if WarcRecordType.metadata in kinds and WarcRecordType.request not in kinds:
        raise InputError(f"{source} is a WAT file (metadata only, no pages): give the WARC file it was made from")


def target_uri(value: str) -> str:
    """A record's URL: WARC 1.0 writes it in angle brackets (``<https://…>``), which would hide it from
    the URL filter and the curated-source exclusion."""
    value = value.strip()
    return value[1:-1].strip() if value.startswith("<") and value.endswith(">") else value


class WarcLookupError(Exception):
    """A record cannot be read again from its WARC file (file gone, position wrong, not HTML)."""


def read_html_at(position: str, record_id: str | None = None, max_bytes: int = WarcReaderConfig.max_html_bytes) -> str:
    """The decoded HTML of the response record at ``path@offset``, the ``source`` a WarcReader wrote
    (``path`` local, or a URL: only the record's bytes are fetched). ``record_id``: the ``id`` the
    reader gave the record; a record at that offset with another WARC-Record-ID (the file was
    replaced or rewritten since) is refused, never read in its place.

    Each record of a ``.warc.gz`` is its own gzip member, so reading starts right at the offset.
    """
    path, _, offset = position.rpartition("@")
    if not path or not offset.isdigit():
        raise WarcLookupError(f"not a WARC position (path@offset): {position!r}")
    try:
        stream = storage.open_input(path, block_size=1 << 20)
    except (OSError, storage.StorageError) as exc:
        raise WarcLookupError(f"cannot open {path}: {exc}") from exc
    with stream:
        stream.seek(int(offset))
        try:
            for warc in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=False):
                if warc.stream_pos != int(offset):
                    break
                found = (warc.record_id or "").strip("<>").removeprefix("urn:uuid:")
                if record_id and record_id != position and found != record_id:
                    raise WarcLookupError(f"{position} holds record {found or '(no id)'}, not {record_id}: "
                                          "the WARC file changed since stage 1 read it")
                warc.parse_http(quirks_mode=True)
                if warc.content_length > max_bytes:
                    raise WarcLookupError(f"{position}: payload larger than {max_bytes} bytes")
                return decode_html(warc.reader.read(), warc.http_charset)[0]
        except OSError as exc:
            raise WarcLookupError(f"{position}: {exc}") from exc
    raise WarcLookupError(f"no WARC response record at {position}")
