"""Dagster materialisation metadata for tables: row counts, column schema, table name, preview.

Belongs here: turning a DataFrame (or Arrow table) into the standard ``dagster/*`` metadata keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:  # only annotations: the frames come from the steps that use this
    import pandas as pd

PREVIEW_ROWS = 10


def column_schema(df: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]
    )


def markdown_preview(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    if df.empty:
        return dg.MetadataValue.md("_(no rows)_")
    return dg.MetadataValue.md(df.head(rows).to_markdown(index=False))


def table_metadata(table_name: str, df: pd.DataFrame, *, partitions: int = 1) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dagster/table_name": table_name,
        "dagster/row_count": len(df),
        "dagster/column_schema": column_schema(df),
        "preview": markdown_preview(df),
    }
    if partitions == 1:
        meta["dagster/partition_row_count"] = len(df)
    return meta
