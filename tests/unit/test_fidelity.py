"""Fidelity: the pipeline's numbers against NHS England's official NOF 2025/26 trust-data files,
compared by the product's own audit (:mod:`league_pipeline.audit.compare`, as ``league audit``
shows it).

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

from league_pipeline.audit import compare as audit
from league_pipeline.formats.nof import read_nof_trust_data
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
# a cross-type tie / a published 2 dp score used for a gap pool. (RY5 Q1 access closed with exact
# arithmetic: its OF1005 score is exactly 2.175, which the floating-point quotient 2.17499... had
# rounded to 2.17; exact half-up rounding gives the published 2.18.)
DOMAIN_RESIDUE = {
    (Q1, "RD1", "OF4000"),  # rounding detail not reproduced (3.1457 vs 3.14)
    (Q1, "RRE", "OF4000"),  # inherits the OF1005 cross-type tie
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
    acute = read_nof_trust_data(
        (real_data / "nof2526_q1_acute_trust_data.csv").read_bytes(), "Q1 2025/26"
    )
    mhc = read_nof_trust_data((real_data / "nof2526_q1q2_mh_community_trust_data.csv").read_bytes())
    return pd.concat([acute, mhc], ignore_index=True)


@pytest.fixture(scope="module")
def scoring_inputs(nof):
    return official.inputs_from_nof(nof)


@pytest.fixture(scope="module")
def from_values(scoring_inputs):
    return run_scoring(scoring_inputs)


def hybrid_metric_scores(result, nof: pd.DataFrame, from_published: set[tuple[str, str]]):
    """Our metric scores, except (quarter, score_id) pairs taken from NHS England's file."""
    ours = result.metric_scores[["quarter", "trust_code", "peer_group", "score_id", "score"]]
    published = audit.published_metric_scores(nof)
    keep = ~audit.in_pairs(ours, ("quarter", "score_id"), from_published)
    take = audit.in_pairs(published, ("quarter", "score_id"), from_published)
    return pd.concat([ours[keep], published[take]], ignore_index=True)


@pytest.fixture(scope="module")
def hybrid(from_values, nof, scoring_inputs):
    scores = hybrid_metric_scores(from_values, nof, set(POOL_DATA_GAPS))
    return run_scoring(scoring_inputs, provided={"metric_scores": scores})


REPORT: list[str] = []


@pytest.fixture(autouse=True)
def _collect(fidelity_report):
    yield
    fidelity_report.extend(line for line in REPORT if line not in fidelity_report)


def _layer(rows: pd.DataFrame, layer: str) -> pd.DataFrame:
    return rows[rows["layer"] == layer]


def _misses(rows: pd.DataFrame, layer: str, with_item: bool = True) -> set[tuple]:
    bad = _layer(rows, layer)
    bad = bad[~bad["agrees"]]
    cols = ["quarter", "trust_code", "item"] if with_item else ["quarter", "trust_code"]
    return set(bad[cols].itertuples(index=False, name=None))


def _report(rows: pd.DataFrame, layer: str, how: str) -> None:
    g = _layer(rows, layer)
    by_q = g.groupby("quarter")["agrees"].agg(["sum", "size"])
    parts = "; ".join(f"{q}: {int(r['sum'])}/{int(r['size'])}" for q, r in by_q.iterrows())
    pct = 100 * g["agrees"].mean() if len(g) else 100.0
    REPORT.append(f"[{how}] {layer}: {int(g['agrees'].sum())}/{len(g)} ({pct:.1f}%) [{parts}]")


def test_metric_scores_from_values(from_values, nof):
    rows = audit.audit_rows(from_values, nof)
    _report(rows, "metric_score", "from values")
    scores = _layer(rows, "metric_score")
    bad = scores[~scores["agrees"]]
    in_gap_pool = audit.in_pairs(bad, ("quarter", "item"), set(POOL_DATA_GAPS))
    # the audit gives every miss its reason: the documented gap pools, and the rounded ties
    assert (bad.loc[in_gap_pool, "reason"] == audit.POOL_INCOMPLETE).all()
    unexplained = bad[~in_gap_pool]
    assert set(
        unexplained[["quarter", "trust_code", "item"]].itertuples(index=False, name=None)
    ) == (ROUNDED_CROSS_TYPE_TIES)
    assert (unexplained["reason"] == audit.CROSS_TYPE_TIE).all()
    # every documented gap pool really is a gap (else remove it from the list)
    assert set(POOL_DATA_GAPS) <= set(zip(bad["quarter"], bad["item"], strict=True))
    outside = scores[~audit.in_pairs(scores, ("quarter", "item"), set(POOL_DATA_GAPS))]
    REPORT.append(
        f"[from values] metric scores outside pools with absent trusts: "
        f"{int(outside['agrees'].sum())}/{len(outside)}"
    )


def test_domain_scores_and_average_hybrid(hybrid, nof):
    rows = audit.audit_rows(hybrid, nof)
    _report(rows, "domain_score", "hybrid")
    assert _misses(rows, "domain_score") == DOMAIN_RESIDUE
    domains = _layer(rows, "domain_score")
    assert (domains["ours"] - domains["published"]).abs().max() <= 0.0201
    _report(rows, "average_score", "hybrid")
    assert _misses(rows, "average_score", with_item=False) == AVERAGE_RESIDUE
    average = _layer(rows, "average_score")
    assert (average["ours"] - average["published"]).abs().max() <= 0.0101


def test_segments_from_published_averages(scoring_inputs, nof):
    result = run_scoring(
        scoring_inputs, provided={"trust_averages": audit.published_trust_averages(nof)}
    )
    rows = audit.audit_rows(result, nof)
    _report(rows, "unadjusted_segment", "from published OF5002")
    assert _misses(rows, "unadjusted_segment", with_item=False) == SEGMENT_CUTPOINT_GAPS


def test_override_segment5_and_rank_from_published_segments(scoring_inputs, nof):
    """Financial override, RSP segment 5 and the league rank: exact for every trust."""
    result = run_scoring(
        scoring_inputs,
        provided={"unadjusted_segments": audit.published_unadjusted_segments(nof)},
    )
    rows = audit.audit_rows(result, nof)
    for layer in ("deficit_flag", "adjusted_segment", "in_rsp", "final_segment", "rank"):
        _report(rows, layer, "from published OF5003")
        assert _misses(rows, layer, with_item=False) == set(), layer
        assert len(_layer(rows, layer)) >= 195 + 61


def test_acute_q1_league_matches_reconstructed_table(scoring_inputs, nof, real_data):
    derived = pd.read_csv(
        real_data / "DERIVED_nof2526_q1_acute_league_table_reconstructed.csv", encoding="utf-8-sig"
    )
    result = run_scoring(
        scoring_inputs,
        provided={"unadjusted_segments": audit.published_unadjusted_segments(nof)},
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
        rows = audit.audit_rows(result, nof)
        for layer in ("average_score", "unadjusted_segment", "adjusted_segment", "final_segment"):
            _report(rows, layer, how)
        _report(rows, "rank", how)
        # every disagreement carries a reason from the audit's list
        assert rows.loc[~rows["agrees"], "reason"].isin(audit.REASONS).all()
    hybrid_rows = _layer(audit.audit_rows(hybrid, nof), "final_segment")
    assert hybrid_rows["agrees"].mean() > 0.97
