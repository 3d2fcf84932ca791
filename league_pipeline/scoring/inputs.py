"""Scoring inputs from the validated source extracts (the pipeline's normal path).

Belongs here: turning parsed extracts (NOF trust-data files, deficit flags, RSP list) into the
engine's input tables, with quarters written the pipeline's way (``2025/26 Q1``), and recording
where each metric value came from (:func:`with_sources`, the precedence of
:mod:`league_pipeline.raw.precedence`).
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.quarters import parse_quarter
from league_pipeline.scoring import official

YES = {"yes", "y", "true", "1"}


def _label(series: pd.Series) -> pd.Series:
    return series.map(lambda q: parse_quarter(str(q), check_methodology=False).label)


def nof_inputs(extracts: list[pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """trusts, metric_values and given_scores from NOF trust-data extracts (any peer groups)."""
    df = pd.concat(extracts, ignore_index=True)
    df["Quarter"] = _label(df["Quarter"])
    return {
        "trusts": official.trusts_from_nof(df),
        "metric_values": official.metric_values_from_nof(df),
        "given_scores": official.given_scores_from_nof(df),
    }


def with_sources(
    official: pd.DataFrame, derived: pd.DataFrame, trusts: pd.DataFrame
) -> pd.DataFrame:
    """The quarter's metric values with where each came from (``source``, ``source_quarter``),
    after the official-quarter precedence of ``assets/metric_sources.yaml`` (by default NHS
    England's values as published; raw derivations fill in only where configured), plus the
    raw derivation of the same cell (``derived_value``, NaN where there is none)."""
    from league_pipeline.raw import precedence

    chosen = precedence.official_values(official, derived, trusts)
    reference = precedence.derived_candidates(derived)
    reference = reference[["quarter", "trust_code", "metric_id", "value"]].rename(
        columns={"value": "derived_value"}
    )
    return chosen.merge(reference, on=["quarter", "trust_code", "metric_id"], how="left")


def _flag(df: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "quarter": _label(df["Quarter"]),
            "trust_code": df["Trust_code"],
            name: df[column].astype(str).str.strip().str.lower().isin(YES),
        }
    )


def deficit_flags_input(extract: pd.DataFrame) -> pd.DataFrame:
    return _flag(extract, "In_deficit_or_receiving_support", "deficit_flag")


def rsp_input(extract: pd.DataFrame) -> pd.DataFrame:
    return _flag(extract, "In_RSP", "in_rsp")
