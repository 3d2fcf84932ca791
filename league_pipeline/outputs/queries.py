"""Run one of the outputs' SQL queries (``league_pipeline/outputs/sql/<name>.sql``) over DataFrames.

Belongs here: loading the given frames into a fresh in-memory DuckDB, executing a single query
with bound parameters, and returning the result. The queries themselves live in the ``.sql``
files; nothing here builds SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

SQL_DIR = Path(__file__).resolve().parent / "sql"


@cache
def query_text(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no outputs query {path}")
    return path.read_text(encoding="utf-8")


def run_query(
    name: str, tables: Mapping[str, pd.DataFrame], params: Sequence[Any] = ()
) -> pd.DataFrame:
    """Execute ``league_pipeline/outputs/sql/<name>.sql`` with ``tables`` loaded under their
    names."""
    con = duckdb.connect(":memory:")
    try:
        for table, frame in tables.items():
            con.from_df(frame).create(table)
        return con.execute(query_text(name), list(params)).df()
    finally:
        con.close()
