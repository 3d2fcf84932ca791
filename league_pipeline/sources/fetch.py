"""The two ways of fetching a source file: a local landing folder, or HTTP.

Belongs here: turning a landing path or a URL into bytes (:class:`Fetched`) or a cheap
change-detection :class:`SourceProbe`, with retries, download sanity checks and one-line errors
that say what failed and how to fix it. Which file to fetch (the catalogue) and keeping it (the
store) live elsewhere in :mod:`league_pipeline.sources`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from league_pipeline import __version__

log = logging.getLogger("league_pipeline.sources")

_T = TypeVar("_T")

HTTP_FIX = "check the URL in assets/sources.yaml or use landing mode"
RETRYABLE_STATUS = frozenset({408, 429})
NOT_FOUND_STATUS = frozenset({404, 410})
_HTML_PREFIXES = (b"<!doctype html", b"<html")
_BOM = b"\xef\xbb\xbf"


class SourceFetchError(RuntimeError):
    """A source could not be fetched. The message is one line: what failed, and the fix."""


class SourceMissing(SourceFetchError):
    """The source is not there (no landing file; HTTP 404 or 410): not yet published, or an
    optional file that was not supplied."""


class _Retryable(Exception):
    """Internal: an attempt failed in a way that another attempt may fix."""


@dataclass(frozen=True)
class Fetched:
    """The bytes of one fetch and where they came from."""

    content: bytes
    url: str  # the requested http(s) URL, or a file:// URI for landing files
    etag: str | None
    fetched_at: datetime  # aware, UTC


@dataclass(frozen=True)
class SourceProbe:
    """What can be learnt about a source without keeping it: enough to notice a change."""

    url: str
    size: int | None
    etag: str | None
    sha256: str | None  # landing: computed; http: None (HEAD gives no content hash)


def _now() -> datetime:
    return datetime.now(UTC)


# -- landing ------------------------------------------------------------------------------------


class LandingFetcher:
    """Reads source files from a local landing folder (the default mode)."""

    def __init__(self, landing_dir: Path) -> None:
        self.landing_dir = Path(landing_dir).resolve()

    def __repr__(self) -> str:
        return f"LandingFetcher({str(self.landing_dir)!r})"

    def path_for(self, relative_path: str) -> Path:
        rel = Path(relative_path)
        if rel.is_absolute() or ".." in rel.parts:
            raise SourceFetchError(
                f"landing path must be relative and stay inside the landing folder: "
                f"{relative_path!r} — fix the landing_path in assets/sources.yaml"
            )
        path = self.landing_dir / rel
        if not path.resolve().is_relative_to(self.landing_dir):
            raise SourceFetchError(
                f"landing path {path} leads outside the landing folder (a symbolic link to "
                f"{path.resolve()}?) — copy the published file into the landing folder instead"
            )
        return path

    def _missing(self, path: Path) -> SourceFetchError:
        return SourceMissing(
            f"landing file not found: {path} — put NHS England's published file there "
            "(or run `league sample-data` for the embedded synthetic default)"
        )

    @staticmethod
    def _etag(path: Path) -> tuple[str, int]:
        stat = path.stat()
        return f"{stat.st_mtime_ns}-{stat.st_size}", stat.st_size

    def fetch(self, relative_path: str) -> Fetched:
        path = self.path_for(relative_path)
        if not path.is_file():
            raise self._missing(path)
        try:
            etag, _ = self._etag(path)
            content = path.read_bytes()
        except FileNotFoundError:
            raise self._missing(path) from None
        except OSError as exc:
            raise SourceFetchError(
                f"cannot read landing file {path}: {exc.strerror or exc} — check its permissions"
            ) from exc
        log.info("read %s bytes from landing file %s", len(content), path)
        return Fetched(content=content, url=path.as_uri(), etag=etag, fetched_at=_now())

    def probe(self, relative_path: str) -> SourceProbe | None:
        """Size, ``mtime_ns-size`` etag and SHA-256 of the landing file, or None if missing."""
        path = self.path_for(relative_path)
        try:
            etag, size = self._etag(path)
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return SourceProbe(url=path.as_uri(), size=size, etag=etag, sha256=digest.hexdigest())


# -- http ---------------------------------------------------------------------------------------


def looks_like_html(content_type: str | None, body_start: bytes) -> bool:
    """True for an HTML page (often an error or login page served with status 200)."""
    if content_type and content_type.split(";")[0].strip().lower() in {
        "text/html",
        "application/xhtml+xml",
    }:
        return True
    head = body_start.lstrip()
    if head.startswith(_BOM):
        head = head[len(_BOM) :].lstrip()
    head = head[:32].lower()
    return head.startswith(_HTML_PREFIXES)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())  # keep the final error on one line


class HttpFetcher:
    """Fetches source files over HTTP(S) with retries and download sanity checks.

    ``retries`` is the number of further attempts after the first, so a fetch makes at most
    ``retries + 1`` requests, sleeping ``backoff * 2**attempt`` seconds between them. Timeouts,
    connection errors and resets, 5xx, 408, 429, partial downloads and SHA-256 mismatches are
    retried; other 4xx responses and HTML pages served instead of data are not.
    """

    def __init__(
        self,
        timeout: float = 30,
        retries: int = 3,
        backoff: float = 0.5,
        client: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"league-pipeline/{__version__}",
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": user_agent}
        )

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- retry loop ------------------------------------------------------------------------------

    def _attempts(self, what: str, url: str, attempt_once: Callable[[], _T]) -> _T:
        attempts = self.retries + 1
        last: str = "no attempt made"
        for attempt in range(attempts):
            try:
                return attempt_once()
            except _Retryable as exc:
                last = _describe(exc)
            except httpx.TimeoutException as exc:
                limit = f" after {self.timeout:g} s" if self._owns_client else ""
                last = f"timed out{limit} ({type(exc).__name__})"
            except httpx.TransportError as exc:  # connect errors, resets, protocol errors
                last = f"connection error: {_describe(exc)}"
            if attempt + 1 < attempts:
                delay = self.backoff * 2**attempt
                log.warning(
                    "%s %s: attempt %d of %d failed (%s); retrying in %.2f s",
                    what,
                    url,
                    attempt + 1,
                    attempts,
                    last,
                    delay,
                )
                self.sleep(delay)
            else:
                log.error(
                    "%s %s: attempt %d of %d failed (%s)", what, url, attempt + 1, attempts, last
                )
        plural = "attempt" if attempts == 1 else "attempts"
        raise SourceFetchError(
            f"{what} {url} failed after {attempts} {plural} (last: {last}) — {HTTP_FIX}"
        )

    @staticmethod
    def _check_status(response: httpx.Response, url: str) -> None:
        status = response.status_code
        if status >= 500 or status in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {status} {response.reason_phrase}".strip())
        if status in NOT_FOUND_STATUS:
            raise SourceMissing(
                f"HTTP {status} {response.reason_phrase} for {url}: not published there "
                f"(not retried) — {HTTP_FIX}"
            )
        if status >= 400:
            raise SourceFetchError(
                f"HTTP {status} {response.reason_phrase} for {url} (not retried) — {HTTP_FIX}"
            )

    # -- fetch -----------------------------------------------------------------------------------

    def fetch(self, url: str, expected_sha256: str | None = None) -> Fetched:
        """GET ``url`` (following redirects) and return the verified body."""
        expected = expected_sha256.lower() if expected_sha256 else None

        def once() -> Fetched:
            log.info("fetching %s", url)
            with self.client.stream("GET", url) as response:
                self._check_status(response, url)
                try:
                    content = response.read()
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    raise _Retryable(f"partial download: {_describe(exc)}") from exc
                declared = response.headers.get("Content-Length")
                received = response.num_bytes_downloaded
                if declared is not None and declared.isdigit() and int(declared) != received:
                    raise _Retryable(
                        f"partial download: got {received} bytes of the {declared} announced"
                    )
                if looks_like_html(response.headers.get("Content-Type"), content[:512]):
                    raise SourceFetchError(
                        f"{url} returned an HTML page, not the CSV/XLSX data file (not retried) "
                        f"— {HTTP_FIX}"
                    )
                if expected is not None:
                    got = hashlib.sha256(content).hexdigest()
                    if got != expected:
                        raise _Retryable(f"SHA-256 mismatch: expected {expected}, got {got}")
                if str(response.url) != url:
                    log.info("%s redirected to %s", url, response.url)
                log.info("fetched %s bytes from %s", len(content), url)
                return Fetched(
                    content=content,
                    url=url,
                    etag=response.headers.get("ETag"),
                    fetched_at=_now(),
                )

        return self._attempts("GET", url, once)

    def probe(self, url: str) -> SourceProbe | None:
        """ETag and size from a HEAD request (GET headers if HEAD is refused); None on 404/410."""

        def once() -> SourceProbe | None:
            response = self.client.head(url)
            if response.status_code in (405, 501):
                log.info(
                    "HEAD refused by %s (HTTP %s); probing with GET", url, response.status_code
                )
                with self.client.stream("GET", url) as streamed:
                    return self._probe_from(streamed, url)
            return self._probe_from(response, url)

        return self._attempts("HEAD", url, once)

    def _probe_from(self, response: httpx.Response, url: str) -> SourceProbe | None:
        if response.status_code in NOT_FOUND_STATUS:
            log.info("%s is not published (HTTP %s)", url, response.status_code)
            return None
        self._check_status(response, url)
        length = response.headers.get("Content-Length")
        return SourceProbe(
            url=url,
            size=int(length) if length and length.isdigit() else None,
            etag=response.headers.get("ETag"),
            sha256=None,
        )
