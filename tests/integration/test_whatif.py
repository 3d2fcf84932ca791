"""What would it take (``league_pipeline.outputs.whatif``) on a generated quarter, no Dagster.

The quarter is the embedded default's 2025/26 Q1 (205 trusts) scored by the engine, as a
snapshot holds it. Every what-if is compared with a complete rerun: the engine scoring, from
scratch, the quarter's inputs with the value changed (each rerun under a quarter label of its
own, so one pass of the SQL reruns many).
"""

from __future__ import annotations

import math
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest

from league_pipeline.core.peer_groups import PEER_GROUPS
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.formats.nof import read_nof_trust_data
from league_pipeline.outputs.explain import exact
from league_pipeline.outputs.whatif import (
    NOT_REACHABLE,
    NOT_SEARCHED,
    QuarterInputs,
    Scenario,
    WhatIfError,
    WhatIfSession,
    format_value,
    inputs_from_tables,
    report_sentences,
    smallest_changes,
    suggestions,
    whatif,
)
from league_pipeline.scoring import official
from league_pipeline.scoring.engine import OUTPUT_TABLES, ScoringSession

Q1 = parse_quarter("2025/26 Q1")
ALL_GROUPS = [g.id for g in PEER_GROUPS]
LEAGUE = ["average_score", "unadjusted_segment", "adjusted_segment", "final_segment", "rank"]


def _nof(landing) -> pd.DataFrame:
    folder = landing / Q1.slug
    files = sorted(folder.glob("nhs-oversight-framework-*-trust-data.csv"))
    assert len(files) == 3
    return pd.concat(
        [read_nof_trust_data(f.read_bytes(), Q1.label) for f in files], ignore_index=True
    )


def _snapshot_tables(nof: pd.DataFrame, extra: dict | None = None) -> dict[str, pd.DataFrame]:
    """A snapshot's tables of NOF rows, scored as the pipeline scores them."""
    inputs = official.inputs_from_nof(nof)
    with ScoringSession() as session:
        for name, df in (inputs.frames() | (extra or {})).items():
            session.load_frame(name, df)
        session.run(OUTPUT_TABLES)
        result = {name: session.df(name) for name in OUTPUT_TABLES}
    return {
        "trusts": inputs.trusts,
        "metric_values": inputs.metric_values,
        "given_scores": inputs.given_scores,
        "trust_segments": result["trust_segments"],
        "metric_scores": result["metric_scores"],
        "league_table": result["league_table"],
        "domain_scores": result["domain_scores"],
        "segment_cut_points": result["segment_cut_points"],
    }


@pytest.fixture(scope="module")
def snapshot(generated_landing) -> dict[str, pd.DataFrame]:
    return _snapshot_tables(_nof(generated_landing))


@pytest.fixture(scope="module")
def quarter(snapshot) -> QuarterInputs:
    lineage = {"peer_groups": ALL_GROUPS, "data": "synthetic"}
    return inputs_from_tables(Q1.label, snapshot, lineage, version=1)


@pytest.fixture(scope="module")
def session(quarter):
    with WhatIfSession(quarter) as s:
        yield s


def rerun(quarters: list[QuarterInputs]) -> list[dict[str, pd.DataFrame]]:
    """Every layer of each quarter's inputs, scored from scratch by the engine (all of the
    SQL over all of the rows; one pass, each quarter under a label of its own)."""
    with ScoringSession() as session:
        for name in quarters[0].tables:
            frames = [q.tables[name].assign(quarter=f"rerun {k}") for k, q in enumerate(quarters)]
            session.load_frame(name, pd.concat(frames, ignore_index=True))
        session.run(OUTPUT_TABLES)
        tables = {name: session.df(name) for name in OUTPUT_TABLES}
    return [
        {
            name: df[df["quarter"] == f"rerun {k}"].assign(quarter=Q1.label).reset_index(drop=True)
            for name, df in tables.items()
        }
        for k in range(len(quarters))
    ]


def _sorted(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return df.sort_values(key).reset_index(drop=True)


def _row(table: pd.DataFrame, trust: str) -> pd.Series:
    return table.set_index("trust_code").loc[trust]


def _trust(quarter: QuarterInputs, *, group: str, metric: str, deficit: bool | None = None):
    """The first trust (by code) of ``group`` with a value of ``metric``."""
    values = quarter.tables["metric_values"]
    have = set(values.loc[values["metric_id"] == metric, "trust_code"])
    flags = quarter.tables["deficit_flags"].set_index("trust_code")["deficit_flag"]
    trusts = quarter.trusts.sort_values("trust_code")
    for code, g in zip(trusts["trust_code"], trusts["peer_group"], strict=True):
        if g == group and code in have and (deficit is None or bool(flags[code]) == deficit):
            return code
    raise AssertionError(f"no {group} trust with {metric}")


# --------------------------------------------------------------------------------------------
# The baseline is the snapshot
# --------------------------------------------------------------------------------------------
def test_before_is_the_snapshot(quarter, session, snapshot):
    for name, key in (
        ("league_table", ["trust_code"]),
        ("trust_segments", ["trust_code"]),
        ("metric_scores", ["trust_code", "score_id"]),
        ("domain_scores", ["trust_code", "domain_id"]),
        ("segment_cut_points", ["quarter"]),
    ):
        ours, theirs = _sorted(session.before[name], key), _sorted(snapshot[name], key)
        pd.testing.assert_frame_equal(ours[theirs.columns], theirs, check_exact=True)
    trust = _trust(quarter, group="acute", metric="OF0013")
    value = _row(quarter.tables["metric_values"].query("metric_id == 'OF0013'"), trust)["value"]
    result = whatif(quarter, trust, {"OF0013": str(value)}, session=session)
    assert result.matches_snapshot
    assert not any(layer.changed for layer in result.layers)  # the same value changes nothing
    league = _row(snapshot["league_table"], trust)
    assert result.layer("average").before == league["average_score"]
    assert result.layer("final_segment").before == league["final_segment"]
    assert result.layer("rank").before == league["rank"]
    assert result.other_ranks_changed == 0


# --------------------------------------------------------------------------------------------
# A what-if is a rerun of the quarter
# --------------------------------------------------------------------------------------------
def _cases(quarter) -> list[tuple[str, dict[str, object]]]:
    acute = _trust(quarter, group="acute", metric="OF0013")
    mhc = _trust(quarter, group="mental_health_community", metric="OF0086")
    amb = _trust(quarter, group="ambulance", metric="OF0017")
    no_crisis = next(
        t
        for t in sorted(quarter.trusts.query("peer_group == 'acute'")["trust_code"])
        if not (
            (quarter.tables["metric_values"]["trust_code"] == t)
            & (quarter.tables["metric_values"]["metric_id"] == "OF0016")
        ).any()
    )
    return [
        (acute, {"OF0013": "99.5"}),  # ranked, meets its target
        (acute, {"OF0013": "40"}),  # ranked, falls to the bottom
        (acute, {"OF0048": "0", "OF0088": "0.1"}),  # two of the three infections (one item)
        (mhc, {"OF0079": "-2.5"}),  # a finance band, through the combined-finance matrix
        (mhc, {"OF0086": "80", "OF0084": "9"}),  # ranked across types and within the group
        (amb, {"OF0017": "25", "OF0028": "50"}),  # the example, for an ambulance trust
        (no_crisis, {"OF0016": "95"}),  # a value the trust had none of: one item more
    ]


def test_whatif_equals_a_rerun_of_the_quarter(quarter, session):
    cases = _cases(quarter)
    results = [whatif(quarter, t, changes, session=session) for t, changes in cases]
    reruns = rerun([quarter.changed(t, changes) for t, changes in cases])
    moved = 0
    for (trust, changes), result, full in zip(cases, results, reruns, strict=True):
        for name, key in (
            ("league_table", ["trust_code"]),
            ("domain_scores", ["trust_code", "domain_id"]),
            ("trust_averages", ["trust_code"]),
            ("segment_cut_points", ["quarter"]),
        ):
            ours, theirs = _sorted(result.after[name], key), _sorted(full[name], key)
            pd.testing.assert_frame_equal(ours[theirs.columns], theirs, check_exact=True)
        # every score step 1 recomputed is the rerun's
        scores = result.after["metric_scores"]
        theirs = full["metric_scores"].merge(scores[["trust_code", "score_id"]])
        ours = _sorted(scores[theirs.columns], ["trust_code", "score_id"])
        theirs = _sorted(theirs, ["trust_code", "score_id"])
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)  # int64 vs Int64
        assert len(ours) >= len(changes)
        league = _row(full["league_table"], trust)
        assert result.layer("final_segment").after == league["final_segment"]
        assert result.layer("rank").after == league["rank"]
        assert result.layer("average").after == league["average_score"]
        moved += result.layer("rank").changed
    assert moved >= 4  # the cases do move ranks


def test_a_search_scores_a_trust_as_a_rerun_does(quarter, session):
    """The search's cheaper scoring (segments decided for the changed trust only, no league
    table) gives the rerun's segments for that trust."""
    cases = _cases(quarter)
    scenarios = []
    for trust, changes in cases:
        rows = quarter.changed(trust, changes).tables["metric_values"]
        rows = rows[(rows["trust_code"] == trust) & rows["metric_id"].isin(list(changes))]
        scenarios.append(
            Scenario(
                trust,
                tuple(
                    (r.metric_id, float(r.value), str(r.unit), float(r.tiebreak))
                    for r in rows.itertuples()
                ),
            )
        )
    scored = session.score(scenarios, ranks=False)["trust_segments"]
    assert list(scored["scenario"]) == list(range(len(cases)))
    reruns = rerun([quarter.changed(t, c) for t, c in cases])
    for (trust, _), full, (_, row) in zip(cases, reruns, scored.iterrows(), strict=True):
        theirs = _row(full["trust_segments"], trust)
        for column in ("average_score", "unadjusted_segment", "adjusted_segment", "final_segment"):
            assert row[column] == theirs[column], (trust, column)


def test_a_change_moves_the_layers_it_should(quarter, session):
    trust = _trust(quarter, group="acute", metric="OF0013")
    result = whatif(quarter, trust, {"OF0013": "100"}, session=session)
    score = result.layer("OF1013")
    assert score.after == 1.0 and score.before > 1.0  # the 78% target met: 1.00
    changed = {layer.key for layer in result.layers if layer.changed}
    assert "OF4000" in changed  # access to services
    assert not changed & {"OF4002", "OF4003", "OF4004", "OF4005"}  # other domains held
    n = int(_row(result.after["league_table"], trust)["n_items"])
    drop = (exact(score.before).quantize(Decimal("0.01")) - Decimal(1)) / n
    assert abs(
        exact(result.layer("average").before) - exact(result.layer("average").after) - drop
    ) < Decimal("1e-9")
    change = result.changes.iloc[0]
    assert change["after"] == Decimal(100) and change["before"] is not None
    assert result.league_before["rank"].tolist() != result.league_after["rank"].tolist() or (
        result.layer("rank").before == result.layer("rank").after
    )


# --------------------------------------------------------------------------------------------
# Values refused as published values would be
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metric", "value", "says"),
    [
        ("OF0013", "100.5", "outside the physical range"),
        ("OF0013", "-1", "outside the physical range"),
        ("OF0079", "-150", "outside the physical range"),
        ("OF0020", "-1", "outside the physical range"),  # a count
        ("OF0013", "abc", "is not a number"),
        ("OF0013", "nan", "is not a number"),
        ("OF0013", "inf", "is not a number"),
        ("OF0013", "1_0", "is not a number"),
        ("OF0013", "", "is not a number"),
        ("OF1013", "2", "is the score of OF0013"),
        ("OF1046", "2", "published as a score only"),
        ("OF9999", "1", "not a metric the NOF 2025/26 methodology scores"),
        ("OF0086", "100", "is not scored for acute trusts"),  # MH/community and ambulance only
    ],
)
def test_refused_values(quarter, metric, value, says):
    trust = _trust(quarter, group="acute", metric="OF0013")
    with pytest.raises(WhatIfError) as caught:
        whatif(quarter, trust, {metric: value})
    assert says in caught.value.problem and caught.value.fix


def test_refused_trusts_and_changes(quarter):
    with pytest.raises(WhatIfError, match="ZZ999 is not a trust in the 2025/26 Q1 snapshot"):
        whatif(quarter, "ZZ999", {"OF0013": "80"})
    mhc = _trust(quarter, group="mental_health_community", metric="OF0086")
    with pytest.raises(WhatIfError, match=r"OF0013 .* is not scored for mental health"):
        whatif(quarter, mhc, {"OF0013": "80"})
    with pytest.raises(WhatIfError, match="no change given"):
        whatif(quarter, mhc, {})
    with pytest.raises(WhatIfError, match="set more than once"):
        whatif(quarter, mhc, {"OF0086": "90", "of0086": "95"})
    with pytest.raises(WhatIfError, match="cannot be a target"):
        smallest_changes(quarter, mhc, 5)


# --------------------------------------------------------------------------------------------
# The smallest change of one metric alone
# --------------------------------------------------------------------------------------------
def _step_back(c) -> Decimal:
    """The answer moved one unit of its last published decimal place back toward the value
    the trust has (every value in between scores as that one does)."""
    places = max(
        -exact(v).normalize().as_tuple().exponent
        for v in (float(c.value_before), float(c.value_after))
    )
    step = Decimal(1).scaleb(-max(places, 0))
    return c.value_after - step if c.value_after > c.value_before else c.value_after + step


def test_smallest_changes_reach_the_target_and_one_step_less_does_not(quarter, session):
    table = session.before["league_table"]
    eligible = table[
        ~table["deficit_flag"] & ~table["in_rsp"] & table["final_segment"].isin([2, 3, 4])
    ]
    trust = eligible.sort_values("trust_code")["trust_code"].iloc[0]
    row = _row(table, trust)
    target = int(row["final_segment"]) - 1
    search = smallest_changes(quarter, trust, target, session=session)
    assert search.blocked is None and search.improving
    reachable = search.reachable()
    assert len(reachable) >= 3
    unreachable = [c for c in search.changes if c.note == NOT_REACHABLE]
    scenarios = [(c, c.value_after) for c in reachable] + [(c, _step_back(c)) for c in reachable]
    limits = {"percent": (0, 100), "out of 10": (0, 10)}
    for c in unreachable:  # the furthest value the metric's range allows
        if c.unit in limits:
            best = (
                limits[c.unit][1]
                if c.value_before is not None and _higher(c)
                else limits[c.unit][0]
            )
            scenarios.append((c, Decimal(best)))
    full = rerun([quarter.changed(trust, {c.metric_id: str(v)}) for c, v in scenarios])
    for (c, value), tables in zip(scenarios, full, strict=True):
        final = int(_row(tables["league_table"], trust)["final_segment"])
        if value == c.value_after:
            assert final <= target, (c.metric_id, value)
            league = _row(tables["league_table"], trust)
            assert c.segment_after == final and c.rank_after == league["rank"]
            assert c.average_after == league["average_score"]
        else:
            assert final > target, (c.metric_id, value, c.note)
    # the most effective first: the smallest share of the metric's trusts passed
    shares = [c.share_passed for c in reachable]
    assert shares == sorted(shares)


def _higher(c) -> bool:
    from league_pipeline.scoring import catalogue

    cat = catalogue.metric_catalogue().set_index("value_id")
    return cat.at[c.metric_id, "direction"] == "higher"


def test_smallest_changes_say_why_not(quarter, session):
    table = session.before["league_table"]
    deficit = table[table["deficit_flag"] & (table["final_segment"] == 3)]["trust_code"].iloc[0]
    search = smallest_changes(quarter, deficit, 2, session=session)
    assert "financial override" in search.blocked and search.changes == []
    rsp = table[table["in_rsp"]]
    if len(rsp):
        search = smallest_changes(quarter, rsp["trust_code"].iloc[0], 4, session=session)
        assert "Recovery Support Programme" in search.blocked
    firsts = table[table["final_segment"] == 1].sort_values("average_score")
    best = firsts["trust_code"].iloc[-1]  # the nearest to segment 2
    assert (
        smallest_changes(quarter, best, 1, session=session).blocked == "it is in segment 1 already"
    )
    # a worse target is searched the other way
    search = smallest_changes(quarter, best, 2, session=session)
    assert not search.improving and search.reachable()
    assert all(c.segment_after >= 2 for c in search.reachable())


# --------------------------------------------------------------------------------------------
# The report's suggestions
# --------------------------------------------------------------------------------------------
def test_suggestions_are_checked_changes_toward_the_next_segment(quarter, session):
    found = suggestions(quarter, session=session)
    table = session.before["league_table"].set_index("trust_code")
    assert set(found) == set(table.index)
    shown = [(code, s) for code, s in found.items() if s.changes]
    assert len(shown) >= 20
    for code, s in found.items():
        row = table.loc[code]
        assert s.segment == row["final_segment"] and len(s.changes) <= 3
        if row["final_segment"] == 1:
            assert s.target is None and "the best" in s.sentences()[0]
        elif row["in_rsp"]:
            assert "Recovery Support Programme" in s.sentences()[0]
        elif row["deficit_flag"] and row["final_segment"] == 3:
            assert "financial override" in s.sentences()[0]
    checks = [(code, c) for code, s in shown[:6] for c in s.changes]
    full = rerun([quarter.changed(code, {c.metric_id: str(c.value_after)}) for code, c in checks])
    for (code, c), tables in zip(checks, full, strict=True):
        assert int(_row(tables["league_table"], code)["final_segment"]) == found[code].target
        assert c.segment_after == found[code].target
    code, s = shown[0]
    sentences = s.sentences()
    assert sentences[0].startswith(f"To reach segment {s.target} (it is in segment {s.segment})")
    c = s.changes[0]
    assert sentences[1].startswith(f"{c.label}: {format_value(c.value_after, c.unit)} instead of")
    assert f"its segment {s.target} and its rank {c.rank_after} of " in sentences[1]


def test_the_report_can_leave_the_search_out(quarter):
    """LEAGUE_WHATIF_CHECKED=0: no search, and every trust page says so (never a blank)."""
    results = SimpleNamespace(
        league_table=quarter.trusts,
        info=SimpleNamespace(lineage={"peer_groups": ALL_GROUPS}),
    )
    said = report_sentences(results, checked=0)
    assert list(said) == list(quarter.trusts["trust_code"]) and len(said) >= 200
    assert all(s == [NOT_SEARCHED] for s in said.values())
    assert "LEAGUE_WHATIF_CHECKED=0" in NOT_SEARCHED and "league whatif" in NOT_SEARCHED


def test_format_value():
    assert format_value(Decimal("77.0"), "percent") == "77.0%"
    assert format_value(Decimal("6.8"), "percent", difference=True) == "6.8 percentage points"
    assert format_value(Decimal("25"), "mins") == "25 minutes"
    assert format_value(Decimal("0.5"), "out of 10", difference=True) == "0.5 points"
    assert format_value(Decimal("3"), "count") == "3"


# --------------------------------------------------------------------------------------------
# A snapshot scored without a peer group
# --------------------------------------------------------------------------------------------
def test_a_quarter_scored_without_a_peer_group(generated_landing):
    nof = _nof(generated_landing)
    nof = nof[nof["Trust_type"] != "Ambulance trust"].reset_index(drop=True)
    groups = ["acute", "mental_health_community"]
    tables = _snapshot_tables(nof, official.published_layers(nof, groups))
    lineage = {"peer_groups": groups}
    with pytest.raises(WhatIfError, match="scored without ambulance trusts"):
        inputs_from_tables(Q1.label, tables, lineage)
    published = nof.drop(columns=["Quarter"]).rename(columns=str.lower)
    tables["published_rows"] = published.assign(quarter=Q1.label)
    partial = inputs_from_tables(Q1.label, tables, lineage)
    assert partial.partial and partial.left_out == ("ambulance",)
    trust = _trust(partial, group="acute", metric="OF0013")
    result = whatif(partial, trust, {"OF0013": "100"})
    assert result.matches_snapshot
    assert result.layer("OF1013").changed  # a pool the run completes is computed
    assert not result.layer("final_segment").changed  # the segment is the published one
    assert result.notes and "published" in result.notes[0]
    assert math.isclose(result.layer("average").before, result.layer("average").after)
    search = smallest_changes(partial, trust, 1)
    assert "published" in search.blocked
