"""Versioned, immutable quarterly snapshots of the pipeline's results, with their lineage.

Belongs here: publishing a quarter's output tables as a new snapshot (quarter + version),
reading any snapshot back (latest, a given version, or the store as it was at a time), listing
snapshots and their lineage, diffing two versions, exporting one to Parquet. The DuckLake
connection itself (extensions, catalog, ATTACH) is in :mod:`league_pipeline.snapshots.lake`.

Storage: a DuckLake lake (catalog ``<lake_dir>/catalog.sqlite`` by default, Parquet data files
under ``<lake_dir>/data/``; a Postgres catalog is the team option, see :mod:`~.lake`).

* One physical table per logical table (``league_table``, ``metric_scores``, ...) holds every
  snapshot's rows, each tagged with ``quarter`` (the NHS label) and ``snapshot_version``.
* ``snapshots`` is the manifest: quarter, version, snapshot_id, created_at, run_id, tables
  (JSON name -> row count), table_columns (JSON name -> columns written) and lineage (JSON).
* A snapshot's rows and its manifest row are written in ONE DuckLake transaction: a failed or
  killed writer leaves no visible snapshot (at most orphan Parquet files that no snapshot
  references). Rows of a published version are never updated or deleted; a re-run appends the
  next version. Later versions may add columns (``ALTER TABLE ... ADD COLUMN``).
* Version numbers are race-free: "create catalog if missing + next version + write + commit"
  runs under the file lock ``<lake_dir>/.write.lock`` (plus a Postgres advisory lock for a
  Postgres catalog, see :mod:`~.lake`), so writers from any number of processes are
  serialised (they wait, they do not fail; a killed writer's lock dies with it). A bounded,
  jittered retry of the whole transaction covers transient "database is locked" errors.
  Readers take no lock: the SQLite catalog is in WAL mode, so they neither block nor are
  blocked by a writer (measured: a reader is as fast while a writer holds a transaction open).
* Why the lock, measured with DuckLake 1.5.5 and a SQLite catalog: DuckLake alone does keep
  writers from separate processes correct, but only by failing them. Any write transaction
  that overlaps another process's commit fails at COMMIT with "Failed to flush changes into
  DuckLake: database is locked" (SQLite in WAL mode cannot upgrade a stale read snapshot to a
  write; ``busy_timeout`` does not help and DuckLake's own commit retry does not recover it),
  even for pure appends. With 4 writer processes x 3 writes and no lock, the 12 writes needed
  ~20 whole-transaction retries (up to 9 for one writer) and about twice the wall time, and a
  heavier backfill could exhaust any retry budget. With the lock: no failed attempt.
  Creating the catalog is also racy without it (each process would create its own).
* Reads: each call attaches the lake for its own work and detaches after. A caller that reads
  many tables (the outputs read about twenty) wraps them in ``with store.reading():``: one
  attachment and one read transaction serve every read in the block, so they see one
  consistent state of the store, and the manifest is read once (an attachment costs ~25 ms).
* Time travel: ``read(..., as_of=t)`` queries the manifest and the table with DuckLake's
  ``AT (TIMESTAMP => t)``. DuckLake stamps a commit with the time its transaction first
  touched the lake; ``created_at`` is taken just after that, so ``as_of=info.created_at``
  (or any later time) shows the snapshot ``info``. Naive datetimes are read as UTC.

Catalog safety (``tests/test_lake_safety.py``, ``league lake``):

* The store never starts a new lake where data files already exist but the catalog is missing,
  empty, unreadable or damaged: writes (and reads, and orphan removal) raise
  :class:`~league_pipeline.snapshots.lake.CatalogDamagedError` with the problem and the fix. (Before,
  an emptied catalog was silently re-created: ``status`` said "no snapshots yet", the next
  run took v1 again and every earlier snapshot was lost from the catalog.)
* After every commit, still under the write lock, a SQLite catalog is copied with SQLite's
  backup API into ``<catalog folder>/backups/``; the copy is read back (SQLite
  ``quick_check``, then DuckLake lists its snapshots, which must be the catalog's, and every
  data file it references must exist) before it joins the last ``LEAGUE_LAKE_BACKUPS``
  (default 5) and the oldest beyond them is deleted. A failed backup is logged, never fails
  the committed snapshot. :meth:`SnapshotStore.restore` puts the newest backup that passes the
  same checks back in place, keeping the broken catalog as ``<name>.broken-<UTC time>``.
* A version number is never handed out twice: the next version of a quarter is above the
  catalog's newest, above the highest ever recorded in ``<lake>/versions.json`` (written
  after every commit) and above every ``outputs/<quarter slug>/v<N>`` folder, so even a
  catalog restored from an older backup cannot reuse a published version or its outputs.
* :meth:`SnapshotStore.check` compares the catalog with the data files: referenced files
  missing (or of another size), orphaned files (told apart: in a backup, i.e. snapshots the
  catalog lost, or left by an interrupted write), versions 1..n per quarter without reuse, and
  each table's rows per snapshot against the manifest's counts.

Tested (``tests/test_snapshots.py``): 4 writer processes (three on one quarter) plus a reader
polling in a loop run with no errors, versions 1..n unique per quarter and exact row counts; a
writer SIGKILLed after its Parquet files are written but before COMMIT (and, tried by hand, in
the middle of a 4-million-row insert) leaves the store as it was, the next write takes the next
version, and :meth:`SnapshotStore.remove_orphan_files` deletes the files it left. The Postgres
catalog (versions, reads, the catalog's tables, the advisory writer lock) is tested against a
throwaway PostgreSQL server in ``tests/test_postgres_instance.py``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from league_pipeline.core import paths
from league_pipeline.core.atomic import atomic_write
from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.snapshots import lake

SQL_DIR = Path(__file__).resolve().parent / "sql"

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
MANIFEST_TABLE = "snapshots"
SYSTEM_COLUMNS = ("quarter", "snapshot_version")
# NHS England's published rows a snapshot was built from (NOF trust-data layout, plus
# ``source_kind``): the baseline that later publications' revisions are compared with
PUBLISHED_ROWS = "published_rows"
RESERVED_COLUMNS = frozenset({*SYSTEM_COLUMNS, "rowid"})
COMMIT_AUTHOR = "league-pipeline"
WRITE_LOCK_NAME = ".write.lock"
VERSIONS_FILE = "versions.json"  # quarter -> highest version ever handed out
# an outputs folder of a version, or a temporary folder beside one (``v3``, ``.v3.tmp-x``)
_OUTPUT_VERSION = re.compile(r"^\.?v(\d+)(?![0-9])")
# DuckDB type names a column may take (nested STRUCT/MAP types are refused: store JSON text)
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_ ]*(\(\d+(, ?\d+)?\))?(\[\d*\])*$")
_FRAME_VIEW = "snapshot-frame"  # not a valid table name, so it never shadows a lake table
_TRANSIENT = ("database is locked", "database is busy", "transaction conflict", "sqlite_busy")
_RETRIES = 8

T = TypeVar("T")


class SnapshotError(RuntimeError):
    """A snapshot could not be written (bad input, or the store is busy for too long)."""


class SnapshotNotFoundError(LookupError):
    """No snapshot (or no such table in it) for the quarter, version or time asked for."""


@dataclass(frozen=True)
class SnapshotInfo:
    """One published snapshot: a quarter's results at one version."""

    quarter: str  # NHS label, '2025/26 Q1'
    version: int
    snapshot_id: str  # '2025-26-q1/v3'
    created_at: datetime  # UTC
    run_id: str | None
    tables: dict[str, int]  # table name -> row count
    lineage: dict[str, Any]
    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns written


@dataclass(frozen=True)
class CatalogFile:
    """A file the catalog references."""

    path: Path
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
    """What :meth:`SnapshotStore.restore` did."""

    backup: BackupCheck
    catalog: Path
    kept_aside: list[Path]
    skipped: list[BackupCheck]  # newer backups that failed their check
    not_restored: list[str]  # versions handed out before that the backup does not hold


@dataclass
class LakeReport:
    """What :meth:`SnapshotStore.check` found. Healthy when there are no problems; warnings
    are worth knowing but lose nothing."""

    catalog: str
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    data_files: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def validate_identifier(name: str, what: str = "table") -> str:
    """Return ``name`` if it is a safe SQL identifier (``^[a-z_][a-z0-9_]*$``), else raise."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ValueError(
            f"{what} name {name!r} is not allowed: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore"
        )
    return name


def _ident(name: str, what: str = "column") -> str:
    return f'"{validate_identifier(name, what)}"'


def _table(name: str) -> str:
    """A lake table, named without catalog: the lake is the cursor's current database."""
    return _ident(name, "table")


@functools.cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _metadata_sql(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A statement on DuckLake's metadata database of the cursor's current lake."""
    alias = con.execute("SELECT current_database()").fetchone()[0]
    return _sql(name).replace("{metadata}", f'"__ducklake_metadata_{alias}"')


def _flag(value: Any) -> bool:
    return bool(value) and str(value).lower() not in {"0", "false", "f"}


def _catalog_files(con: duckdb.DuckDBPyConnection, data_path: Path) -> list[CatalogFile]:
    """Every file the attached catalog references, with its full path."""
    out = []
    for row in con.execute(_metadata_sql(con, "catalog_files")).fetchall():
        kind, table, schema_path, schema_rel, table_path, table_rel, path, path_rel, size = row
        base = Path(data_path)
        if schema_path is not None:
            base = base / schema_path if _flag(schema_rel) else Path(schema_path)
        if table_path is not None:
            base = base / table_path if _flag(table_rel) else Path(table_path)
        full = base / path if _flag(path_rel) else Path(path)
        out.append(CatalogFile(full, table, kind, None if size is None else int(size)))
    return out


def _file_intact(f: CatalogFile) -> bool:
    """The file is on disk with the size the catalog recorded."""
    try:
        return f.size is None or f.path.stat().st_size == f.size
    except OSError:
        return False


def _scheduled_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """File names DuckLake has scheduled for deletion (not orphans)."""
    rows = con.execute(_metadata_sql(con, "scheduled_files")).fetchall()
    return {Path(str(row[0])).name for row in rows}


def _quarter(quarter: str | Quarter) -> Quarter:
    return parse_quarter(str(quarter), check_methodology=False)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _is_transient(exc: BaseException) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in _TRANSIENT)


def _retrying(work: Callable[[], T]) -> T:
    """Run ``work``, retrying transient lock/conflict errors with jittered backoff."""
    for attempt in range(_RETRIES):
        try:
            return work()
        except duckdb.Error as exc:
            if attempt == _RETRIES - 1 or not _is_transient(exc):
                raise
            delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            log.info("snapshot store busy (%s); retrying in %.2fs", exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"the {what} must be JSON-serialisable: {exc}") from exc


def _prepare_frame(name: str, frame: pd.DataFrame, quarter: Quarter) -> pd.DataFrame:
    """Check a table before writing: safe names, and no clash with the columns we add."""
    validate_identifier(name, "table")
    if name == MANIFEST_TABLE:
        raise ValueError(f"'{MANIFEST_TABLE}' is the manifest; choose another table name")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"table '{name}' must be a pandas DataFrame, not {type(frame).__name__}")
    if any(level is not None for level in frame.index.names):
        frame = frame.reset_index()
    columns = list(frame.columns)
    for column in columns:
        validate_identifier(column, f"table '{name}' column")
    if len(set(columns)) != len(columns):
        raise ValueError(f"table '{name}' has duplicate column names")
    clashes = sorted(RESERVED_COLUMNS.intersection(columns) - {"quarter"})
    if clashes:
        raise ValueError(
            f"table '{name}' must not have the column(s) {clashes}: the store adds "
            "'quarter' and 'snapshot_version' itself and orders rows by DuckLake's 'rowid'"
        )
    if "quarter" in columns:
        for value in frame["quarter"].dropna().unique():
            if _quarter(value) != quarter:
                raise ValueError(
                    f"table '{name}' has rows for quarter {value!r}, not {quarter.label}"
                )
        frame = frame.drop(columns=["quarter"])
    return frame


def _column_type(table: str, column: str, type_name: str) -> str | None:
    """The stored type for a frame column's DuckDB type (None: all missing, type unknown)."""
    if type_name == "NULL":
        return None
    if type_name.startswith("ENUM("):  # pandas categoricals
        return "VARCHAR"
    if not _TYPE_NAME.match(type_name):
        raise SnapshotError(
            f"column '{column}' of table '{table}' has type {type_name}, which the store does "
            "not take; convert it to text (e.g. JSON) first"
        )
    return type_name


def _info(row: Sequence[Any]) -> SnapshotInfo:
    quarter, version, snapshot_id, created_at, run_id, tables, columns, lineage = row
    return SnapshotInfo(
        quarter=quarter,
        version=int(version),
        snapshot_id=snapshot_id,
        created_at=created_at.astimezone(UTC),
        run_id=run_id,
        tables=json.loads(tables),
        lineage=json.loads(lineage),
        columns=json.loads(columns),
    )


def _ordered_union(lists: Iterable[Iterable[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)


def _differs(old: pd.Series, new: pd.Series) -> pd.Series:
    """Element-wise 'the value changed', with missing == missing."""
    both_missing = old.isna() & new.isna()
    try:
        equal = old == new
    except (TypeError, ValueError):
        equal = old.astype(object) == new.astype(object)
    equal = equal.astype("boolean").fillna(False).astype(bool)
    return ~(equal | both_missing)


@dataclass
class _ReadSession:
    """One read-only attachment shared by the reads of a ``reading()`` block (one thread)."""

    con: duckdb.DuckDBPyConnection
    manifests: dict[tuple[str | None, datetime | None], list[SnapshotInfo]] = field(
        default_factory=dict
    )


class SnapshotStore:
    """The quarterly snapshot store. Every method opens the lake, does its work and closes it,
    unless it runs inside :meth:`reading`, which keeps one read attachment open for a block."""

    def __init__(self, root: Path | None = None, catalog: str | None = None) -> None:
        self.root = Path(root) if root is not None else paths.lake_dir()
        self.root = self.root.resolve()
        self.spec = lake.catalog_spec(self.root, catalog)
        self.lock_path = self.root / WRITE_LOCK_NAME
        self.lock_timeout = 900.0  # seconds a writer waits for the others before giving up
        self._sessions: dict[int, _ReadSession] = {}  # thread id -> its open read session
        self.backups_kept = lake.backups_setting()  # verified catalog copies (SQLite only)
        self.versions_file = self.root / VERSIONS_FILE
        # $LEAGUE_HOME/outputs for the default lake ($LEAGUE_HOME/lake)
        self.outputs_root = self.root.parent / "outputs"

    def __repr__(self) -> str:
        return f"SnapshotStore(root={str(self.root)!r}, catalog={self.spec.kind})"

    # -- writing -------------------------------------------------------------------------------

    def write(
        self,
        quarter: str | Quarter,
        tables: Mapping[str, pd.DataFrame],
        lineage: Mapping[str, Any],
        run_id: str | None = None,
    ) -> SnapshotInfo:
        """Publish ``tables`` as the next version of ``quarter``, atomically, with ``lineage``."""
        q = _quarter(quarter)
        if not tables:
            raise SnapshotError("a snapshot needs at least one table")
        frames = {name: _prepare_frame(name, frame, q) for name, frame in tables.items()}
        lineage = dict(lineage)
        lineage_json = _json(lineage, "lineage")
        self.root.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            self._ensure_catalog()
            floor = self._issued_version(q)
            info = _retrying(
                lambda: self._write_locked(q, frames, lineage, lineage_json, run_id, floor)
            )
            self._after_commit(info)
            return info

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        try:
            with lake.writer_lock(self.spec, self.lock_path, self.lock_timeout):
                yield
        except lake.WriterLockTimeout as exc:
            raise SnapshotError(
                f"another writer has held the store's write lock for over "
                f"{self.lock_timeout:.0f}s ({exc})"
            ) from exc

    def _ensure_catalog(self) -> None:
        """Make sure the catalog can take a write: create it when the lake is new; refuse
        when the lake has data files but the catalog is missing, empty or damaged."""
        damage = self.catalog_damage(doing="refusing to start a new lake over them")
        if damage is not None:
            raise damage
        file = self.spec.sqlite_file
        if file is not None and (not file.exists() or file.stat().st_size == 0):
            lake.create_sqlite_catalog(self.spec, [_sql("create_manifest")])  # a new lake

    # -- catalog safety ------------------------------------------------------------------------

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
            problem = f"the Postgres catalog {self._catalog_label()} holds no lake"
        return self._damaged(problem, doing)

    def _damaged(self, detail: str, doing: str | None) -> lake.CatalogDamagedError:
        # (worded so that the command line's error mapping knows it: "catalog", "damaged")
        problem = f"the lake catalog is damaged or lost: {detail}"
        count = sum(1 for _ in lake.data_files(self.spec))
        if count:
            problem += (
                f", while {self.spec.data_path} holds {count} data file(s) of earlier snapshots"
            )
        if doing:
            problem += f"; {doing}"
        return lake.CatalogDamagedError(problem, self._recovery_fix())

    def _recovery_fix(self) -> str:
        if self.spec.kind != "sqlite":
            return (
                "restore the catalog database from its last dump (pg_dump/pg_restore), or point "
                f"{lake.CATALOG_ENV} at the right database, then run `league lake check`"
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

    def _catalog_label(self) -> str:
        if self.spec.sqlite_file is not None:
            return str(self.spec.sqlite_file)
        dsn = re.sub(r"password=\S+", "password=***", self.spec.dsn)
        return f"postgres:{dsn}"

    def check_catalog(self) -> None:
        """Raise :class:`~league_pipeline.snapshots.lake.CatalogDamagedError` when the catalog cannot be
        used (see :meth:`catalog_damage`)."""
        damage = self.catalog_damage()
        if damage is not None:
            raise damage

    def _reraise_damage(self, exc: BaseException) -> None:
        """After a failed catalog access: raise the damage behind it, if that is the cause."""
        if _is_transient(exc):
            return
        damage = self.catalog_damage()
        if damage is not None:
            raise damage from exc

    # versions --------------------------------------------------------------------------------

    def _recorded_versions(self) -> dict[str, int]:
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

    def _output_versions(self, q: Quarter) -> list[int]:
        folder = self.outputs_root / q.slug
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            match = _OUTPUT_VERSION.match(entry.name)
            if match:
                found.append(int(match.group(1)))
        return found

    def _issued_version(self, q: Quarter) -> int:
        """The highest version of ``q`` ever handed out as far as the lake's folders tell
        (``versions.json`` and the outputs folders), whatever the catalog now says."""
        return max([0, self._recorded_versions().get(q.label, 0), *self._output_versions(q)])

    def _after_commit(self, info: SnapshotInfo) -> None:
        """Record the version handed out and back up the catalog (under the write lock).
        Neither may fail a committed snapshot: a failure is logged."""
        try:
            recorded = self._recorded_versions()
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
        if self.spec.kind != "sqlite" or self.backups_kept <= 0:
            return
        try:
            self._backup_locked()
        except Exception as exc:  # the snapshot is committed whatever happens here
            log.warning(
                "snapshot %s is committed, but the catalog backup failed: %s (run `league lake "
                "backup`; `league lake check` shows the newest backup)",
                info.snapshot_id,
                exc,
            )

    # backups ---------------------------------------------------------------------------------

    def backup(self) -> BackupCheck:
        """Take a verified backup of the SQLite catalog now (under the write lock)."""
        if self.spec.kind != "sqlite":
            raise lake.LakeError(
                "a Postgres catalog is backed up by the database: use pg_dump (the store keeps "
                "no copies of it)"
            )
        self.check_catalog()
        if not self.spec.exists():
            raise SnapshotNotFoundError(
                f"the snapshot store {self.root} is empty: nothing to back up"
            )
        with self._writer_lock():
            return self._backup_locked()

    def _backup_locked(self) -> BackupCheck:
        """Copy the catalog aside, read the copy back, and only then let it join the backups
        (pruning the oldest beyond ``backups_kept``)."""
        assert self.spec.sqlite_file is not None
        folder = lake.backup_dir(self.spec)
        folder.mkdir(parents=True, exist_ok=True)
        moment = datetime.now(UTC)
        final = folder / lake.backup_name(self.spec, moment)
        while final.exists():
            moment = datetime.now(UTC)
            final = folder / lake.backup_name(self.spec, moment)
        expected = [i.snapshot_id for i in self.list()]
        checked: list[BackupCheck] = []

        def write(tmp: str) -> None:
            lake.copy_sqlite(self.spec.sqlite_file, Path(tmp), journal_mode="DELETE")
            result = self.verify_backup(Path(tmp))
            if result.problem is not None:
                raise lake.LakeError(f"the new backup failed its check: {result.problem}")
            got = [i.snapshot_id for i in result.snapshots]
            if got != expected:
                raise lake.LakeError(
                    f"the new backup lists {len(got)} snapshot(s), the catalog {len(expected)}"
                )
            checked.append(result)

        atomic_write(final, write)
        kept = lake.list_backups(self.spec)
        for old in kept[max(self.backups_kept, 1) :]:
            old.unlink(missing_ok=True)
        result = checked[0]
        result.path, result.taken_at = final, moment
        return result

    def backups(self) -> list[BackupCheck]:
        """Every backup of the catalog, newest first, each read back."""
        if self.spec.kind != "sqlite":
            return []
        return [self.verify_backup(path) for path in lake.list_backups(self.spec)]

    def verify_backup(self, path: Path) -> BackupCheck:
        """Read a catalog backup back: SQLite's quick_check, DuckLake lists its snapshots, and
        every data file it references exists with its size."""
        result = BackupCheck(
            Path(path), lake.backup_time(self.spec, Path(path)) if self.spec.sqlite_file else None
        )
        problem = lake.sqlite_catalog_problem(Path(path))
        if problem is not None:
            result.problem = problem
            return result
        other = SnapshotStore(self.root, catalog=f"sqlite:{Path(path).resolve()}")
        try:
            with lake.attached(other.spec, read_only=True) as con:
                con.execute("BEGIN TRANSACTION")
                result.snapshots = other._manifest(con, None, None)
                result.files = _catalog_files(con, self.spec.data_path)
                con.execute("COMMIT")
        except duckdb.Error as exc:
            result.problem = f"DuckLake cannot read it: {str(exc).splitlines()[0]}"
            return result
        missing = [f.path for f in result.files if not f.path.is_file()]
        if missing:
            result.problem = (
                f"{len(missing)} data file(s) it references are missing, e.g. {missing[0]}"
            )
            return result
        wrong = [
            f.path for f in result.files if f.size is not None and f.path.stat().st_size != f.size
        ]
        if wrong:
            result.problem = (
                f"{len(wrong)} data file(s) it references changed size, e.g. {wrong[0]}"
            )
        return result

    def restore(self, backup: Path | None = None, *, force: bool = False) -> RestoreResult:
        """Put the newest good backup (or ``backup``) in place of the catalog.

        Refuses when the catalog is healthy, unless ``force``. Every backup tried is read
        back first (see :meth:`verify_backup`); the current catalog file and its ``-wal`` and
        ``-shm`` are renamed to ``<name>.broken-<UTC time>``, never deleted.
        """
        if self.spec.kind != "sqlite":
            raise lake.LakeError(
                "a Postgres catalog is restored by the database: pg_restore its last dump, "
                "then run `league lake check`"
            )
        assert self.spec.sqlite_file is not None
        file = self.spec.sqlite_file
        with self._writer_lock():
            problem = lake.sqlite_catalog_problem(file)
            if problem is None and not force:
                count = len(self.list())
                raise lake.LakeError(
                    f"the lake catalog {file} is healthy ({count} snapshot(s)): nothing to "
                    "restore (add --force to replace it with a backup anyway; it is kept aside)"
                )
            if backup is not None:
                backup = Path(backup)
                if not backup.exists() and (lake.backup_dir(self.spec) / backup).exists():
                    backup = lake.backup_dir(self.spec) / backup  # a backup's name
                if not backup.is_file():
                    raise lake.LakeError(f"there is no backup file {backup}")
            candidates = [backup] if backup is not None else lake.list_backups(self.spec)
            if not candidates:
                raise lake.CatalogDamagedError(
                    f"there is no catalog backup in {lake.backup_dir(self.spec)}",
                    self._recovery_fix(),
                )
            skipped: list[BackupCheck] = []
            chosen = None
            for path in candidates:
                checked = self.verify_backup(path)
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
            now = [i.snapshot_id for i in self.list()]
            if now != [i.snapshot_id for i in chosen.snapshots]:
                raise lake.LakeError(
                    f"the restored catalog lists {len(now)} snapshot(s), its backup "
                    f"{len(chosen.snapshots)}; the previous catalog is kept as {kept}"
                )
        return RestoreResult(chosen, file, kept, skipped, self._not_in(chosen.snapshots))

    # the check ---------------------------------------------------------------------------------

    def check(self) -> LakeReport:
        """Compare the catalog with the data files (see :class:`LakeReport`).

        Raises :class:`~league_pipeline.snapshots.lake.CatalogDamagedError` when the catalog cannot be
        used at all. Takes the write lock: a running writer's files are not orphans yet.
        """
        report = LakeReport(self._catalog_label())
        self.check_catalog()
        if self.spec.kind == "sqlite" and not self.spec.exists():
            report.notes.append("no lake yet: no catalog and no data files")
            return report
        with self._writer_lock():
            try:
                with lake.attached(self.spec, read_only=True) as con:
                    con.execute("BEGIN TRANSACTION")
                    infos = self._manifest(con, None, None)
                    files = _catalog_files(con, self.spec.data_path)
                    scheduled = _scheduled_names(con)
                    con.execute("COMMIT")
                    # counted one statement each (a failed one would abort a transaction), and
                    # not through a file that is missing or changed (reported as such); the
                    # write lock keeps the lake as it was read above
                    broken = {f.table for f in files if not _file_intact(f)}
                    rows = self._row_counts(con, infos, broken)
            except duckdb.Error as exc:
                self._reraise_damage(exc)
                if lake.is_missing_catalog(exc):
                    report.notes.append("no lake yet: the catalog holds no lake, no data files")
                    return report
                raise
            on_disk = sorted(lake.data_files(self.spec))
        report.snapshots = infos
        report.data_files = len(on_disk)
        self._check_files(report, files, on_disk, scheduled)
        self._check_versions(report, infos)
        self._check_rows(report, infos, rows)
        self._check_backups(report, infos)
        return report

    def _row_counts(
        self, con: duckdb.DuckDBPyConnection, infos: list[SnapshotInfo], broken: set[str | None]
    ) -> dict[str, dict[tuple[str, int], int] | str]:
        """table -> (quarter, version) -> rows, or why the table could not be read. Tables
        with a missing or changed file (``broken``, reported as such) are left out."""
        listed = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
        names = {row[0] for row in listed} - {MANIFEST_TABLE}
        names |= {name for info in infos for name in info.tables}
        out: dict[str, dict[tuple[str, int], int] | str] = {}
        for name in sorted(names - broken):
            if not IDENTIFIER.match(name):
                out[name] = "not a table name the store writes"
                continue
            try:
                counted = con.execute(_sql("row_counts").replace("{table}", _table(name)))
                out[name] = {(q, int(v)): int(n) for q, v, n in counted.fetchall()}
            except duckdb.Error as exc:
                out[name] = str(exc).splitlines()[0]
        return out

    def _check_files(
        self,
        report: LakeReport,
        files: list[CatalogFile],
        on_disk: list[Path],
        scheduled: set[str],
    ) -> None:
        referenced = {f.path.resolve(strict=False): f for f in files}
        for f in files:
            if not f.path.is_file():
                report.problems.append(
                    f"missing data file: {f.path} (table {f.table}) is referenced by the "
                    "catalog but not on disk; restore it from a copy of the lake folder"
                )
                continue
            if f.size is None:
                continue
            size = f.path.stat().st_size
            if size != f.size:
                report.problems.append(
                    f"changed data file: {f.path} (table {f.table}) has {size} bytes, the catalog "
                    f"recorded {f.size}; restore it from a copy of the lake folder"
                )
        orphans = [
            path
            for path in on_disk
            if path.resolve() not in referenced and path.name not in scheduled
        ]
        report.orphans = orphans
        if not orphans:
            return
        in_backups: dict[Path, str] = {}
        for checked in self.backups():
            names = {f.path.resolve(strict=False) for f in checked.files}
            for path in orphans:
                if path.resolve() in names:
                    in_backups.setdefault(path, checked.path.name)
        lost = [p for p in orphans if p in in_backups]
        loose = [p for p in orphans if p not in in_backups]
        if lost:
            newest = in_backups[lost[0]]
            report.problems.append(
                f"{len(lost)} data file(s) belong to snapshots a backup holds ({newest}) but the "
                f"catalog does not, e.g. {lost[0]}: the catalog lost snapshots; run `league lake "
                f"restore --force --backup {newest}` to bring back that backup"
            )
        if loose:
            report.problems.append(
                f"{len(loose)} orphaned data file(s) no snapshot references, e.g. {loose[0]}: "
                "left by an interrupted write (or by snapshots lost with no backup); "
                "`league lake remove-orphans` deletes them"
            )

    def _check_versions(self, report: LakeReport, infos: list[SnapshotInfo]) -> None:
        by_quarter: dict[str, list[int]] = {}
        for info in infos:
            by_quarter.setdefault(info.quarter, []).append(info.version)
            q = _quarter(info.quarter)
            if info.snapshot_id != f"{q.slug}/v{info.version}":
                report.problems.append(
                    f"snapshot id {info.snapshot_id} does not match {info.quarter} v{info.version}"
                )
        recorded = self._recorded_versions()
        for label, versions in sorted(by_quarter.items()):
            q = _quarter(label)
            seen = sorted(versions)
            twice = sorted({v for v in seen if seen.count(v) > 1})
            if twice:
                report.problems.append(
                    f"{label}: version(s) {', '.join(map(str, twice))} published more than once"
                )
            gaps = sorted(set(range(1, max(seen) + 1)) - set(seen))
            if gaps:
                report.warnings.append(
                    f"{label}: no version {', '.join(map(str, gaps))} in the catalog (versions "
                    f"{', '.join(map(str, sorted(set(seen))))}): numbers handed out before are "
                    "never reused, so a snapshot the catalog lost leaves a gap"
                )
        for label in sorted(set(recorded) | set(by_quarter)):
            q = _quarter(label)
            top = max(by_quarter.get(label, [0]))
            issued = max([recorded.get(label, 0), *self._output_versions(q)])
            if issued > top:
                report.warnings.append(
                    f"{label}: version {issued} was handed out before (versions.json or "
                    f"{self.outputs_root / q.slug}), the catalog's newest is "
                    f"{top or 'none'}: the next run takes v{issued + 1}"
                )

    def _check_rows(
        self,
        report: LakeReport,
        infos: list[SnapshotInfo],
        rows: dict[str, dict[tuple[str, int], int] | str],
    ) -> None:
        listed = {(i.quarter, i.version) for i in infos}
        for table, counts in sorted(rows.items()):
            if isinstance(counts, str):
                report.problems.append(f"table {table} cannot be read: {counts}")
        for info in infos:
            for table, expected in info.tables.items():
                if table not in rows or isinstance(rows[table], str):
                    continue  # reported above, or through its missing or changed file
                counts = rows[table]
                found = (counts or {}).get((info.quarter, info.version), 0)
                if found != expected:
                    report.problems.append(
                        f"{info.snapshot_id}: table {table} has {found} rows, the manifest "
                        f"says {expected}"
                    )
        for table, counts in sorted(rows.items()):
            if isinstance(counts, str):
                continue
            for (quarter, version), n in sorted(counts.items()):
                if (quarter, version) not in listed:
                    report.problems.append(
                        f"table {table} holds {n} rows of {quarter} v{version}, which no "
                        "snapshot in the manifest lists"
                    )

    def _check_backups(self, report: LakeReport, infos: list[SnapshotInfo]) -> None:
        if self.spec.kind != "sqlite":
            report.notes.append(
                "backups: a Postgres catalog is backed up by the database (pg_dump); the "
                "store keeps no copies of it"
            )
            return
        if self.backups_kept <= 0:
            report.warnings.append(f"catalog backups are off ({lake.BACKUPS_ENV}=0)")
        checked = self.backups()
        for bad in (c for c in checked if not c.good):
            report.warnings.append(f"backup {bad.path.name} cannot be used: {bad.problem}")
        good = [c for c in checked if c.good]
        if not good:
            if infos:
                report.warnings.append(
                    f"no usable catalog backup in {lake.backup_dir(self.spec)}: run "
                    "`league lake backup`"
                )
            return
        newest = good[0]
        ids = {i.snapshot_id for i in newest.snapshots}
        behind = [i.snapshot_id for i in infos if i.snapshot_id not in ids]
        when = newest.taken_at.strftime("%Y-%m-%d %H:%M:%S UTC") if newest.taken_at else "?"
        report.notes.append(
            f"backups: {len(good)} usable in {lake.backup_dir(self.spec)}; the newest "
            f"({newest.path.name}, {when}) holds {len(newest.snapshots)} snapshot(s)"
        )
        if behind:
            report.warnings.append(
                f"the newest backup lacks {', '.join(behind)}: run `league lake backup`"
            )

    def _not_in(self, infos: list[SnapshotInfo]) -> list[str]:
        """Versions handed out before (versions.json, outputs folders) missing from ``infos``."""
        have: dict[str, set[int]] = {}
        for info in infos:
            have.setdefault(info.quarter, set()).add(info.version)
        recorded = self._recorded_versions()
        quarters = set(recorded) | set(have)
        if self.outputs_root.is_dir():
            for folder in self.outputs_root.iterdir():
                with contextlib.suppress(ValueError):
                    quarters.add(_quarter(folder.name).label)
        missing = []
        for label in sorted(quarters):
            q = _quarter(label)
            issued = set(self._output_versions(q))
            top = recorded.get(label, 0)
            issued |= {v for v in range(1, top + 1)}
            for version in sorted(issued - have.get(label, set())):
                missing.append(f"{q.slug}/v{version}")
        return missing

    def _write_locked(
        self,
        q: Quarter,
        frames: dict[str, pd.DataFrame],
        lineage: dict[str, Any],
        lineage_json: str,
        run_id: str | None,
        floor: int = 0,
    ) -> SnapshotInfo:
        info: SnapshotInfo | None = None
        try:
            with lake.attached(self.spec, read_only=False) as con:
                # stored schemas, read before the transaction (a missing table is an error,
                # which would abort it); the write lock keeps them from changing meanwhile
                stored = {name: self._stored_columns(con, name) for name in frames}
                con.execute("BEGIN TRANSACTION")
                con.execute(_sql("create_manifest"))  # no-op once created (server catalogs)
                version = int(con.execute(_sql("next_version"), [q.label]).fetchone()[0])
                version = max(version, floor + 1)  # never a version handed out before
                # after the lake transaction has started, so that as_of=created_at sees it
                created_at = datetime.now(UTC)
                snapshot_id = f"{q.slug}/v{version}"
                counts: dict[str, int] = {}
                columns: dict[str, list[str]] = {}
                for name, frame in frames.items():
                    columns[name] = self._append(con, name, frame, stored[name], q.label, version)
                    counts[name] = len(frame)
                extra = _json({"quarter": q.label, "version": version, "run_id": run_id}, "run")
                con.execute(_sql("commit_message"), [COMMIT_AUTHOR, snapshot_id, extra])
                con.execute(
                    _sql("insert_manifest"),
                    [
                        q.label,
                        version,
                        snapshot_id,
                        created_at,
                        run_id,
                        _json(counts, "tables"),
                        _json(columns, "columns"),
                        lineage_json,
                    ],
                )
                con.execute("COMMIT")
                info = SnapshotInfo(
                    q.label, version, snapshot_id, created_at, run_id, counts, lineage, columns
                )
        except duckdb.Error:
            if info is None:
                raise
            log.warning("snapshot %s is committed, but closing the lake failed", info.snapshot_id)
        assert info is not None
        log.info("published snapshot %s (%s)", info.snapshot_id, info.tables)
        return info

    def _append(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        frame: pd.DataFrame,
        existing: dict[str, str],
        quarter_label: str,
        version: int,
    ) -> list[str]:
        """Append one frame's rows to its table (creating it / adding columns as needed)."""
        con.register(_FRAME_VIEW, frame)
        try:
            described = con.execute(f'DESCRIBE SELECT * FROM "{_FRAME_VIEW}"').fetchall()
            types = {
                column: _column_type(name, column, type_name) for column, type_name, *_ in described
            }
            table = _table(name)
            if not existing:
                definition = ", ".join(
                    ['"quarter" VARCHAR NOT NULL', '"snapshot_version" INTEGER NOT NULL']
                    + [
                        f"{_ident(column)} {type_name or 'VARCHAR'}"
                        for column, type_name in types.items()
                    ]
                )
                con.execute(f"CREATE TABLE {table} ({definition})")
            else:
                for column, type_name in types.items():
                    if column not in existing:
                        added = type_name or "VARCHAR"
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {_ident(column)} {added}")
                    elif type_name is not None and type_name != existing[column]:
                        self._reconcile_type(con, name, column, existing[column], type_name)
            selected = "".join(f", {_ident(column)}" for column in types)
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT ?::VARCHAR AS quarter, "
                f'?::INTEGER AS snapshot_version{selected} FROM "{_FRAME_VIEW}"',
                [quarter_label, version],
            )
        finally:
            con.unregister(_FRAME_VIEW)
        return list(types)

    @staticmethod
    def _stored_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
        """Column name -> type of a lake table; empty if there is no such table yet.

        (``duckdb_columns()`` would also visit the lakes other threads have attached.)
        """
        try:
            rows = con.execute(f"DESCRIBE {_table(name)}").fetchall()
        except duckdb.CatalogException:
            return {}
        return {row[0]: row[1] for row in rows}

    @staticmethod
    def _reconcile_type(
        con: duckdb.DuckDBPyConnection, name: str, column: str, stored: str, incoming: str
    ) -> None:
        """Accept a new column type only without loss: cast it, or widen the stored column."""
        if not _TYPE_NAME.match(stored):
            raise SnapshotError(f"column '{column}' of table '{name}' has unexpected type {stored}")

        def implicit(source: str, target: str) -> bool:
            sql = f"SELECT can_cast_implicitly(NULL::{source}, NULL::{target})"
            return bool(con.execute(sql).fetchone()[0])

        if implicit(incoming, stored):
            return  # e.g. INTEGER values into a BIGINT column
        if implicit(stored, incoming):
            try:  # e.g. BIGINT column -> DOUBLE: DuckLake allows widening promotions
                con.execute(
                    f"ALTER TABLE {_table(name)} ALTER COLUMN {_ident(column)} "
                    f"SET DATA TYPE {incoming}"
                )
                return
            except duckdb.Error as exc:
                reason = f": {exc}"
        else:
            reason = ""
        raise SnapshotError(
            f"column '{column}' of table '{name}' is stored as {stored} but now arrives as "
            f"{incoming}, which would lose data{reason}; convert it, or give it a new column name"
        )

    def remove_orphan_files(self, *, dry_run: bool = False) -> list[Path]:
        """Delete data files that no snapshot references (a killed writer leaves some).

        Takes the write lock, so no writer is half-way through adding files.
        """
        # a damaged catalog would be re-created empty, and every data file deleted as orphan
        self.check_catalog()
        if not self.spec.exists():
            return []
        with self._writer_lock():

            def work() -> list[Path]:
                with lake.attached(self.spec, read_only=False) as con:
                    rows = con.execute(_sql("delete_orphaned_files"), [dry_run]).fetchall()
                return [Path(row[0]) for row in rows]

            return _retrying(work)

    # -- reading -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[SnapshotStore]:
        """Serve every read in the block from one read-only attachment and transaction.

        The reads see the store as it was when the block started (a writer publishing
        meanwhile is not seen) and the manifest is read once. Nested blocks share the outer
        one. An empty store opens no session (its reads raise as usual).
        """
        thread = threading.get_ident()
        if thread in self._sessions:
            yield self
            return
        if not self.spec.exists():
            self.check_catalog()  # no catalog file but data files: say so
            yield self
            return
        with contextlib.ExitStack() as stack:
            try:
                con = _retrying(
                    lambda: stack.enter_context(lake.attached(self.spec, read_only=True))
                )
            except duckdb.Error as exc:
                self._reraise_damage(exc)
                if not lake.is_missing_catalog(exc):
                    raise
                con = None  # a server catalog nobody has written to yet
            if con is None:
                yield self
                return
            con.execute("BEGIN TRANSACTION")
            self._sessions[thread] = _ReadSession(con)
            try:
                yield self
            finally:
                del self._sessions[thread]

    @contextlib.contextmanager
    def _read_cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, _ReadSession | None]]:
        """The open session's cursor, else a new attachment for this one read."""
        session = self._sessions.get(threading.get_ident())
        if session is not None:
            yield session.con, session
            return
        with lake.attached(self.spec, read_only=True) as con:
            yield con, None

    def _manifest(
        self, con: duckdb.DuckDBPyConnection, quarter: str | None, as_of: datetime | None
    ) -> list[SnapshotInfo]:
        try:
            if as_of is None:
                rows = con.execute(_sql("list_snapshots"), [quarter]).fetchall()
            else:
                rows = con.execute(_sql("list_snapshots_as_of"), [quarter, as_of]).fetchall()
        except duckdb.CatalogException:
            return []  # a server catalog nobody has written to yet
        except duckdb.Error as exc:
            if as_of is not None and "snapshot" in str(exc).lower() and not _is_transient(exc):
                return []  # as_of is before the store existed
            raise
        return [_info(row) for row in rows]

    def _session_manifest(
        self,
        con: duckdb.DuckDBPyConnection,
        session: _ReadSession | None,
        quarter: str | None,
        as_of: datetime | None,
    ) -> list[SnapshotInfo]:
        """The manifest, read once per read session (a session sees one state of the store)."""
        if session is None:
            return self._manifest(con, quarter, as_of)
        key = (quarter, as_of)
        if key not in session.manifests:
            session.manifests[key] = self._manifest(con, quarter, as_of)
        return list(session.manifests[key])

    def _read_manifest(
        self, quarter: str | None, as_of: datetime | None = None
    ) -> list[SnapshotInfo]:
        if not self.spec.exists():
            self.check_catalog()  # no catalog file but data files: say so
            return []

        def work() -> list[SnapshotInfo]:
            with self._read_cursor() as (con, session):
                return self._session_manifest(con, session, quarter, as_of)

        try:
            return _retrying(work)
        except duckdb.Error as exc:
            # an emptied or damaged catalog beside data files is not "no snapshots yet"
            self._reraise_damage(exc)
            if lake.is_missing_catalog(exc):  # a server catalog nobody has written to yet
                return []
            raise

    def list(self, quarter: str | Quarter | None = None) -> list[SnapshotInfo]:
        """Every published snapshot (of ``quarter``), oldest quarter and version first."""
        label = _quarter(quarter).label if quarter is not None else None
        return self._read_manifest(label)

    def latest(self, quarter: str | Quarter) -> SnapshotInfo | None:
        """The newest snapshot of ``quarter``, or None if it has none."""
        infos = self.list(quarter)
        return infos[-1] if infos else None

    def get(self, quarter: str | Quarter, version: int | None = None) -> SnapshotInfo:
        """One snapshot (the latest by default); raises :class:`SnapshotNotFoundError`."""
        q = _quarter(quarter)
        infos = self.list(q)
        return self._pick(infos, q, version, None)

    def lineage(self, quarter: str | Quarter, version: int | None = None) -> dict[str, Any]:
        """The lineage recorded with a snapshot (the latest by default)."""
        return self.get(quarter, version).lineage

    @staticmethod
    def _pick(
        infos: list[SnapshotInfo], q: Quarter, version: int | None, as_of: datetime | None
    ) -> SnapshotInfo:
        when = f" as of {as_of.isoformat()}" if as_of is not None else ""
        if not infos:
            raise SnapshotNotFoundError(f"there is no snapshot of {q.label}{when}")
        if version is None:
            return infos[-1]
        for info in infos:
            if info.version == version:
                return info
        known = ", ".join(str(i.version) for i in infos)
        raise SnapshotNotFoundError(f"{q.label} has no version {version}{when} (versions: {known})")

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
        latest snapshot that holds the table. ``as_of``: the store as it was at that time.
        Rows come back in the order they were written.
        """
        validate_identifier(table, "table")
        if version is not None and quarter is None:
            raise ValueError("a version number needs a quarter")
        q = _quarter(quarter) if quarter is not None else None
        as_of = _utc(as_of)
        if not self.spec.exists():
            self.check_catalog()  # no catalog file but data files: say so
            raise SnapshotNotFoundError(f"the snapshot store {self.root} is empty")

        def work() -> pd.DataFrame:
            with self._read_cursor() as (con, session):
                if session is None:  # the manifest and the rows from one state of the store
                    con.execute("BEGIN TRANSACTION")
                infos = self._session_manifest(con, session, q.label if q else None, as_of)
                chosen = self._choose(infos, table, q, version, as_of)
                result = self._rows(con, table, chosen, as_of).df()
                if session is None:
                    con.execute("COMMIT")
            columns = [*SYSTEM_COLUMNS, *_ordered_union(i.columns[table] for i in chosen)]
            return result[columns]

        try:
            return _retrying(work)
        except duckdb.Error as exc:
            self._reraise_damage(exc)
            if lake.is_missing_catalog(exc):
                raise SnapshotNotFoundError(
                    f"the snapshot store {self.spec.kind} is empty"
                ) from exc
            raise

    def _choose(
        self,
        infos: list[SnapshotInfo],
        table: str,
        q: Quarter | None,
        version: int | None,
        as_of: datetime | None,
    ) -> list[SnapshotInfo]:
        if q is not None:
            info = self._pick(infos, q, version, as_of)
            if table not in info.tables:
                raise SnapshotNotFoundError(
                    f"snapshot {info.snapshot_id} has no table '{table}' "
                    f"(it has: {', '.join(info.tables)})"
                )
            return [info]
        latest: dict[str, SnapshotInfo] = {}
        for info in infos:  # ordered by quarter, version
            latest[info.quarter] = info
        chosen = [info for info in latest.values() if table in info.tables]
        if not chosen:
            when = f" as of {as_of.isoformat()}" if as_of is not None else ""
            raise SnapshotNotFoundError(f"no snapshot holds a table '{table}'{when}")
        return chosen

    @staticmethod
    def _rows(
        con: duckdb.DuckDBPyConnection,
        table: str,
        chosen: list[SnapshotInfo],
        as_of: datetime | None,
    ) -> duckdb.DuckDBPyConnection:
        at = " AT (TIMESTAMP => ?::TIMESTAMPTZ)" if as_of is not None else ""
        params: list[Any] = [as_of] if as_of is not None else []
        params += [[i.quarter for i in chosen], [i.version for i in chosen]]
        return con.execute(
            f"SELECT t.* FROM {_table(table)} AS t{at} "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS quarter, unnest(?::INTEGER[]) AS version) AS s "
            "ON t.quarter = s.quarter AND t.snapshot_version = s.version "
            "ORDER BY t.quarter, t.snapshot_version, t.rowid",
            params,
        )

    # -- comparing and exporting ---------------------------------------------------------------

    def diff(
        self,
        table: str,
        quarter: str | Quarter,
        old_version: int,
        new_version: int,
        key: list[str],
    ) -> pd.DataFrame:
        """Rows added, removed or changed between two versions, matched on ``key``.

        Columns: the key, ``change`` ('added' / 'removed' / 'changed'), ``changed_columns``
        (comma-separated, for 'changed'), then ``<column>_old`` and ``<column>_new`` for every
        other column. Unchanged rows are left out; a column that only one version has is shown
        but does not by itself make a row 'changed'.
        """
        key = list(key)
        if not key:
            raise ValueError("diff needs at least one key column")
        old = self.read(table, quarter, old_version).drop(columns=list(SYSTEM_COLUMNS))
        new = self.read(table, quarter, new_version).drop(columns=list(SYSTEM_COLUMNS))
        for label, frame in (("old", old), ("new", new)):
            missing = [k for k in key if k not in frame.columns]
            if missing:
                raise ValueError(f"the {label} version of '{table}' has no key column {missing}")
            if frame.duplicated(key).any():
                raise ValueError(f"{key} does not identify the rows of the {label} version")
        values = [c for c in _ordered_union([old.columns, new.columns]) if c not in key]
        compared = [c for c in values if c in old.columns and c in new.columns]
        for column in values:
            for frame in (old, new):
                if column not in frame.columns:
                    frame[column] = pd.NA
        merged = old.rename(columns={c: f"{c}_old" for c in values}).merge(
            new.rename(columns={c: f"{c}_new" for c in values}),
            on=key,
            how="outer",
            indicator=True,
        )
        flags = pd.DataFrame(
            {c: _differs(merged[f"{c}_old"], merged[f"{c}_new"]) for c in compared},
            index=merged.index,
        )
        both = merged["_merge"] == "both"
        merged["change"] = "changed"
        merged.loc[merged["_merge"] == "left_only", "change"] = "removed"
        merged.loc[merged["_merge"] == "right_only", "change"] = "added"
        names = np.array(compared, dtype=object)
        merged["changed_columns"] = [
            ",".join(names[row]) if is_both else ""
            for row, is_both in zip(flags.to_numpy(dtype=bool), both, strict=True)
        ]
        keep = ~both | flags.any(axis=1) if compared else ~both
        paired = [f"{c}_{side}" for c in values for side in ("old", "new")]
        result = merged.loc[keep, [*key, "change", "changed_columns", *paired]]
        return result.sort_values(key).reset_index(drop=True)

    def export_parquet(
        self, quarter: str | Quarter, version: int | None, out_dir: Path | str
    ) -> list[Path]:
        """Write each table of a snapshot to ``<out_dir>/<table>-<quarter slug>-v<N>.parquet``.

        The file metadata carries the snapshot id and its lineage (key ``league_pipeline``).
        """
        q = _quarter(quarter)
        info = self.get(q, version)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = _json(
            {
                "snapshot_id": info.snapshot_id,
                "created_at": info.created_at.isoformat(),
                "run_id": info.run_id,
                "lineage": info.lineage,
            },
            "lineage",
        )

        def fetch(table: str) -> pa.Table:
            with self._read_cursor() as (con, _session):
                arrow = self._rows(con, table, [info], None).to_arrow_table()
            return arrow.select([*SYSTEM_COLUMNS, *info.columns[table]])

        written = []
        for table in info.tables:
            arrow = _retrying(functools.partial(fetch, table))
            arrow = arrow.replace_schema_metadata(
                {**(arrow.schema.metadata or {}), b"league_pipeline": meta.encode()}
            )
            path = out / f"{table}-{q.slug}-v{info.version}.parquet"
            written.append(atomic_write(path, functools.partial(pq.write_table, arrow)))
        return written


def export_parquet(
    quarter: str | Quarter,
    version: int | None,
    out_dir: Path | str,
    *,
    store: SnapshotStore | None = None,
) -> list[Path]:
    """Export a snapshot of the default store (``paths.lake_dir()``) as Parquet files."""
    return (store or SnapshotStore()).export_parquet(quarter, version, out_dir)
