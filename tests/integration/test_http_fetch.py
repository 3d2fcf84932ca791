"""The two fetch modes against a real loopback HTTP server, and acquire() end to end.

The server (``http.server`` on 127.0.0.1, ephemeral port) is scripted per path: each request to a
path takes the next step of its script (the last step repeats), so "500 twice, then serve" is
``["500", "500", "ok"]``. Sleeps between retries are recorded, never slept.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from league_pipeline.core.quarters import Quarter
from league_pipeline.ingest import catalogue
from league_pipeline.ingest.acquire import acquire, probe
from league_pipeline.ingest.fetch import (
    HttpFetcher,
    LandingFetcher,
    SourceFetchError,
    SourceMissing,
)
from league_pipeline.ingest.store import SourceStore

CSV = b"Trust_code,Metric_ID,Value\nRXX,OF0001,0.5\nRYY,OF0001,0.7\n"
HTML = b"<!DOCTYPE html>\n<html><body><h1>Page not found</h1></body></html>"
MAX_REQUESTS = 200  # the server refuses more than this: a runaway retry loop fails loudly
SLOW_SECONDS = 1.0
Q1 = Quarter(2025, 1)


@dataclass
class Route:
    steps: list[str]
    body: bytes = CSV
    content_type: str = "text/csv; charset=utf-8"
    etag: str | None = '"nof-q1-v1"'
    head: str = "ok"  # or "405"
    location: str = ""  # for "redirect"


@dataclass
class Server:
    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, path: str, *steps: str, **kwargs: object) -> str:
        self.routes[path] = Route(list(steps) or ["ok"], **kwargs)  # type: ignore[arg-type]
        return self.base_url + path

    def gets(self, path: str) -> int:
        return self.hits["GET", path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Loopback

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output quiet
        pass

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        state = self.server.state
        path = self.path
        with state.lock:
            state.hits[self.command, path] += 1
            total = sum(state.hits.values())
            route = state.routes.get(path)
            step = "404"
            if route is not None:
                step = route.steps.pop(0) if len(route.steps) > 1 else route.steps[0]
        if total > MAX_REQUESTS:
            self.close_connection = True
            self._send(503, b"request budget exhausted", {}, head)
            return
        if route is not None and head and route.head == "405":
            step = "405"
        try:
            self._step(step, route, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _step(self, step: str, route: Route | None, head: bool) -> None:
        assert route is not None or step == "404"
        plain = {"Content-Type": "text/plain"}
        if step == "ok" and route is not None:
            headers = {"Content-Type": route.content_type}
            if route.etag:
                headers["ETag"] = route.etag
            self._send(200, route.body, headers, head)
        elif step in ("404", "405", "429", "500", "503"):
            self._send(int(step), f"status {step}".encode(), plain, head)
        elif step == "slow":
            time.sleep(SLOW_SECONDS)
            self._step("ok", route, head)
        elif step == "reset":  # close the socket without any response (RST)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif step == "partial" and route is not None:  # announce more bytes than are sent
            self.close_connection = True
            headers = {"Content-Type": route.content_type, "Content-Length": str(len(CSV) + 100)}
            self._send(200, route.body, headers, head)
            self.wfile.flush()
        elif step == "html":
            self._send(200, HTML, {"Content-Type": "text/html; charset=utf-8"}, head)
        elif step == "redirect" and route is not None:
            self._send(302, b"", {"Location": route.location}, head)
        else:
            raise AssertionError(f"unknown step {step!r}")


class _Loopback(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: Server) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and client timeouts are part of the script


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    httpd = _Loopback(state)
    host, port = httpd.server_address[:2]
    state.base_url = f"http://{host}:{port}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def http(sleeps: list[float]) -> Iterator[HttpFetcher]:
    with HttpFetcher(timeout=2, retries=3, backoff=0.5, sleep=sleeps.append) as fetcher:
        yield fetcher


def _one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message
    return message


# -- http fetch ------------------------------------------------------------------------------------


def test_fetch_success_then_store_dedups_and_logs(
    server: Server, http: HttpFetcher, tmp_path: Path
) -> None:
    url = server.route("/data.csv")
    store = SourceStore(tmp_path / "sources")
    first = http.fetch(url)
    assert (first.content, first.url, first.etag) == (CSV, url, '"nof-q1-v1"')
    assert first.fetched_at.tzinfo is not None

    stored = [store.put(f.content, url=f.url, etag=f.etag) for f in (first, http.fetch(url))]
    assert stored[0].path == stored[1].path
    assert len(list((tmp_path / "sources" / "objects").rglob("*.*"))) == 0  # no temp files left
    assert [r["url"] for r in store.history(url)] == [url, url]
    assert store.latest(url).read_bytes() == CSV  # type: ignore[union-attr]


def test_retries_5xx_with_exponential_backoff_then_succeeds(
    server: Server, http: HttpFetcher, sleeps: list[float]
) -> None:
    url = server.route("/flaky.csv", "500", "503", "ok")
    assert http.fetch(url).content == CSV
    assert server.gets("/flaky.csv") == 3
    assert sleeps == [0.5, 1.0]


def test_429_is_retried(server: Server, http: HttpFetcher) -> None:
    url = server.route("/busy.csv", "429", "ok")
    assert http.fetch(url).content == CSV
    assert server.gets("/busy.csv") == 2


def test_gives_up_after_the_last_retry_with_a_clear_message(
    server: Server, http: HttpFetcher, sleeps: list[float]
) -> None:
    url = server.route("/down.csv", "500")
    with pytest.raises(SourceFetchError) as info:
        http.fetch(url)
    message = _one_line(info.value)
    assert "failed after 4 attempts" in message
    assert "HTTP 500" in message
    assert url in message
    assert "check the URL in assets/sources.yaml or use landing mode" in message
    assert server.gets("/down.csv") == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_timeout_is_retried_then_reported(server: Server, sleeps: list[float]) -> None:
    url = server.route("/slow.csv", "slow")
    started = time.monotonic()
    with (
        HttpFetcher(timeout=0.2, retries=1, sleep=sleeps.append) as fetcher,
        pytest.raises(SourceFetchError) as info,
    ):
        fetcher.fetch(url)
    assert time.monotonic() - started < SLOW_SECONDS * 1.5
    message = _one_line(info.value)
    assert "failed after 2 attempts" in message
    assert "timed out after 0.2 s" in message
    assert server.gets("/slow.csv") == 2


def test_connection_reset_is_retried(server: Server, http: HttpFetcher) -> None:
    url = server.route("/reset.csv", "reset", "reset", "ok")
    assert http.fetch(url).content == CSV
    assert server.gets("/reset.csv") == 3


def test_connection_refused_is_reported(sleeps: list[float]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        HttpFetcher(timeout=1, retries=1, sleep=sleeps.append) as fetcher,
        pytest.raises(SourceFetchError, match=r"after 2 attempts \(last: connection error"),
    ):
        fetcher.fetch(f"http://127.0.0.1:{port}/x.csv")


def test_404_is_not_retried(server: Server, http: HttpFetcher, sleeps: list[float]) -> None:
    url = server.base_url + "/missing.csv"
    with pytest.raises(SourceFetchError) as info:
        http.fetch(url)
    message = _one_line(info.value)
    assert "HTTP 404" in message and url in message and "not retried" in message
    assert "assets/sources.yaml" in message
    assert server.gets("/missing.csv") == 1
    assert sleeps == []


def test_partial_download_is_detected_and_retried(server: Server, http: HttpFetcher) -> None:
    url = server.route("/partial.csv", "partial", "ok")
    assert http.fetch(url).content == CSV
    assert server.gets("/partial.csv") == 2

    url = server.route("/always-partial.csv", "partial")
    with pytest.raises(SourceFetchError, match="partial download") as info:
        http.fetch(url)
    assert "after 4 attempts" in _one_line(info.value)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (HTML, "text/html; charset=utf-8"),
        (b"\xef\xbb\xbf \r\n  <HTML><body>Service unavailable</body></html>", "text/csv"),
        (b"\n<!doctype html><title>Sign in</title>", "application/octet-stream"),
    ],
)
def test_html_page_is_rejected_without_retry(
    server: Server, http: HttpFetcher, body: bytes, content_type: str
) -> None:
    url = server.route("/page.csv", "ok", body=body, content_type=content_type)
    with pytest.raises(SourceFetchError) as info:
        http.fetch(url)
    message = _one_line(info.value)
    assert url in message and "HTML page" in message and "not retried" in message
    assert server.gets("/page.csv") == 1


def test_sha256_is_checked(server: Server, http: HttpFetcher) -> None:
    url = server.route("/data.csv")
    good = hashlib.sha256(CSV).hexdigest()
    assert http.fetch(url, expected_sha256=good.upper()).content == CSV

    with pytest.raises(SourceFetchError) as info:
        http.fetch(url, expected_sha256="0" * 64)
    message = _one_line(info.value)
    assert "SHA-256 mismatch" in message and good in message and "after 4 attempts" in message
    assert server.gets("/data.csv") == 1 + 4


def test_redirects_are_followed(server: Server, http: HttpFetcher) -> None:
    new = server.route("/new.csv")
    url = server.route("/old.csv", "redirect", location="/new.csv")
    fetched = http.fetch(url)
    # provenance records where the bytes came from, and the URL asked for
    assert (fetched.content, fetched.url, fetched.requested_url) == (CSV, new, url)


def test_probe_uses_head(server: Server, http: HttpFetcher) -> None:
    url = server.route("/data.csv", etag='"abc"')
    found = http.probe(url)
    assert found is not None
    assert (found.url, found.size, found.etag, found.sha256) == (url, len(CSV), '"abc"', None)
    assert server.hits["HEAD", "/data.csv"] == 1 and server.gets("/data.csv") == 0


def test_probe_falls_back_to_get_when_head_is_refused(server: Server, http: HttpFetcher) -> None:
    url = server.route("/nohead.csv", head="405")
    found = http.probe(url)
    assert found is not None and (found.size, found.etag) == (len(CSV), '"nof-q1-v1"')
    assert server.hits["HEAD", "/nohead.csv"] == 1 and server.gets("/nohead.csv") == 1


def test_probe_of_unpublished_file_is_none(server: Server, http: HttpFetcher) -> None:
    assert http.probe(server.base_url + "/not-yet.csv") is None


# -- landing --------------------------------------------------------------------------------------


def test_landing_missing_file_message(tmp_path: Path) -> None:
    fetcher = LandingFetcher(tmp_path)
    with pytest.raises(SourceFetchError) as info:
        fetcher.fetch("2025-26-q1/etr.csv")
    message = _one_line(info.value)
    assert message == (
        f"landing file not found: {tmp_path / '2025-26-q1' / 'etr.csv'} — put NHS England's "
        "published file there (or run `league sample-data` for the embedded synthetic default)"
    )
    assert isinstance(info.value, SourceMissing)
    assert fetcher.probe("2025-26-q1/etr.csv") is None
    with pytest.raises(SourceFetchError, match="inside the landing folder"):
        fetcher.fetch("../outside.csv")


def test_landing_fetch_and_probe(tmp_path: Path) -> None:
    path = tmp_path / "2025-26-q1" / "etr.csv"
    path.parent.mkdir()
    path.write_bytes(CSV)
    fetcher = LandingFetcher(tmp_path)
    fetched = fetcher.fetch("2025-26-q1/etr.csv")
    st = path.stat()
    assert fetched.content == CSV
    assert fetched.url == path.as_uri() and fetched.url.startswith("file:///")
    assert fetched.etag == f"{st.st_mtime_ns}-{st.st_size}"
    found = fetcher.probe("2025-26-q1/etr.csv")
    assert found is not None
    assert (found.url, found.size, found.etag) == (fetched.url, len(CSV), fetched.etag)
    assert found.sha256 == hashlib.sha256(CSV).hexdigest()


# -- acquire --------------------------------------------------------------------------------------


def test_acquire_landing_mode(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    rel = catalogue.landing_path("nof_trust_data_acute", Q1)
    assert rel == "2025-26-q1/nhs-oversight-framework-acute-trust-data.csv"
    (landing / rel).parent.mkdir(parents=True)
    (landing / rel).write_bytes(CSV)
    store = SourceStore(tmp_path / "sources")

    stored = acquire("nof_trust_data_acute", Q1, mode="landing", store=store, landing_dir=landing)
    assert stored.url == (landing / rel).as_uri()
    assert stored.read_bytes() == CSV
    assert store.latest(stored.url) == stored

    found = probe("nof_trust_data_acute", Q1, mode="landing", landing_dir=landing)
    assert found is not None and found.sha256 == stored.sha256
    assert probe("nof_trust_data_ambulance", Q1, mode="landing", landing_dir=landing) is None


def test_acquire_http_mode_against_a_local_mirror(
    server: Server, http: HttpFetcher, tmp_path: Path
) -> None:
    overrides = {"base_url": server.base_url}
    url = catalogue.url_for("nof_trust_data_acute", Q1, overrides)
    assert url == (
        server.base_url + "/wp-content/uploads/2025/09/nhs-oversight-framework-acute-trust-data.csv"
    )
    server.route(url.removeprefix(server.base_url), "500", "ok")
    store = SourceStore(tmp_path / "sources")

    stored = acquire(
        "nof_trust_data_acute", Q1, mode="http", store=store, http=http, url_overrides=overrides
    )
    assert (stored.url, stored.etag, stored.read_bytes()) == (url, '"nof-q1-v1"', CSV)
    assert store.history(url)[0]["sha256"] == stored.sha256

    found = probe("nof_trust_data_acute", Q1, mode="http", http=http, url_overrides=overrides)
    assert found is not None and found.size == len(CSV)


def test_acquire_http_mode_for_a_landing_only_kind(http: HttpFetcher, tmp_path: Path) -> None:
    store = SourceStore(tmp_path / "sources")
    with pytest.raises(SourceFetchError, match="not published over http") as info:
        acquire("rsp_list", Q1, mode="http", store=store, http=http)
    _one_line(info.value)

    landing = tmp_path / "landing"
    rel = catalogue.landing_path("rsp_list", Q1)
    (landing / rel).parent.mkdir(parents=True)
    (landing / rel).write_bytes(b"Trust_code\nRXX\n")
    stored = acquire("rsp_list", Q1, mode="http", store=store, http=http, landing_dir=landing)
    assert stored.url.startswith("file://") and stored.read_bytes() == b"Trust_code\nRXX\n"


def test_acquire_rejects_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of landing, http"):
        acquire("ods_trusts", Q1, mode="ftp", store=SourceStore(tmp_path))
    with pytest.raises(ValueError, match="choose one of landing, http"):
        probe("ods_trusts", Q1, mode="s3")


def test_catalogue_has_every_kind() -> None:
    kinds = catalogue.source_kinds()
    assert set(kinds) == {
        "nof_trust_data_acute",
        "nof_trust_data_mental_health_community",
        "nof_trust_data_ambulance",
        "ods_trusts",
        "rsp_list",
        "deficit_flags",
        "ambsys",
        "ae_monthly_m1",
        "ae_monthly_m2",
        "ae_monthly_m3",
        "cwt_crs_provider",
        "rtt_full_extract",
    }
    assert catalogue.url_for("deficit_flags", Q1) is None
    assert catalogue.url_for("nof_trust_data_mental_health_community", Q1).endswith(  # type: ignore[union-attr]
        "/2025/09/nhs-oversight-framework-non-acute-hospital-trust-data.csv"
    )
    assert "-q3-25-26-v2.csv" in catalogue.url_for("nof_trust_data_ambulance", Quarter(2025, 3))  # type: ignore[operator]
    assert (
        catalogue.url_for(
            "ods_trusts", Q1, {"urls": {"ods_trusts": "https://mirror.test/{slug}/etr.zip"}}
        )
        == "https://mirror.test/2025-26-q1/etr.zip"
    )
    with pytest.raises(catalogue.CatalogueError, match="unknown source kind"):
        catalogue.landing_path("nope", Q1)
    with pytest.raises(catalogue.CatalogueError, match="unknown url override"):
        catalogue.url_for("ods_trusts", Q1, {"host": "x"})


def test_landing_accepts_either_published_name_of_a_file(tmp_path: Path) -> None:
    """Q1 2025/26 published the MH & community file as "non-acute hospital trust" data."""
    kind = "nof_trust_data_mental_health_community"
    usual, q1_name = catalogue.landing_paths(kind, Q1)
    assert q1_name.endswith("nhs-oversight-framework-non-acute-hospital-trust-data.csv")
    store = SourceStore(tmp_path / "store")
    landing = tmp_path / "landing"
    (landing / q1_name).parent.mkdir(parents=True)
    (landing / q1_name).write_bytes(CSV)
    stored = acquire(kind, Q1, mode="landing", store=store, landing_dir=landing)
    assert stored.url == (landing / q1_name).as_uri()
    assert probe(kind, Q1, mode="landing", landing_dir=landing).url == stored.url
    # both names at once is ambiguous: refused, naming both files
    (landing / usual).write_bytes(CSV)
    with pytest.raises(SourceFetchError, match="two files for one publication"):
        acquire(kind, Q1, mode="landing", store=store, landing_dir=landing)
