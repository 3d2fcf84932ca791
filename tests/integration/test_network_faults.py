"""Network faults in http mode, through the whole Dagster job against a scripted local server.

``tests/integration/test_http_fetch.py`` covers the fetcher alone (5xx, 429, timeouts, resets,
refused connections, a short body against its Content-Length, SHA-256 mismatches, HTML pages, 404s).
This file adds what only shows end to end, plus the partial downloads that it does not cover:

* a run whose downloads fail a few times (500/503, a reset, a partial body, a timeout) retries
  with exponential backoff and produces a snapshot whose inputs are the complete files;
* a run whose downloads keep failing ends with one clear line per source after the last retry,
  and writes nothing: no scoring asset, no snapshot, the previous snapshot intact;
* a body cut mid-transfer with no Content-Length to compare (chunked encoding) is retried;
* a truncated file served with a Content-Length that matches it cannot be told from a good
  download over HTTP: the SHA-256 check catches it when the expected hash is known, and the CSV
  reader when it is not;
* a redirect to another path on the same host is followed and the source's lineage records the
  final URL (and the one asked for); one to another host fails its source step with one line
  naming the host and the setting that would allow it (issue 12).

The server (``http.server`` on 127.0.0.1, ephemeral port) serves each path by a script: each
request takes the next step (the last step repeats) and its arrival time is recorded, so the
backoff between retries is measured from the server's side.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from reliability_support import CORE, PIPELINE, shared_landing

from league_pipeline.cli.common import snapshot_store, staging_folder
from league_pipeline.cli.runner import root_cause
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
from league_pipeline.defs.sources import SOURCE_KEYS
from league_pipeline.ingest import catalogue
from league_pipeline.ingest.acquire import landing_file
from league_pipeline.ingest.fetch import HttpFetcher, SourceFetchError

Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
HTTP_KINDS = (
    "nof_trust_data_acute",
    "nof_trust_data_mental_health_community",
    "nof_trust_data_ambulance",
    "ods_trusts",
)
SLOW_SECONDS = 1.5
TIMEOUT = 0.3
BACKOFF = 0.5  # HttpFetcher's default, which LeagueConfig uses


@dataclass
class Script:
    body: bytes
    steps: list[str]
    times: list[float] = field(default_factory=list)


@dataclass
class State:
    scripts: dict[str, Script] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Loopback

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            script = state.scripts.get(self.path)
            if script is not None:
                script.times.append(time.monotonic())
                step = script.steps.pop(0) if len(script.steps) > 1 else script.steps[0]
        if script is None:
            self._send(404, b"not found", "text/plain")
            return
        try:
            self._step(step, script.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _step(self, step: str, body: bytes) -> None:
        if step == "ok":
            self._send(200, body, "text/csv")
        elif step in ("500", "503"):
            self._send(int(step), b"server error", "text/plain")
        elif step == "slow":  # the response comes after the client has given up
            time.sleep(SLOW_SECONDS)
            self._send(200, body, "text/csv")
        elif step == "reset":  # close the socket without a response (RST)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif step == "partial":  # announce the whole file, send half, hang up
            self.close_connection = True
            self._send(200, body[: len(body) // 2], "text/csv", length=len(body))
        elif step == "chunked_cut":  # chunked transfer, no Content-Length, cut mid-body
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = body[: len(body) // 2]
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
            self.wfile.flush()
        elif step == "short":  # a truncated file whose Content-Length matches it
            self._send(200, truncated(body), "text/csv")
        elif step == "moved":  # to another path on this host
            self._redirect(self.path + "-moved")
        elif step == "elsewhere":  # to this server under another host name
            self._redirect(f"http://localhost:{self.server.server_address[1]}{self.path}")
        else:
            raise AssertionError(f"unknown step {step!r}")


def truncated(body: bytes) -> bytes:
    """The file cut in the middle of a line half-way down."""
    start = body.rfind(b"\n", 0, len(body) // 2) + 1
    return body[: body.index(b",", start) + 3]


class Loopback(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and client timeouts are part of the scripts


@dataclass
class Mirror:
    base_url: str
    state: State
    landing: Path

    def path(self, kind: str) -> str:
        return catalogue.url_for(kind, Q1, {"base_url": self.base_url}).removeprefix(self.base_url)

    def script(self, kind: str, *steps: str, suffix: str = "") -> Script:
        body = landing_file(kind, Q1, self.landing).read_bytes()
        script = Script(body, list(steps))
        with self.state.lock:
            self.state.scripts[self.path(kind) + suffix] = script
        return script


@pytest.fixture
def mirror(tmp_path_factory, tmp_path: Path, league_home: Path) -> Iterator[Mirror]:
    """A scripted mirror of NHS England's URLs for Q1; the RSP and deficit flags stay local."""
    landing = tmp_path / "landing"
    shutil.copytree(shared_landing(tmp_path_factory, [Q1, Q2]), landing)
    state = State()
    server = Loopback(state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        mirror = Mirror(f"http://127.0.0.1:{server.server_address[1]}", state, landing)
        for kind in catalogue.source_kinds():  # every published file serves fine by default
            if catalogue.url_for(kind, Q1) and landing_file(kind, Q1, landing).exists():
                mirror.script(kind, "ok")
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def settings_for(mirror: Mirror, retries: int = 0) -> Settings:
    """The test's working home (``league_home``, beside the landing copy), fetching over http
    from the mirror."""
    return Settings.for_home(
        mirror.landing.parent / "league",
        source_mode="http",
        http_base_url=mirror.base_url,
        http_timeout=TIMEOUT,
        http_retries=retries,
        landing_dir=mirror.landing,
        bootstrap_replicates=200,
        whatif_checked=0,
    )


def materialize(
    mirror: Mirror, retries: int, selection: dg.AssetSelection = PIPELINE
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=Q1.key,
        resources=run_resources(settings_for(mirror, retries)),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, tuple[str, str]]:
    """Failed step -> (exception class, its one-line message)."""
    out = {}
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            cause = error.cause or error
            out[event.step_key.removeprefix("sources__")] = (cause.cls_name, root_cause(error))
    return out


def test_transient_faults_are_retried_with_backoff_then_permanent_ones_fail_cleanly(
    mirror: Mirror,
) -> None:
    # 1. every download fails at first, differently, then succeeds
    acute = mirror.script("nof_trust_data_acute", "500", "503", "ok")
    mhc = mirror.script("nof_trust_data_mental_health_community", "reset", "ok")
    amb = mirror.script("nof_trust_data_ambulance", "partial", "ok")
    ods = mirror.script("ods_trusts", "slow", "ok")
    result = materialize(mirror, retries=2)
    assert result.success, step_errors(result)

    assert [len(s.times) for s in (acute, mhc, amb, ods)] == [3, 2, 2, 2]
    gaps = [b - a for a, b in zip(acute.times, acute.times[1:], strict=False)]
    assert gaps[0] >= BACKOFF and gaps[1] >= 2 * BACKOFF  # exponential backoff: 0.5 s, 1 s
    store = snapshot_store(settings_for(mirror))
    v1 = store.get(Q1.label)
    for kind, script in zip(HTTP_KINDS, (acute, mhc, amb, ods), strict=True):
        record = v1.lineage["inputs"][kind]
        assert record["url"] == mirror.base_url + mirror.path(kind)
        assert record["sha256"] == hashlib.sha256(script.body).hexdigest()  # complete files only
    v1_table = store.read("league_table", Q1.label)

    # 2. every download keeps failing: one clear line per source after the last retry
    acute = mirror.script("nof_trust_data_acute", "500")
    mhc = mirror.script("nof_trust_data_mental_health_community", "slow")
    amb = mirror.script("nof_trust_data_ambulance", "chunked_cut")
    ods = mirror.script("ods_trusts", "short")  # looks like a good download
    result = materialize(mirror, retries=1, selection=CORE)  # raw statistics staged in 1.
    assert not result.success
    errors = step_errors(result)
    assert set(errors) == set(HTTP_KINDS)
    for kind in HTTP_KINDS[:3]:
        cls, message = errors[kind]
        url = mirror.base_url + mirror.path(kind)
        assert cls == "SourceFetchError" and "\n" not in message
        assert message.startswith(f"GET {url} failed after 2 attempts (last: ")
        assert message.endswith("— check the URL in assets/sources.yaml or use landing mode")
    assert "(last: HTTP 500 Internal Server Error)" in errors["nof_trust_data_acute"][1]
    assert f"(last: timed out after {TIMEOUT:g} s" in errors[HTTP_KINDS[1]][1]
    assert "(last: partial download: " in errors["nof_trust_data_ambulance"][1]
    cls, message = errors["ods_trusts"]  # HTTP saw a complete download; the reader did not
    assert cls == "ReaderError" and message.startswith("ODS etr report: not a readable CSV file")
    assert [len(s.times) for s in (acute, mhc, amb, ods)] == [2, 2, 2, 1]

    materialised = {m.asset_key.path[0] for m in result.get_asset_materialization_events()}
    assert not materialised & {"scoring", "snapshots"}
    assert [i.version for i in store.list()] == [1]
    assert store.read("league_table", Q1.label).equals(v1_table)


def test_chunked_body_cut_mid_transfer_is_retried(mirror: Mirror) -> None:
    script = mirror.script("nof_trust_data_acute", "chunked_cut", "ok")
    url = mirror.base_url + mirror.path("nof_trust_data_acute")
    sleeps: list[float] = []
    with HttpFetcher(timeout=5, retries=2, sleep=sleeps.append) as fetcher:
        assert fetcher.fetch(url).content == script.body
    assert len(script.times) == 2 and sleeps == [BACKOFF]


def test_truncated_file_with_a_matching_length_is_caught_by_its_hash(mirror: Mirror) -> None:
    script = mirror.script("nof_trust_data_acute", "short", "ok")
    url = mirror.base_url + mirror.path("nof_trust_data_acute")
    good = hashlib.sha256(script.body).hexdigest()
    sleeps: list[float] = []
    with HttpFetcher(timeout=5, retries=2, sleep=sleeps.append) as fetcher:
        assert fetcher.fetch(url, expected_sha256=good).content == script.body  # 2nd attempt
        mirror.script("nof_trust_data_acute", "short")
        with pytest.raises(SourceFetchError) as info:
            fetcher.fetch(url, expected_sha256=good)
    message = str(info.value)
    assert "\n" not in message
    assert "failed after 3 attempts (last: SHA-256 mismatch: expected " + good in message
    assert len(script.times) == 2 and sleeps == [BACKOFF, BACKOFF, 2 * BACKOFF]


def test_redirects_in_a_run_same_host_recorded_other_host_refused(mirror: Mirror) -> None:
    moved, refused = "nof_trust_data_acute", "nof_trust_data_ambulance"
    mirror.script(moved, "moved")
    target = mirror.script(moved, "ok", suffix="-moved")
    mirror.script(refused, "elsewhere")
    selection = dg.AssetSelection.assets(SOURCE_KEYS[moved], SOURCE_KEYS[refused])
    result = materialize(mirror, retries=1, selection=selection)
    url = mirror.base_url + mirror.path(moved)
    record = staging_folder(settings_for(mirror)).read_lineage(moved, Q1.key)
    assert (record["url"], record["requested_url"]) == (url + "-moved", url)
    assert record["sha256"] == hashlib.sha256(target.body).hexdigest()
    errors = step_errors(result)
    assert set(errors) == {refused}
    cls, message = errors[refused]
    port = mirror.base_url.rsplit(":", 1)[1]
    assert cls == "RedirectRefused" and "\n" not in message
    assert f"redirected to another host, localhost:{port} " in message
    assert "LEAGUE_HTTP_ALLOWED_HOSTS" in message
