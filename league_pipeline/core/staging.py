"""Staging: the parsed extracts and intermediate tables handed from one Dagster asset to the next.

Belongs here: :class:`Staging`, a staging folder (its root is given: ``<home>/staging`` by
default): where a (table, quarter) lives as Parquet, atomic writes, and the small lineage
records that source assets leave for the snapshot. Staging is a working area: a re-run replaces
a quarter's file atomically. Immutable history lives in the source store and the snapshots.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from league_pipeline.core.atomic import atomic_write
from league_pipeline.core.quarters import parse_quarter

if TYPE_CHECKING:  # imported when a table is read or written: the code location never does
    import pandas as pd
    import pyarrow as pa

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Scoring-engine tables whose names are also source kinds are staged under their own name, so a
# scoring step never replaces the validated source extract of the same name.
_ENGINE_STAGING_NAMES = {"deficit_flags": "scoring_deficit_flags", "rsp": "scoring_rsp"}


def engine_table(table: str) -> str:
    """The staging name of the scoring engine's table ``table``."""
    return _ENGINE_STAGING_NAMES.get(table, table)


class StagingMissingError(FileNotFoundError):
    """An upstream table has not been materialised for a quarter."""


def _check(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid staging table name '{name}'")
    return name


class Staging:
    """The staging folder ``root``: one Parquet file per (table, quarter), one lineage record
    per (source kind, quarter)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Staging({str(self.root)!r})"

    def path_for(self, table: str, partition_key: str) -> Path:
        return self.root / _check(table) / f"{partition_key}.parquet"

    def write_table(self, table: str, partition_key: str, data: pd.DataFrame | pa.Table) -> Path:
        """Write one quarter of ``table`` atomically; returns the file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(data, pa.Table):
            arrow = data
        else:
            arrow = pa.Table.from_pandas(data, preserve_index=False)
        target = self.path_for(table, partition_key)
        atomic_write(target, lambda tmp: pq.write_table(arrow, tmp))
        return target

    def write_quarters(self, table: str, frame: pd.DataFrame, partition_keys: list[str]) -> None:
        """Write the rows of each quarter of ``partition_keys`` (``frame["quarter"]``, the
        quarter's label) as that quarter of ``table``; a quarter with no rows gets an empty
        table."""
        for key in partition_keys:
            label = parse_quarter(key).label
            rows = frame[frame["quarter"] == label].reset_index(drop=True)
            self.write_table(table, key, rows)

    def existing_path(self, table: str, partition_key: str) -> Path:
        path = self.path_for(table, partition_key)
        if not path.exists():
            raise StagingMissingError(
                f"staging table '{table}' has no data for {partition_key}: materialise its "
                "upstream assets for that quarter first (league run --quarter ...)"
            )
        return path

    def read_table(self, table: str, partition_key: str) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.existing_path(table, partition_key))

    def _lineage_path(self, kind: str, partition_key: str) -> Path:
        return self.root / "_lineage" / _check(kind) / f"{partition_key}.json"

    def write_lineage(self, kind: str, partition_key: str, record: dict[str, Any]) -> Path:
        target = self._lineage_path(kind, partition_key)
        payload = json.dumps(record, sort_keys=True, indent=2, default=str)
        atomic_write(target, lambda tmp: Path(tmp).write_text(payload))
        return target

    def read_lineage(self, kind: str, partition_key: str) -> dict[str, Any]:
        target = self._lineage_path(kind, partition_key)
        if not target.exists():
            raise StagingMissingError(f"no lineage recorded for source '{kind}' in {partition_key}")
        return json.loads(target.read_text())
