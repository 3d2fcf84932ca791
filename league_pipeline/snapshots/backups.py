"""Verified backups of a SQLite catalog, and restoring one.

Belongs here: the files a catalog references, taking a backup (copied, read back, then kept
among the last ``backups_kept``), reading a backup back, and putting the newest good one in
place of a damaged catalog. A Postgres catalog is the database's to back up. See
docs/snapshots.md and docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from league_pipeline.core.atomic import atomic_write
from league_pipeline.snapshots import lake, reader
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import SnapshotInfo, SnapshotNotFoundError, metadata_sql


@dataclass(frozen=True)
class CatalogFile:
    """A file the catalog references."""

    path: Path | str  # a URL (str) when the data files are on object storage
    table: str | None
    kind: str  # 'data' or 'delete'
    size: int | None


@dataclass
class BackupCheck:
    """One catalog backup, read back: its snapshots, or why it cannot be used."""

    path: Path
    taken_at: datetime | None
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    files: list[CatalogFile] = field(default_factory=list)
    problem: str | None = None

    @property
    def good(self) -> bool:
        return self.problem is None


@dataclass
class RestoreResult:
    """What :func:`restore` did."""

    backup: BackupCheck
    catalog: Path
    kept_aside: list[Path]
    skipped: list[BackupCheck]  # newer backups that failed their check
    not_restored: list[str]  # versions handed out before that the backup does not hold


def _flag(value: Any) -> bool:
    return bool(value) and str(value).lower() not in {"0", "false", "f"}


def catalog_files(con: duckdb.DuckDBPyConnection, spec: lake.CatalogSpec) -> list[CatalogFile]:
    """Every file the attached catalog references, with its full path (its URL, a ``str``,
    when the data files are on object storage)."""
    out = []
    for row in con.execute(metadata_sql(con, "catalog_files")).fetchall():
        kind, table, schema_path, schema_rel, table_path, table_rel, path, path_rel, size = row
        if spec.storage is not None:
            url = spec.storage.url
            for part, relative in ((schema_path, schema_rel), (table_path, table_rel)):
                if part is not None:
                    url = url.rstrip("/") + "/" + part if _flag(relative) else part
            url = url.rstrip("/") + "/" + path if _flag(path_rel) else path
            out.append(CatalogFile(url, table, kind, None if size is None else int(size)))
            continue
        base = Path(spec.data_path)
        if schema_path is not None:
            base = base / schema_path if _flag(schema_rel) else Path(schema_path)
        if table_path is not None:
            base = base / table_path if _flag(table_rel) else Path(table_path)
        full = base / path if _flag(path_rel) else Path(path)
        out.append(CatalogFile(full, table, kind, None if size is None else int(size)))
    return out


def file_intact(f: CatalogFile, stored: dict[str, int] | None = None) -> bool:
    """The file is on disk with the size the catalog recorded (on object storage: among the
    ``stored`` objects, URL -> size, with that size)."""
    if stored is not None:
        return str(f.path) in stored and f.size in (None, stored[str(f.path)])
    try:
        return f.size is None or f.path.stat().st_size == f.size
    except OSError:
        return False


def backup(store: StoreBase) -> BackupCheck:
    """Take a verified backup of the SQLite catalog now (under the write lock)."""
    if store.spec.kind != "sqlite":
        raise lake.LakeError(
            "a Postgres catalog is backed up by the database: use pg_dump (the store keeps "
            "no copies of it)"
        )
    store.check_catalog()
    if not store.spec.exists():
        raise SnapshotNotFoundError(f"the snapshot store {store.root} is empty: nothing to back up")
    with store.writer_lock():
        return backup_locked(store)


def backup_locked(store: StoreBase) -> BackupCheck:
    """Copy the catalog aside, read the copy back, and only then let it join the backups
    (pruning the oldest beyond ``backups_kept``). The caller holds the write lock."""
    assert store.spec.sqlite_file is not None
    folder = lake.backup_dir(store.spec)
    folder.mkdir(parents=True, exist_ok=True)
    moment = datetime.now(UTC)
    final = folder / lake.backup_name(store.spec, moment)
    while final.exists():
        moment = datetime.now(UTC)
        final = folder / lake.backup_name(store.spec, moment)
    expected = [i.snapshot_id for i in reader.list_snapshots(store)]
    checked: list[BackupCheck] = []

    def write(tmp: str) -> None:
        lake.copy_sqlite(store.spec.sqlite_file, Path(tmp), journal_mode="DELETE")
        result = verify_backup(store, Path(tmp))
        if result.problem is not None:
            raise lake.LakeError(f"the new backup failed its check: {result.problem}")
        got = [i.snapshot_id for i in result.snapshots]
        if got != expected:
            raise lake.LakeError(
                f"the new backup lists {len(got)} snapshot(s), the catalog {len(expected)}"
            )
        checked.append(result)

    atomic_write(final, write)
    kept = lake.list_backups(store.spec)
    for old in kept[max(store.backups_kept, 1) :]:
        old.unlink(missing_ok=True)
    result = checked[0]
    result.path, result.taken_at = final, moment
    return result


def backups(store: StoreBase) -> list[BackupCheck]:
    """Every backup of the catalog, newest first, each read back."""
    if store.spec.kind != "sqlite":
        return []
    return [verify_backup(store, path) for path in lake.list_backups(store.spec)]


def verify_backup(store: StoreBase, path: Path) -> BackupCheck:
    """Read a catalog backup back: SQLite's quick_check, DuckLake lists its snapshots, and
    every data file it references exists with its size."""
    result = BackupCheck(
        Path(path), lake.backup_time(store.spec, Path(path)) if store.spec.sqlite_file else None
    )
    problem = lake.sqlite_catalog_problem(Path(path))
    if problem is not None:
        result.problem = problem
        return result
    spec = lake.catalog_spec(store.root, f"sqlite:{Path(path).resolve()}", store.spec.storage)
    try:
        with lake.attached(spec, read_only=True) as con:
            con.execute("BEGIN TRANSACTION")
            result.snapshots = reader.manifest(con, None, None)
            result.files = catalog_files(con, store.spec)
            con.execute("COMMIT")
    except duckdb.Error as exc:
        result.problem = f"DuckLake cannot read it: {str(exc).splitlines()[0]}"
        return result
    if store.spec.storage is not None:
        stored = lake.stored_objects(store.spec)
        bad = [f.path for f in result.files if not file_intact(f, stored)]
        if bad:
            result.problem = (
                f"{len(bad)} data file(s) it references are missing or changed size, e.g. {bad[0]}"
            )
        return result
    missing = [f.path for f in result.files if not f.path.is_file()]
    if missing:
        result.problem = f"{len(missing)} data file(s) it references are missing, e.g. {missing[0]}"
        return result
    wrong = [f.path for f in result.files if f.size is not None and f.path.stat().st_size != f.size]
    if wrong:
        result.problem = f"{len(wrong)} data file(s) it references changed size, e.g. {wrong[0]}"
    return result


def restore(store: StoreBase, backup: Path | None = None, *, force: bool = False) -> RestoreResult:
    """Put the newest good backup (or ``backup``) in place of the catalog.

    Refuses when the catalog is healthy, unless ``force``. Every backup tried is read back
    first (see :func:`verify_backup`); the current catalog file and its ``-wal`` and ``-shm``
    are renamed to ``<name>.broken-<UTC time>``, never deleted.
    """
    if store.spec.kind != "sqlite":
        raise lake.LakeError(
            "a Postgres catalog is restored by the database: pg_restore its last dump, "
            "then run `league lake check`"
        )
    assert store.spec.sqlite_file is not None
    file = store.spec.sqlite_file
    with store.writer_lock():
        problem = lake.sqlite_catalog_problem(file)
        if problem is None and not force:
            count = len(reader.list_snapshots(store))
            raise lake.LakeError(
                f"the lake catalog {file} is healthy ({count} snapshot(s)): nothing to "
                "restore (add --force to replace it with a backup anyway; it is kept aside)"
            )
        if backup is not None:
            backup = Path(backup)
            if not backup.exists() and (lake.backup_dir(store.spec) / backup).exists():
                backup = lake.backup_dir(store.spec) / backup  # a backup's name
            if not backup.is_file():
                raise lake.LakeError(f"there is no backup file {backup}")
        candidates = [backup] if backup is not None else lake.list_backups(store.spec)
        if not candidates:
            raise lake.CatalogDamagedError(
                f"there is no catalog backup in {lake.backup_dir(store.spec)}",
                store.recovery_fix(),
            )
        skipped: list[BackupCheck] = []
        chosen = None
        for path in candidates:
            checked = verify_backup(store, path)
            if checked.good:
                chosen = checked
                break
            skipped.append(checked)
        if chosen is None:
            reasons = "; ".join(f"{c.path.name}: {c.problem}" for c in skipped)
            raise lake.CatalogDamagedError(
                f"no catalog backup passes its check ({reasons})",
                "restore a copy of the lake folder from your own backups (or move the catalog "
                "and the data folder aside to start a new lake)",
            )
        kept = lake.move_aside(file, datetime.now(UTC)) if file.exists() else []
        for suffix in ("-wal", "-shm", "-journal"):  # left beside a deleted catalog
            stale = Path(f"{file}{suffix}")
            if stale.exists():
                kept += lake.move_aside(stale, datetime.now(UTC))
        lake.install_catalog(chosen.path, file)
        now = [i.snapshot_id for i in reader.list_snapshots(store)]
        if now != [i.snapshot_id for i in chosen.snapshots]:
            raise lake.LakeError(
                f"the restored catalog lists {len(now)} snapshot(s), its backup "
                f"{len(chosen.snapshots)}; the previous catalog is kept as {kept}"
            )
    return RestoreResult(chosen, file, kept, skipped, store.versions_not_in(chosen.snapshots))
