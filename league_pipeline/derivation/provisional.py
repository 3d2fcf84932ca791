"""A provisional league table for a quarter whose official NOF files are not published yet.

Belongs here: assembling the provisional quarter's scoring inputs (metric values derived from
the raw statistics where ``assets/methodology/metric_sources.yaml`` says so, everything else
carried from the latest official quarter and flagged ``carried``), scoring them with the real
engine and labelling the result. Nothing here reads files or knows about Dagster.

What is carried from the latest official quarter: the trust roster and peer groups, every
metric value without a raw derivation (and those the raw releases lack for a trust), the
score-only metrics (SHMI, CQC ratings), the deficit flags and the Recovery Support Programme
list. The table says so: ``status`` is ``provisional``, ``carried_from`` names the quarter, and
each trust's ``metrics_derived`` / ``metrics_carried`` count where its values came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.derivation.config import MetricSources
from league_pipeline.derivation.precedence import provisional_values
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring
from league_pipeline.scoring.likely_ranges import likely_ranges

PROVISIONAL = "provisional"
# The likely ranges of a provisional table are indicative (its inputs are part estimate), so
# the rank range uses at most this many simulated replicates (the score range is exact),
# keeping provisional runs quick.
MAX_REPLICATES = 1000


class ProvisionalError(ValueError):
    """A provisional table cannot be built (the message says what to run first)."""


@dataclass
class CarriedInputs:
    """The latest official quarter's scoring inputs (as the metric_values asset stages them)."""

    quarter: str  # its label, e.g. "2025/26 Q1"
    trusts: pd.DataFrame
    metric_values: pd.DataFrame
    given_scores: pd.DataFrame
    deficit_flags: pd.DataFrame
    rsp: pd.DataFrame


@dataclass
class ProvisionalResult:
    quarter: Quarter
    carried_from: str
    metric_values: pd.DataFrame  # with source / source_quarter
    scoring: ScoringResult
    league_table: pd.DataFrame  # labelled, with likely ranges and source counts


def provisional_inputs(
    quarter: Quarter,
    derived: pd.DataFrame,
    carried: CarriedInputs,
    config: MetricSources | None = None,
) -> tuple[ScoringInputs, pd.DataFrame]:
    """The scoring inputs of ``quarter`` and its metric values with their sources."""
    if parse_quarter(carried.quarter, check_methodology=False) >= quarter:
        raise ProvisionalError(
            f"a provisional {quarter.label} table carries values from an earlier quarter, "
            f"not from {carried.quarter}"
        )
    values = provisional_values(
        quarter.label, derived, carried.metric_values, carried.quarter, config
    )

    def relabel(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(quarter=quarter.label)

    inputs = ScoringInputs(
        trusts=relabel(carried.trusts),
        metric_values=values,
        given_scores=relabel(carried.given_scores),
        deficit_flags=relabel(carried.deficit_flags),
        rsp=relabel(carried.rsp),
    )
    return inputs, values


def provisional_table(
    quarter: Quarter,
    derived: pd.DataFrame,
    carried: CarriedInputs,
    *,
    replicates: int,
    seed: int,
    config: MetricSources | None = None,
) -> ProvisionalResult:
    """Score the provisional quarter and label its league table (see the module docstring).

    The likely rank range uses ``min(replicates, MAX_REPLICATES)`` replicates; the score range
    is exact."""
    inputs, values = provisional_inputs(quarter, derived, carried, config)
    result = run_scoring(inputs)
    ranges = likely_ranges(
        result.score_items,
        result.trust_segments,
        result.segment_cut_points,
        replicates=min(replicates, MAX_REPLICATES),
        seed=seed,
    )
    table = result.league_table.merge(
        ranges, on=["quarter", "peer_group", "trust_code"], how="left"
    )
    counts = (
        values.groupby(["trust_code", "source"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=["derived", "carried"], fill_value=0)
        .rename(columns={"derived": "metrics_derived", "carried": "metrics_carried"})
    )
    table = table.merge(counts, left_on="trust_code", right_index=True, how="left")
    for col in ("metrics_derived", "metrics_carried"):
        table[col] = table[col].fillna(0).astype("int64")
    table.insert(1, "status", PROVISIONAL)
    table.insert(2, "carried_from", carried.quarter)
    return ProvisionalResult(quarter, carried.quarter, values, result, table)


def compare_with_official(provisional: pd.DataFrame, official: pd.DataFrame) -> pd.DataFrame:
    """Per peer group: how the provisional table compares with the official one of the same
    quarter (a back-test of the provisional method): trusts in both, same adjusted segment,
    same rank, and the mean absolute rank difference."""
    cols = ["peer_group", "trust_code", "adjusted_segment", "rank"]
    both = provisional[cols].merge(official[cols], on=["peer_group", "trust_code"])
    rows = []
    for group, g in both.groupby("peer_group", sort=True):
        rows.append(
            {
                "peer_group": group,
                "trusts": len(g),
                "same_segment": int((g["adjusted_segment_x"] == g["adjusted_segment_y"]).sum()),
                "same_rank": int((g["rank_x"] == g["rank_y"]).sum()),
                "mean_abs_rank_difference": float((g["rank_x"] - g["rank_y"]).abs().mean()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["peer_group", "trusts", "same_segment", "same_rank", "mean_abs_rank_difference"],
    )
