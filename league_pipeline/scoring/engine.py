"""Run the scoring SQL over one or more quarters in an in-memory DuckDB.

Belongs here: the input contract (:class:`ScoringInputs`), executing ``assets/sql/scoring/*.sql``
in file-name order and returning every layer as DataFrames. Each run uses its own in-memory
database, so parallel runs never contend for a DuckDB file lock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import duckdb
import pandas as pd

from league_pipeline.paths import sql_dir
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


class ScoringInputError(ValueError):
    """The inputs do not have the columns the SQL needs."""


@dataclass
class ScoringInputs:
    trusts: pd.DataFrame
    metric_values: pd.DataFrame
    given_scores: pd.DataFrame
    deficit_flags: pd.DataFrame
    rsp: pd.DataFrame

    def checked(self) -> dict[str, pd.DataFrame]:
        out = {}
        for f in fields(self):
            df = getattr(self, f.name)
            missing = [c for c in INPUT_COLUMNS[f.name] if c not in df.columns]
            if missing:
                raise ScoringInputError(f"scoring input '{f.name}' lacks columns {missing}")
            out[f.name] = df[INPUT_COLUMNS[f.name]].copy()
        out["metric_values"]["value"] = out["metric_values"]["value"].astype("float64")
        out["metric_values"]["tiebreak"] = out["metric_values"]["tiebreak"].astype("float64")
        out["given_scores"]["score"] = out["given_scores"]["score"].astype("float64")
        out["deficit_flags"]["deficit_flag"] = out["deficit_flags"]["deficit_flag"].astype(bool)
        out["rsp"]["in_rsp"] = out["rsp"]["in_rsp"].astype(bool)
        return out


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


def scoring_sql_files() -> dict[str, Path]:
    """Table name -> the SQL file that creates it, in execution order."""
    files = sorted((sql_dir() / "scoring").glob("*.sql"))
    by_table = {path.stem.split("_", 1)[1]: path for path in files}
    if tuple(by_table) != OUTPUT_TABLES:
        raise RuntimeError(f"assets/sql/scoring holds {list(by_table)}, expected {OUTPUT_TABLES}")
    return by_table


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
    frames = inputs.checked() | provided
    sql_files = [path for table, path in scoring_sql_files().items() if table not in provided]
    frames |= {
        "catalogue": catalogue.metric_catalogue(),
        "score_bands": catalogue.score_bands(),
        "finance_matrix": catalogue.finance_matrix(),
        "domains": catalogue.domains(),
    }
    con = duckdb.connect(":memory:")
    try:
        for name, df in frames.items():
            con.register(f"{name}_df", df)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{name}_df"')  # noqa: S608 - fixed names
            con.unregister(f"{name}_df")
        for path in sql_files:
            con.execute(path.read_text())
        out = {}
        for name in OUTPUT_TABLES:
            df = con.table(name).df()
            sort_cols = [c for c in ("quarter", "peer_group", "rank", "trust_code") if c in df]
            out[name] = df.sort_values(sort_cols, kind="stable").reset_index(drop=True)
        return ScoringResult(**out)
    finally:
        con.close()
