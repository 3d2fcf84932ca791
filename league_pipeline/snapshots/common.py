"""What every part of the snapshot store shares.

Belongs here: the snapshot record, the store's errors, a read session, the table and column
names the store reserves, identifier checks and quoting, the storage SQL loader (``sql/``),
and the retry of transient lock errors. No access to a lake of its own.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from league_pipeline.core.quarters import Quarter, parse_quarter

SQL_DIR = Path(__file__).resolve().parent / "sql"

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
MANIFEST_TABLE = "snapshots"
SYSTEM_COLUMNS = ("quarter", "snapshot_version")
# NHS England's published rows a snapshot was built from (NOF trust-data layout, plus
# ``source_kind``): the baseline that later publications' revisions are compared with
PUBLISHED_ROWS = "published_rows"
RESERVED_COLUMNS = frozenset({*SYSTEM_COLUMNS, "rowid"})
# DuckDB type names a column may take (nested STRUCT/MAP types are refused: store JSON text)
TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_ ]*(\(\d+(, ?\d+)?\))?(\[\d*\])*$")
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


@dataclass
class ReadSession:
    """One read-only attachment shared by the reads of a ``reading()`` block (one thread)."""

    con: duckdb.DuckDBPyConnection
    manifests: dict[tuple[str | None, datetime | None], list[SnapshotInfo]] = field(
        default_factory=dict
    )


def validate_identifier(name: str, what: str = "table") -> str:
    """Return ``name`` if it is a safe SQL identifier (``^[a-z_][a-z0-9_]*$``), else raise."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise ValueError(
            f"{what} name {name!r} is not allowed: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore"
        )
    return name


def ident(name: str, what: str = "column") -> str:
    """``name`` checked and double-quoted."""
    return f'"{validate_identifier(name, what)}"'


def table_ref(name: str) -> str:
    """A lake table, named without catalog: the lake is the cursor's current database."""
    return ident(name, "table")


@functools.cache
def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def metadata_sql(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A statement on DuckLake's metadata database of the cursor's current lake."""
    alias = con.execute("SELECT current_database()").fetchone()[0]
    return sql(name).replace("{metadata}", f'"__ducklake_metadata_{alias}"')


def to_quarter(quarter: str | Quarter) -> Quarter:
    return parse_quarter(str(quarter), check_methodology=False)


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive datetime is read as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def is_transient(exc: BaseException) -> bool:
    message = str(exc).lower()
    return any(marker in message for marker in _TRANSIENT)


def retrying(work: Callable[[], T]) -> T:
    """Run ``work``, retrying transient lock/conflict errors with jittered backoff."""
    for attempt in range(_RETRIES):
        try:
            return work()
        except duckdb.Error as exc:
            if attempt == _RETRIES - 1 or not is_transient(exc):
                raise
            delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            log.info("snapshot store busy (%s); retrying in %.2fs", exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"the {what} must be JSON-serialisable: {exc}") from exc


def info_from_row(row: Sequence[Any]) -> SnapshotInfo:
    """A manifest row (``list_snapshots.sql``'s columns) as a :class:`SnapshotInfo`."""
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


def ordered_union(lists: Iterable[Iterable[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)
