"""Input resolution and downloads, against a real HTTP server on 127.0.0.1."""

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from megamath.sources.inputs import InputNotFound, resolve_inputs
from megamath.sources.remote import DownloadError, download

from conftest import EXAMPLE_WARC, run_cli

PAYLOAD = EXAMPLE_WARC.read_bytes()


class FlakyWarcServer(BaseHTTPRequestHandler):
    """Serves the example WARC; the first plain GET breaks off halfway, Range requests are honoured."""

    requests: list = []

    def do_GET(self):
        type(self).requests.append((self.path, self.headers.get("Range")))
        if self.path == "/missing.warc.gz":
            self.send_error(404)
            return
        if self.path == "/always-500.warc.gz":
            self.send_error(500)
            return
        range_header = self.headers.get("Range")
        if range_header:
            start = int(range_header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
            self.send_header("Content-Length", str(len(PAYLOAD) - start))
            self.end_headers()
            self.wfile.write(PAYLOAD[start:])
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    FlakyWarcServer.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyWarcServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_resumes_a_broken_transfer(server, tmp_path):
    path = download(f"{server}/crawl/example.warc.gz", tmp_path, backoff_s=0.01)
    assert path.read_bytes() == PAYLOAD
    assert FlakyWarcServer.requests[0] == ("/crawl/example.warc.gz", None)
    assert FlakyWarcServer.requests[1][1] == f"bytes={len(PAYLOAD) // 2}-"
    assert not list(tmp_path.glob("*.part"))


def test_download_errors_are_clear(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing.warc.gz", tmp_path, backoff_s=0.01)
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        download(f"{server}/always-500.warc.gz", tmp_path, attempts=3, backoff_s=0.01)
    assert len([r for r in FlakyWarcServer.requests if r[0] == "/always-500.warc.gz"]) == 3


def test_cli_reads_urls_and_reports_unreachable_ones(server, tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# a list of inputs\n{server}/crawl/example.warc.gz\n{server}/missing.warc.gz\n")
    run = run_cli("web", "extract", str(listing), "-o", str(tmp_path / "run"), "-q", "--max-attempts", "2")
    assert run.returncode == 1  # an input could not be processed: the user must know, and a rerun retries it
    # a 404 cannot succeed on another attempt: the task fails at once, not after --max-attempts
    assert f"input not processed: {server}/missing.warc.gz: raised DownloadError" in run.stderr
    assert "HTTP 404" in run.stderr
    log = (tmp_path / "run" / "logs" / "run.log").read_text()
    assert "HTTP 404" in log and "attempt 1/2" not in log
    assert "5 documents in 1 shard(s)" in run.stdout
    assert not list((tmp_path / "run" / ".megamath" / "downloads").iterdir())  # removed once read


def test_resolve_inputs(tmp_path, monkeypatch):
    # the hosts of these URLs are examples that need not resolve here; refusing hosts that do not
    # resolve is tested in test_first_run_errors.py
    monkeypatch.setattr("megamath.sources.inputs.check_hosts", lambda urls: None)
    for name in ("b.warc.gz", "a.warc.gz", "c.txt"):
        (tmp_path / name).write_bytes(b"")
    paths = tmp_path / "warc.paths.gz"
    paths.write_bytes(gzip.compress(b"crawl-data/CC-MAIN-2024-46/segments/1/warc/x.warc.gz\n"))
    got = resolve_inputs([str(tmp_path / "*.warc.gz"), str(paths), str(tmp_path / "a.warc.gz"),
                          "https://example.org/y.warc.gz"])
    assert got == [str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz"),
                   "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-46/segments/1/warc/x.warc.gz",
                   "https://example.org/y.warc.gz"]
    with pytest.raises(InputNotFound, match="no file matches"):
        resolve_inputs([str(tmp_path / "*.arc")])
    with pytest.raises(InputNotFound, match="is a folder"):
        resolve_inputs([str(tmp_path)])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'a.warc.gz'}\n{tmp_path / 'gone.warc.gz'}\n")
    with pytest.raises(InputNotFound, match="gone.warc.gz"):
        resolve_inputs([str(listing)])
