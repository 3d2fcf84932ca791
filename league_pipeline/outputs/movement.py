"""Quarter-on-quarter movement: each trust's change in segment, rank and average score.

Belongs here: comparing two quarters' snapshots trust by trust, and deciding which changes are
*significant*: only when the two quarters' likely ranges do not overlap (of the average score
for the average and a segment change it caused, of the rank for the rank). Segment changes are
classified as NHS England's Q2 2025/26 changes page does (``financial override``,
``significant score change``, ``not significant``). ``rank_change`` is ``before - after``
(positive = climbed); ``average_change`` and ``segment_change`` are ``after - before``
(negative = better). See docs/outputs.md ("Movement").
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.outputs.results import QuarterResults

KEY = ["peer_group", "trust_code"]
_CARRIED = [
    "trust_name",
    "average_score",
    "score_lower",
    "score_upper",
    "unadjusted_segment",
    "adjusted_segment",
    "final_segment",
    "deficit_flag",
    "rank",
    "rank_lower",
    "rank_upper",
]
OVERRIDE = "financial override"
SIGNIFICANT = "significant score change"
NOT_SIGNIFICANT = "not significant"


def _disjoint(lo_a: pd.Series, hi_a: pd.Series, lo_b: pd.Series, hi_b: pd.Series) -> pd.Series:
    """True where the intervals [lo_a, hi_a] and [lo_b, hi_b] do not overlap."""
    return ((lo_b > hi_a) | (hi_b < lo_a)).fillna(False).astype(bool)


def movement(current: QuarterResults, previous: QuarterResults) -> pd.DataFrame:
    """One row per trust in either quarter (``status``: both / new / left), league order."""
    before = previous.league_table[[*KEY, *_CARRIED]]
    after = current.league_table[[*KEY, *_CARRIED]]
    merged = before.merge(
        after, on=KEY, how="outer", suffixes=("_before", "_after"), indicator=True
    )
    states = {"both": "both", "left_only": "left", "right_only": "new"}
    merged["status"] = merged["_merge"].astype("str").map(states).astype("str")
    merged["trust_name"] = merged["trust_name_after"].fillna(merged["trust_name_before"])
    merged["quarter_before"] = previous.quarter.label
    merged["quarter_after"] = current.quarter.label
    merged["segment_before"] = merged["adjusted_segment_before"].astype("Int64")
    merged["segment_after"] = merged["adjusted_segment_after"].astype("Int64")
    merged["segment_change"] = merged["segment_after"] - merged["segment_before"]
    merged["rank_before"] = merged["rank_before"].astype("Int64")
    merged["rank_after"] = merged["rank_after"].astype("Int64")
    merged["rank_change"] = merged["rank_before"] - merged["rank_after"]
    merged["average_change"] = merged["average_score_after"] - merged["average_score_before"]
    merged["average_change_significant"] = _disjoint(
        merged["score_lower_before"],
        merged["score_upper_before"],
        merged["score_lower_after"],
        merged["score_upper_after"],
    )
    merged["rank_change_significant"] = _disjoint(
        merged["rank_lower_before"],
        merged["rank_upper_before"],
        merged["rank_lower_after"],
        merged["rank_upper_after"],
    )
    changed = (merged["status"] == "both") & (merged["segment_change"].fillna(0) != 0)
    override_only = merged["unadjusted_segment_before"] == merged["unadjusted_segment_after"]
    reason = pd.Series("", index=merged.index, dtype="str")
    reason[changed & override_only] = OVERRIDE
    reason[changed & ~override_only & merged["average_change_significant"]] = SIGNIFICANT
    reason[changed & ~override_only & ~merged["average_change_significant"]] = NOT_SIGNIFICANT
    merged["segment_change_reason"] = reason
    columns = [
        "quarter_before",
        "quarter_after",
        *KEY,
        "trust_name",
        "status",
        "segment_before",
        "segment_after",
        "segment_change",
        "segment_change_reason",
        "final_segment_before",
        "final_segment_after",
        "rank_before",
        "rank_after",
        "rank_change",
        "rank_lower_before",
        "rank_upper_before",
        "rank_lower_after",
        "rank_upper_after",
        "rank_change_significant",
        "average_score_before",
        "average_score_after",
        "average_change",
        "score_lower_before",
        "score_upper_before",
        "score_lower_after",
        "score_upper_after",
        "average_change_significant",
    ]
    out = merged[columns].copy()
    for column in ("final_segment_before", "final_segment_after"):
        out[column] = out[column].astype("Int64")
    for column in [
        c for c in columns if c.startswith("rank_") and c.endswith(("_before", "_after"))
    ]:
        out[column] = out[column].astype("Int64")
    order = out["rank_after"].fillna(out["rank_before"])
    out = out.assign(_order=order).sort_values(["peer_group", "_order", "trust_code"])
    return out.drop(columns="_order").reset_index(drop=True)


def movement_summary(moves: pd.DataFrame) -> dict[str, int]:
    """Counts people ask for first: segment changes by reason, significant score/rank moves."""
    both = moves[moves["status"] == "both"]
    reasons = both["segment_change_reason"]
    return {
        "trusts_compared": len(both),
        "segment_changed": int((reasons != "").sum()),
        "segment_changed_financial_override": int((reasons == OVERRIDE).sum()),
        "segment_changed_significant_score_change": int((reasons == SIGNIFICANT).sum()),
        "segment_changed_not_significant": int((reasons == NOT_SIGNIFICANT).sum()),
        "significant_score_change_without_segment_change": int(
            (both["average_change_significant"] & (reasons == "")).sum()
        ),
        "significant_rank_change": int(both["rank_change_significant"].sum()),
        "new_trusts": int((moves["status"] == "new").sum()),
        "trusts_left": int((moves["status"] == "left").sum()),
    }


def notable(moves: pd.DataFrame) -> pd.DataFrame:
    """The rows ``league movement`` shows by default: every segment change, every significant
    rank or average move (also within a segment) and every trust new or gone."""
    return moves[
        (moves["segment_change_reason"] != "")
        | moves["average_change_significant"]
        | moves["rank_change_significant"]
        | (moves["status"] != "both")
    ]
