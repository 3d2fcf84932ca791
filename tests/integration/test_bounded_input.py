"""Bounded input (issue 12, cases 9 and 10): size caps, redirects, streaming to disk, and a NOF
reader whose memory stays near the file's size.

* Size caps: every source kind has a ``max_bytes`` (``assets/sources.yaml``; default 64 MiB). A
  landing file over it is refused by its size on disk before a byte is read (a sparse 8 GiB
  file is refused at once); an http response by its Content-Length, or, with no length, as
  soon as more than the cap has arrived (the test counts the bytes the server managed to send).
* Redirects: a same-host redirect is followed and lineage records the final URL (and the one
  asked for); another host is refused unless allowed (two loopback servers: the host includes
  the port); https to http is always refused (the policy function directly, and end to end
  through httpx's mock transport, since the tests cannot serve https).
* Streaming: a download goes to a temporary file in the source store's folder and is renamed
  into place, never held whole in memory (tracemalloc), and no temporary file is left behind.
* The NOF reader reads blocks of rows: it gives exactly what the whole-text reader gave
  (:func:`_reference_read_nof_trust_data`, the reader as it was) on the real files, on
  hand-made faults and on hypothesis-generated files, and its peak memory, measured in a child
  process, stays under 5x the file's size (the whole-text reader took about 11x).

The servers are ``http.server`` on 127.0.0.1 with ephemeral ports; sleeps between retries are
recorded, never slept.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.resources import run_resources
from league_pipeline.formats import common, nof
from league_pipeline.formats.common import ReaderError
from league_pipeline.formats.nof import NOF_TRUST_DATA_COLUMNS, read_nof_trust_data
from league_pipeline.ingest import catalogue
from league_pipeline.ingest.acquire import acquire, probe
from league_pipeline.ingest.fetch import (
    HttpFetcher,
    LandingFetcher,
    RedirectRefused,
    SizeCap,
    SourceTooLarge,
    check_redirect,
    format_size,
)
from league_pipeline.ingest.store import SourceStore

CSV = b"Trust_code,Metric_ID,Value\nRXX,OF0001,0.5\nRYY,OF0001,0.7\n"
KIND = "nof_trust_data_acute"
Q1 = Quarter(2025, 1)
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PIECE = (b"RXX,OF0001,0.5\r\n" * 4096)[: 64 * KiB]  # what a big response is made of
BIG = 64 * MiB  # a big response: generated as it is sent, never held by the server
SMALL_CAP = 64 * KiB


# -- a loopback server -----------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes = CSV
    location: str = ""  # a 302 to here
    big: int = 0  # send this many bytes of PIECE instead of body
    chunked: bool = False  # ... with chunked transfer encoding (no Content-Length)
    content_type: str = "text/csv"


@dataclass
class Server:
    base_url: str = ""
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)  # body bytes written, per path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, path: str, **kwargs: object) -> str:
        self.routes[path] = Route(**kwargs)  # type: ignore[arg-type]
        return self.base_url + path

    def gets(self, path: str) -> int:
        return self.hits["GET", path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Loopback

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        state = self.server.state
        with state.lock:
            state.hits[self.command, self.path] += 1
            route = state.routes.get(self.path)
        try:
            if route is None:
                self._send(404, b"not found", {"Content-Type": "text/plain"}, head)
            elif route.location:
                self._send(302, b"", {"Location": route.location}, head)
            elif route.big:
                self._big(route, head)
            else:
                self._send(200, route.body, {"Content-Type": route.content_type}, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _big(self, route: Route, head: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(route.big))
        self.end_headers()
        if head:
            return
        state, sent = self.server.state, 0
        while sent < route.big:
            part = PIECE[: route.big - sent]
            if route.chunked:
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                self.wfile.write(part)
            sent += len(part)
            with state.lock:
                state.sent[self.path] = sent
        if route.chunked:
            self.wfile.write(b"0\r\n\r\n")


class _Loopback(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: Server) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up on a big body is part of the script


@pytest.fixture
def start_server() -> Iterator[Callable[[], Server]]:
    started: list[tuple[_Loopback, threading.Thread]] = []

    def start() -> Server:
        state = Server()
        httpd = _Loopback(state)
        state.port = httpd.server_address[1]
        state.base_url = f"http://127.0.0.1:{state.port}"
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        started.append((httpd, thread))
        return state

    yield start
    for httpd, thread in started:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server(start_server: Callable[[], Server]) -> Server:
    return start_server()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[HttpFetcher]:
    with HttpFetcher(timeout=5, retries=3, backoff=0.5, sleep=sleeps.append) as fetcher:
        yield fetcher


def _one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


def _leftovers(store: SourceStore) -> list[Path]:
    """Files in the store's folder: temporary downloads left behind, or objects."""
    return [p for p in store.root.rglob("*") if p.is_file()]


# -- redirects -------------------------------------------------------------------------------------


def test_same_host_redirect_is_followed_and_lineage_records_the_final_url(
    server: Server, http: HttpFetcher, tmp_path: Path
) -> None:
    overrides = {"base_url": server.base_url}
    url = catalogue.url_for(KIND, Q1, overrides)
    assert url is not None
    server.route(url.removeprefix(server.base_url), location="/mirror/moved.csv")  # relative
    final = server.route("/mirror/moved.csv")
    store = SourceStore(tmp_path / "sources")

    stored = acquire(KIND, Q1, mode="http", store=store, http=http, url_overrides=overrides)
    assert (stored.url, stored.requested_url, stored.read_bytes()) == (final, url, CSV)
    record = stored.to_record()  # what the source step writes into the snapshot's lineage
    assert (record["url"], record["requested_url"]) == (final, url)
    assert store.history(url) == store.history(final) == [record]
    assert store.latest(url) == stored
    assert list(store.spool_dir().iterdir()) == []  # the download was moved into place


def test_a_fetch_that_is_not_redirected_records_no_requested_url(
    server: Server, http: HttpFetcher, tmp_path: Path
) -> None:
    url = server.route("/data.csv")
    fetched = http.fetch(url)
    assert (fetched.url, fetched.requested_url) == (url, None)
    stored = SourceStore(tmp_path).put(fetched.read_bytes(), url=fetched.url)
    assert "requested_url" not in stored.to_record()  # log lines as before


def test_cross_host_redirect_is_refused_unless_the_host_is_allowed(
    start_server: Callable[[], Server], sleeps: list[float]
) -> None:
    ours, other = start_server(), start_server()  # 127.0.0.1 on two ports: two hosts
    target = other.route("/elsewhere.csv")
    url = ours.route("/data.csv", location=target)
    with HttpFetcher(timeout=5, retries=3, sleep=sleeps.append) as http:
        with pytest.raises(RedirectRefused) as info:
            http.fetch(url)
        message = _one_line(info.value)
        assert message == (
            f"{url} redirected to another host, 127.0.0.1:{other.port} ({target}), which is not "
            f"allowed (not followed) — add 127.0.0.1:{other.port} to LEAGUE_HTTP_ALLOWED_HOSTS "
            "if you trust it, or check the URL in assets/sources.yaml or use landing mode"
        )
        assert (ours.gets("/data.csv"), other.gets("/elsewhere.csv"), sleeps) == (1, 0, [])
        with pytest.raises(RedirectRefused):  # the sensor's probe follows the same policy
            http.probe(url)
        assert other.hits["HEAD", "/elsewhere.csv"] == 0

    with HttpFetcher(timeout=5, retries=0, allowed_hosts=[f"127.0.0.1:{other.port}"]) as http:
        fetched = http.fetch(url)
        assert (fetched.content, fetched.url, fetched.requested_url) == (CSV, target, url)
        # an allowed host may not lead on to a third one
        onward = other.route("/onward.csv", location=f"http://localhost:{other.port}/x.csv")
        hop = ours.route("/hop.csv", location=onward)
        with pytest.raises(RedirectRefused, match=rf"another host, localhost:{other.port} "):
            http.fetch(hop)


def test_the_allow_list_comes_from_the_environment() -> None:
    hosts = "files.example.org, 127.0.0.1:8765 *.nhs.uk"
    env = {"LEAGUE_HTTP_ALLOWED_HOSTS": hosts, "LEAGUE_SOURCE_MODE": "http"}
    fetcher = run_resources(Settings.from_env(env))["fetcher"]
    assert fetcher.http_allowed_hosts == ["files.example.org", "127.0.0.1:8765", "*.nhs.uk"]
    with fetcher.get().http as http:
        assert http.allowed_hosts == ("files.example.org", "127.0.0.1:8765", "*.nhs.uk")
    assert run_resources(Settings.from_env({}))["fetcher"].http_allowed_hosts == []


NHS = "https://www.england.nhs.uk/wp-content/uploads/2025/09/data.csv"


@pytest.mark.parametrize(
    ("origin", "source", "target", "allowed", "refused"),
    [
        (NHS, NHS, "https://www.england.nhs.uk/moved/data.csv", (), None),
        (NHS, NHS, "http://www.england.nhs.uk/data.csv", (), "a downgrade, always refused"),
        # a downgrade is refused even to a host on the list
        (NHS, NHS, "http://www.england.nhs.uk/x.csv", ("www.england.nhs.uk",), "downgrade"),
        (NHS, NHS, "http://mirror.example.org/x.csv", ("mirror.example.org",), "downgrade"),
        ("http://h.test/a", "http://h.test/a", "https://h.test/a", (), None),  # an upgrade
        (NHS, NHS, "https://www.england.nhs.uk:8443/a", (), "another host"),  # the port counts
        (NHS, NHS, "https://www.england.nhs.uk:8443/a", ("www.england.nhs.uk",), None),
        (NHS, NHS, "https://www.england.nhs.uk:8443/a", ("www.england.nhs.uk:443",), "another"),
        (NHS, NHS, "https://www.england.nhs.uk:8443/a", ("www.england.nhs.uk:8443",), None),
        (NHS, NHS, "https://files.digital.nhs.uk/a", (), "another host, files.digital.nhs.uk"),
        (NHS, NHS, "https://files.digital.nhs.uk/a", ("*.nhs.uk",), None),
        (NHS, NHS, "https://nhs.uk.evil.example/a", ("*.nhs.uk",), "another host"),
        (NHS, NHS, "https://FILES.digital.nhs.uk/a", ("Files.Digital.NHS.uk",), None),
        (NHS, NHS, "ftp://www.england.nhs.uk/a", ("www.england.nhs.uk",), "not http"),
        (
            "http://127.0.0.1:8000/a",
            "http://127.0.0.1:8000/a",
            "http://localhost:8000/a",
            (),
            "another",
        ),
        (
            "http://127.0.0.1:8000/a",
            "http://127.0.0.1:8000/a",
            "http://[::1]:8000/a",
            ("[::1]:8000",),
            None,
        ),
        # every hop is checked against the URL asked for, not the previous hop
        (
            NHS,
            "https://mirror.example.org/a",
            "https://cdn.example.org/a",
            ("mirror.example.org",),
            "another host",
        ),
        (
            NHS,
            "https://mirror.example.org/a",
            "https://www.england.nhs.uk/b",
            ("mirror.example.org",),
            None,
        ),
    ],
)
def test_redirect_policy(
    origin: str, source: str, target: str, allowed: tuple[str, ...], refused: str | None
) -> None:
    if refused is None:
        check_redirect(origin, source, target, allowed)
        return
    with pytest.raises(RedirectRefused, match=refused) as info:
        check_redirect(origin, source, target, allowed)
    _one_line(info.value)


def test_https_to_http_downgrade_is_refused_end_to_end(sleeps: list[float]) -> None:
    """httpx's mock transport stands in for an https server (the tests cannot serve https)."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.scheme == "https":
            return httpx.Response(302, headers={"Location": "http://files.example.org/etr.csv"})
        return httpx.Response(200, content=CSV)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    url = "https://files.example.org/etr.csv"
    with HttpFetcher(
        client=client, retries=2, sleep=sleeps.append, allowed_hosts=["files.example.org"]
    ) as http:
        with pytest.raises(RedirectRefused) as info:
            http.fetch(url)
        assert "redirected from https to http" in _one_line(info.value)
        with pytest.raises(RedirectRefused, match="downgrade"):
            http.probe(url)
    assert asked == [url, url] and sleeps == []  # the http URL is never asked for, no retry


def test_redirect_loops_stop(server: Server, http: HttpFetcher) -> None:
    url = server.route("/a.csv", location="/b.csv")
    server.route("/b.csv", location="/a.csv")
    with pytest.raises(Exception, match="more than 10 redirects"):
        http.fetch(url)
    assert server.gets("/a.csv") + server.gets("/b.csv") == 11


# -- size caps over http ------------------------------------------------------------------------


def test_oversized_response_with_a_content_length_is_refused_unread(
    server: Server, http: HttpFetcher, sleeps: list[float], tmp_path: Path
) -> None:
    url = server.route("/huge.csv", big=BIG)
    store = SourceStore(tmp_path / "sources")
    with pytest.raises(SourceTooLarge) as info:
        acquire(
            KIND,
            Q1,
            mode="http",
            store=store,
            http=http,
            max_bytes=SMALL_CAP,
            url_overrides={"urls": {KIND: url}},
        )
    assert _one_line(info.value) == (
        f"GET {url} announces 67,108,864 bytes (64 MiB), over the 64 KiB size cap of {KIND} "
        "(65,536 bytes): refused unread (not retried) — check it is the published file, or "
        f"raise max_bytes of {KIND} in assets/sources.yaml"
    )
    assert server.gets("/huge.csv") == 1 and sleeps == []
    time.sleep(0.2)  # let the server notice the closed connection
    # the client hung up after the headers: the server got out at most what the socket
    # buffers hold (a few MiB), not the 64 MiB
    assert server.sent["/huge.csv"] < 24 * MiB
    assert _leftovers(store) == []  # no temporary file, no object, no log line


def test_oversized_response_without_a_length_is_stopped_at_the_cap(
    server: Server, http: HttpFetcher, sleeps: list[float], tmp_path: Path
) -> None:
    url = server.route("/stream.csv", big=BIG, chunked=True)
    store = SourceStore(tmp_path / "sources")
    with pytest.raises(SourceTooLarge) as info:
        http.fetch(url, cap=SizeCap(SMALL_CAP, KIND), spool_dir=store.spool_dir())
    message = _one_line(info.value)
    assert message.startswith(
        f"GET {url} sent more than the 64 KiB size cap of {KIND} (65,536 bytes) with no "
        "Content-Length: download stopped after "
    )
    read = int(re.search(r"stopped after ([\d,]+) bytes", message)[1].replace(",", ""))  # type: ignore[index]
    assert SMALL_CAP < read <= SMALL_CAP + 128 * KiB  # bytes read stay near the cap
    assert server.gets("/stream.csv") == 1 and sleeps == []
    time.sleep(0.2)
    assert server.sent["/stream.csv"] < 24 * MiB
    assert _leftovers(store) == []


def test_a_response_at_the_cap_is_kept(server: Server, http: HttpFetcher) -> None:
    url = server.route("/exact.csv", big=SMALL_CAP, chunked=True)
    fetched = http.fetch(url, cap=SizeCap(SMALL_CAP, KIND))
    assert fetched.size == SMALL_CAP and fetched.content == PIECE[:SMALL_CAP]
    url = server.route("/exact-length.csv", big=SMALL_CAP)
    assert http.fetch(url, cap=SizeCap(SMALL_CAP, KIND)).size == SMALL_CAP


def test_an_html_page_is_refused_before_its_body_is_read(server: Server, http: HttpFetcher) -> None:
    url = server.route("/login.csv", big=BIG, content_type="text/html; charset=utf-8")
    with pytest.raises(Exception, match="returned an HTML page") as info:
        http.fetch(url)
    assert "not retried" in _one_line(info.value) and server.gets("/login.csv") == 1
    time.sleep(0.2)
    assert server.sent["/login.csv"] < 24 * MiB


def test_a_download_goes_to_disk_not_memory(
    server: Server, http: HttpFetcher, tmp_path: Path
) -> None:
    size = 16 * MiB
    url = server.route("/big.csv", big=size)
    store = SourceStore(tmp_path / "sources")
    expected = hashlib.sha256(PIECE * (size // len(PIECE))).hexdigest()
    tracemalloc.start()
    try:
        stored = acquire(
            KIND, Q1, mode="http", store=store, http=http, url_overrides={"urls": {KIND: url}}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (stored.size, stored.sha256) == (size, expected)
    assert peak < size / 4  # the body was never held whole (the old fetch held it twice)
    assert list(store.spool_dir().iterdir()) == []  # the temporary file was moved into place
    assert oct(stored.path.stat().st_mode & 0o777) == "0o444"


def test_partial_and_failed_downloads_leave_no_temporary_file(
    server: Server, tmp_path: Path, sleeps: list[float]
) -> None:
    store = SourceStore(tmp_path / "sources")
    url = server.route("/missing.csv")
    del server.routes["/missing.csv"]
    with HttpFetcher(timeout=5, retries=1, sleep=sleeps.append) as http:
        with pytest.raises(Exception, match="HTTP 404"):
            http.fetch(url, spool_dir=store.spool_dir())
        url = server.route("/bad.csv", body=CSV)
        with pytest.raises(Exception, match="SHA-256 mismatch"):
            http.fetch(url, "0" * 64, spool_dir=store.spool_dir())
    assert list(store.spool_dir().iterdir()) == []


# -- size caps in the landing folder -------------------------------------------------------------


def test_oversized_landing_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / catalogue.landing_path(KIND, Q1)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:
        fh.truncate(8 * GiB)  # sparse: no disk used, but 8 GiB to read
    store = SourceStore(tmp_path / "sources")
    started = time.monotonic()
    with pytest.raises(SourceTooLarge) as info:
        acquire(KIND, Q1, mode="landing", store=store, landing_dir=landing)
    assert time.monotonic() - started < 2  # reading 8 GiB would take far longer
    assert _one_line(info.value) == (
        f"landing file {path} is 8,589,934,592 bytes (8 GiB), over the 64 MiB size cap of {KIND} "
        "(67,108,864 bytes): refused unread — check it is the published file, or raise "
        f"max_bytes of {KIND} in assets/sources.yaml"
    )
    assert _leftovers(store) == []
    found = probe(KIND, Q1, mode="landing", landing_dir=landing)  # the sensor does not hash it
    assert found is not None and (found.size, found.sha256) == (8 * GiB, None)
    assert time.monotonic() - started < 2


def test_landing_cap_boundary_and_override(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / catalogue.landing_path(KIND, Q1)
    path.parent.mkdir(parents=True)
    path.write_bytes(CSV)
    store = SourceStore(tmp_path / "sources")
    stored = acquire(KIND, Q1, mode="landing", store=store, landing_dir=landing, max_bytes=len(CSV))
    assert stored.read_bytes() == CSV and stored.url == path.as_uri()
    with pytest.raises(SourceTooLarge, match=rf"is {len(CSV)} bytes \({len(CSV)} bytes\), over"):
        acquire(KIND, Q1, mode="landing", store=store, landing_dir=landing, max_bytes=len(CSV) - 1)
    assert list(store.spool_dir().iterdir()) == []


def test_a_landing_file_that_grows_while_it_is_copied_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "2025-26-q1" / "data.csv"
    path.parent.mkdir()
    path.write_bytes(PIECE * 4)  # 256 KiB, but the stat said 1 KiB
    monkeypatch.setattr(LandingFetcher, "_etag", staticmethod(lambda p: ("etag", 1024)))
    spool = tmp_path / "spool"
    with pytest.raises(SourceTooLarge, match="grew to at least") as info:
        LandingFetcher(tmp_path).fetch(
            "2025-26-q1/data.csv", cap=SizeCap(SMALL_CAP, KIND), spool_dir=spool
        )
    assert "copy stopped" in _one_line(info.value)
    assert list(spool.iterdir()) == []


# -- the catalogue's caps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1000, 1000),
        ("1000", 1000),
        ("64 MiB", 64 * MiB),
        ("64MiB", 64 * MiB),
        ("1.5 GiB", 3 * GiB // 2),
        ("500 kB", 500_000),
        ("2 GB", 2_000_000_000),
        ("4 gib", 4 * GiB),
    ],
)
def test_sizes_are_parsed(text: object, size: int) -> None:
    assert catalogue.parse_size(text, "here") == size


@pytest.mark.parametrize("text", [0, -1, True, "lots", "64 MB/s", "1e9", "", "0 MiB"])
def test_bad_sizes_are_refused(text: object) -> None:
    with pytest.raises(catalogue.CatalogueError, match="max_bytes"):
        catalogue.parse_size(text, "here")


def test_a_catalogue_states_a_default_and_caps_per_kind(tmp_path: Path) -> None:
    kind = (
        "  {name}:\n    description: x\n    landing_path: '{{slug}}/{name}.csv'\n    http: none\n"
    )

    def load(name: str, text: str) -> dict[str, catalogue.SourceKind]:
        path = tmp_path / name  # a new file each time: the catalogue is cached by path
        path.write_text(text)
        return catalogue.source_kinds(path)

    kinds = load(
        "caps.yaml",
        "version: 1\ndefaults:\n  max_bytes: 1 MiB\nkinds:\n"
        + kind.format(name="plain")
        + kind.format(name="bigger")
        + "    max_bytes: 2 GiB\n",
    )
    assert (kinds["plain"].max_bytes, kinds["bigger"].max_bytes) == (MiB, 2 * GiB)
    kinds = load("no-default.yaml", "version: 1\nkinds:\n" + kind.format(name="plain"))
    assert kinds["plain"].max_bytes == catalogue.DEFAULT_MAX_BYTES
    with pytest.raises(catalogue.CatalogueError, match="unknown keys"):
        load("typo.yaml", "version: 1\nlimits: {}\nkinds:\n" + kind.format(name="plain"))
    with pytest.raises(catalogue.CatalogueError, match="max_bytes 'big' is not a size"):
        load("bad.yaml", "kinds:\n" + kind.format(name="plain") + "    max_bytes: big\n")


def test_the_real_files_are_well_under_their_caps(real_data: Path) -> None:
    """Each cap leaves at least ten times the largest real file of its kind (the NOF files
    are per quarter: a cumulative Q4 file is four times as big)."""
    assert catalogue.DEFAULT_MAX_BYTES == 64 << 20
    caps = {k: v.max_bytes for k, v in catalogue.source_kinds().items()}
    assert caps["rtt_full_extract"] == 4 * GiB
    files = {
        "nof2526_q1_acute_trust_data.csv": ("nof_trust_data_acute", 4),
        "nof2526_q1q2_mh_community_trust_data.csv": ("nof_trust_data_mental_health_community", 2),
        "ods_etr_nhs_trusts_2025-11.csv": ("ods_trusts", 1),
        "ae_monthly_2025-04.csv": ("ae_monthly_m1", 1),
        "ambsys_time_series_to_2025-08.xlsx": ("ambsys", 1),
        "cwt_crs_provider_extract_2025-04_to_2025-07.xlsx": ("cwt_crs_provider", 3),
    }
    for name, (kind, year_factor) in files.items():
        size = (real_data / name).stat().st_size * year_factor
        assert size * 10 <= caps[kind], (name, format_size(size), format_size(caps[kind]))


def test_format_size() -> None:
    assert [format_size(n) for n in (12, 1536, 64 * MiB, 8 * GiB, 3 * GiB // 2)] == [
        "12 bytes",
        "1.5 KiB",
        "64 MiB",
        "8 GiB",
        "1.5 GiB",
    ]


# -- the NOF reader: the same result as the whole-text reader, in bounded memory -----------------


def _reference_read_nof_trust_data(content: bytes, quarter_label: str | None) -> pd.DataFrame:
    """The NOF reader as it was before issue 12: the whole text decoded, parsed by ``csv`` into a
    list of lists, a DataFrame of ``str`` made from it, numbers tested cell by cell."""
    with warnings.catch_warnings():  # its fillna(True) on a float column warns in pandas 3
        warnings.simplefilter("ignore")
        return _reference_read(content, quarter_label)


def _reference_read(content: bytes, quarter_label: str | None) -> pd.DataFrame:
    what = "NOF trust data"
    df = common.read_csv(common.decode_text(content, what), what)
    df = df.rename(columns={"Sub-domain": "Sub_domain"})
    common.check_layout(df, nof.NOF_TRUST_DATA_COLUMNS[1:], what)
    if "Quarter" in df.columns:
        df["Quarter"] = df["Quarter"].map(common.normalise_quarter_label).astype("str")
    elif quarter_label is None:
        raise ReaderError(
            f"{what}: the file has no Quarter column; pass quarter_label (e.g. '2025/26 Q1')"
        )
    else:
        df.insert(0, "Quarter", common._expected_label(quarter_label))
    if quarter_label is not None:
        df.attrs["expected_quarter"] = common._expected_label(quarter_label)
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(nof._TRUST_TYPE_ALIASES)
    if "Units" in df.columns:
        df["Units"] = df["Units"].replace(nof._UNITS_ALIASES)
    for col in nof._TRUST_DATA_NUMERIC:
        if col in df.columns:
            series = df[col]
            plain = series.map(common.is_plain_number, na_action="ignore").fillna(True).astype(bool)
            if plain.all():
                df[col] = pd.to_numeric(series).astype("float64")
    out = common.order_columns(df, nof.NOF_TRUST_DATA_COLUMNS)
    out.attrs = dict(df.attrs)
    return out


def _outcome(reader: Callable[..., pd.DataFrame], content: bytes, quarter: str | None):
    try:
        return reader(content, quarter)
    except ReaderError as exc:
        return str(exc)


def _assert_same_as_reference(content: bytes, quarter: str | None = "2025/26 Q1") -> None:
    ours = _outcome(read_nof_trust_data, content, quarter)
    theirs = _outcome(_reference_read_nof_trust_data, content, quarter)
    if isinstance(theirs, str) or isinstance(ours, str):
        assert ours == theirs
        return
    pd.testing.assert_frame_equal(ours, theirs)
    assert list(ours.dtypes) == list(theirs.dtypes) and ours.attrs == theirs.attrs


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 3 rows, text decoded 7 bytes at a time: every boundary gets crossed."""
    monkeypatch.setattr(common, "_BLOCK_ROWS", 3)
    monkeypatch.setattr(common, "_DECODE_CHUNK", 7)


def test_the_block_reader_reads_the_real_files_as_before(
    acute_bytes: bytes, mh_bytes: bytes
) -> None:
    _assert_same_as_reference(acute_bytes)
    _assert_same_as_reference(mh_bytes, None)
    _assert_same_as_reference(mh_bytes, "2025/26 Q2")
    _assert_same_as_reference(acute_bytes, None)  # no Quarter column: refused alike


def _faults(acute: bytes) -> dict[str, bytes]:
    header = acute.split(b"\r\n", 1)[0]
    return {
        "not a number": acute.replace(b",4.01,", b",abc,", 1),
        "overflow": acute.replace(b",4.01,", b",1e999,", 1),
        "blank cell": acute.replace(b",4.01,", b",  ,", 1),
        "no-break spaces": acute.replace(b",4.01,", b",\xc2\xa04.01 ,", 1),
        "Arabic digits": acute.replace(b",4.01,", b",\xd9\xa1\xd9\xa2,", 1),
        "separator characters": acute.replace(b",4.01,", b",\x1c4.01\x1f,", 1),
        "signed exponent": acute.replace(b",4.01,", b",+.5e3,", 1),
        "truncated": acute[: acute.index(b"\r\n", 5000) - 20],
        "a field too many": acute.replace(b",113.0\r\n", b",113.0,x\r\n", 1),
        "unterminated quote": header + b'\r\nNorth West,"Acute trust\r\n',
        "header only": header + b"\r\n",
        "bad byte at the end": acute + b"\xff\r\n",
        "NUL": acute[:3000] + b"\x00" + acute[3000:],
        "LF": acute.replace(b"\r\n", b"\n"),
        "CR": acute.replace(b"\r\n", b"\r"),
        "no BOM": acute[3:],
        "UTF-16": acute[3:].decode().encode("utf-16"),
        "blank lines": acute.replace(b"\r\n", b"\r\n\r\n"),
        "duplicate header": acute.replace(b"Region,Trust_type", b"Region,Region", 1),
        "HTML": b"\n\n<html><body>x</body></html>",
        "HTML after a long blank start": b" " * 5000 + b"<!DOCTYPE html><p>x",
        "JSON": b'  {"a": 1}',
        "empty": b"  \r\n",
        "ZIP": b"PK\x03\x04abc",
        "other columns": b"just some text\nwithout the right columns\n",
        "CJK": acute.replace(b"Manchester", "Manch\u4e2dster".encode(), 3),
        "quoted line end": acute.replace(
            b"Manchester University", b'"Manchester\r\nUniversity', 1
        ).replace(b"Trust,Access", b'Trust",Access', 1),
    }


@pytest.mark.parametrize("blocks", ["default blocks", "small blocks"])
def test_the_block_reader_refuses_and_keeps_what_the_whole_text_reader_did(
    acute_bytes: bytes, blocks: str, request: pytest.FixtureRequest
) -> None:
    if blocks == "small blocks":  # on the first 60 lines: 7-byte decoding is slow
        request.getfixturevalue("small_blocks")
        acute_bytes = b"\r\n".join(acute_bytes.split(b"\r\n")[:60]) + b"\r\n"
    for name, content in _faults(acute_bytes).items():
        try:
            _assert_same_as_reference(content)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_a_file_with_two_faults_reports_the_first_in_file_order(acute_bytes: bytes) -> None:
    """The one difference: the whole-text reader parsed every row before checking any, so a
    short row early on was hidden behind a broken quote further down."""
    lines = acute_bytes.split(b"\r\n")
    lines[5] = lines[5].rsplit(b",", 1)[0]  # line 6 has a field too few
    lines[-2] = b'"' + lines[-2]  # an unterminated quote at the end
    with pytest.raises(ReaderError, match="line 6 has 15 fields but the header has 16"):
        read_nof_trust_data(b"\r\n".join(lines), "2025/26 Q1")
    with pytest.raises(ReaderError, match="not a readable CSV"):
        _reference_read_nof_trust_data(b"\r\n".join(lines), "2025/26 Q1")
    short_row_then_bad_byte = b"\r\n".join(lines[:-2]) + b"\r\n\xff\r\n"
    with pytest.raises(ReaderError, match="line 6 has 15 fields"):
        read_nof_trust_data(short_row_then_bad_byte, "2025/26 Q1")
    with pytest.raises(ReaderError, match="not UTF-8 text"):
        _reference_read_nof_trust_data(short_row_then_bad_byte, "2025/26 Q1")


_CELLS = st.sampled_from(
    [
        "",
        " ",
        "R0A",
        "North West",
        "Acute trust",
        "Non-acute hospital trust",
        "%",
        "percent",
        "4.01",
        " 4.01 ",
        "-0.5",
        "+1",
        ".5",
        "5.",
        "1e5",
        "1E-3",
        "1_000",
        "1,000",
        "nan",
        "inf",
        "1e999",
        "\u0661\u0662",
        "\uff11\uff12",
        "\u00a012\u00a0",
        "\u3000x\u3000",
        'say "hi"',
        "two\r\nlines",
        "a\rb",
        "Q1 2025/26",
        "2025/26 Q2",
        "Q5 2025/26",
        "é",
        "\U0001f600",
    ]
)


@st.composite
def _nof_files(draw: st.DrawFn) -> tuple[bytes, str | None]:
    with_quarter = draw(st.booleans())
    names = NOF_TRUST_DATA_COLUMNS if with_quarter else NOF_TRUST_DATA_COLUMNS[1:]
    names = ["Sub-domain" if n == "Sub_domain" else n for n in names]
    rows = draw(st.lists(st.lists(_CELLS, min_size=len(names), max_size=len(names)), max_size=9))
    for row in rows:  # now and then a row with a field too many or too few
        if draw(st.integers(0, 20)) == 0:
            row.append("x") if draw(st.booleans()) else row.pop()
    buffer = io.StringIO()
    terminator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(names)
    for row in rows:
        writer.writerow(row)
        if draw(st.integers(0, 10)) == 0:
            buffer.write(terminator)  # a blank line
    content = buffer.getvalue().encode()
    if draw(st.booleans()):
        content = b"\xef\xbb\xbf" + content
    if draw(st.integers(0, 10)) == 0 and content:  # damage: a cut, a stray quote or byte
        at = draw(st.integers(0, len(content) - 1))
        content = content[:at] + draw(st.sampled_from([b"", b'"', b"\xff", b"\x00"])) + content[at:]
    quarter = draw(st.sampled_from(["2025/26 Q1", "2025/26 Q2", None]))
    return content, quarter


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_nof_files())
def test_generated_files_read_as_the_whole_text_reader_read_them(
    small_blocks: None, case: tuple[bytes, str | None]
) -> None:
    content, quarter = case
    ours = _outcome(read_nof_trust_data, content, quarter)
    theirs = _outcome(_reference_read_nof_trust_data, content, quarter)
    if isinstance(ours, str) and isinstance(theirs, str):
        # both refuse; with two faults in one file the first in file order may be named
        return
    _assert_same_as_reference(content, quarter)


_MEMORY_CHILD = r"""
import json, sys
from pathlib import Path
from league_pipeline.formats.nof import read_nof_trust_data

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

content = Path(sys.argv[1]).read_bytes()
before = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) starts again from here
df = read_nof_trust_data(content, "2025/26 Q1")
print(json.dumps({"rows": len(df), "size": len(content), "peak": status("VmHWM:") - before}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_reading_a_large_nof_file_peaks_under_five_times_its_size(
    acute_bytes: bytes, tmp_path: Path
) -> None:
    """100,000 rows (21 MB): the whole-text reader peaked at about 11x the file's size (see
    benchmarks/nof_reader_memory.py), the block reader at about 2.5x on top of the bytes."""
    header, body = acute_bytes.split(b"\r\n", 1)
    lines = body.rstrip(b"\r\n").split(b"\r\n")
    rows = 100_000
    path = tmp_path / "big.csv"
    path.write_bytes(
        b"\r\n".join([header] + [lines[i % len(lines)] for i in range(rows)]) + b"\r\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(child.stdout.splitlines()[-1])
    assert figures["rows"] == rows
    assert figures["peak"] < 5 * figures["size"], figures
