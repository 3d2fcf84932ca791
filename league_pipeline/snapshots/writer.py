"""Writing a snapshot: a quarter's tables as its next version, in one DuckLake transaction.

Belongs here: checking the tables (names, reserved columns, types), taking the next version
under the write lock, appending each table (creating it, adding columns, widening a type
without loss), the manifest row, and after the commit recording the version and backing up
the catalog. See docs/snapshots.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.snapshots import backups, lake
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import (
    MANIFEST_TABLE,
    RESERVED_COLUMNS,
    TYPE_NAME,
    SnapshotError,
    SnapshotInfo,
    ident,
    retrying,
    sql,
    table_ref,
    to_json,
    to_quarter,
    validate_identifier,
)

log = logging.getLogger(__name__)

COMMIT_AUTHOR = "league-pipeline"
_FRAME_VIEW = "snapshot-frame"  # not a valid table name, so it never shadows a lake table


def write(
    store: StoreBase,
    quarter: str | Quarter,
    tables: Mapping[str, pd.DataFrame],
    lineage: Mapping[str, Any],
    run_id: str | None = None,
) -> SnapshotInfo:
    """Publish ``tables`` as the next version of ``quarter``, atomically, with ``lineage``."""
    q = to_quarter(quarter)
    if not tables:
        raise SnapshotError("a snapshot needs at least one table")
    frames = {name: _prepare_frame(name, frame, q) for name, frame in tables.items()}
    lineage = dict(lineage)
    lineage_json = to_json(lineage, "lineage")
    store.root.mkdir(parents=True, exist_ok=True)
    with store.writer_lock():
        store.ensure_catalog()
        floor = store.issued_version(q)
        info = retrying(
            lambda: _write_locked(store, q, frames, lineage, lineage_json, run_id, floor)
        )
        _after_commit(store, info)
        return info


def _after_commit(store: StoreBase, info: SnapshotInfo) -> None:
    """Record the version handed out and back up the catalog (under the write lock).
    Neither may fail a committed snapshot: a failure is logged."""
    store.record_version(info)
    if store.spec.kind != "sqlite" or store.backups_kept <= 0:
        return
    try:
        backups.backup_locked(store)
    except Exception as exc:  # the snapshot is committed whatever happens here
        log.warning(
            "snapshot %s is committed, but the catalog backup failed: %s (run `league lake "
            "backup`; `league lake check` shows the newest backup)",
            info.snapshot_id,
            exc,
        )


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
            if to_quarter(value) != quarter:
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
    if not TYPE_NAME.match(type_name):
        raise SnapshotError(
            f"column '{column}' of table '{table}' has type {type_name}, which the store does "
            "not take; convert it to text (e.g. JSON) first"
        )
    return type_name


def _write_locked(
    store: StoreBase,
    q: Quarter,
    frames: dict[str, pd.DataFrame],
    lineage: dict[str, Any],
    lineage_json: str,
    run_id: str | None,
    floor: int = 0,
) -> SnapshotInfo:
    info: SnapshotInfo | None = None
    try:
        with lake.attached(store.spec, read_only=False) as con:
            # stored schemas, read before the transaction (a missing table is an error,
            # which would abort it); the write lock keeps them from changing meanwhile
            stored = {name: _stored_columns(con, name) for name in frames}
            con.execute("BEGIN TRANSACTION")
            con.execute(sql("create_manifest"))  # no-op once created (server catalogs)
            version = int(con.execute(sql("next_version"), [q.label]).fetchone()[0])
            version = max(version, floor + 1)  # never a version handed out before
            # after the lake transaction has started, so that as_of=created_at sees it
            created_at = datetime.now(UTC)
            snapshot_id = f"{q.slug}/v{version}"
            counts: dict[str, int] = {}
            columns: dict[str, list[str]] = {}
            for name, frame in frames.items():
                columns[name] = _append(con, name, frame, stored[name], q.label, version)
                counts[name] = len(frame)
            extra = to_json({"quarter": q.label, "version": version, "run_id": run_id}, "run")
            con.execute(sql("commit_message"), [COMMIT_AUTHOR, snapshot_id, extra])
            con.execute(
                sql("insert_manifest"),
                [
                    q.label,
                    version,
                    snapshot_id,
                    created_at,
                    run_id,
                    to_json(counts, "tables"),
                    to_json(columns, "columns"),
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
        table = table_ref(name)
        if not existing:
            definition = ", ".join(
                ['"quarter" VARCHAR NOT NULL', '"snapshot_version" INTEGER NOT NULL']
                + [
                    f"{ident(column)} {type_name or 'VARCHAR'}"
                    for column, type_name in types.items()
                ]
            )
            con.execute(f"CREATE TABLE {table} ({definition})")
        else:
            for column, type_name in types.items():
                if column not in existing:
                    added = type_name or "VARCHAR"
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {ident(column)} {added}")
                elif type_name is not None and type_name != existing[column]:
                    _reconcile_type(con, name, column, existing[column], type_name)
        selected = "".join(f", {ident(column)}" for column in types)
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT ?::VARCHAR AS quarter, "
            f'?::INTEGER AS snapshot_version{selected} FROM "{_FRAME_VIEW}"',
            [quarter_label, version],
        )
    finally:
        con.unregister(_FRAME_VIEW)
    return list(types)


def _stored_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """Column name -> type of a lake table; empty if there is no such table yet.

    (``duckdb_columns()`` would also visit the lakes other threads have attached.)
    """
    try:
        rows = con.execute(f"DESCRIBE {table_ref(name)}").fetchall()
    except duckdb.CatalogException:
        return {}
    return {row[0]: row[1] for row in rows}


def _reconcile_type(
    con: duckdb.DuckDBPyConnection, name: str, column: str, stored: str, incoming: str
) -> None:
    """Accept a new column type only without loss: cast it, or widen the stored column."""
    if not TYPE_NAME.match(stored):
        raise SnapshotError(f"column '{column}' of table '{name}' has unexpected type {stored}")

    def implicit(source: str, target: str) -> bool:
        query = f"SELECT can_cast_implicitly(NULL::{source}, NULL::{target})"
        return bool(con.execute(query).fetchone()[0])

    if implicit(incoming, stored):
        return  # e.g. INTEGER values into a BIGINT column
    if implicit(stored, incoming):
        try:  # e.g. BIGINT column -> DOUBLE: DuckLake allows widening promotions
            con.execute(
                f"ALTER TABLE {table_ref(name)} ALTER COLUMN {ident(column)} "
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
