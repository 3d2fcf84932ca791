"""Exporting a snapshot as Parquet files.

Belongs here: :func:`export_parquet`, one file per table of a snapshot,
``<table>-<quarter slug>-v<N>.parquet``, whose metadata carries the snapshot id and lineage.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from league_pipeline.core.atomic import atomic_write
from league_pipeline.core.quarters import Quarter
from league_pipeline.snapshots import reader
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import SYSTEM_COLUMNS, retrying, to_json, to_quarter


def export_parquet(
    store: StoreBase, quarter: str | Quarter, version: int | None, out_dir: Path | str
) -> list[Path]:
    """Write each table of a snapshot to ``<out_dir>/<table>-<quarter slug>-v<N>.parquet``.

    The file metadata carries the snapshot id and its lineage (key ``league_pipeline``).
    """
    q = to_quarter(quarter)
    info = reader.get(store, q, version)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = to_json(
        {
            "snapshot_id": info.snapshot_id,
            "created_at": info.created_at.isoformat(),
            "run_id": info.run_id,
            "lineage": info.lineage,
        },
        "lineage",
    )

    def fetch(table: str) -> pa.Table:
        with reader.read_cursor(store) as (con, _session):
            arrow = reader.rows(con, table, [info], None).to_arrow_table()
        return arrow.select([*SYSTEM_COLUMNS, *info.columns[table]])

    written = []
    for table in info.tables:
        arrow = retrying(functools.partial(fetch, table))
        arrow = arrow.replace_schema_metadata(
            {**(arrow.schema.metadata or {}), b"league_pipeline": meta.encode()}
        )
        path = out / f"{table}-{q.slug}-v{info.version}.parquet"
        written.append(atomic_write(path, functools.partial(pq.write_table, arrow)))
    return written
