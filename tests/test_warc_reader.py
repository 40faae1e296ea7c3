
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
    kept, drops, error = read_all(corrupt)
    assert error is not None and "damaged" in str(error) and 0 < len(kept) < 22


def test_warcio_edge_cases_never_crash(shared_warc):
    folder = shared_warc / "webrecorder__warcio/test/data"
    outcomes = {}
    for path in sorted(folder.iterdir()):
        kept, drops, error = read_all(path)
        outcomes[path.name] = (len(kept), error is not None)
    assert outcomes["example.warc.gz"] == (1, False)
    assert outcomes["example.warc"] == (1, False)
    assert outcomes["example-iana.org-chunked.warc"] == (1, False)
    assert outcomes["bad.arc"] == (0, True)  # ARC is not WARC: a clear input error, not silence
    assert outcomes["example.arc.gz"] == (0, True)
    assert outcomes["example-trunc.warc"] == (1, True)
    lenient = {p.name: read_all(p, lenient_warc=True)[2] is None for p in folder.iterdir()}
    assert lenient["bad.arc"] and lenient["example-trunc.warc"]


def test_size_limit_skips_before_reading(tmp_path):
    big = b"<html><body>" + b"<p>word </p>" * 5_000_000 + b"</body></html>"  # ~55 MB
    path = tmp_path / "big.warc.gz"
    write_warc(path, [Fetch("https://big.example/", big), Fetch("https://small.example/", b"<p>hi</p>")])
    kept, drops, error = read_all(path)
    assert error is None and drops == ["too_large"] and [r["url"] for r in kept] == ["https://small.example/"]


def test_wrong_declared_charset_falls_back_to_detection():
    body = "Größenordnung und Übermaß: eine Erklärung für Schülerinnen".encode("cp1252")
    text, charset = decode_html(body, "utf-8")
    assert "Größenordnung" in text and charset != "utf-8"
    assert decode_html("naïve".encode(), None)[0] == "naïve"
    assert decode_html(b"\xff\xfe\x00garbage\x81", "no-such-charset")[0]
