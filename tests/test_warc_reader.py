import re

import pytest

from megamath.runtime.pipeline import InputError
from megamath.runtime.stage import Drop
from megamath.sources.warc import WarcReader, WarcReaderConfig, decode_html
from fixtures.warc_writer import Fetch, write_warc

from conftest import EXAMPLE_WARC


def read_all(path, **config):
    reader = WarcReader(WarcReaderConfig(**config))
    items, error = [], None
    try:
        for item in reader(str(path)):
            items.append(item)
    except InputError as exc:
        error = exc
    kept = [i for i in items if not isinstance(i, Drop)]
    drops = [i.reason for i in items if isinstance(i, Drop)]
    return kept, drops, error


def test_example_warc():
    kept, drops, error = read_all(EXAMPLE_WARC)
    assert error is None
    assert len(kept) == 8 and sorted(drops) == ["http_status", "http_status", "not_html"]
    first = kept[0]
    assert first["url"] == "https://mathnotes.example.org/algebra/quadratic-equations"
    assert first["source"].startswith(f"{EXAMPLE_WARC}@") and first["html"].startswith("<!DOCTYPE html>")
    assert len({r["id"] for r in kept}) == 8
    latin = next(r for r in kept if "product-rule" in r["url"])
    assert "René" in latin["html"] and latin["meta"]["charset"] == "iso-8859-1"


def test_common_crawl_slices(shared_warc):
    kept, drops, error = read_all(shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz")
    assert error is None and len(kept) == 22 and drops == []
    kept, _, error = read_all(shared_warc / "commoncrawl__whirlwind-python/whirlwind.warc.gz")
    assert error is None and len(kept) == 1 and kept[0]["url"].startswith("https://")


def test_clueweb_quirks_need_quirks_mode(shared_warc):
    path = shared_warc / "chatnoir-eu__chatnoir-resiliparse/tests/data/clueweb-quirk.warc.gz"
    kept, drops, error = read_all(path)
    assert error is None and len(kept) == 29 and all(r["meta"]["charset"] for r in kept)
    assert any("\u3000" <= ch <= "\u9fff" for r in kept for ch in r["html"][:5000])  # decoded Japanese
    strict_kept, strict_drops, _ = read_all(path, lenient_http=False)
    assert len(strict_kept) == 0 and len(strict_drops) == 29


@pytest.mark.parametrize("name", ["clipped.warc.gz"])
def test_clipped_file_keeps_what_is_complete_and_reports(shared_warc, name):
    kept, drops, error = read_all(shared_warc / "chatnoir-eu__chatnoir-resiliparse/tests/data" / name)
    assert drops == ["truncated_record"] and kept == []
    assert error is not None and "truncated" in str(error)


def test_truncated_and_corrupt_gzip(tmp_path, shared_warc):
    source = shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz"
    data = source.read_bytes()
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: len(data) // 2])
    kept, drops, error = read_all(truncated)
    assert 5 < len(kept) < 22 and drops == ["truncated_record"] and "truncated" in str(error)
    corrupt = tmp_path / "corrupt.warc.gz"
    corrupt.write_bytes(data[:60_000] + b"\x00garbage" * 500 + data[60_000:])
    kept, drops, error = read_all(corrupt)  # junk inside a member: that record is lost, reading goes on
    assert error is None and len(kept) == 21 and drops == ["damaged_record"]
    tail = tmp_path / "tail.warc.gz"
    tail.write_bytes(data[:60_000] + b"\x00garbage" * 500)
    kept, drops, error = read_all(tail)
    assert error is not None and "truncated" in str(error) and 0 < len(kept) < 22


def member_starts(data: bytes) -> list[int]:
    """Offsets of the gzip members of a .warc.gz (one per WARC record)."""
    import zlib
    starts, offset = [], 0
    while offset < len(data):
        starts.append(offset)
        inflater = zlib.decompressobj(31)
        inflater.decompress(data[offset:])
        offset = len(data) - len(inflater.unused_data)
    return starts


def test_a_flipped_byte_loses_one_record_and_reading_resumes(tmp_path, shared_warc):
    source = shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz"
    data = bytearray(source.read_bytes())
    intact, _, _ = read_all(source)
    starts = member_starts(bytes(data))
    responses = [int(r["source"].rsplit("@", 1)[1]) for r in intact]
    for victim in (responses[3], responses[len(responses) // 2], responses[-1], responses[0]):
        damaged = bytearray(data)
        end = starts[starts.index(victim) + 1] if victim != starts[-1] else len(data)
        damaged[(victim + end) // 2] ^= 0xFF  # one byte in the middle of the response's compressed data
        path = tmp_path / "flipped.warc.gz"
        path.write_bytes(bytes(damaged))
        reader = WarcReader()
        items = list(reader(str(path)))
        kept = [i for i in items if not isinstance(i, Drop)]
        lost = [i for i in items if isinstance(i, Drop)]
        assert [r["url"] for r in kept] == [r["url"] for r in intact if r["source"] != f"{source}@{victim}"]
        assert [d.reason for d in lost] == ["damaged_record"]
        assert lost[0].record["url"] == next(r["url"] for r in intact if r["source"].endswith(f"@{victim}"))


def test_a_damaged_request_record_costs_no_response(tmp_path, shared_warc):
    source = shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz"
    data = bytearray(source.read_bytes())
    starts = member_starts(bytes(data))
    responses = {int(r["source"].rsplit("@", 1)[1]) for r in read_all(source)[0]}
    index = next(i for i, s in enumerate(starts) if i and s not in responses)
    data[(starts[index] + starts[index + 1]) // 2] ^= 0x55
    path = tmp_path / "request.warc.gz"
    path.write_bytes(bytes(data))
    kept, drops, error = read_all(path)
    assert error is None and len(kept) == 22 and drops == ["damaged_record"]


def test_uncompressed_warc_resumes_at_the_next_header(tmp_path):
    fetches = [Fetch(f"https://site.example/{n}", f"<p>page {n}</p>".encode()) for n in range(5)]
    gz = tmp_path / "pages.warc.gz"
    write_warc(gz, fetches)
    import gzip
    plain = bytearray(gzip.decompress(gz.read_bytes()))
    responses = [m.start() for m in re.finditer(rb"WARC/1\.1\r\nWARC-Type: response", plain)]
    plain[responses[2]:responses[2] + 4] = b"WXRC"  # the third response's header line no longer reads
    path = tmp_path / "pages.warc"
    path.write_bytes(bytes(plain))
    kept, drops, error = read_all(path)
    assert error is None and [r["url"][-1] for r in kept] == ["0", "1", "3", "4"] and drops == ["damaged_region"]


def test_an_empty_file_and_a_file_that_is_not_warc_are_reported(tmp_path):
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert "is empty" in str(read_all(empty)[2])
    text = tmp_path / "notes.warc"
    text.write_text("these are notes, not a web archive\n" * 10)
    kept, drops, error = read_all(text)
    assert kept == [] and "no WARC record" in str(error)


def test_the_crawl_comes_from_warcinfo_when_the_path_does_not_name_it(tmp_path, shared_warc):
    kept, _, _ = read_all(shared_warc / "commoncrawl__whirlwind-python/whirlwind.warc.gz")
    assert kept[0]["meta"]["crawl"] == "CC-MAIN-2024-22"
    named = tmp_path / "CC-MAIN-2023-50" / "x.warc.gz"  # the path wins where it names one
    named.parent.mkdir()
    named.write_bytes((shared_warc / "commoncrawl__whirlwind-python/whirlwind.warc.gz").read_bytes())
    assert read_all(named)[0][0]["meta"]["crawl"] == "CC-MAIN-2023-50"
    own = tmp_path / "own.warc.gz"
    write_warc(own, [Fetch("https://a.example/", b"<p>a</p>")])
    assert read_all(own)[0][0]["meta"]["crawl"] is None


def test_warcio_edge_cases_never_crash(shared_warc):
    folder = shared_warc / "webrecorder__warcio/test/data"
    outcomes = {}
    for path in sorted(folder.iterdir()):
        kept, drops, error = read_all(path)
        outcomes[path.name] = (len(kept), error is not None)
    assert outcomes["example.warc.gz"] == (1, False)
    assert outcomes["example.warc"] == (1, False)
    assert outcomes["example-iana.org-chunked.warc"] == (1, False)
    for arc in ("bad.arc", "example.arc.gz", "example-space-in-url.arc"):  # ARC is not WARC: said so, not silence
        assert outcomes[arc] == (0, True) and "is an ARC file" in str(read_all(folder / arc)[2])
    # a record longer than its Content-Length: its block no longer matches its digest (dropped, counted),
    # the bytes after it are skipped, counted, and the next record is read again
    assert outcomes["example-trunc.warc"] == (0, False)
    assert read_all(folder / "example-trunc.warc")[1] == ["digest_mismatch", "damaged_region"]
    assert read_all(folder / "example-wrong-chunks.warc.gz")[1] == ["digest_mismatch"]
    lenient = {p.name: read_all(p, lenient_warc=True)[2] is None for p in folder.iterdir()}
    assert lenient["example-trunc.warc"]


def test_size_limit_skips_before_reading(tmp_path):
    big = b"<html><body>" + b"<p>word </p>" * 5_000_000 + b"</body></html>"  # ~55 MB
    path = tmp_path / "big.warc.gz"
    write_warc(path, [Fetch("https://big.example/", big), Fetch("https://small.example/", b"<p>hi</p>")])
    kept, drops, error = read_all(path)
    assert error is None and drops == ["too_large"] and [r["url"] for r in kept] == ["https://small.example/"]


def test_one_invalid_byte_in_utf8_is_replaced_not_a_reason_for_another_charset():
    body = ("<p>Für alle x ≤ y gilt f(x) ≤ f(y), für Größen ≥ 0.</p>" * 20).encode()
    broken = body[:300] + b"\xff" + body[300:]
    for declared in ("utf-8", None):
        text, charset = decode_html(broken, declared)
        assert charset == "utf-8" and text.count("≤") == 40 and "â‰" not in text and text.count("\ufffd") == 1
    cut = body[:body.index("≤".encode()) + 1]  # a page cut inside a multibyte sequence
    assert decode_html(cut, "utf-8")[0].endswith("\ufffd")


def test_wrong_declared_charset_falls_back_to_detection():
    body = "Größenordnung und Übermaß: eine Erklärung für Schülerinnen".encode("cp1252")
    text, charset = decode_html(body, "utf-8")
    assert "Größenordnung" in text and charset != "utf-8"
    assert decode_html("naïve".encode(), None)[0] == "naïve"
    assert decode_html(b"\xff\xfe\x00garbage\x81", "no-such-charset")[0]


# -- every record a cut or a flipped byte costs is counted (issue: cuts in a record's first bytes
# lost it silently, and payload changes passed unseen) ----------------------------------------------

def _outcomes(path) -> tuple[dict[int, str], InputError | None]:
    error = None
    outcome = {}
    try:
        for item in WarcReader()(str(path)):
            record = item.record if isinstance(item, Drop) else item
            outcome[int(record["source"].rpartition("@")[2])] = item.reason if isinstance(item, Drop) else "kept"
    except InputError as exc:
        error = exc
    return outcome, error


@pytest.mark.parametrize("into", [1, 9, 40, 130, 300])
def test_a_file_cut_in_the_first_bytes_of_a_record_counts_it(tmp_path, shared_warc, into):
    source = shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz"
    data = source.read_bytes()
    whole, _ = _outcomes(source)
    starts = member_starts(data)
    for victim in sorted(whole)[5::6]:
        cut = tmp_path / "cut.warc.gz"
        cut.write_bytes(data[:victim + into])
        outcome, error = _outcomes(cut)
        assert error is not None, "a cut file is reported"
        before = {at: reason for at, reason in whole.items() if at < victim}
        assert {at: outcome.get(at) for at in before} == before  # every whole record as before
        ends_before = [s for s in starts if s < victim][-1]  # the member before the response (its request)
        cut_records = {at: reason for at, reason in outcome.items() if at >= ends_before and at not in before}
        assert cut_records and set(cut_records.values()) <= {"truncated_record", "damaged_record"}, cut_records


def test_a_changed_byte_in_an_uncompressed_warc_is_a_digest_mismatch(tmp_path, shared_warc):
    import gzip

    data = bytearray(gzip.decompress((shared_warc / "allenai__dolma/tests/data/warc/sample-0000.warc.gz").read_bytes()))
    at = data.index(b"</p>", len(data) // 2)
    data[at + 2] = ord("q")  # </q> for </p>: the page still parses, its text is not what was crawled
    path = tmp_path / "flipped.warc"
    path.write_bytes(bytes(data))
    kept, drops, error = read_all(path)
    assert error is None and len(kept) == 21 and drops == ["digest_mismatch"]


def test_a_target_uri_in_angle_brackets_is_read_without_them(tmp_path):
    path = tmp_path / "brackets.warc.gz"
    write_warc(path, [Fetch("<https://arxiv.org/abs/2101.00001>", b"<p>an abstract</p>"),
                      Fetch("< https://site.example/a >", b"<p>a page</p>")])
    kept, drops, error = read_all(path)
    assert [r["url"] for r in kept] == ["https://arxiv.org/abs/2101.00001", "https://site.example/a"]


@pytest.mark.parametrize("name, says", [("whirlwind.warc.wet.gz", "is a WET file"),
                                        ("whirlwind.warc.wat.gz", "is a WAT file")])
def test_wet_and_wat_files_are_named_not_read_as_empty_crawls(shared_warc, name, says):
    kept, drops, error = read_all(shared_warc / "commoncrawl__whirlwind-python" / name)
    assert not kept and says in str(error) and "give the WARC file" in str(error)
