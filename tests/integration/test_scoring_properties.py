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
* the output tables satisfy their own pandera schemas;
* exact arithmetic (issue 11): binary floating-point noise never decides a segment, rank or
  explanation. Two trusts with the same multiset of item scores, in any order, get the same
  average, segment and rank; segments agree with exact rational arithmetic (``Fraction``); an
  explanation never reads 0.000 for a trust that is not exactly on a cut-point; and the RKB/RAX
  case (two averages of exactly 2.13, one of which a floating-point quotient made
  2.1300000000000003) is one segment.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal
from fractions import Fraction

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.outputs.explain import TrustExplanation, format_distance, segment_distances
from league_pipeline.scoring.catalogue import domains, metric_catalogue
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring
from league_pipeline.validation.report import validate

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
            "SELECT CAST(round(CAST(unnest(?::DOUBLE[]) AS DECIMAL(18, 12)), 2) AS DOUBLE)",
            [table["average_score"].tolist()],
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


# -- exact arithmetic (issue 11) ---------------------------------------------------------------

DOMAIN_IDS = list(domains()["domain_id"])


def _exact_quartiles(values: list[Fraction]) -> list[Fraction]:
    """Linear interpolation at (n-1)p, numpy's default, in exact rationals."""
    ordered, out = sorted(values), []
    for k in (1, 2, 3):
        lo, rem = divmod((len(ordered) - 1) * k, 4)
        hi = min(lo + 1, len(ordered) - 1)
        out.append(ordered[lo] + Fraction(rem, 4) * (ordered[hi] - ordered[lo]))
    return out


def _items_quarter(trust_items: dict[str, list[int]], order_seed: int = 0) -> ScoringResult:
    """Score a quarter given each trust's items directly (in hundredths), every trust acute,
    none in deficit or the RSP; the rows are handed over in a shuffled order."""
    codes = list(trust_items)
    rows = [
        (Q, code, "acute", DOMAIN_IDS[i % len(DOMAIN_IDS)], f"I{i:02d}", k / 100, 1)
        for code, items in trust_items.items()
        for i, k in enumerate(items)
    ]
    random.Random(order_seed).shuffle(rows)
    score_items = pd.DataFrame(
        rows,
        columns=["quarter", "trust_code", "peer_group", "domain_id", "item", "score", "n_metrics"],
    )
    inputs = ScoringInputs(
        trusts=pd.DataFrame(
            {
                "quarter": Q,
                "trust_code": codes,
                "trust_name": [f"Trust {c}" for c in codes],
                "region": "London",
                "peer_group": "acute",
                "trust_subtype": "x",
            }
        ),
        metric_values=pd.DataFrame(
            columns=["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"]
        ),
        given_scores=pd.DataFrame(columns=["quarter", "trust_code", "score_id", "score"]),
        deficit_flags=pd.DataFrame({"quarter": Q, "trust_code": codes, "deficit_flag": False}),
        rsp=pd.DataFrame({"quarter": Q, "trust_code": codes, "in_rsp": False}),
    )
    return run_scoring(inputs, provided={"score_items": score_items})


def _explanation(row: pd.Series, cuts: dict[str, float], n_trusts: int) -> TrustExplanation:
    seg = int(row["unadjusted_segment"])
    better, worse = segment_distances(row["average_score"], cuts, seg)
    return TrustExplanation(
        quarter=parse_quarter(Q),
        version=1,
        trust_code=row["trust_code"],
        trust_name=row["trust_name"],
        peer_group="acute",
        trusts_in_group=n_trusts,
        average_score=float(row["average_score"]),
        n_items=int(row["n_items"]),
        national_average=2.5,
        score_range=(1.0, 4.0),
        rank=int(row["rank"]),
        rank_range=(1, n_trusts),
        unadjusted_segment=seg,
        adjusted_segment=int(row["adjusted_segment"]),
        final_segment=int(row["final_segment"]),
        deficit_flag=False,
        in_rsp=False,
        cut_points=cuts,
        to_better_segment=None if better is None else float(better),
        to_worse_segment=None if worse is None else float(worse),
        rank_without_own_override=int(row["rank"]),
        rank_without_any_override=int(row["rank"]),
        items=[],
        domain_rows=[],
    )


def _distances_in(text: str) -> dict[str, Decimal]:
    """The distances an explanation prints: 'must fall by X' and 'rose by more than Y'."""
    found = re.findall(r"(must fall by|rose by more than) ([0-9]+\.[0-9]+)", text)
    return {phrase: Decimal(number) for phrase, number in found}


item_lists = st.lists(st.integers(100, 400), min_size=1, max_size=24)


@st.composite
def item_quarters(draw) -> tuple[dict[str, list[int]], int]:
    """Trusts' items in hundredths; TWIN holds a permutation of TRUST's items; some trusts
    repeat another's average with a different number of items (ties by different sums)."""
    items = draw(item_lists)
    trusts = {"TRUST": items, "TWIN": draw(st.permutations(items))}
    for i in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            trusts[f"T{i:02d}"] = draw(item_lists)
        else:  # the same average as an earlier trust, over m times as many items
            base = draw(st.sampled_from(list(trusts.values())))
            trusts[f"T{i:02d}"] = draw(st.permutations(base * draw(st.integers(2, 4))))
    return trusts, draw(st.integers(0, 2**16))


@SETTINGS
@given(quarter=item_quarters())
def test_exact_segments_ranks_and_explanations(quarter) -> None:
    trust_items, seed = quarter
    result = _items_quarter(trust_items, seed)
    table = result.league_table.set_index("trust_code")
    # the same multiset of items, in any order: the same average, segment and rank
    twins = table.loc[["TRUST", "TWIN"]]
    for column in ("average_score", "unadjusted_segment", "adjusted_segment", "rank"):
        assert twins[column].nunique() == 1, twins
    # every stored average is the nearest double to its exact 12 dp decimal, and the segments
    # are those exact rational arithmetic gives (12 dp keeps every order and tie)
    exact = {c: Fraction(sum(v), 100 * len(v)) for c, v in trust_items.items()}
    cut = _exact_quartiles(list(exact.values()))
    for code, value in exact.items():
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
        assert table.at[code, "average_score"] == float(decimal.quantize(Decimal("1e-12")))
        segment = 1 + sum(value > c for c in cut)
        assert table.at[code, "unadjusted_segment"] == segment, (code, value, cut)
    # ranks by exact 2 dp averages (half up)
    assert_competition_ranks(result)
    # explanations: a distance reads 0 only for a trust exactly on a cut-point
    cuts = result.segment_cut_points.iloc[0][["q25", "q50", "q75"]].to_dict()
    for code, row in table.reset_index().set_index("trust_code", drop=False).iterrows():
        better, worse = segment_distances(row["average_score"], cuts, row["unadjusted_segment"])
        seg = int(row["unadjusted_segment"])
        if better is not None:
            assert better > 0 and exact[code] > cut[seg - 2]
            assert format_distance(better) != "0.000"
        if worse is not None:
            assert (worse == 0) == (exact[code] == cut[seg - 1]), (code, worse)
            assert worse >= 0 and (worse == 0 or format_distance(worse) != "0.000")
        text = " ".join(_explanation(row, cuts, len(table)).sentences())
        shown = _distances_in(text)
        assert set(shown) == {
            *(["must fall by"] if better is not None else []),
            *(["rose by more than"] if worse is not None else []),
        }
        assert all(d != 0 for d in shown.values()) or worse == 0, text


def test_format_distance_never_rounds_a_distance_to_zero() -> None:
    assert format_distance(Decimal(0)) == "0.000"
    assert format_distance(Decimal("0.25")) == "0.250"
    assert format_distance(Decimal("0.0004")) == "0.00040"
    assert format_distance(Decimal("0.000056818182")) == "0.000057"
    assert format_distance(Decimal("1E-14")) == "0.000000000000010"
    assert format_distance(Decimal("0.0123"), 2) == "0.012"


def test_two_averages_of_exactly_2_13_share_a_segment() -> None:
    """Issue 11 (RKB/RAX, Q1 sample data): nine items summing to 19.17 average exactly 2.13, but
    the floating-point quotient is 2.1300000000000003, which put that trust in segment 2 while
    a trust at 2.13 (ten items summing to 21.30) sat on the cut-point q25 = 2.13 in segment 1."""
    rkb = [100, 150, 200, 250, 300, 317, 200, 200, 200]  # 19.17 / 9
    rax = [213, 180, 250, 213, 213, 213, 200, 226, 213, 209]  # 21.30 / 10
    assert sum(rkb) / 100 / len(rkb) == 2.1300000000000003  # the noise the engine must not see
    assert (sum(rkb), len(rkb), sum(rax), len(rax)) == (1917, 9, 2130, 10)
    trusts = {"LOW": [150], "RAX": rax, "RKB": rkb, "HIGH": [300], "TOP": [350]}
    result = _items_quarter(trusts)
    table = result.league_table.set_index("trust_code")
    assert result.segment_cut_points.at[0, "q25"] == 2.13  # sorted position (5-1)/4 = 1
    rkb_avg, rax_avg = (float(table.at[code, "average_score"]) for code in ("RKB", "RAX"))
    assert repr(rkb_avg) == repr(rax_avg) == "2.13"  # prints 2.13, no noise
    assert table.at["RKB", "unadjusted_segment"] == table.at["RAX", "unadjusted_segment"] == 1
    assert table.at["RKB", "rank"] == table.at["RAX", "rank"] == 2
    cuts = result.segment_cut_points.iloc[0][["q25", "q50", "q75"]].to_dict()
    rkb_row = table.reset_index().set_index("trust_code", drop=False).loc["RKB"]
    text = " ".join(_explanation(rkb_row, cuts, 5).sentences())
    assert _distances_in(text) == {"rose by more than": Decimal(0)}
    assert "sits exactly on the cut-point" in text
