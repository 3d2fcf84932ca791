"""Why each trust moved between two quarters, on small constructed snapshots: its own average,
the cut-points, the financial override, the Recovery Support Programme or its peer group's
membership, with the move's significance, in the sentences the report and the CSV show.

The RCU case of issue 14: segment 3 -> 4 with its average unchanged at 2.64, because the
cut-point between segments 3 and 4 fell below it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.outputs.movement import (
    AVERAGE,
    CUT_POINTS,
    NOT_SIGNIFICANT,
    OTHERS,
    OVERRIDE,
    OVERRIDE_STATUS,
    PEER_GROUP,
    RSP_STATUS,
    SIGNIFICANT,
    movement,
    movement_summary,
    short_why,
)
from league_pipeline.outputs.movement import _ranges as ranges_in_words
from league_pipeline.outputs.results import QuarterResults
from league_pipeline.snapshots.common import SnapshotInfo

Q1, Q2 = "2025/26 Q1", "2025/26 Q2"
CUTS_Q1 = {"q25": 2.0, "q50": 2.3, "q75": 2.66}
CUTS_Q2 = {"q25": 2.0, "q50": 2.3, "q75": 2.62}  # the 3|4 cut-point falls below 2.64


def _row(code, average, unadjusted, rank, *, spread=0.2, deficit=False, rsp=False, ranks=None):
    adjusted = max(unadjusted, 3) if deficit else unadjusted
    lower, upper = ranks or (max(rank - 2, 1), rank + 2)
    return {
        "quarter": "",
        "peer_group": "acute",
        "trust_code": code,
        "trust_name": f"Trust {code}",
        "region": "London",
        "trust_subtype": "Teaching",
        "average_score": average,
        "score_lower": average - spread,
        "score_upper": average + spread,
        "n_items": 20,
        "unadjusted_segment": unadjusted,
        "deficit_flag": deficit,
        "adjusted_segment": adjusted,
        "in_rsp": rsp,
        "final_segment": 5 if rsp else adjusted,
        "rank": rank,
        "rank_lower": lower,
        "rank_upper": upper,
    }


def _quarter(label: str, rows: list[dict], cuts: dict[str, float]) -> QuarterResults:
    table = pd.DataFrame(rows).assign(quarter=label)
    info = SnapshotInfo(
        quarter=label,
        version=1,
        snapshot_id=f"{parse_quarter(label).slug}/v1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        run_id=None,
        tables={},
        lineage={},
    )
    tables = {"league_table": table, "segment_cut_points": pd.DataFrame([{**cuts}])}
    return QuarterResults(quarter=parse_quarter(label), info=info, tables=tables)


@pytest.fixture(scope="module")
def moves() -> pd.DataFrame:
    before = _quarter(
        Q1,
        [
            _row("RCU", 2.64, 3, 3),  # the cut-points move past it
            _row("BIG", 1.50, 1, 1, spread=0.1, ranks=(1, 1)),  # worsens clear of its range
            _row("SML", 2.28, 2, 2, spread=0.3),  # crosses a cut-point by chance
            _row("OVR", 1.80, 1, 4, deficit=True),  # comes out of deficit
            _row("RSP", 2.10, 2, 5),  # enters the Recovery Support Programme
            _row("STY", 2.90, 4, 6),  # nothing changes but its rank (others moved)
            _row("OLD", 2.95, 4, 7),  # leaves
        ],
        CUTS_Q1,
    )
    after = _quarter(
        Q2,
        [
            _row("OVR", 1.80, 1, 1),
            _row("SML", 2.32, 3, 2, spread=0.3),
            _row("RSP", 2.10, 2, 3, rsp=True),
            _row("RCU", 2.64, 4, 4),
            _row("BIG", 2.80, 4, 5, spread=0.1, ranks=(5, 6)),
            _row("STY", 2.90, 4, 6, ranks=(5, 6)),
            _row("NEW", 1.20, 1, 7),
        ],
        CUTS_Q2,
    )
    return movement(after, before).set_index("trust_code")


def test_the_cut_points_moving_is_the_reason_and_the_move_is_not_significant(moves):
    rcu = moves.loc["RCU"]
    assert (rcu["segment_before"], rcu["segment_after"]) == (3, 4)
    assert (rcu["rank_before"], rcu["rank_after"]) == (3, 4)
    assert rcu["average_change"] == 0
    assert rcu["causes"].split(";") == [CUT_POINTS, PEER_GROUP]
    assert not rcu["segment_change_significant"] and not rcu["average_change_significant"]
    assert rcu["segment_change_reason"] == NOT_SIGNIFICANT  # NHS England's classification
    assert rcu["why"] == (
        "It moved from segment 3 to segment 4. Its own average score was unchanged at 2.64, "
        "but the cut-points moved: the cut-point between segments 3 and 4 went from 2.66 to "
        "2.62 (the cut-points are the quartiles of all trusts' averages, so they move when "
        "other trusts' scores change). Its score change is not significant: its likely average "
        "ranges (2.44 to 2.84, then 2.44 to 2.84) overlap, so its underlying performance may "
        "not have changed. Its rank went from 3 to 4 (1 place down; not significant: its likely "
        "rank ranges (1 to 5, then 2 to 6) overlap). Its peer group changed: 1 trust joined and "
        "1 trust left."
    )


def test_the_cli_says_the_causes_in_a_few_words(moves):
    """`league movement`'s why column: the causes, not NHS England's "not significant"."""
    row = moves.reset_index().set_index("trust_code", drop=False)
    assert short_why(row.loc["RCU"].to_dict()) == "cut-points moved, peer group changed"
    assert (
        short_why(row.loc["BIG"].to_dict()) == "its own average, peer group changed (significant)"
    )
    assert short_why(row.loc["SML"].to_dict()) == "its own average"
    assert short_why(row.loc["OVR"].to_dict()) == "financial override, peer group changed"
    assert short_why(row.loc["NEW"].to_dict()) == "new"


def test_its_own_average_significant_and_not(moves):
    big = moves.loc["BIG"]
    assert big["causes"].split(";") == [AVERAGE, PEER_GROUP]
    assert big["segment_change_reason"] == SIGNIFICANT
    assert big["segment_change_significant"] and big["rank_change_significant"]
    assert big["why"].startswith(
        "It moved from segment 1 to segment 4. Its own average score worsened from 1.50 to "
        "2.80 (1 is best, 4 is worst), crossing the cut-points between segments 1 and 2 (2.00 "
        "in 2025/26 Q1) and between segments 2 and 3 (2.30 in 2025/26 Q1) and between segments "
        "3 and 4 (2.66 in 2025/26 Q1). Its score change is significant: its likely average "
        "ranges (1.40 to 1.60, then 2.70 to 2.90) do not overlap."
    )
    assert (
        "(4 places down; significant: its likely rank ranges (1 to 1, then 5 to 6) do not "
        in (big["why"])
    )
    small = moves.loc["SML"]
    assert small["causes"].split(";") == [AVERAGE]  # rank unchanged: no peer group cause
    assert small["segment_change_reason"] == NOT_SIGNIFICANT
    assert not small["segment_change_significant"]
    assert "Its own average score worsened from 2.28 to 2.32" in small["why"]
    assert "Its score change is not significant" in small["why"]
    assert small["why"].endswith("Its rank is unchanged at 2.")


def test_override_rsp_others_and_membership(moves):
    ovr = moves.loc["OVR"]
    assert (ovr["segment_before"], ovr["segment_after"]) == (3, 1)
    assert ovr["segment_change_reason"] == OVERRIDE
    assert ovr["causes"].split(";") == [OVERRIDE_STATUS, PEER_GROUP]
    assert not ovr["segment_change_significant"]
    assert ovr["why"].startswith(
        "It moved from segment 3 to segment 1. The financial override no longer applies (it "
        "is no longer in deficit or receiving deficit support); last quarter it held the trust "
        "at segment 3."
    )
    assert "significant" not in ovr["why"].split("Its rank")[0]  # no score change to judge
    rsp = moves.loc["RSP"]
    assert rsp["causes"].split(";") == [RSP_STATUS, PEER_GROUP]
    assert rsp["segment_change_reason"] == ""  # its segment (before RSP) did not change
    assert "It entered the Recovery Support Programme, so its final segment is 5." in rsp["why"]
    sty = moves.loc["STY"]
    assert sty["causes"] == ""  # its rank did not move
    assert sty["why"] == "It stayed in segment 4. Its rank is unchanged at 6."
    assert moves.loc["NEW", "status"] == "new" and moves.loc["NEW", "causes"] == ""
    assert moves.loc["NEW", "why"] == (
        "New in 2025/26 Q2: it was not in 2025/26 Q1's league table."
    )
    assert moves.loc["OLD", "why"] == ("Not in 2025/26 Q2's league table (it was in 2025/26 Q1's).")
    summary = movement_summary(moves.reset_index())
    assert summary["segment_changed"] == 4
    assert summary["segment_changed_cut_points_moved"] == 1
    assert summary["segment_changed_financial_override"] == 1


def test_a_rank_moved_by_other_trusts_alone():
    rows = [_row("AAA", 2.10, 2, 1), _row("BBB", 2.20, 2, 2)]
    before = _quarter(Q1, rows, CUTS_Q1)
    after = _quarter(Q2, [_row("AAA", 2.10, 2, 2), _row("BBB", 2.05, 2, 1)], CUTS_Q1)
    moves = movement(after, before).set_index("trust_code")
    assert moves.at["AAA", "causes"] == OTHERS
    assert moves.at["AAA", "why"] == (
        "It stayed in segment 2. Its rank went from 1 to 2 (1 place down; not significant: "
        "its likely rank ranges (1 to 3, then 1 to 4) overlap). Its segment and rounded average "
        "did not change: other trusts in its peer group moved."
    )
    assert moves.at["BBB", "causes"] == AVERAGE  # its own average moved it within its segment
    assert moves.at["BBB", "why"].startswith(
        "It stayed in segment 2. Its own average score improved from 2.20 to 2.05 (1 is best, "
        "4 is worst). Its rank went from 2 to 1 (1 place up; "
    )


def test_a_held_trust_moved_by_the_cut_points_is_not_credited_to_its_own_average():
    """In deficit both quarters (held at segment 3), its unadjusted segment goes 1 -> 2 only
    because the 1|2 cut-point fell below its average; its rank moves too. The cause is the
    cut-points, not its own average (which, on last quarter's cut-points, stays in 1)."""
    before = _quarter(
        Q1,
        [_row("HLD", 1.97, 1, 5, deficit=True), _row("OTH", 2.40, 3, 6)],
        CUTS_Q1,
    )
    after = _quarter(
        Q2,
        [_row("OTH", 2.40, 3, 5), _row("HLD", 1.98, 2, 6, deficit=True)],
        {**CUTS_Q2, "q25": 1.95},
    )
    moves = movement(after, before).set_index("trust_code")
    held = moves.loc["HLD"]
    assert (held["segment_before"], held["segment_after"]) == (3, 3)
    assert held["causes"] == CUT_POINTS
    assert held["why"].startswith(
        "It stayed in segment 3. Before the financial override, it moved from segment 1 to "
        "segment 2. Its own average score changed only from 1.97 to 1.98, not enough to change "
        "its segment on its own, but the cut-points moved:"
    )
    assert short_why(moves.reset_index().set_index("trust_code", drop=False).loc["HLD"]) == (
        "cut-points moved"
    )
    summary = movement_summary(moves.reset_index())
    assert summary["segment_changed"] == 0 and summary["segment_changed_cut_points_moved"] == 0
    assert moves.loc["OTH", "average_change"] == 0
    assert moves.loc["HLD", "average_change"] == 0.01  # rounded to 12 places: no binary noise


def test_ranges_that_do_not_overlap_never_print_as_touching():
    assert ranges_in_words(2.10, 2.351, 2.354, 2.60, ".2f") == (
        "2.1000 to 2.3510, then 2.3540 to 2.6000"
    )
    assert ranges_in_words(2.10, 2.30, 2.40, 2.60, ".2f") == "2.10 to 2.30, then 2.40 to 2.60"
    assert ranges_in_words(2.10, 2.40, 2.30, 2.60, ".2f") == "2.10 to 2.40, then 2.30 to 2.60"
