"""Reading snapshots back: the manifest, a table's rows, read sessions, time travel.

Belongs here: listing snapshots (all, one quarter's, the latest, one version), their lineage,
reading a table of a snapshot (a version, every quarter's latest, or the store as it was at a
time: ``as_of``), and :func:`reading`, which serves a block of reads from one attachment.
Readers take no lock. See docs/snapshots.md.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import (
    SYSTEM_COLUMNS,
    ReadSession,
    SnapshotInfo,
    SnapshotNotFoundError,
    info_from_row,
    is_transient,
    ordered_union,
    retrying,
    sql,
    table_ref,
    to_quarter,
    utc,
    validate_identifier,
)


@contextlib.contextmanager
def reading(store: StoreBase) -> Iterator[None]:
    """Serve every read of ``store`` in the block from one read-only attachment and
    transaction (see :meth:`SnapshotStore.reading <league_pipeline.snapshots.store.
    SnapshotStore.reading>`)."""
    thread = threading.get_ident()
    if thread in store.sessions:
        yield
        return
    if not store.spec.exists():
        store.check_catalog()  # no catalog file but data files: say so
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            con = retrying(lambda: stack.enter_context(lake.attached(store.spec, read_only=True)))
        except duckdb.Error as exc:
            store.reraise_damage(exc)
            if not lake.is_missing_catalog(exc):
                raise
            con = None  # a server catalog nobody has written to yet
        if con is None:
            yield
            return
        con.execute("BEGIN TRANSACTION")
        store.sessions[thread] = ReadSession(con)
        try:
            yield
        finally:
            del store.sessions[thread]


@contextlib.contextmanager
def read_cursor(
    store: StoreBase,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, ReadSession | None]]:
    """The open session's cursor, else a new attachment for this one read."""
    session = store.sessions.get(threading.get_ident())
    if session is not None:
        yield session.con, session
        return
    with lake.attached(store.spec, read_only=True) as con:
        yield con, None


def manifest(
    con: duckdb.DuckDBPyConnection, quarter: str | None, as_of: datetime | None
) -> list[SnapshotInfo]:
    """The manifest rows (of ``quarter``; as of ``as_of``) of the cursor's current lake."""
    try:
        if as_of is None:
            rows = con.execute(sql("list_snapshots"), [quarter]).fetchall()
        else:
            rows = con.execute(sql("list_snapshots_as_of"), [quarter, as_of]).fetchall()
    except duckdb.CatalogException:
        return []  # a server catalog nobody has written to yet
    except duckdb.Error as exc:
        if as_of is not None and "snapshot" in str(exc).lower() and not is_transient(exc):
            return []  # as_of is before the store existed
        raise
    return [info_from_row(row) for row in rows]


def _session_manifest(
    con: duckdb.DuckDBPyConnection,
    session: ReadSession | None,
    quarter: str | None,
    as_of: datetime | None,
) -> list[SnapshotInfo]:
    """The manifest, read once per read session (a session sees one state of the store)."""
    if session is None:
        return manifest(con, quarter, as_of)
    key = (quarter, as_of)
    if key not in session.manifests:
        session.manifests[key] = manifest(con, quarter, as_of)
    return list(session.manifests[key])


def _read_manifest(
    store: StoreBase, quarter: str | None, as_of: datetime | None = None
) -> list[SnapshotInfo]:
    if not store.spec.exists():
        store.check_catalog()  # no catalog file but data files: say so
        return []

    def work() -> list[SnapshotInfo]:
        with read_cursor(store) as (con, session):
            return _session_manifest(con, session, quarter, as_of)

    try:
        return retrying(work)
    except duckdb.Error as exc:
        # an emptied or damaged catalog beside data files is not "no snapshots yet"
        store.reraise_damage(exc)
        if lake.is_missing_catalog(exc):  # a server catalog nobody has written to yet
            return []
        raise


def list_snapshots(store: StoreBase, quarter: str | Quarter | None = None) -> list[SnapshotInfo]:
    """Every published snapshot (of ``quarter``), oldest quarter and version first."""
    label = to_quarter(quarter).label if quarter is not None else None
    return _read_manifest(store, label)


def get(store: StoreBase, quarter: str | Quarter, version: int | None = None) -> SnapshotInfo:
    """One snapshot (the latest by default); raises :class:`SnapshotNotFoundError`."""
    q = to_quarter(quarter)
    return _pick(list_snapshots(store, q), q, version, None)


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
    store: StoreBase,
    table: str,
    quarter: str | Quarter | None = None,
    version: int | None = None,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Rows of ``table`` in a snapshot, with ``quarter`` and ``snapshot_version`` first (see
    :meth:`SnapshotStore.read <league_pipeline.snapshots.store.SnapshotStore.read>`)."""
    validate_identifier(table, "table")
    if version is not None and quarter is None:
        raise ValueError("a version number needs a quarter")
    q = to_quarter(quarter) if quarter is not None else None
    as_of = utc(as_of)
    if not store.spec.exists():
        store.check_catalog()  # no catalog file but data files: say so
        raise SnapshotNotFoundError(f"the snapshot store {store.root} is empty")

    def work() -> pd.DataFrame:
        with read_cursor(store) as (con, session):
            if session is None:  # the manifest and the rows from one state of the store
                con.execute("BEGIN TRANSACTION")
            infos = _session_manifest(con, session, q.label if q else None, as_of)
            chosen = _choose(infos, table, q, version, as_of)
            result = rows(con, table, chosen, as_of).df()
            if session is None:
                con.execute("COMMIT")
        columns = [*SYSTEM_COLUMNS, *ordered_union(i.columns[table] for i in chosen)]
        return result[columns]

    try:
        return retrying(work)
    except duckdb.Error as exc:
        store.reraise_damage(exc)
        if lake.is_missing_catalog(exc):
            raise SnapshotNotFoundError(f"the snapshot store {store.spec.kind} is empty") from exc
        raise


def _choose(
    infos: list[SnapshotInfo],
    table: str,
    q: Quarter | None,
    version: int | None,
    as_of: datetime | None,
) -> list[SnapshotInfo]:
    if q is not None:
        info = _pick(infos, q, version, as_of)
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


def rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    chosen: list[SnapshotInfo],
    as_of: datetime | None,
) -> duckdb.DuckDBPyConnection:
    """The query of ``table``'s rows in the ``chosen`` snapshots, in the order written."""
    at = " AT (TIMESTAMP => ?::TIMESTAMPTZ)" if as_of is not None else ""
    params: list[Any] = [as_of] if as_of is not None else []
    params += [[i.quarter for i in chosen], [i.version for i in chosen]]
    return con.execute(
        f"SELECT t.* FROM {table_ref(table)} AS t{at} "
        "JOIN (SELECT unnest(?::VARCHAR[]) AS quarter, unnest(?::INTEGER[]) AS version) AS s "
        "ON t.quarter = s.quarter AND t.snapshot_version = s.version "
        "ORDER BY t.quarter, t.snapshot_version, t.rowid",
        params,
    )
