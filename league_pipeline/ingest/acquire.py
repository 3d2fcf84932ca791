"""The one call assets make to get a source file: fetch it (landing or http) and keep it.

Belongs here: :class:`SourceFetcher` (a run's fetch settings and source store, in one value),
choosing the fetch mode, resolving the kind's landing path, URL and size cap from
the catalogue and putting the bytes in the source store; plus :func:`probe`, the cheap change
check a sensor uses. No parsing.

The bytes never pass through memory whole: both fetchers stream them, under the kind's size cap
(``max_bytes`` in ``assets/sources.yaml``), to a temporary file in the store's folder, which the
store hashes and renames into place. Lineage records the URL the bytes came from (the final one
after any redirect) and, when it differs, the URL asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from league_pipeline.ingest import catalogue
from league_pipeline.ingest.fetch import (
    Fetched,
    HttpFetcher,
    LandingFetcher,
    SizeCap,
    SourceFetchError,
    SourceProbe,
)
from league_pipeline.ingest.store import SourceStore, StoredFile

if TYPE_CHECKING:
    from league_pipeline.core.quarters import Quarter

log = logging.getLogger("league_pipeline.ingest")

MODES = ("landing", "http")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown source mode '{mode}': choose one of {', '.join(MODES)}")


def _landing(landing_dir: Path | None) -> LandingFetcher:
    if landing_dir is None:
        raise ValueError("reading the landing folder needs landing_dir")
    return LandingFetcher(landing_dir)


def size_cap(kind_id: str, max_bytes: int | None = None) -> SizeCap:
    """The kind's size cap: ``max_bytes`` when given, else the catalogue's."""
    return SizeCap(catalogue.max_bytes(kind_id) if max_bytes is None else max_bytes, kind_id)


def _landing_fetch(
    kind_id: str, quarter: Quarter, landing_dir: Path | None, cap: SizeCap, spool_dir: Path
) -> Fetched:
    """Copy the kind's file from the landing folder (under whichever published name it has)
    into a temporary file in ``spool_dir``, under ``cap``."""
    fetcher = _landing(landing_dir)
    return fetcher.fetch(_landing_choice(kind_id, quarter, fetcher), cap=cap, spool_dir=spool_dir)


def landing_file(kind_id: str, quarter: Quarter, landing_dir: Path) -> Path:
    """The kind's file for ``quarter`` in the landing folder, under whichever published name it
    has there (the usual name when none is present; two present is an error)."""
    fetcher = _landing(landing_dir)
    return fetcher.path_for(_landing_choice(kind_id, quarter, fetcher))


def _landing_choice(kind_id: str, quarter: Quarter, fetcher: LandingFetcher) -> str:
    """The one landing name present (the usual name when none is); two present is an error."""
    names = catalogue.landing_paths(kind_id, quarter)
    present = [name for name in names if fetcher.path_for(name).exists()]
    if len(present) > 1:
        shown = " and ".join(str(fetcher.path_for(name)) for name in present)
        raise SourceFetchError(
            f"{kind_id} {quarter.label}: two files for one publication ({shown}) — keep only "
            "the one NHS England published last"
        )
    return present[0] if present else names[0]


def _http_url(
    kind_id: str,
    quarter: Quarter,
    url_overrides: Mapping[str, Any] | None,
    landing_dir: Path | None,
) -> str | None:
    """The URL to fetch, or None when the kind is landing-only and a landing folder was given."""
    url = catalogue.url_for(kind_id, quarter, url_overrides)
    if url is None and landing_dir is None:
        rel = catalogue.landing_path(kind_id, quarter)
        raise SourceFetchError(
            f"{kind_id} is not published over http by NHS England — put the file at "
            f"<landing folder>/{rel} and pass landing_dir (or use landing mode)"
        )
    return url


def acquire(
    kind_id: str,
    quarter: Quarter,
    *,
    mode: str,
    store: SourceStore,
    landing_dir: Path | None = None,
    http: HttpFetcher | None = None,
    url_overrides: Mapping[str, Any] | None = None,
    max_bytes: int | None = None,
) -> StoredFile:
    """Fetch ``kind_id`` for ``quarter`` and keep it in ``store``; return the stored file.

    ``mode`` is ``landing`` (read ``landing_dir``) or ``http``
    (download the catalogue URL). In http mode a kind that NHS England does not publish
    (``http: none``) is read from ``landing_dir`` when one is given. A file over the kind's size
    cap (``max_bytes``, default the catalogue's) is refused with
    :class:`~league_pipeline.ingest.fetch.SourceTooLarge` before it is read.
    """
    _check_mode(mode)
    cap = size_cap(kind_id, max_bytes)
    spool = store.spool_dir()
    fetched: Fetched
    if mode == "landing":
        fetched = _landing_fetch(kind_id, quarter, landing_dir, cap, spool)
    else:
        url = _http_url(kind_id, quarter, url_overrides, landing_dir)
        if url is None:
            log.info("%s has no http source; reading it from the landing folder", kind_id)
            fetched = _landing_fetch(kind_id, quarter, landing_dir, cap, spool)
        elif http is not None:
            fetched = http.fetch(url, cap=cap, spool_dir=spool)
        else:
            with HttpFetcher() as fetcher:
                fetched = fetcher.fetch(url, cap=cap, spool_dir=spool)
    assert fetched.path is not None  # both fetchers were given the spool folder
    try:
        stored = store.put_file(
            fetched.path,
            url=fetched.url,
            fetched_at=fetched.fetched_at,
            etag=fetched.etag,
            requested_url=fetched.requested_url,
        )
    finally:
        fetched.discard()
    log.info(
        "%s %s: %s (%s bytes) from %s",
        kind_id,
        quarter,
        stored.sha256[:12],
        stored.size,
        stored.url,
    )
    return stored


def probe(
    kind_id: str,
    quarter: Quarter,
    *,
    mode: str,
    landing_dir: Path | None = None,
    http: HttpFetcher | None = None,
    url_overrides: Mapping[str, Any] | None = None,
) -> SourceProbe | None:
    """A cheap look at the source (size, etag; sha256 in landing mode, unless the file is over
    its size cap); None if it is missing."""
    _check_mode(mode)
    url = None if mode == "landing" else _http_url(kind_id, quarter, url_overrides, landing_dir)
    if url is None:
        fetcher = _landing(landing_dir)
        return fetcher.probe(_landing_choice(kind_id, quarter, fetcher), cap=size_cap(kind_id))
    if http is not None:
        return http.probe(url)
    with HttpFetcher() as fetcher:
        return fetcher.probe(url)


def publications(
    kind_id: str,
    quarter: Quarter,
    later: list[Quarter],
    *,
    mode: str,
    store: SourceStore,
    landing_dir: Path | None = None,
    http: HttpFetcher | None = None,
    url_overrides: Mapping[str, Any] | None = None,
) -> Iterator[tuple[StoredFile, Quarter]]:
    """The publications of a cumulative ``kind_id`` that may hold ``quarter``'s rows, newest
    first, each fetched only when the caller asks for it.

    NHS England's trust-data files hold every quarter of the year to date, so a later quarter's
    publication (``later``, oldest first) supersedes ``quarter``'s own: those present (landing)
    or published (http: a cheap probe first; 404 means not yet) come first, then ``quarter``'s
    own file. Yields the stored file and the quarter whose publication it is.
    """
    options = dict(
        mode=mode, store=store, landing_dir=landing_dir, http=http, url_overrides=url_overrides
    )
    probe_options = {k: v for k, v in options.items() if k != "store"}
    for candidate in reversed(later):
        try:
            found = probe(kind_id, candidate, **probe_options)
        except SourceFetchError as exc:
            log.warning("%s %s: later publication not checked (%s)", kind_id, candidate, exc)
            continue
        if found is not None:
            yield acquire(kind_id, candidate, **options), candidate
    yield acquire(kind_id, quarter, **options), quarter


@dataclass(frozen=True)
class SourceFetcher:
    """How a run gets its source files and where it keeps them: ``mode`` (``landing`` or
    ``http``), the landing folder, the http fetcher (timeout, retries, allowed redirect hosts),
    URL overrides (``base_url``) and the source store. Its methods are :func:`acquire`,
    :func:`probe` and :func:`publications` with these settings."""

    mode: str
    store: SourceStore
    landing_dir: Path
    http: HttpFetcher | None = None
    url_overrides: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_mode(self.mode)

    def _options(self) -> dict[str, Any]:
        return dict(
            mode=self.mode,
            landing_dir=self.landing_dir,
            http=self.http,
            url_overrides=self.url_overrides,
        )

    def acquire(self, kind_id: str, quarter: Quarter) -> StoredFile:
        return acquire(kind_id, quarter, store=self.store, **self._options())

    def probe(self, kind_id: str, quarter: Quarter) -> SourceProbe | None:
        return probe(kind_id, quarter, **self._options())

    def publications(
        self, kind_id: str, quarter: Quarter, later: list[Quarter]
    ) -> Iterator[tuple[StoredFile, Quarter]]:
        return publications(kind_id, quarter, later, store=self.store, **self._options())
