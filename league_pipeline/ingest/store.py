"""The immutable, content-addressed store of every fetched source file.

Belongs here: keeping fetched bytes under their SHA-256 (``objects/<sha[:2]>/<sha256>``),
written atomically and never overwritten, and the append-only provenance log
(``fetches.jsonl``) saying which URL gave which bytes when. Nothing here fetches or parses
anything. Several threads or processes may put at once: an object is renamed into place from a
temporary file in its folder (same name, same content: a lost race is harmless), log lines are
appended under a :class:`filelock.FileLock`, and a download streamed to
:meth:`SourceStore.spool_dir` is hashed and renamed into place by :meth:`SourceStore.put_file`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger("league_pipeline.ingest")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
LOG_NAME = "fetches.jsonl"
SPOOL_NAME = "incoming"  # downloads in progress (temporary files)


class SourceNotFoundError(KeyError):
    """No object with the requested SHA-256 is in the store."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else "source not found"


class SourceStoreError(OSError):
    """The store could not keep a file intact (for example the bytes on disk do not verify)."""


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def sha256_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(
            f"fetched_at must be timezone-aware (got naive {moment.isoformat()}): "
            "pass datetime.now(UTC)"
        )
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class StoredFile:
    """One fetch of one file: its content address and where it came from."""

    sha256: str
    size: int
    url: str
    fetched_at: datetime  # aware, UTC
    path: Path
    etag: str | None = None
    # the URL asked for, when http redirects led to ``url`` (the URL the bytes came from)
    requested_url: str | None = None

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def to_record(self) -> dict[str, Any]:
        """The provenance-log line for this fetch (``requested_url`` only after a redirect)."""
        record = {
            "sha256": self.sha256,
            "url": self.url,
            "fetched_at": self.fetched_at.isoformat(),
            "size": self.size,
            "etag": self.etag,
        }
        if self.requested_url is not None and self.requested_url != self.url:
            record["requested_url"] = self.requested_url
        return record


class SourceStore:
    """Content-addressed store rooted at ``root`` (by default ``$LEAGUE_HOME/sources``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.objects_dir = self.root / "objects"
        self.log_path = self.root / LOG_NAME
        self._lock = FileLock(str(self.root / (LOG_NAME + ".lock")))

    def __repr__(self) -> str:
        return f"SourceStore({str(self.root)!r})"

    # -- objects ---------------------------------------------------------------------------------

    def object_path(self, sha256: str) -> Path:
        sha256 = sha256.lower()
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.objects_dir / sha256[:2] / sha256

    def put(
        self,
        content: bytes,
        *,
        url: str,
        fetched_at: datetime | None = None,
        etag: str | None = None,
        requested_url: str | None = None,
    ) -> StoredFile:
        """Keep ``content`` (if not already kept) and log the fetch; return the stored file."""
        fetched_at = _utc(fetched_at)
        sha = sha256_bytes(content)
        target = self.object_path(sha)
        if self._kept(target, len(content)):
            log.debug("source %s already stored (%s)", sha[:12], url)
        else:
            self._write_object(content, sha, target)
            log.info("stored %s bytes from %s as %s", len(content), url, sha[:12])
        return self._logged(sha, len(content), url, fetched_at, target, etag, requested_url)

    def spool_dir(self) -> Path:
        """The folder downloads are streamed into before :meth:`put_file` (inside the store)."""
        return self.root / SPOOL_NAME

    def put_file(
        self,
        path: Path,
        *,
        url: str,
        fetched_at: datetime | None = None,
        etag: str | None = None,
        requested_url: str | None = None,
    ) -> StoredFile:
        """Move the file ``path`` (a download in :meth:`spool_dir`) into the store under its
        SHA-256, computed from the disk, and log the fetch; return the stored file.

        The file is consumed: renamed into place, or deleted when the store already holds the
        same bytes. A file on another file system is copied, never read whole into memory.
        """
        fetched_at = _utc(fetched_at)
        path = Path(path)
        try:
            sha = sha256_file(path)
            size = path.stat().st_size
            target = self.object_path(sha)
            if self._kept(target, size):
                log.debug("source %s already stored (%s)", sha[:12], url)
            else:
                self._move_object(path, sha, target)
                log.info("stored %s bytes from %s as %s", size, url, sha[:12])
        finally:
            path.unlink(missing_ok=True)
        return self._logged(sha, size, url, fetched_at, target, etag, requested_url)

    @staticmethod
    def _kept(target: Path, size: int) -> bool:
        """Whether ``target`` is already stored (checking its size against ``size``)."""
        if not target.exists():
            return False
        if target.stat().st_size != size:
            raise SourceStoreError(
                f"stored object {target} has {target.stat().st_size} bytes, not "
                f"{size}: the disk copy is damaged — delete it and fetch again"
            )
        return True

    def _logged(
        self,
        sha: str,
        size: int,
        url: str,
        fetched_at: datetime,
        target: Path,
        etag: str | None,
        requested_url: str | None,
    ) -> StoredFile:
        stored = StoredFile(
            sha256=sha,
            size=size,
            url=url,
            fetched_at=fetched_at,
            path=target,
            etag=etag,
            requested_url=requested_url if requested_url != url else None,
        )
        self._append_log(stored.to_record())
        return stored

    def _move_object(self, path: Path, sha: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o444)
        try:
            if not target.exists():
                os.replace(path, target)  # same name means same content (see _write_object)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            fd, tmp_name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{sha[:12]}.", suffix=".tmp"
            )
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, open(path, "rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
                    out.flush()
                    os.fsync(out.fileno())
                if sha256_file(tmp) != sha:
                    raise SourceStoreError(
                        f"the bytes copied to {tmp} do not hash to {sha}: check the disk under "
                        "the source store and fetch again"
                    ) from exc
                os.chmod(tmp, 0o444)
                if not target.exists():
                    os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)

    def _write_object(self, content: bytes, sha: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{sha[:12]}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            written = sha256_file(tmp)
            if written != sha:
                raise SourceStoreError(
                    f"the bytes written to {tmp} hash to {written}, not {sha}: "
                    "check the disk under the source store and fetch again"
                )
            os.chmod(tmp, 0o444)
            # Same name means same content: if another writer got there first, replacing its file
            # with identical bytes is harmless, and os.replace is atomic.
            if not target.exists():
                os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, sha256: str) -> Path:
        """The path of the stored object ``sha256``; :class:`SourceNotFoundError` if missing."""
        path = self.object_path(sha256)
        if not path.is_file():
            raise SourceNotFoundError(
                f"source {sha256} is not in the store at {self.root}: fetch it again "
                "(`acquire`) or point LEAGUE_HOME at the store that holds it"
            )
        return path

    def __contains__(self, sha256: object) -> bool:
        return (
            isinstance(sha256, str)
            and _SHA256.match(sha256.lower()) is not None
            and (self.object_path(sha256).is_file())
        )

    # -- provenance log --------------------------------------------------------------------------

    def _append_log(self, record: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
        with self._lock, open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def history(self, url: str | None = None) -> list[dict[str, Any]]:
        """Every logged fetch (of ``url``, if given: the URL the bytes came from, or the one
        asked for when a redirect led elsewhere), oldest first."""
        if not self.log_path.exists():
            return []
        with self._lock:
            text = self.log_path.read_text(encoding="utf-8")
        out: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("skipping unreadable line %s of %s", number, self.log_path)
                continue
            if url is None or url in (record.get("url"), record.get("requested_url")):
                out.append(record)
        return out

    def latest(self, url: str) -> StoredFile | None:
        """The most recent fetch of ``url`` whose object is still in the store, or None."""
        for record in reversed(self.history(url)):
            path = self.object_path(record["sha256"])
            if path.is_file():
                return StoredFile(
                    sha256=record["sha256"],
                    size=int(record["size"]),
                    url=record["url"],
                    fetched_at=datetime.fromisoformat(record["fetched_at"]).astimezone(UTC),
                    path=path,
                    etag=record.get("etag"),
                    requested_url=record.get("requested_url"),
                )
        return None
