"""Run the scoring SQL (``assets/sql/scoring/NN_<table>.sql``) in an in-memory DuckDB.

Belongs here: the input contract, loading inputs (DataFrames or Parquet, read by DuckDB
directly), executing the SQL steps in order and handing results out as DataFrames or Arrow/
Parquet. Each session is its own in-memory database, so parallel runs never contend for a
DuckDB file lock. The methodology lives in the SQL and ``assets/*.csv``, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from league_pipeline.core.paths import sql_dir
from league_pipeline.scoring import catalogue

# The columns each input must provide (extra columns are ignored).
INPUT_COLUMNS: dict[str, list[str]] = {
    "trusts": ["quarter", "trust_code", "trust_name", "region", "peer_group", "trust_subtype"],
    "metric_values": ["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"],
    "given_scores": ["quarter", "trust_code", "score_id", "score"],
    "deficit_flags": ["quarter", "trust_code", "deficit_flag"],
    "rsp": ["quarter", "trust_code", "in_rsp"],
}
# One SQL file a table, run in this order; file ``NN_<table>.sql`` creates table ``<table>``.
OUTPUT_TABLES = (
    "metric_scores",
    "score_items",
    "domain_scores",
    "trust_averages",
    "segment_cut_points",
    "unadjusted_segments",
    "trust_segments",
    "league_table",
)
# A total order for every output table, so identical inputs give identical frames
SORT_KEY = ("quarter", "peer_group", "rank", "trust_code", "score_id", "domain_id", "item")
# Optional input columns and their value when a caller leaves them out: where a flag came from
OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    "deficit_flags": {"deficit_flag_basis": "supplied"},
    "rsp": {"in_rsp_basis": "supplied"},
}
_INPUT_TYPES = {
    "value": "float64",
    "tiebreak": "float64",
    "score": "float64",
    "deficit_flag": "bool",
    "in_rsp": "bool",
}


class ScoringInputError(ValueError):
    """The inputs do not have the columns the SQL needs."""


@dataclass
class ScoringInputs:
    trusts: pd.DataFrame
    metric_values: pd.DataFrame
    given_scores: pd.DataFrame
    deficit_flags: pd.DataFrame
    rsp: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class ScoringResult:
    metric_scores: pd.DataFrame
    score_items: pd.DataFrame
    domain_scores: pd.DataFrame
    trust_averages: pd.DataFrame
    segment_cut_points: pd.DataFrame
    unadjusted_segments: pd.DataFrame
    trust_segments: pd.DataFrame
    league_table: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in OUTPUT_TABLES}


def scoring_sql_files() -> dict[str, list[Path]]:
    """Table name -> the SQL files that create it, in execution order.

    ``NN_<table>.sql`` computes the table; an optional ``NN_<table>.published.sql`` then takes
    NHS England's published layer where the run cannot compute it (a ranking pool or the
    cut-points span a peer group the run leaves out) and records each value's ``basis``.
    ``00_*.sql`` files are setup, run before any step (see :func:`setup_sql_files`)."""
    by_table: dict[str, list[Path]] = {}
    files = (sql_dir() / "scoring").glob("[0-9][0-9]_*.sql")
    for path in sorted(files, key=lambda p: (p.name.split(".", 1)[0], ".published" in p.name)):
        if path.name.startswith("00_"):
            continue
        table = path.name.split("_", 1)[1].split(".", 1)[0]
        by_table.setdefault(table, []).append(path)
    if tuple(by_table) != OUTPUT_TABLES:
        raise RuntimeError(f"assets/sql/scoring holds {list(by_table)}, expected {OUTPUT_TABLES}")
    return by_table


def setup_sql_files() -> list[Path]:
    """``00_*.sql``: the optional inputs, created empty when a caller did not load them."""
    return sorted((sql_dir() / "scoring").glob("00_*.sql"))


def _conform_input(name: str, df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in INPUT_COLUMNS[name] if c not in df.columns]
    if missing:
        raise ScoringInputError(f"scoring input '{name}' lacks columns {missing}")
    optional = OPTIONAL_COLUMNS.get(name, {})
    out = df[INPUT_COLUMNS[name] + [c for c in optional if c in df.columns]].copy()
    for column, default in optional.items():
        if column not in out:
            out[column] = default
    for col, dtype in _INPUT_TYPES.items():
        if col in out:
            out[col] = out[col].astype(dtype)
    return out


class ScoringSession:
    """One in-memory DuckDB holding the methodology tables, the inputs and the steps' outputs."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.load_frame("catalogue", catalogue.metric_catalogue())
        self.load_frame("score_bands", catalogue.score_bands())
        self.load_frame("finance_matrix", catalogue.finance_matrix())
        self.load_frame("domains", catalogue.domains())

    def __enter__(self) -> ScoringSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def load_frame(self, name: str, df: pd.DataFrame) -> None:
        """Create table ``name`` from a DataFrame (inputs are checked and typed first)."""
        if name in INPUT_COLUMNS:
            df = _conform_input(name, df)
        self.con.from_df(df).create(name)

    def load_parquet(self, name: str, paths: Iterable[Path]) -> None:
        """Create table ``name`` straight from Parquet files (no pandas round trip)."""
        files = [str(p) for p in paths]
        if not files:
            raise ScoringInputError(f"no Parquet files to load for '{name}'")
        self.con.read_parquet(files, union_by_name=True).create(name)

    def run(self, tables: Iterable[str]) -> None:
        """Execute the SQL steps that create ``tables`` (in methodology order)."""
        wanted = set(tables)
        for path in setup_sql_files():
            self.con.execute(path.read_text())
        for table, paths in scoring_sql_files().items():
            if table in wanted:
                for path in paths:
                    self.con.execute(path.read_text())

    def df(self, table: str) -> pd.DataFrame:
        df = self.con.table(table).df()
        sort_cols = [c for c in SORT_KEY if c in df]
        return df.sort_values(sort_cols, kind="stable").reset_index(drop=True)

    def arrow(self, table: str) -> pa.Table:
        return self.con.table(table).to_arrow_table()


def run_scoring(
    inputs: ScoringInputs, provided: dict[str, pd.DataFrame] | None = None
) -> ScoringResult:
    """Execute the methodology SQL over ``inputs`` and return every layer.

    ``provided`` maps an output table name to a DataFrame that replaces that step: the audit mode
    that re-derives later layers from NHS England's published ones (for example domain scores and
    averages from the published metric scores, or ranks from the published segments).
    """
    provided = provided or {}
    unknown = set(provided) - set(OUTPUT_TABLES)
    if unknown:
        raise ScoringInputError(f"cannot provide {sorted(unknown)}: not a scoring table")
    with ScoringSession() as session:
        for name, df in (inputs.frames() | provided).items():
            session.load_frame(name, df)
        session.run(t for t in OUTPUT_TABLES if t not in provided)
        return ScoringResult(**{name: session.df(name) for name in OUTPUT_TABLES})
