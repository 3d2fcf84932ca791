"""Fidelity: the pipeline's numbers against NHS England's official NOF 2025/26 trust-data files.

Oracle: ../shared/data/real (acute Q1, mental health & community Q1-Q2). Every comparison
asserts that the set of mismatches is EXACTLY the documented set below, each with its reason,
so a regression fails and so does an improvement (update the list when a gap closes). Match
rates per layer are printed in the terminal summary.

Why gaps exist (data, not rules): the shared folder has no ambulance trust file and no acute Q2
file. Metrics whose ranking pool includes those trusts cannot be reproduced from the files here,
and neither can the quartile cut-points (pooled over all trust types). The "hybrid" end-to-end
run takes NHS England's published scores for exactly those pools and computes everything else.
"""

from __future__ import annotations

import pandas as pd
import pytest

from league_pipeline import fidelity, readers
from league_pipeline.scoring import official
from league_pipeline.scoring.engine import run_scoring

Q1, Q2 = "2025/26 Q1", "2025/26 Q2"

# (quarter, score_id) whose ranking pool needs trusts absent from ../shared/data/real
POOL_DATA_GAPS: dict[tuple[str, str], str] = {
    (
        Q1,
        "OF1082",
    ): "sickness absence is ranked over all 205 trusts; the 10 ambulance trusts are absent",
    (Q1, "OF1086"): "relative cost is ranked over MH/community + ambulance; ambulance is absent",
    (Q1, "OF1028"): "conveyance is ranked over ambulance trusts + R1F; only R1F is present",
    **{
        (Q2, sid): "pooled with acute trusts, and there is no acute Q2 file in ../shared"
        for sid in ("OF1005", "OF1016", "OF1041", "OF1057", "OF1063")
    },
    (Q2, "OF1082"): "pooled over all trust types; acute Q2 and ambulance files are absent",
    (Q2, "OF1086"): "pooled with ambulance trusts, which are absent",
}
# Published values are rounded to 2 dp; trusts of DIFFERENT peer groups that look tied cannot be
# ordered (within one peer group the published Rank restores NHS England's order).
ROUNDED_CROSS_TYPE_TIES = {
    (Q1, "RH5", "OF1005"),  # 0.01 (acute) tied with RRE (MH) after rounding
    (Q1, "RRE", "OF1005"),
    (Q1, "RTF", "OF1005"),  # 0.46, tied with an MH trust after rounding
}
# Domain scores / averages that differ from the published value by 0.01 after 2 dp rounding.
# Unexplained rounding detail (RD1 access: items give 3.1457, published 3.14) or inherited from
# a cross-type tie / a published 2 dp score used for a gap pool.
DOMAIN_RESIDUE = {
    (Q1, "RD1", "OF4000"),  # rounding detail not reproduced (3.1457 vs 3.14)
    (Q1, "RRE", "OF4000"),  # inherits the OF1005 cross-type tie
    (Q1, "RY5", "OF4000"),  # rounding detail not reproduced
    (Q2, "RJ8", "OF4005"),  # averages a published 2 dp gap-pool score (OF1057/OF1063)
    (Q2, "RWX", "OF4005"),  # same
    (Q2, "RXA", "OF4005"),  # same
}
AVERAGE_RESIDUE = {
    (Q1, "RTE"),  # 2.0853 -> 2.09, published 2.08: rounding detail not reproduced
    (Q1, "RJ7"),  # 1.9947 -> 1.99, published 2.00: rounding detail not reproduced
    (Q1, "RVV"),  # 2.5947 -> 2.59, published 2.60
    (Q1, "RCX"),  # 3.3447 -> 3.34, published 3.35
    (Q1, "TAH"),  # 2.7056 -> 2.71, published 2.70
    (Q2, "RYV"),  # uses published 2 dp gap-pool scores
    (Q2, "RV3"),
    (Q2, "RY8"),
}
# Unadjusted segments from the PUBLISHED averages: the cut-points are quartiles over all trusts of
# all types; without the ambulance trusts (and, in Q2, the acute trusts) trusts at a boundary move.
SEGMENT_CUTPOINT_GAPS = {
    (Q1, "RW1"),  # 2.33: the median of the 195 acute + MH trusts; ambulance trusts move it
    (Q2, "RDR"),
    (Q2, "RNU"),
    (Q2, "RX4"),
    (Q2, "RY5"),
}


@pytest.fixture(scope="module")
def nof(real_data) -> pd.DataFrame:
    acute = readers.read_nof_trust_data(
        (real_data / "nof2526_q1_acute_trust_data.csv").read_bytes(), "Q1 2025/26"
    )
    mhc = readers.read_nof_trust_data(
        (real_data / "nof2526_q1q2_mh_community_trust_data.csv").read_bytes()
    )
    return pd.concat([acute, mhc], ignore_index=True)


@pytest.fixture(scope="module")
def scoring_inputs(nof):
    return official.inputs_from_nof(nof)


@pytest.fixture(scope="module")
def from_values(scoring_inputs):
    return run_scoring(scoring_inputs)


@pytest.fixture(scope="module")
def hybrid(from_values, nof, scoring_inputs):
    scores = fidelity.hybrid_metric_scores(from_values, nof, set(POOL_DATA_GAPS))
    return run_scoring(scoring_inputs, provided={"metric_scores": scores})


REPORT: list[str] = []


@pytest.fixture(autouse=True)
def _collect(fidelity_report):
    yield
    fidelity_report.extend(line for line in REPORT if line not in fidelity_report)


def _report(comparison: fidelity.LayerComparison, how: str) -> None:
    REPORT.append(f"[{how}] {comparison.rate_line()}")


def test_metric_scores_from_values(from_values, nof):
    comparison = fidelity.compare_metric_scores(from_values, nof)
    _report(comparison, "from values")
    rows = comparison.rows
    bad = rows[~rows["match"]]
    in_gap_pool = fidelity.in_pairs(bad, ("quarter", "score_id"), set(POOL_DATA_GAPS))
    unexplained = set(
        bad[~in_gap_pool][["quarter", "trust_code", "score_id"]].itertuples(index=False, name=None)
    )
    assert unexplained == ROUNDED_CROSS_TYPE_TIES
    # every documented gap pool really is a gap (else remove it from the list)
    assert set(POOL_DATA_GAPS) <= set(zip(bad["quarter"], bad["score_id"], strict=True))
    outside = rows[~fidelity.in_pairs(rows, ("quarter", "score_id"), set(POOL_DATA_GAPS))]
    REPORT.append(
        f"[from values] metric scores outside pools with absent trusts: "
        f"{int(outside['match'].sum())}/{len(outside)}"
    )


def test_domain_scores_and_average_hybrid(hybrid, nof):
    domains = fidelity.compare_domain_scores(hybrid, nof)
    _report(domains, "hybrid")
    assert domains.mismatches("domain_id") == DOMAIN_RESIDUE
    assert (domains.rows["ours"] - domains.rows["published"]).abs().max() <= 0.0201
    summary = fidelity.compare_summary(hybrid, nof)
    average = summary["average_score"]
    _report(average, "hybrid")
    assert average.mismatches() == AVERAGE_RESIDUE
    assert (average.rows["ours"] - average.rows["published"]).abs().max() <= 0.0101


def test_segments_from_published_averages(scoring_inputs, nof):
    result = run_scoring(
        scoring_inputs, provided={"trust_averages": fidelity.published_trust_averages(nof)}
    )
    unadjusted = fidelity.compare_summary(result, nof)["unadjusted_segment"]
    _report(unadjusted, "from published OF5002")
    assert unadjusted.mismatches() == SEGMENT_CUTPOINT_GAPS


def test_override_segment5_and_rank_from_published_segments(scoring_inputs, nof):
    """Financial override, RSP segment 5 and the league rank: exact for every trust."""
    result = run_scoring(
        scoring_inputs,
        provided={"unadjusted_segments": fidelity.published_unadjusted_segments(nof)},
    )
    summary = fidelity.compare_summary(result, nof)
    for layer in ("deficit_flag", "adjusted_segment", "in_rsp", "final_segment", "rank"):
        _report(summary[layer], "from published OF5003")
        assert summary[layer].mismatches() == set(), layer
        assert summary[layer].total >= 195 + 61


def test_acute_q1_league_matches_reconstructed_table(scoring_inputs, nof, real_data):
    derived = pd.read_csv(
        real_data / "DERIVED_nof2526_q1_acute_league_table_reconstructed.csv", encoding="utf-8-sig"
    )
    result = run_scoring(
        scoring_inputs,
        provided={"unadjusted_segments": fidelity.published_unadjusted_segments(nof)},
    )
    ours = result.league_table[result.league_table["quarter"] == Q1]
    merged = derived.merge(ours, left_on="Trust_code", right_on="trust_code")
    assert len(merged) == 134
    assert (merged["Rank"] == merged["rank"]).all()
    top = ours[ours["peer_group"] == "acute"].sort_values("rank").head(3)["trust_code"].tolist()
    assert top == ["RP6", "RAN", "RBV"]  # Moorfields, RNOH, The Christie


def test_end_to_end_rates_are_reported(from_values, hybrid, nof):
    """Pure end to end (no published layer used): printed; the gaps above explain the misses."""
    for result, how in ((from_values, "from values"), (hybrid, "hybrid")):
        for key, comparison in fidelity.compare_summary(result, nof).items():
            if key in ("deficit_flag", "in_rsp"):
                continue
            _report(comparison, how)
    hybrid_q1 = fidelity.compare_summary(hybrid, nof)["final_segment"].rows
    assert hybrid_q1["match"].mean() > 0.97
