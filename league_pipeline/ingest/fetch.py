"""The two ways of fetching a source file: a local landing folder, or HTTP.

Belongs here: turning a landing path or a URL into bytes (:class:`Fetched`) or a cheap
change-detection :class:`SourceProbe`, with retries, download sanity checks and one-line errors
that say what failed and how to fix it. Input is bounded: a :class:`SizeCap` refuses a file
over its kind's ``max_bytes`` before or while it is read, a download streams to ``spool_dir``
(never held whole in memory), and redirects are followed one hop at a time under
:func:`check_redirect` (same host; another only when allowed; never https to http). Which file
to fetch (the catalogue) and keeping it (the store) live elsewhere in
:mod:`league_pipeline.ingest`. The rules in full: docs/reliability.md ("Bounded input").
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeVar

import httpx

from league_pipeline import __version__
from league_pipeline.core.settings import HTTP_RETRIES, HTTP_TIMEOUT

log = logging.getLogger("league_pipeline.ingest")

_T = TypeVar("_T")

HTTP_FIX = "check the URL in assets/sources.yaml or use landing mode"
RETRYABLE_STATUS = frozenset({408, 429})
NOT_FOUND_STATUS = frozenset({404, 410})
MAX_REDIRECTS = 10
ALLOWED_HOSTS_SETTING = "LEAGUE_HTTP_ALLOWED_HOSTS"
_HTML_PREFIXES = (b"<!doctype html", b"<html")
_HTML_SNIFF = 512  # bytes of the body looked at for an HTML page
_BOM = b"\xef\xbb\xbf"
_COPY_CHUNK = 1 << 20


class SourceFetchError(RuntimeError):
    """A source could not be fetched. The message is one line: what failed, and the fix."""


class SourceMissing(SourceFetchError):
    """The source is not there (no landing file; HTTP 404 or 410): not yet published, or an
    optional file that was not supplied."""


class SourceTooLarge(SourceFetchError):
    """The source is over its size cap: refused before it was read (never retried)."""


class RedirectRefused(SourceFetchError):
    """An http redirect the policy does not follow (another host not allowed, or a downgrade
    from https to http): never retried."""


class _Retryable(Exception):
    """Internal: an attempt failed in a way that another attempt may fix."""


def format_size(size: int) -> str:
    """``67108864`` -> ``64 MiB``; ``1536`` -> ``1.5 KiB``; ``12`` -> ``12 bytes``."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class SizeCap:
    """The largest file a source kind may be (``max_bytes``), and what to raise to allow more."""

    max_bytes: int
    kind: str | None = None  # the source kind, named in the error

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {self.max_bytes}")

    @property
    def _fix(self) -> str:
        where = f"max_bytes of {self.kind}" if self.kind else "max_bytes"
        return f"check it is the published file, or raise {where} in assets/sources.yaml"

    def _cap(self) -> str:
        of = f" of {self.kind}" if self.kind else ""
        return f"the {format_size(self.max_bytes)} size cap{of} ({self.max_bytes:,} bytes)"

    def refuse(
        self, what: str, size: int, *, verb: str = "is", outcome: str = "refused unread"
    ) -> SourceTooLarge:
        """``what`` (``landing file ...``, ``GET <url>``) is ``size`` bytes, over the cap."""
        return SourceTooLarge(
            f"{what} {verb} {size:,} bytes ({format_size(size)}), over {self._cap()}: "
            f"{outcome} — {self._fix}"
        )

    def refuse_streamed(self, what: str, received: int) -> SourceTooLarge:
        """``what`` sent more than the cap without announcing its length."""
        return SourceTooLarge(
            f"{what} sent more than {self._cap()} with no Content-Length: download stopped "
            f"after {received:,} bytes (not retried) — {self._fix}"
        )


@dataclass(frozen=True)
class Fetched:
    """The bytes of one fetch and where they came from.

    The bytes are either in memory (``content``) or, when fetched with a ``spool_dir``, in the
    temporary file ``path`` (``content`` is then None): the caller moves that file into the
    source store (:meth:`SourceStore.put_file`) or :meth:`discard`\\ s it.
    """

    content: bytes | None
    url: str  # where the bytes came from: the final http(s) URL, or a file:// URI
    etag: str | None
    fetched_at: datetime  # aware, UTC
    size: int = 0
    sha256: str = ""
    path: Path | None = None
    requested_url: str | None = None  # the URL asked for, when redirects led to ``url``

    def read_bytes(self) -> bytes:
        if self.content is not None:
            return self.content
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        """Delete the temporary file, if any (harmless once it has been moved)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SourceProbe:
    """What can be learnt about a source without keeping it: enough to notice a change."""

    url: str
    size: int | None
    etag: str | None
    sha256: str | None  # landing: computed (None over the size cap); http: None


def _now() -> datetime:
    return datetime.now(UTC)


class _Sink:
    """Where fetched bytes go: a temporary file in ``spool_dir`` (or memory, without one),
    counted and hashed as they are written."""

    def __init__(self, spool_dir: Path | None) -> None:
        self.size = 0
        self.head = b""
        self._digest = hashlib.sha256()
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        self._chunks: list[bytes] | None = None
        if spool_dir is None:
            self._chunks = []
        else:
            spool_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=spool_dir, prefix=".fetch-", suffix=".part")
            self.path = Path(name)
            self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if len(self.head) < _HTML_SNIFF:
            self.head += chunk[: _HTML_SNIFF - len(self.head)]
        self._digest.update(chunk)
        self.size += len(chunk)
        if self._file is not None:
            self._file.write(chunk)
        else:
            assert self._chunks is not None
            self._chunks.append(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def finish(self) -> bytes | None:
        """Flush the file to disk (returns None), or return the bytes held in memory."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            return None
        assert self._chunks is not None
        content = b"".join(self._chunks)
        self._chunks = [content]
        return content

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


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

    def fetch(
        self,
        relative_path: str,
        *,
        cap: SizeCap | None = None,
        spool_dir: Path | None = None,
    ) -> Fetched:
        """The landing file's bytes; with ``spool_dir``, a copy of it in a temporary file there.

        Over ``cap`` it is refused by its size on disk, before any byte is read (and a file that
        grows past the cap while it is copied is refused too).
        """
        path = self.path_for(relative_path)
        if not path.is_file():
            raise self._missing(path)
        sink: _Sink | None = None
        try:
            etag, size = self._etag(path)
            if cap is not None and size > cap.max_bytes:
                raise cap.refuse(f"landing file {path}", size)
            sink = _Sink(spool_dir)
            limit = None if cap is None else cap.max_bytes
            with open(path, "rb") as fh:
                while chunk := fh.read(_COPY_CHUNK):
                    sink.write(chunk)
                    if limit is not None and sink.size > limit:  # it grew since the stat
                        raise cap.refuse(  # type: ignore[union-attr]
                            f"landing file {path}",
                            sink.size,
                            verb="grew to at least",
                            outcome="copy stopped",
                        )
            content = sink.finish()
        except FileNotFoundError:
            if sink is not None:
                sink.discard()
            raise self._missing(path) from None
        except OSError as exc:
            if sink is not None:
                sink.discard()
            raise SourceFetchError(
                f"cannot read landing file {path}: {exc.strerror or exc} — check its permissions"
            ) from exc
        except BaseException:
            if sink is not None:
                sink.discard()
            raise
        log.info("read %s bytes from landing file %s", sink.size, path)
        return Fetched(
            content=content,
            url=path.as_uri(),
            etag=etag,
            fetched_at=_now(),
            size=sink.size,
            sha256=sink.sha256,
            path=sink.path,
        )

    def probe(self, relative_path: str, *, cap: SizeCap | None = None) -> SourceProbe | None:
        """Size, ``mtime_ns-size`` etag and SHA-256 of the landing file, or None if missing.

        A file over ``cap`` is not read: its probe has no SHA-256 (the run refuses it)."""
        path = self.path_for(relative_path)
        try:
            etag, size = self._etag(path)
            if path.is_dir():
                return None
            if cap is not None and size > cap.max_bytes:
                return SourceProbe(url=path.as_uri(), size=size, etag=etag, sha256=None)
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(_COPY_CHUNK):
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


def _host_text(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _parse_allowed_host(entry: str) -> tuple[str, int | None]:
    """``mirror.example.org``, ``127.0.0.1:8765``, ``[::1]:8080``, ``*.nhs.uk`` or a URL ->
    (host, port or None for any port)."""
    text = entry.strip().lower()
    if "://" in text:
        url = httpx.URL(text)
        return url.host, url.port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, None


def _effective_port(url: httpx.URL) -> int:
    return url.port if url.port is not None else (443 if url.scheme == "https" else 80)


def host_allowed(url: str | httpx.URL, allowed_hosts: Iterable[str]) -> bool:
    """Whether ``url``'s host (and port) is in ``allowed_hosts``: ``host`` allows it on any port,
    ``host:port`` on that port only, and ``*.example.org`` any host under example.org."""
    target = httpx.URL(str(url))
    for entry in allowed_hosts:
        if not entry.strip():
            continue
        host, port = _parse_allowed_host(entry)
        wildcard = host.startswith("*.")
        matches = target.host.endswith(host[1:]) if wildcard else target.host == host
        if matches and (port is None or port == _effective_port(target)):
            return True
    return False


def check_redirect(
    origin: str, source: str, target: str, allowed_hosts: Iterable[str] = ()
) -> None:
    """Refuse (:class:`RedirectRefused`) a redirect from ``source`` to ``target``, met while
    fetching ``origin``, that the policy does not follow:

    * to anything but http(s);
    * from https to http (a downgrade): always, whatever the allow-list says;
    * to a host other than ``origin``'s (the host includes the port; ``http`` to ``https`` on
      the default ports is the same host), unless that host is in ``allowed_hosts``.
    """
    start, hop, goal = httpx.URL(origin), httpx.URL(source), httpx.URL(target)
    if goal.scheme not in ("http", "https"):
        raise RedirectRefused(
            f"{origin} redirected to {target}, which is not http(s) (not followed) — {HTTP_FIX}"
        )
    if hop.scheme == "https" and goal.scheme == "http":
        raise RedirectRefused(
            f"{origin} redirected from https to http ({source} -> {target}): a downgrade, always "
            f"refused — {HTTP_FIX}, or ask the publisher to keep the file on https"
        )
    if (goal.host, goal.port) == (start.host, start.port):
        return
    if host_allowed(goal, allowed_hosts):
        return
    host = _host_text(goal.host, goal.port)
    raise RedirectRefused(
        f"{origin} redirected to another host, {host} ({target}), which is not allowed (not "
        f"followed) — add {host} to {ALLOWED_HOSTS_SETTING} if you trust it, or {HTTP_FIX}"
    )


class HttpFetcher:
    """Fetches source files over HTTP(S) with retries and download sanity checks.

    ``retries`` is the number of further attempts after the first, so a fetch makes at most
    ``retries + 1`` requests, sleeping ``backoff * 2**attempt`` seconds between them. Timeouts,
    connection errors and resets, 5xx, 408, 429, partial downloads and SHA-256 mismatches are
    retried; other 4xx responses, HTML pages served instead of data, files over the size cap
    and refused redirects are not.

    Redirects are followed one hop at a time under :func:`check_redirect`, with
    ``allowed_hosts`` the hosts other than the URL's own that a redirect may lead to.
    """

    def __init__(
        self,
        timeout: float = HTTP_TIMEOUT,
        retries: int = HTTP_RETRIES,
        backoff: float = 0.5,
        client: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"league-pipeline/{__version__}",
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.allowed_hosts = tuple(h.strip() for h in allowed_hosts if h.strip())
        for entry in self.allowed_hosts:
            _parse_allowed_host(entry)  # a malformed entry fails here, not at the first redirect
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent}
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
        if 300 <= status < 400:  # a redirect would have been followed: this one has no Location
            raise SourceFetchError(
                f"HTTP {status} {response.reason_phrase} for {url} with no usable Location "
                f"(not retried) — {HTTP_FIX}"
            )

    def _send(self, method: str, url: str) -> httpx.Response:
        """The streamed response to ``method url`` after the redirects the policy allows (the
        caller closes it). Its ``url`` is the final URL."""
        request = self.client.build_request(method, url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self.client.send(request, stream=True, follow_redirects=False)
            following = response.next_request
            if following is None:
                return response
            response.close()
            check_redirect(url, str(request.url), str(following.url), self.allowed_hosts)
            log.info(
                "%s %s: HTTP %s redirect to %s", method, url, response.status_code, following.url
            )
            request = following
        raise SourceFetchError(
            f"{method} {url}: more than {MAX_REDIRECTS} redirects (not retried) — {HTTP_FIX}"
        )

    # -- fetch -----------------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        expected_sha256: str | None = None,
        *,
        cap: SizeCap | None = None,
        spool_dir: Path | None = None,
    ) -> Fetched:
        """GET ``url`` (following the redirects the policy allows) and return the verified body.

        With ``spool_dir`` the body is streamed to a temporary file there (``Fetched.path``);
        without, it is returned in memory. Over ``cap`` the download is refused: at once when
        the Content-Length announces more, else as soon as more has arrived.
        """
        expected = expected_sha256.lower() if expected_sha256 else None

        def once() -> Fetched:
            log.info("fetching %s", url)
            response = self._send("GET", url)
            try:
                return self._receive(response, url, expected, cap, spool_dir)
            finally:
                response.close()

        return self._attempts("GET", url, once)

    def _receive(
        self,
        response: httpx.Response,
        url: str,
        expected: str | None,
        cap: SizeCap | None,
        spool_dir: Path | None,
    ) -> Fetched:
        self._check_status(response, url)
        final = str(response.url)
        declared = response.headers.get("Content-Length")
        announced = int(declared) if declared is not None and declared.isdigit() else None
        if cap is not None and announced is not None and announced > cap.max_bytes:
            raise cap.refuse(
                f"GET {url}", announced, verb="announces", outcome="refused unread (not retried)"
            )
        content_type = response.headers.get("Content-Type")

        def html_page() -> SourceFetchError:
            return SourceFetchError(
                f"{url} returned an HTML page, not the CSV/XLSX data file (not retried) "
                f"— {HTTP_FIX}"
            )

        if looks_like_html(content_type, b""):
            raise html_page()
        sink = _Sink(spool_dir)
        try:
            sniffed = False
            try:
                for chunk in response.iter_bytes():
                    if cap is not None and sink.size + len(chunk) > cap.max_bytes:
                        raise cap.refuse_streamed(f"GET {url}", sink.size + len(chunk))
                    sink.write(chunk)
                    if not sniffed and len(sink.head) >= _HTML_SNIFF:
                        sniffed = True
                        if looks_like_html(None, sink.head):
                            raise html_page()
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                raise _Retryable(f"partial download: {_describe(exc)}") from exc
            received = response.num_bytes_downloaded
            if announced is not None and announced != received:
                raise _Retryable(
                    f"partial download: got {received} bytes of the {declared} announced"
                )
            if not sniffed and looks_like_html(None, sink.head):
                raise html_page()
            if expected is not None and sink.sha256 != expected:
                raise _Retryable(f"SHA-256 mismatch: expected {expected}, got {sink.sha256}")
            content = sink.finish()
        except BaseException:
            sink.discard()
            raise
        log.info("fetched %s bytes from %s", sink.size, final)
        return Fetched(
            content=content,
            url=final,
            etag=response.headers.get("ETag"),
            fetched_at=_now(),
            size=sink.size,
            sha256=sink.sha256,
            path=sink.path,
            requested_url=url if final != url else None,
        )

    def probe(self, url: str) -> SourceProbe | None:
        """ETag and size from a HEAD request (GET headers if HEAD is refused); None on 404/410.
        Redirects are followed under the same policy as :meth:`fetch`."""

        def once() -> SourceProbe | None:
            response = self._send("HEAD", url)
            try:
                if response.status_code in (405, 501):
                    log.info(
                        "HEAD refused by %s (HTTP %s); probing with GET", url, response.status_code
                    )
                    response.close()
                    response = self._send("GET", url)
                return self._probe_from(response, url)
            finally:
                response.close()

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
