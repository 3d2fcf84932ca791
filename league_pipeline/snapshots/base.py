"""The plumbing every part of the snapshot store shares.

Belongs here: :class:`StoreBase`, where a store lives (lake folder, catalog, outputs folder),
its write lock, whether its catalog can be used (and the fix when not), and the versions it
has handed out (``versions.json`` and the outputs folders). Writing, reading, backups and the
check are in their own modules; :class:`~league_pipeline.snapshots.store.SnapshotStore` joins
them. See docs/snapshots.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

from league_pipeline.core.atomic import atomic_write
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import LAKE_BACKUPS
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.common import (
    ReadSession,
    SnapshotError,
    SnapshotInfo,
    is_transient,
    sql,
    to_quarter,
)

log = logging.getLogger(__name__)

WRITE_LOCK_NAME = ".write.lock"
VERSIONS_FILE = "versions.json"  # quarter -> highest version ever handed out
# an outputs folder of a version, or a temporary folder beside one (``v3``, ``.v3.tmp-x``)
_OUTPUT_VERSION = re.compile(r"^\.?v(\d+)(?![0-9])")


class StoreBase:
    """A snapshot store's location, catalog, write lock and version bookkeeping."""

    def __init__(
        self,
        root: Path,
        catalog: str | None = None,
        backups: int = LAKE_BACKUPS,
        storage: lake.ObjectStore | None = None,
    ) -> None:
        """The lake in folder ``root`` (``<home>/lake``), its catalog (none: SQLite in
        ``root``; see :func:`.lake.catalog_spec`), how many verified copies of a SQLite
        catalog to keep (``backups``; 0: none) and the object storage of its data files
        (``storage``; none: ``<root>/data``)."""
        self.root = Path(root).resolve()
        self.spec = lake.catalog_spec(self.root, catalog, storage)
        self.lock_path = self.root / WRITE_LOCK_NAME
        self.lock_timeout = 900.0  # seconds a writer waits for the others before giving up
        self.sessions: dict[int, ReadSession] = {}  # thread id -> its open read session
        if backups < 0:
            raise ValueError(f"backups must be 0 or more, not {backups}")
        self.backups_kept = backups  # verified catalog copies (SQLite only)
        self.versions_file = self.root / VERSIONS_FILE
        # <home>/outputs beside the lake (<home>/lake): its folders hold version numbers too
        self.outputs_root = self.root.parent / "outputs"

    # -- the write lock ------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the store's write lock (file lock, plus the advisory lock of a Postgres
        catalog); :class:`SnapshotError` after ``lock_timeout`` seconds of waiting."""
        try:
            with lake.writer_lock(self.spec, self.lock_path, self.lock_timeout):
                yield
        except lake.WriterLockTimeout as exc:
            raise SnapshotError(
                f"another writer has held the store's write lock for over "
                f"{self.lock_timeout:.0f}s ({exc})"
            ) from exc

    def ensure_catalog(self) -> None:
        """Make sure the catalog can take a write: create it when the lake is new; refuse
        when the lake has data files but the catalog is missing, empty or damaged."""
        damage = self.catalog_damage(doing="refusing to start a new lake over them")
        if damage is not None:
            raise damage
        file = self.spec.sqlite_file
        if file is not None and (not file.exists() or file.stat().st_size == 0):
            lake.create_sqlite_catalog(self.spec, [sql("create_manifest")])  # a new lake

    # -- whether the catalog can be used -------------------------------------------------------

    def catalog_damage(self, doing: str | None = None) -> lake.CatalogDamagedError | None:
        """The error to raise when the catalog cannot be used, else None.

        A missing or empty catalog (or a server catalog with no lake in it) is fine for a new
        lake, but not when data files exist: their snapshots would be lost from the catalog
        and their version numbers handed out again. An unreadable or damaged catalog is never
        fine. ``doing`` is added to the problem (what the caller will not do).
        """
        if self.spec.kind == "sqlite":
            assert self.spec.sqlite_file is not None
            problem = lake.sqlite_catalog_problem(self.spec.sqlite_file)
            if problem is None:
                return None
            absent = not self.spec.sqlite_file.exists() or (
                self.spec.sqlite_file.is_file() and self.spec.sqlite_file.stat().st_size == 0
            )
            if absent and not lake.has_data_files(self.spec):
                return None  # a new lake
        else:
            if not lake.has_data_files(self.spec):
                return None
            try:
                with lake.attached(self.spec, read_only=True):
                    return None
            except duckdb.Error as exc:
                if not lake.is_missing_catalog(exc):
                    return None  # unreachable or busy: the caller's own access reports it
            problem = f"the Postgres catalog {self.catalog_label()} holds no lake"
        return self._damaged(problem, doing)

    def _damaged(self, detail: str, doing: str | None) -> lake.CatalogDamagedError:
        # (worded so that the command line's error mapping knows it: "catalog", "damaged")
        problem = f"the lake catalog is damaged or lost: {detail}"
        count = sum(1 for _ in lake.data_files(self.spec))
        if count:
            problem += (
                f", while {self.spec.data_location} holds {count} data file(s) of earlier snapshots"
            )
        if doing:
            problem += f"; {doing}"
        return lake.CatalogDamagedError(problem, self.recovery_fix())

    def recovery_fix(self) -> str:
        """What to do about a damaged or lost catalog."""
        if self.spec.kind != "sqlite":
            return (
                "restore the catalog database from its last dump (pg_dump/pg_restore), or point "
                "LEAGUE_LAKE_CATALOG at the right database, then run `league lake check`"
            )
        assert self.spec.sqlite_file is not None
        backups = lake.list_backups(self.spec)
        if backups:
            return (
                "run `league lake restore` to bring back the newest verified catalog backup "
                f"({len(backups)} in {lake.backup_dir(self.spec)}), then `league lake check`"
            )
        return (
            f"there is no catalog backup in {lake.backup_dir(self.spec)}: put the catalog file "
            f"back if it was moved; otherwise move {self.spec.sqlite_file} and "
            f"{self.spec.data_path} aside to start a new lake (earlier snapshots cannot be read "
            "without their catalog; their outputs folders are kept)"
        )

    def catalog_label(self) -> str:
        """The catalog, for messages (a Postgres password is masked)."""
        if self.spec.sqlite_file is not None:
            return str(self.spec.sqlite_file)
        dsn = re.sub(r"password=\S+", "password=***", self.spec.dsn)
        return f"postgres:{dsn}"

    def check_catalog(self) -> None:
        """Raise :class:`~league_pipeline.snapshots.lake.CatalogDamagedError` when the catalog
        cannot be used (see :meth:`catalog_damage`)."""
        damage = self.catalog_damage()
        if damage is not None:
            raise damage

    def reraise_damage(self, exc: BaseException) -> None:
        """After a failed catalog access: raise the damage behind it, if that is the cause."""
        if is_transient(exc):
            return
        damage = self.catalog_damage()
        if damage is not None:
            raise damage from exc

    # -- versions handed out -------------------------------------------------------------------

    def recorded_versions(self) -> dict[str, int]:
        """``versions.json``: quarter label -> the highest version ever handed out."""
        try:
            data = json.loads(self.versions_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning(
                "cannot read %s (%s); versions are taken from elsewhere", self.versions_file, exc
            )
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}

    def output_versions(self, q: Quarter) -> list[int]:
        """The versions of ``q`` that have an outputs folder (or a temporary one)."""
        folder = self.outputs_root / q.slug
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            match = _OUTPUT_VERSION.match(entry.name)
            if match:
                found.append(int(match.group(1)))
        return found

    def issued_version(self, q: Quarter) -> int:
        """The highest version of ``q`` ever handed out as far as the lake's folders tell
        (``versions.json`` and the outputs folders), whatever the catalog now says."""
        return max([0, self.recorded_versions().get(q.label, 0), *self.output_versions(q)])

    def record_version(self, info: SnapshotInfo) -> None:
        """Add a committed version to ``versions.json`` (a failure is logged, never raised)."""
        try:
            recorded = self.recorded_versions()
            recorded[info.quarter] = max(recorded.get(info.quarter, 0), info.version)
            text = json.dumps(dict(sorted(recorded.items())), indent=1) + "\n"
            atomic_write(self.versions_file, lambda tmp: Path(tmp).write_text(text, "utf-8"))
        except OSError as exc:
            log.warning(
                "snapshot %s is committed, but %s was not updated: %s",
                info.snapshot_id,
                self.versions_file,
                exc,
            )

    def versions_not_in(self, infos: list[SnapshotInfo]) -> list[str]:
        """Versions handed out before (versions.json, outputs folders) missing from ``infos``."""
        have: dict[str, set[int]] = {}
        for info in infos:
            have.setdefault(info.quarter, set()).add(info.version)
        recorded = self.recorded_versions()
        quarters = set(recorded) | set(have)
        if self.outputs_root.is_dir():
            for folder in self.outputs_root.iterdir():
                with contextlib.suppress(ValueError):
                    quarters.add(to_quarter(folder.name).label)
        missing = []
        for label in sorted(quarters):
            q = to_quarter(label)
            issued = set(self.output_versions(q))
            top = recorded.get(label, 0)
            issued |= {v for v in range(1, top + 1)}
            for version in sorted(issued - have.get(label, set())):
                missing.append(f"{q.slug}/v{version}")
        return missing
