"""Quarter-on-quarter movement: each trust's change in segment, rank and average score.

Belongs here: comparing two quarters' snapshots trust by trust, and deciding which changes are
*significant*: only when the two quarters' likely ranges do not overlap (of the average score
for the average and a segment change it caused, of the rank for the rank). Segment changes are
classified as NHS England's Q2 2025/26 changes page does (``financial override``,
``significant score change``, ``not significant``). ``rank_change`` is ``before - after``
(positive = climbed); ``average_change`` and ``segment_change`` are ``after - before``
(negative = better). ``causes`` and ``why`` say, in codes and in plain English, what moved
each trust: its own average, the cut-points, the financial override or RSP status, or its
peer group's membership. See docs/outputs.md ("Movement").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
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
    "in_rsp",
    "rank",
    "rank_lower",
    "rank_upper",
]
OVERRIDE = "financial override"
SIGNIFICANT = "significant score change"
NOT_SIGNIFICANT = "not significant"
# what moved a trust (the ``causes`` column, joined by ";"), in the order ``why`` tells them
AVERAGE = "average"  # its own average score crossed a cut-point
CUT_POINTS = "cut_points"  # the cut-points moved past its average
OVERRIDE_STATUS = "override"  # the financial override started or stopped applying
RSP_STATUS = "rsp"  # it entered or left the Recovery Support Programme (final segment 5)
PEER_GROUP = "peer_group"  # trusts joined or left its peer group (its rank moved)
OTHERS = "others"  # its rank moved with the same segment and rounded average: others moved
CUTS = ("q25", "q50", "q75")


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
    # to the snapshot's DECIMAL scale (12 places): no binary noise such as 0.00499999999999989
    merged["average_change"] = (
        merged["average_score_after"] - merged["average_score_before"]
    ).round(12)
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
    _explain(merged, previous, current)
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
        "segment_change_significant",
        "causes",
        "why",
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


def _segment_of(average: pd.Series, cuts: dict[str, float]) -> pd.Series:
    """The unadjusted segment an average gets with the given cut-points (1 if <= Q25, 2 if
    <= Q50, 3 if <= Q75, else 4), compared at the precision the scoring SQL stores them (12 dp
    averages, 14 dp cut-points: 06_unadjusted_segments.sql)."""
    values = average.astype("float64").round(12)
    segment = 1 + sum((values > round(cuts[name], 14)).astype("int64") for name in CUTS)
    return segment.where(average.notna())


def _two(a: float, b: float) -> tuple[str, str]:
    """Two numbers to 2 decimals, or to 4 where 2 would show them equal."""
    digits = 2 if f"{a:.2f}" != f"{b:.2f}" else 4
    return f"{a:.{digits}f}", f"{b:.{digits}f}"


def _cut_text(low: int, high: int, before: dict[str, float], after: dict[str, float]) -> str:
    """``the cut-point between segments 3 and 4 went from 2.66 to 2.62`` for each cut-point
    between segments ``low`` and ``high``."""
    parts = []
    for k in range(low, high):
        name = CUTS[k - 1]
        old, new = _two(before[name], after[name])
        parts.append(f"the cut-point between segments {k} and {k + 1} went from {old} to {new}")
    return " and ".join(parts)


def _ranges(lo_b: float, hi_b: float, lo_a: float, hi_a: float, fmt: str) -> str:
    """Two likely ranges in words. Ranges that do not overlap but would print as touching
    (2.35 to 2.35) are printed to 4 decimals, so the words never contradict the verdict."""
    if fmt == ".2f" and (lo_a > hi_b or hi_a < lo_b):
        near = f"{hi_b:.2f}" == f"{lo_a:.2f}" or f"{hi_a:.2f}" == f"{lo_b:.2f}"
        fmt = ".4f" if near else fmt
    return f"{lo_b:{fmt}} to {hi_b:{fmt}}, then {lo_a:{fmt}} to {hi_a:{fmt}}"


def _why(r: dict, before: dict[str, float], after: dict[str, float], group: dict) -> str:
    """One trust's move in sentences a trust board member can follow."""
    if r["status"] == "new":
        return f"New in {r['quarter_after']}: it was not in {r['quarter_before']}'s league table."
    if r["status"] == "left":
        return f"Not in {r['quarter_after']}'s league table (it was in {r['quarter_before']}'s)."
    causes = r["causes"].split(";") if r["causes"] else []
    sb, sa = int(r["segment_before"]), int(r["segment_after"])
    ub, ua = int(r["unadjusted_segment_before"]), int(r["unadjusted_segment_after"])
    cf = int(r["_counterfactual"])
    avg_b, avg_a = _two(r["average_score_before"], r["average_score_after"])
    worse = r["average_score_after"] > r["average_score_before"]
    out = []
    if sb != sa:
        out.append(f"It moved from segment {sb} to segment {sa}.")
    else:
        out.append(f"It stayed in segment {sa}.")
    if ub != ua and (ub, ua) != (sb, sa):
        out.append(f"Before the financial override, it moved from segment {ub} to segment {ua}.")
    if AVERAGE in causes and ub == ua:  # it moved its rank, not its segment
        way = "worsened" if worse else "improved"
        out.append(f"Its own average score {way} from {avg_b} to {avg_a} (1 is best, 4 is worst).")
    elif AVERAGE in causes:
        way = "worsened" if worse else "improved"
        low, high = sorted((ub, cf))
        cut = " and ".join(
            f"between segments {k} and {k + 1} ({before[CUTS[k - 1]]:.2f} in {r['quarter_before']})"
            for k in range(low, high)
        )
        text = (
            f"Its own average score {way} from {avg_b} to {avg_a} (1 is best, 4 is worst), "
            f"crossing the cut-point{'s' if high - low > 1 else ''} {cut}."
        )
        if CUT_POINTS in causes:
            low, high = sorted((cf, ua))
            text += f" The cut-points moved too: {_cut_text(low, high, before, after)}."
        out.append(text)
    elif CUT_POINTS in causes:
        low, high = sorted((cf, ua))
        own = (
            f"Its own average score was unchanged at {r['average_score_after']:.2f}"
            if avg_b == avg_a
            else f"Its own average score changed only from {avg_b} to {avg_a}, not enough to "
            "change its segment on its own"
        )
        out.append(
            f"{own}, but the cut-points moved: {_cut_text(low, high, before, after)} "
            "(the cut-points are the quartiles of all trusts' averages, so they move when "
            "other trusts' scores change)."
        )
    if ub != ua:
        ranges = _ranges(
            r["score_lower_before"],
            r["score_upper_before"],
            r["score_lower_after"],
            r["score_upper_after"],
            ".2f",
        )
        if r["average_change_significant"]:
            out.append(
                f"Its score change is significant: its likely average ranges ({ranges}) do not "
                "overlap."
            )
        else:
            out.append(
                "Its score change is not significant: its likely average ranges "
                f"({ranges}) overlap, so its underlying performance may not have changed."
            )
    if OVERRIDE_STATUS in causes:
        if r["deficit_flag_after"]:
            out.append(
                "The financial override now applies (it is in deficit or receiving deficit "
                "support), which places it no higher than segment 3."
            )
        else:
            out.append(
                "The financial override no longer applies (it is no longer in deficit or "
                f"receiving deficit support); last quarter it held the trust at segment {sb}."
            )
    if RSP_STATUS in causes:
        if r["in_rsp_after"]:
            out.append("It entered the Recovery Support Programme, so its final segment is 5.")
        else:
            out.append(
                "It left the Recovery Support Programme, so its final segment is no longer 5."
            )
    rb, ra = int(r["rank_before"]), int(r["rank_after"])
    if rb == ra:
        out.append(f"Its rank is unchanged at {ra}.")
    else:
        places = abs(rb - ra)
        way = "up" if ra < rb else "down"
        ranges = _ranges(
            r["rank_lower_before"],
            r["rank_upper_before"],
            r["rank_lower_after"],
            r["rank_upper_after"],
            ".0f",
        )
        sig = (
            f"significant: its likely rank ranges ({ranges}) do not overlap"
            if r["rank_change_significant"]
            else f"not significant: its likely rank ranges ({ranges}) overlap"
        )
        out.append(
            f"Its rank went from {rb} to {ra} ({places} place{'s' if places > 1 else ''} "
            f"{way}; {sig})."
        )
        if PEER_GROUP in causes:
            joined, left = group.get(r["peer_group"], (0, 0))
            parts = [
                f"{n} {'trust' if n == 1 else 'trusts'} {verb}"
                for n, verb in ((joined, "joined"), (left, "left"))
                if n
            ]
            out.append(f"Its peer group changed: {' and '.join(parts)}.")
        if OTHERS in causes:
            out.append(
                "Its segment and rounded average did not change: other trusts in its peer "
                "group moved."
            )
    return " ".join(out)


def _explain(merged: pd.DataFrame, previous: QuarterResults, current: QuarterResults) -> None:
    """Add ``segment_change_significant``, ``causes`` and ``why`` to ``merged`` (in place)."""
    before, after = previous.cut_points, current.cut_points
    both = merged["status"] == "both"
    ub = merged["unadjusted_segment_before"]
    ua = merged["unadjusted_segment_after"]
    # its segment with this quarter's average on last quarter's cut-points: the part of the
    # move its own average made; the rest the cut-points made
    merged["_counterfactual"] = _segment_of(merged["average_score_after"], before)
    cf = merged["_counterfactual"]
    moved = both & (ub != ua)
    changed = both & (merged["segment_change"].fillna(0) != 0)
    held_b = merged["adjusted_segment_before"] != ub
    held_a = merged["adjusted_segment_after"] != ua
    deficit_b = merged["deficit_flag_before"].fillna(False).astype(bool)
    deficit_a = merged["deficit_flag_after"].fillna(False).astype(bool)
    rsp_b = merged["in_rsp_before"].fillna(False).astype(bool)
    rsp_a = merged["in_rsp_after"].fillna(False).astype(bool)
    rank_moved = both & (merged["rank_before"] != merged["rank_after"]).fillna(False)
    rounded_same = merged["average_score_before"].round(2) == merged["average_score_after"].round(2)
    members = {
        group: (
            set(
                current.league_table.loc[current.league_table["peer_group"] == group, "trust_code"]
            ),
            set(
                previous.league_table.loc[
                    previous.league_table["peer_group"] == group, "trust_code"
                ]
            ),
        )
        for group in set(merged["peer_group"])
    }
    group = {g: (len(now - then), len(then - now)) for g, (now, then) in members.items()}
    membership = merged["peer_group"].map(lambda g: group[g] != (0, 0)).astype(bool)
    flags = {
        # its own average: it crossed a cut-point (on last quarter's cut-points), or, with the
        # same unadjusted segment, its rank moved with its rounded average
        AVERAGE: (moved & (cf != ub).fillna(False)) | (rank_moved & ~moved & ~rounded_same),
        CUT_POINTS: moved & (cf != ua).fillna(False),
        OVERRIDE_STATUS: changed & (deficit_b != deficit_a) & (held_b | held_a).fillna(False),
        RSP_STATUS: both & (rsp_b != rsp_a),
        PEER_GROUP: rank_moved & membership,
        OTHERS: rank_moved & ~changed & rounded_same & ~membership,
    }
    causes = pd.Series("", index=merged.index, dtype="object")
    for code, hit in flags.items():
        hit = hit.fillna(False).astype(bool)
        causes[hit] = np.where(causes[hit] == "", code, causes[hit] + ";" + code)
    merged["causes"] = causes.astype("str")
    merged["segment_change_significant"] = (
        changed & moved & merged["average_change_significant"]
    ).astype(bool)
    records = merged.to_dict(orient="records")
    merged["why"] = pd.Series(
        [_why(r, before, after, group) for r in records], index=merged.index, dtype="str"
    )
    del merged["_counterfactual"]


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
        # segment changes (as counted above) in which the cut-points moved past the average
        "segment_changed_cut_points_moved": int(
            (both["causes"].str.split(";").map(lambda c: CUT_POINTS in c) & (reasons != "")).sum()
        ),
        "significant_score_change_without_segment_change": int(
            (both["average_change_significant"] & (reasons == "")).sum()
        ),
        "significant_rank_change": int(both["rank_change_significant"].sum()),
        "new_trusts": int((moves["status"] == "new").sum()),
        "trusts_left": int((moves["status"] == "left").sum()),
    }


# the causes in a few words, for a table cell (``why`` tells them in sentences)
CAUSE_WORDS = {
    AVERAGE: "its own average",
    CUT_POINTS: "cut-points moved",
    OVERRIDE_STATUS: "financial override",
    RSP_STATUS: "RSP status",
    PEER_GROUP: "peer group changed",
    OTHERS: "other trusts moved",
}


def short_why(row: Mapping[str, Any]) -> str:
    """What moved a trust in a few words (``league movement``'s table): its causes, and
    "significant" when the segment change is (the likely average ranges do not overlap)."""
    if row["status"] != "both":
        return str(row["status"])
    causes = [c for c in str(row["causes"] or "").split(";") if c]
    words = ", ".join(CAUSE_WORDS.get(c, c) for c in causes)
    if bool(row.get("segment_change_significant")):
        words = f"{words} (significant)" if words else "significant"
    return words


def notable(moves: pd.DataFrame) -> pd.DataFrame:
    """The rows ``league movement`` shows by default: every segment change, every significant
    rank or average move (also within a segment) and every trust new or gone."""
    return moves[
        (moves["segment_change_reason"] != "")
        | moves["average_change_significant"]
        | moves["rank_change_significant"]
        | (moves["status"] != "both")
    ]
