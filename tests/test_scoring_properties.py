"""Property-based tests (hypothesis) of the scoring SQL, through ``run_scoring``.

Each example is a small quarter: a few trusts per peer group, every metric the catalogue scores
for their group (values from a grid dense in ties and target boundaries, some missing, some
infection counts), score-only metrics, deficit flags and RSP membership. The properties are the
methodology's invariants (``assets/sql/scoring``, methodology doc section 4):

* every metric score is in [1, 4];
* scores are monotone in the value within a pool: a better value never gets a worse score, and
  equal values share a score (no tie-break is given, as in the generator);
* the average is the mean of the trust's items, and segments follow the quartile cut-points
  of the averages pooled over all trusts;
* the financial override never raises a segment (adjusted >= unadjusted; = max(unadjusted, 3)
  for a trust in deficit); final segment = 5 exactly for RSP trusts;
* league ranks are competition ranks of (adjusted segment, average to 2 dp) in the peer group;
* the output tables satisfy their own pandera schemas.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from league_pipeline.scoring.catalogue import metric_catalogue
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring
from league_pipeline.validation import validate

Q = "2025/26 Q1"
# peer group -> (code prefix, fewest trusts, most trusts)
GROUPS = {"acute": ("R", 2, 5), "mental_health_community": ("M", 1, 3), "ambulance": ("X", 1, 2)}
CATALOGUE = metric_catalogue()
VALUED = CATALOGUE[CATALOGUE["rule"].isin(["rank", "target_rank", "ucr", "band"])]
GIVEN = CATALOGUE[CATALOGUE["rule"] == "given"]
# values around every target (0, 1, 30, 70, 75, 78, 80) and finance band edge (-2..0), with ties
GRID = [-2.5, -2.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0, 30.0, 70.0, 75.0, 78.0, 80.0, 95.0]
ALWAYS = "OF0082"  # every trust has sickness absence, so every trust has an item
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def applies(row: pd.Series, group: str) -> bool:
    return group in str(row["peer_groups"]).split("|")


@st.composite
def quarters(draw) -> ScoringInputs:
    trusts, values, given_scores = [], [], []
    for group, (prefix, low, high) in GROUPS.items():
        trusts += [(f"{prefix}{i:02d}", group) for i in range(draw(st.integers(low, high)))]
    for code, group in trusts:
        for _, metric in VALUED.iterrows():
            if not applies(metric, group):
                continue
            value_id = metric["value_id"]
            if value_id != ALWAYS and draw(st.integers(0, 5)) == 0:
                continue  # the trust lacks this metric
            counted = bool(metric["count_fallback"]) and draw(st.booleans())
            value = draw(st.integers(0, 4)) if counted else draw(st.sampled_from(GRID))
            values.append((code, value_id, float(value), "count" if counted else "percent"))
        for _, metric in GIVEN.iterrows():
            if applies(metric, group) and draw(st.booleans()):
                score = float(draw(st.integers(1, 4)))
                given_scores.append((code, metric["score_id"], score))
    codes = [c for c, _ in trusts]
    deficit = draw(st.lists(st.booleans(), min_size=len(codes), max_size=len(codes)))
    rsp = draw(st.lists(st.integers(0, 4), min_size=len(codes), max_size=len(codes)))
    return ScoringInputs(
        trusts=pd.DataFrame(
            {
                "quarter": Q,
                "trust_code": codes,
                "trust_name": [f"Trust {c}" for c in codes],
                "region": "London",
                "peer_group": [g for _, g in trusts],
                "trust_subtype": "x",
            }
        ),
        metric_values=pd.DataFrame(
            [(Q, c, m, v, u, np.nan) for c, m, v, u in values],
            columns=["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"],
        ),
        given_scores=pd.DataFrame(
            [(Q, c, s, v) for c, s, v in given_scores],
            columns=["quarter", "trust_code", "score_id", "score"],
        ),
        deficit_flags=pd.DataFrame({"quarter": Q, "trust_code": codes, "deficit_flag": deficit}),
        rsp=pd.DataFrame({"quarter": Q, "trust_code": codes, "in_rsp": [r == 0 for r in rsp]}),
    )


def assert_scores_in_range(result: ScoringResult) -> None:
    scores = result.metric_scores["score"].dropna()
    assert len(scores) and scores.between(1.0, 4.0).all(), scores.describe()


def assert_monotone_with_shared_ties(result: ScoringResult) -> None:
    """Within a metric's pool (and basis: values or infection counts), order by how bad the
    value is: scores never decrease, and equal values have equal scores."""
    scored = result.metric_scores.merge(CATALOGUE[["score_id", "direction", "pool"]], on="score_id")
    scored = scored[scored["rule"].isin(["rank", "target_rank", "ucr", "band"])].copy()
    scored["badness"] = np.where(scored["direction"] == "lower", scored["value"], -scored["value"])
    by_group = scored["pool"].fillna("all").eq("peer_group").to_numpy(bool)
    scored["pool_key"] = np.where(by_group, scored["peer_group"], "all")
    scored["basis"] = scored["rank_group"].eq("count")
    for key, pool in scored.groupby(["score_id", "pool_key", "basis"]):
        ordered = pool.sort_values(["badness", "score"])
        assert ordered["score"].is_monotonic_increasing, (key, ordered[["value", "score"]])
        shared = ordered.groupby("badness")["score"].nunique()
        assert (shared == 1).all(), (key, ordered[["trust_code", "value", "score"]])


def assert_segments_follow_the_cut_points(result: ScoringResult) -> None:
    items = result.score_items.groupby("trust_code")["score"].mean()
    segments = result.trust_segments.set_index("trust_code")
    assert np.allclose(segments["average_score"], items.reindex(segments.index), atol=1e-9)
    cuts = result.segment_cut_points.iloc[0]
    expected_cuts = np.quantile(segments["average_score"].to_numpy(), [0.25, 0.5, 0.75])
    assert np.allclose([cuts["q25"], cuts["q50"], cuts["q75"]], expected_cuts, atol=1e-9)
    average = segments["average_score"]
    expected = (
        1 + (average > cuts["q25"]).astype(int) + (average > cuts["q50"]) + (average > cuts["q75"])
    )
    assert (segments["unadjusted_segment"] == expected).all()


def assert_overrides(result: ScoringResult) -> None:
    seg = result.trust_segments
    assert (seg["adjusted_segment"] >= seg["unadjusted_segment"]).all()  # never raised
    capped = np.where(
        seg["deficit_flag"], np.maximum(seg["unadjusted_segment"], 3), seg["unadjusted_segment"]
    )
    assert (seg["adjusted_segment"] == capped).all()
    assert ((seg["final_segment"] == 5) == seg["in_rsp"]).all()
    not_rsp = ~seg["in_rsp"]
    assert (seg.loc[not_rsp, "final_segment"] == seg.loc[not_rsp, "adjusted_segment"]).all()


def assert_competition_ranks(result: ScoringResult) -> None:
    table = result.league_table
    with duckdb.connect() as con:  # the average to 2 dp, rounded as the engine's SQL rounds it
        rounded = con.execute(
            "SELECT round(unnest(?::DOUBLE[]), 2)", [table["average_score"].tolist()]
        ).fetchall()
    table = table.assign(
        key=[s * 1000 + r[0] for s, r in zip(table["adjusted_segment"], rounded, strict=True)]
    )
    for _, group in table.groupby("peer_group"):
        keys = group["key"].to_numpy()
        expected = [1 + int((keys < k).sum()) for k in keys]
        assert group["rank"].tolist() == expected, group[["trust_code", "key", "rank"]]


def assert_outputs_validate(result: ScoringResult) -> None:
    league = result.league_table.assign(
        score_lower=1.0, score_upper=4.0, rank_lower=1, rank_upper=len(result.league_table)
    )
    for name, frame in (
        ("metric_scores", result.metric_scores),
        ("domain_scores", result.domain_scores),
        ("league_table", league),
    ):
        report = validate(frame, name)
        assert report.passed, report.summary


@SETTINGS
@given(inputs=quarters())
def test_scoring_invariants(inputs: ScoringInputs) -> None:
    result = run_scoring(inputs)
    assert set(result.league_table["trust_code"]) == set(inputs.trusts["trust_code"])
    assert_scores_in_range(result)
    assert_monotone_with_shared_ties(result)
    assert_segments_follow_the_cut_points(result)
    assert_overrides(result)
    assert_competition_ranks(result)


@settings(SETTINGS, max_examples=10)  # pandera costs more than the engine: fewer examples
@given(inputs=quarters())
def test_scoring_outputs_pass_their_schemas(inputs: ScoringInputs) -> None:
    assert_outputs_validate(run_scoring(inputs))
