"""Dagster materialisation metadata for tables: row counts, column schema, table name, preview.

Belongs here: turning a DataFrame (or Arrow table) into the standard ``dagster/*`` metadata keys,
its column schema described from ``schemas/*.yaml`` (each column's ``description``), and numbers
formatted for people (:func:`percent`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:  # only annotations: the frames come from the steps that use this
    import pandas as pd

PREVIEW_ROWS = 10


@functools.cache
def _described(schema: str | None) -> dict[str, tuple[str | None, str]]:
    """Column name -> (declared dtype, description): ``schema``'s own columns with their dtype,
    then any other schema's column of that name (the shared ones: quarter, trust_code...)."""
    # pandera is loaded when a step writes metadata, not when the code location loads
    from league_pipeline.validation.schemas import load_schema, schema_names

    names = schema_names()
    out: dict[str, tuple[str | None, str]] = {}
    if schema in names:
        for name, column in load_schema(schema).columns.items():
            out[str(name)] = (str(column.dtype) if column.dtype else None, column.description)
    for other in names:
        for name, column in load_schema(other).columns.items():
            if column.description and str(name) not in out:
                out[str(name)] = (None, column.description)
    return out


def column_schema(df: pd.DataFrame, schema: str | None = None) -> dg.TableSchema:
    """``df``'s columns, each with its type (the one ``schemas/<schema>.yaml`` declares, else the
    frame's) and the description the schemas give it."""
    described = _described(schema)
    columns = []
    for name, dtype in df.dtypes.items():
        declared, description = described.get(str(name), (None, None))
        columns.append(
            dg.TableColumn(name=str(name), type=declared or str(dtype), description=description)
        )
    return dg.TableSchema(columns=columns)


def percent(fraction: float | None, places: int = 1) -> str:
    """``0.8455284552845529`` -> ``"84.6%"`` (``"n/a"`` for no value). Never rounded up to a
    whole 100% or down to 0% that is not: ``0.9996`` -> ``"99.9%"``, ``0.0004`` -> ``"0.1%"``."""
    if fraction is None or fraction != fraction:
        return "n/a"
    text = f"{fraction * 100:.{places}f}"
    step = 10.0**-places
    if float(text) == 100 and fraction < 1:
        text = f"{100 - step:.{places}f}"
    elif float(text) == 0 and fraction > 0:
        text = f"{step:.{places}f}"
    return f"{text}%"


def markdown_preview(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    if df.empty:
        return dg.MetadataValue.md("_(no rows)_")
    return dg.MetadataValue.md(df.head(rows).to_markdown(index=False))


def table_metadata(
    table_name: str, df: pd.DataFrame, *, partitions: int = 1, schema: str | None = None
) -> dict[str, Any]:
    """The standard table keys; ``schema`` (default: the table name's last part) is the
    ``schemas/`` file whose types and descriptions the column schema shows."""
    meta: dict[str, Any] = {
        "dagster/table_name": table_name,
        "dagster/row_count": len(df),
        "dagster/column_schema": column_schema(df, schema or table_name.rsplit(".", 1)[-1]),
        "preview": markdown_preview(df),
    }
    if partitions == 1:
        meta["dagster/partition_row_count"] = len(df)
    return meta
