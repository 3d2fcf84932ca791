"""The snapshot store: versioned, immutable quarterly snapshots of the results, with lineage.

Belongs here: :class:`SnapshotStore`, the one way in. Its methods hand the work to the modules
that do each job: ``writer`` (write a version), ``reader`` (list, read, time travel, read
sessions), ``diff``, ``export`` (Parquet), ``backups`` and ``check`` (catalog safety); ``base``
holds the location, catalog, write lock and versions handed out, and ``lake`` the DuckLake
connection. How it is stored, and why (measurements), is in docs/snapshots.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.snapshots import backups, check, diff, export, lake, reader, writer
from league_pipeline.snapshots.backups import BackupCheck, RestoreResult
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.check import LakeReport
from league_pipeline.snapshots.common import (
    PUBLISHED_ROWS,
    SYSTEM_COLUMNS,
    SnapshotError,
    SnapshotInfo,
    SnapshotNotFoundError,
    validate_identifier,
)

__all__ = [
    "PUBLISHED_ROWS",
    "SYSTEM_COLUMNS",
    "BackupCheck",
    "LakeReport",
    "RestoreResult",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotNotFoundError",
    "SnapshotStore",
    "validate_identifier",
]


class SnapshotStore(StoreBase):
    """The quarterly snapshot store. Every method opens the lake, does its work and closes it,
    unless it runs inside :meth:`reading`, which keeps one read attachment open for a block."""

    def __repr__(self) -> str:
        return f"SnapshotStore(root={str(self.root)!r}, catalog={self.spec.kind})"

    @classmethod
    def at(
        cls,
        root: Path,
        *,
        catalog: str | None,
        backups: int,
        data_path: str | None = None,
        **s3: str | None,
    ) -> SnapshotStore:
        """The store in folder ``root`` with its catalog and backups, its data files on the
        object storage ``data_path`` names (``s3://bucket/prefix``; ``s3``: the keyword
        arguments of :func:`.lake.object_store`), or in ``<root>/data`` without one."""
        storage = lake.object_store(data_path, **s3) if data_path else None
        return cls(root, catalog=catalog, backups=backups, storage=storage)

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        quarter: str | Quarter,
        tables: Mapping[str, pd.DataFrame],
        lineage: Mapping[str, Any],
        run_id: str | None = None,
    ) -> SnapshotInfo:
        """Publish ``tables`` as the next version of ``quarter``, atomically, with ``lineage``."""
        return writer.write(self, quarter, tables, lineage, run_id)

    # -- reading -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[SnapshotStore]:
        """Serve every read in the block from one read-only attachment and transaction.

        The reads see the store as it was when the block started (a writer publishing
        meanwhile is not seen) and the manifest is read once. Nested blocks share the outer
        one. An empty store opens no session (its reads raise as usual).
        """
        with reader.reading(self):
            yield self

    def list(self, quarter: str | Quarter | None = None) -> list[SnapshotInfo]:
        """Every published snapshot (of ``quarter``), oldest quarter and version first."""
        return reader.list_snapshots(self, quarter)

    def latest(self, quarter: str | Quarter) -> SnapshotInfo | None:
        """The newest snapshot of ``quarter``, or None if it has none."""
        infos = self.list(quarter)
        return infos[-1] if infos else None

    def get(self, quarter: str | Quarter, version: int | None = None) -> SnapshotInfo:
        """One snapshot (the latest by default); raises :class:`SnapshotNotFoundError`."""
        return reader.get(self, quarter, version)

    def lineage(self, quarter: str | Quarter, version: int | None = None) -> dict[str, Any]:
        """The lineage recorded with a snapshot (the latest by default)."""
        return self.get(quarter, version).lineage

    def read(
        self,
        table: str,
        quarter: str | Quarter | None = None,
        version: int | None = None,
        *,
        as_of: datetime | None = None,
    ) -> pd.DataFrame:
        """Rows of ``table`` in a snapshot, with ``quarter`` and ``snapshot_version`` first.

        ``quarter`` given: its latest version, or ``version``. No quarter: every quarter's
        latest snapshot that holds the table. ``as_of``: the store as it was at that time
        (naive datetimes are UTC). Rows come back in the order they were written.
        """
        return reader.read(self, table, quarter, version, as_of=as_of)

    # -- comparing and exporting ---------------------------------------------------------------

    def diff(
        self,
        table: str,
        quarter: str | Quarter,
        old_version: int,
        new_version: int,
        key: list[str],
    ) -> pd.DataFrame:
        """Rows added, removed or changed between two versions, matched on ``key`` (see
        :func:`league_pipeline.snapshots.diff.diff` for the columns)."""
        return diff.diff(self, table, quarter, old_version, new_version, key)

    def export_parquet(
        self, quarter: str | Quarter, version: int | None, out_dir: Path | str
    ) -> list[Path]:
        """Write each table of a snapshot (the latest when ``version`` is None) to
        ``<out_dir>/<table>-<quarter slug>-v<N>.parquet``, with its lineage in the metadata."""
        return export.export_parquet(self, quarter, version, out_dir)

    # -- catalog safety ------------------------------------------------------------------------

    def backup(self) -> BackupCheck:
        """Take a verified backup of the SQLite catalog now (under the write lock)."""
        return backups.backup(self)

    def backups(self) -> list[BackupCheck]:
        """Every backup of the catalog, newest first, each read back."""
        return backups.backups(self)

    def verify_backup(self, path: Path) -> BackupCheck:
        """Read a catalog backup back: SQLite's quick_check, DuckLake lists its snapshots, and
        every data file it references exists with its size."""
        return backups.verify_backup(self, path)

    def restore(self, backup: Path | None = None, *, force: bool = False) -> RestoreResult:
        """Put the newest good backup (or ``backup``) in place of a damaged catalog; refuses a
        healthy one unless ``force`` (see :func:`league_pipeline.snapshots.backups.restore`)."""
        return backups.restore(self, backup, force=force)

    def check(self) -> LakeReport:
        """Compare the catalog with the data files (see :class:`LakeReport`)."""
        return check.check(self)

    def remove_orphan_files(self, *, dry_run: bool = False) -> list[Path | str]:
        """Delete data files that no snapshot references (a killed writer leaves some); their
        paths (URLs on object storage)."""
        return check.remove_orphan_files(self, dry_run=dry_run)
