"""Versioned, immutable quarterly snapshots of the pipeline's results, with their lineage.

Belongs here: publishing a quarter's output tables as a new snapshot (quarter + version),
reading any snapshot back (latest, a given version, or the store as it was at a time), listing
snapshots and their lineage, diffing two versions, exporting one to Parquet. The DuckLake
connection itself (extensions, catalog, ATTACH) is in :mod:`league_pipeline.lake`.

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

from league_pipeline import lake, paths
from league_pipeline.atomic import atomic_write
from league_pipeline.quarters import Quarter, parse_quarter

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
    return (paths.sql_dir() / "lake" / f"{name}.sql").read_text(encoding="utf-8")


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
            return _retrying(lambda: self._write_locked(q, frames, lineage, lineage_json, run_id))

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
        if self.spec.kind == "sqlite" and not self.spec.exists():
            lake.create_sqlite_catalog(self.spec, [_sql("create_manifest")])

    def _write_locked(
        self,
        q: Quarter,
        frames: dict[str, pd.DataFrame],
        lineage: dict[str, Any],
        lineage_json: str,
        run_id: str | None,
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
        if thread in self._sessions or not self.spec.exists():
            yield self
            return
        with contextlib.ExitStack() as stack:
            try:
                con = _retrying(
                    lambda: stack.enter_context(lake.attached(self.spec, read_only=True))
                )
            except duckdb.Error as exc:
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
            return []

        def work() -> list[SnapshotInfo]:
            with self._read_cursor() as (con, session):
                return self._session_manifest(con, session, quarter, as_of)

        try:
            return _retrying(work)
        except duckdb.Error as exc:
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
