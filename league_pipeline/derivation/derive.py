"""Derive quarterly metric values from the raw extracts (runs ``assets/sql/derivation/NN_*.sql``).

Belongs here: loading the validated raw extracts (DataFrames, or staged Parquet read by DuckDB
directly) into an in-memory DuckDB, running the derivation steps in order and returning
``derived_values``: one row per quarter, provider and measure with the value as NHS England
would publish it (``value``), unrounded (``value_unrounded``), its numerator and denominator,
the number of months it covers, and the source kind. The formulas live in the SQL; the
measures, rounding and metric ids in ``assets/methodology/metric_sources.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pandas as pd

from league_pipeline.core.paths import sql_dir
from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.config import MetricSources, metric_sources

# source kind -> the derivation's input table (the three A&E months share one table)
INPUT_TABLE = {
    "ambsys": "ambsys",
    "ae_monthly_m1": "ae_monthly",
    "ae_monthly_m2": "ae_monthly",
    "ae_monthly_m3": "ae_monthly",
    "cwt_crs_provider": "cwt_provider",
    "rtt_full_extract": "rtt",
}
DERIVED_COLUMNS = [
    "quarter",
    "trust_code",
    "measure",
    "metric_id",
    "value",
    "value_unrounded",
    "unit",
    "numerator",
    "denominator",
    "months",
    "source_kind",
]


def derivation_sql_files() -> list[Path]:
    """The steps, in order (``00_inputs.sql`` ... ``05_derived_values.sql``)."""
    return sorted((sql_dir() / "derivation").glob("[0-9][0-9]_*.sql"))


class Derivation:
    """One in-memory DuckDB: raw extracts in, ``derived_values`` out."""

    def __init__(self, config: MetricSources | None = None) -> None:
        self.config = config or metric_sources()
        self.con = duckdb.connect(":memory:")
        self._loaded: dict[str, list[duckdb.DuckDBPyRelation]] = {}

    def __enter__(self) -> Derivation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()

    def _table(self, kind: str) -> str:
        try:
            return INPUT_TABLE[kind]
        except KeyError:
            raise ValueError(
                f"no derivation reads source kind '{kind}': choose one of {', '.join(INPUT_TABLE)}"
            ) from None

    def load_frame(self, kind: str, df: pd.DataFrame) -> None:
        """Add a parsed extract of ``kind`` (as its reader returns it)."""
        self._loaded.setdefault(self._table(kind), []).append(self.con.from_df(df))

    def load_parquet(self, kind: str, paths: Iterable[Path]) -> None:
        """Add staged extracts of ``kind`` straight from Parquet (no pandas round trip)."""
        files = [str(p) for p in paths]
        if files:
            rel = self.con.read_parquet(files, union_by_name=True)
            self._loaded.setdefault(self._table(kind), []).append(rel)

    def run(self, quarters: Iterable[Quarter]) -> pd.DataFrame:
        """Derive every measure for ``quarters`` from what was loaded; sorted, typed."""
        for table, relations in self._loaded.items():
            relations[0].create(table)
            for index, rel in enumerate(relations[1:]):
                view = f"_{table}_{index}"  # internal names, not data
                rel.create_view(view)
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
        self.con.from_df(
            pd.DataFrame(
                {
                    "quarter": [q.label for q in quarters],
                    "quarter_start": pd.to_datetime([q.start for q in quarters]),
                }
            )
        ).create("quarters")
        self.con.from_df(self.config.measures_frame()).create("measures")
        self.con.from_df(self.config.standards_frame()).create("standards")
        for path in derivation_sql_files():
            self.con.execute(path.read_text())
        df = self.con.table("derived_values").df()
        return conform(df)


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``derived_values`` with the column order and types the schema and staging expect."""
    out = df[DERIVED_COLUMNS].copy()
    for col in ("value", "value_unrounded", "numerator", "denominator"):
        out[col] = out[col].astype("float64")
    out["months"] = out["months"].astype("int64")
    # text columns as pandas' str dtype even when nothing was derived (an empty DuckDB result
    # comes back as string[pyarrow]: a published quarter may have no raw files at all)
    for col in ("quarter", "trust_code", "measure", "metric_id", "unit", "source_kind"):
        out[col] = out[col].astype("str")
    return out.reset_index(drop=True)


def derive(
    extracts: Mapping[str, Iterable[pd.DataFrame]],
    quarters: Iterable[Quarter],
    config: MetricSources | None = None,
) -> pd.DataFrame:
    """Derived values from parsed extracts ({source kind: [frames]}) for ``quarters``."""
    with Derivation(config) as session:
        for kind, frames in extracts.items():
            for frame in frames:
                session.load_frame(kind, frame)
        return session.run(list(quarters))
