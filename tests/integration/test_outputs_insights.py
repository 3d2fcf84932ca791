"""Explanations, movement and revisions on real snapshots, and their ``league`` commands.

State built once for the module (from ../shared/data/real):
* 2025/26 Q1 v1: acute + mental health & community, as published;
* 2025/26 Q1 v2: NHS England "revises" RTE's staff-survey raising-concerns value (OF0061);
* 2025/26 Q2 v1 and v2: mental health & community; v2 is an identical re-run.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from outputs_support import ACUTE_KIND, MHC_KIND, Q1, Q2, build_real_home, revise_acute_q1
from outputs_support import write_snapshot as write_real_snapshot

from league_pipeline.cli import main
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.outputs.explain import Explainer, UnknownTrustError, explain_trust
from league_pipeline.outputs.movement import (
    NOT_SIGNIFICANT,
    OVERRIDE,
    SIGNIFICANT,
    movement,
    movement_summary,
)
from league_pipeline.outputs.results import load_previous, load_quarter
from league_pipeline.outputs.revisions import NoRevisionError, latest_revision, revision

REVISED_TRUST, REVISED_METRIC, REVISED_VALUE = "RTE", "OF0061", 7.5


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    home = build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )
    revise_acute_q1(home, REVISED_TRUST, REVISED_METRIC, REVISED_VALUE)
    mhc = home.mhc
    write_real_snapshot(
        home, Q2, mhc[mhc["Quarter"] == Q2].reset_index(drop=True), {MHC_KIND: home.shas[MHC_KIND]}
    )
    return home


@pytest.fixture(scope="module")
def q1(real):
    return load_quarter(Q1, 1, store=real.store)


def _round2(values: pd.Series) -> pd.Series:
    """Half away from zero, as DuckDB's round (and NHS England's tables)."""
    return np.sign(values) * np.floor(values.abs() * 100 + 0.5) / 100


# -- explain -----------------------------------------------------------------------------------


def test_explain_a_trust_in_the_recovery_support_programme(q1, acute_bytes):
    """RX1 (Nottingham) in Q1 2025/26: published average 2.59, unadjusted segment 3, in
    deficit, in the RSP (final segment 5)."""
    e = explain_trust(q1, "rx1")
    assert e.trust_code == "RX1" and e.peer_group == "acute" and e.trusts_in_group == 134
    assert round(e.average_score, 2) == 2.59
    assert (e.unadjusted_segment, e.adjusted_segment, e.final_segment) == (3, 3, 5)
    assert e.deficit_flag and e.in_rsp
    assert not e.override_changed_segment and e.rsp_changed_segment
    assert e.rank_without_own_override == e.rank  # the override did not move it
    # the item effects add up exactly to the gap to the national average
    effects = sum(i["effect"] for i in e.items)
    assert effects == pytest.approx(e.average_score - e.national_average, abs=1e-12)
    assert e.national_average == pytest.approx(q1.score_items["score"].mean())
    assert [i["effect"] for i in e.items] == sorted((i["effect"] for i in e.items), reverse=True)
    assert len(e.items) == e.n_items == 19
    # segment 3: the better segment starts at q50, the worse one after q75
    assert e.average_score - e.to_better_segment == pytest.approx(e.cut_points["q50"])
    assert e.average_score + e.to_worse_segment == pytest.approx(e.cut_points["q75"])
    text = " ".join(e.sentences())
    assert "ranked 100 of 134 acute trusts" in text
    assert "the financial override did not change its segment (already segment 3)" in text
    assert "Recovery Support Programme, so its final segment is 5" in text
    assert f"Raising (worsening) its average most: {e.raising()[0]['label']}" in text
    data = json.loads(json.dumps(e.to_dict(), default=str))
    assert data["quarter"] == Q1 and data["rsp_changed_segment"] is True
    assert len(data["items"]) == 19 and len(data["domain_rows"]) == 5


def test_rank_without_the_override_matches_an_independent_reranking(q1):
    summary = Explainer(q1).summary().set_index("trust_code")
    table = q1.league_table
    moved = table[table["unadjusted_segment"] != table["adjusted_segment"]]
    assert len(moved) >= 30  # 38 acute trusts moved from segments 1-2 to 3 in Q1 (+ MH)
    assert (moved["deficit_flag"] & (moved["unadjusted_segment"] < 3)).all()
    for row in moved.itertuples():
        group = table[
            (table["peer_group"] == row.peer_group) & (table["trust_code"] != row.trust_code)
        ]
        others = group["adjusted_segment"] * 10 + _round2(group["average_score"])
        own = row.unadjusted_segment * 10 + _round2(pd.Series([row.average_score])).iloc[0]
        expected = 1 + int((others < own - 1e-9).sum())
        assert summary.at[row.trust_code, "rank_without_own_override"] == expected
        assert expected < row.rank
    for _, group in table.groupby("peer_group"):
        keys = group["unadjusted_segment"] * 10 + _round2(group["average_score"])
        expected = keys.rank(method="min").astype(int)
        got = summary.loc[group["trust_code"], "rank_without_any_override"].to_numpy()
        assert (got == expected.to_numpy()).all()
    assert summary.at["RQM", "rank"] == 28 and summary.at["RQM", "rank_without_own_override"] == 8


def test_every_trust_is_explained_consistently(q1):
    explainer = Explainer(q1)
    summary = explainer.summary()
    assert len(summary) == 195 and summary["trust_code"].is_unique
    cuts = q1.cut_points
    bound = {1: cuts["q25"], 2: cuts["q50"], 3: cuts["q75"]}
    for r in summary.itertuples():
        if r.unadjusted_segment > 1:
            assert r.average_score - r.to_better_segment == pytest.approx(
                bound[r.unadjusted_segment - 1]
            )
            assert r.to_better_segment > 0
        else:
            assert pd.isna(r.to_better_segment)
        if r.unadjusted_segment < 4:
            assert r.average_score + r.to_worse_segment == pytest.approx(
                bound[r.unadjusted_segment]
            )
            assert r.to_worse_segment >= 0
        else:
            assert pd.isna(r.to_worse_segment)
    contributions = explainer.contributions
    gaps = contributions.groupby("trust_code")["effect"].sum()
    averages = q1.league_table.set_index("trust_code")["average_score"]
    assert np.allclose(gaps, averages.loc[gaps.index] - q1.national_average, atol=1e-12)
    with pytest.raises(UnknownTrustError, match="'ZZZ' is not in the 2025/26 Q1 snapshot"):
        explainer.trust("ZZZ")


# -- movement ----------------------------------------------------------------------------------


def test_movement_between_real_quarters(real):
    current = load_quarter(Q2, store=real.store)
    previous = load_previous(Q2, store=real.store)
    assert previous.quarter.label == Q1 and previous.version == 2
    assert load_previous(Q1, store=real.store) is None  # the first quarter of the framework
    moves = movement(current, previous)
    assert moves["status"].value_counts().to_dict() == {"left": 134, "both": 61}
    both = moves[moves["status"] == "both"]
    # significance: exactly where the likely ranges do not overlap
    score_apart = (both["score_lower_after"] > both["score_upper_before"]) | (
        both["score_upper_after"] < both["score_lower_before"]
    )
    rank_apart = (both["rank_lower_after"] > both["rank_upper_before"]) | (
        both["rank_upper_after"] < both["rank_lower_before"]
    )
    assert (both["average_change_significant"] == score_apart).all()
    assert (both["rank_change_significant"] == rank_apart.astype(bool)).all()
    changed = both["segment_before"] != both["segment_after"]
    assert ((both["segment_change_reason"] != "") == changed).all()
    assert (both["rank_change"] == both["rank_before"] - both["rank_after"]).all()
    # RXG: same unadjusted segment, out of deficit in Q2: the override explains the move
    rxg = both.set_index("trust_code").loc["RXG"]
    assert (rxg["segment_before"], rxg["segment_after"]) == (3, 1)
    assert rxg["segment_change_reason"] == OVERRIDE
    # a 22-place rise, but the bootstrap's rank ranges touch at the edge (21 and about 20):
    # whether they overlap is up to the draws, so only the direction is asserted here
    assert rxg["rank_lower_after"] < rxg["rank_lower_before"]
    assert both["rank_change_significant"].sum() >= 1
    summary = movement_summary(moves)
    assert summary["trusts_compared"] == 61 and summary["trusts_left"] == 134
    assert summary["segment_changed"] == int(changed.sum()) == 15
    assert summary["segment_changed_financial_override"] == 1


def test_movement_significance_and_reasons_on_constructed_quarters(q1):
    """A copy of Q1 presented as Q2 with three trusts moved by hand."""
    table = q1.league_table.copy()
    idx = table.set_index("trust_code").index
    big, small, override = "RP6", "RAN", "RQM"
    big_i, small_i, over_i = (idx.get_loc(c) for c in (big, small, override))
    for column in ("average_score", "score_lower", "score_upper"):
        table.loc[big_i, column] += 1.0  # moves clear of its old likely range
        table.loc[small_i, column] += 0.05  # stays inside it
    for column in ("unadjusted_segment", "adjusted_segment", "final_segment"):
        table.loc[big_i, column] = 4
        table.loc[small_i, column] = 2
    table.loc[over_i, ["deficit_flag", "adjusted_segment", "final_segment"]] = [False, 1, 1]
    table.loc[big_i, ["rank", "rank_lower", "rank_upper"]] = [130, 120, 134]
    after = dataclasses.replace(
        q1, quarter=parse_quarter(Q2), tables={**q1.tables, "league_table": table}
    )
    moves = movement(after, q1).set_index("trust_code")
    assert moves.at[big, "segment_change_reason"] == SIGNIFICANT
    assert moves.at[big, "average_change_significant"] and moves.at[big, "rank_change_significant"]
    assert moves.at[big, "rank_change"] == 1 - 130
    assert moves.at[small, "segment_change_reason"] == NOT_SIGNIFICANT
    assert not moves.at[small, "average_change_significant"]
    assert moves.at[override, "segment_change_reason"] == OVERRIDE
    assert moves.at[override, "segment_change"] == 1 - 3
    others = moves.drop(index=[big, small, override])
    assert (others["segment_change_reason"] == "").all()
    assert not others["average_change_significant"].any()
    assert (others["average_change"] == 0).all()


# -- revisions ---------------------------------------------------------------------------------


def test_revision_shows_which_trusts_changed(real):
    rev = revision(Q1, store=real.store)
    assert (rev.old.version, rev.new.version) == (1, 2)
    assert [s["kind"] for s in rev.sources_changed] == [ACUTE_KIND]
    trusts = rev.trusts.set_index("trust_code")
    rte = trusts.loc[REVISED_TRUST]
    assert rte["values_changed"] == REVISED_METRIC
    assert "OF1061" in rte["scores_changed"].split(",")
    assert (rte["unadjusted_segment_old"], rte["unadjusted_segment_new"]) == (2, 1)
    assert (rte["adjusted_segment_old"], rte["adjusted_segment_new"]) == (2, 1)
    assert rte["segment_changed"] and rte["rank_changed"]
    assert rte["rank_new"] < rte["rank_old"] and rte["average_score_new"] < rte["average_score_old"]
    # only RTE's value changed; other acute trusts changed through the within-group ranking of
    # OF0061; no mental health trust changed at all
    assert (trusts["values_changed"] != "").sum() == 1
    assert set(trusts["peer_group"]) == {"acute"}
    assert set(trusts.loc[trusts["scores_changed"] != "", "scores_changed"]) == {"OF1061"}
    assert len(rev.details["metric_values"]) == 1
    summary = rev.summary()
    assert summary["trusts_changed"] == len(trusts) and summary["values_changed"] == 1
    assert latest_revision(Q1, 2, store=real.store).new.version == 2
    assert latest_revision(Q1, 1, store=real.store) is None
    # the new version already loaded (as the outputs do): the same revision, from its tables
    loaded = load_quarter(Q1, 2, store=real.store)
    before = {name: frame.copy() for name, frame in loaded.tables.items()}
    again = latest_revision(Q1, 2, store=real.store, loaded=loaded)
    pd.testing.assert_frame_equal(again.trusts, rev.trusts)
    assert again.details.keys() == rev.details.keys()
    for table, frame in rev.details.items():
        pd.testing.assert_frame_equal(again.details[table], frame)
    for name, frame in before.items():  # the loaded tables are left as they were
        pd.testing.assert_frame_equal(loaded.tables[name], frame)


def test_an_identical_rerun_has_no_changes_and_single_versions_are_refused(real):
    rerun = revision(Q2, store=real.store)
    assert not rerun.has_changes and rerun.sources_changed == []
    assert rerun.summary()["trusts_changed"] == 0
    with pytest.raises(NoRevisionError, match="compare two different versions"):
        revision(Q1, 1, 1, store=real.store)
    with pytest.raises(NoRevisionError, match="no snapshot version 7"):
        revision(Q1, 1, 7, store=real.store)


# -- the league commands -----------------------------------------------------------------------


@pytest.fixture
def cli(real, capsys):
    settings = Settings.for_home(real.home, whatif_checked=0)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), settings=settings)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_league_explain(cli):
    code, out, _ = cli("explain", "RX1", "--quarter", "Q1 2025/26", "--version", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Nottingham University Hospitals NHS Trust (RX1), 2025/26 Q1 (snapshot v1)"
    assert "- Nottingham University Hospitals NHS Trust (RX1) is ranked 100 of 134" in out
    assert "final segment is 5" in out and "A&E 4-hour performance (%)" in out
    code, out, _ = cli("explain", "RTE", "--quarter", "2025/26 Q1", "--json")
    data = json.loads(out)
    assert code == 0 and data["version"] == 2 and data["unadjusted_segment"] == 1
    code, _, err = cli("explain", "XYZ", "--quarter", "2025/26 Q1")
    assert code == 2 and err.count("\n") == 2  # the error line and its fix
    assert err.startswith("error: trust 'XYZ' is not in the 2025/26 Q1 snapshot (v2)")
    assert err.splitlines()[1].startswith("fix: ")


def test_league_movement_and_revisions(cli, tmp_path):
    code, out, _ = cli("movement", "--quarter", "2025/26 Q2", "--peer-group", "mhc")
    assert code == 0
    assert out.startswith("2025/26 Q1 (v2) -> 2025/26 Q2 (v2): 61 trusts compared, 15 changed")
    rxg = next(line for line in out.splitlines() if " RXG " in line)
    assert "3 -> 1" in rxg and "financial" in rxg  # abbreviated on a word to fit 100 columns
    code, data, _ = cli(
        "movement", "--quarter", "2025/26 Q2", "--peer-group", "mhc", "--format", "json"
    )
    rxg = next(r for r in json.loads(data) if r["trust_code"] == "RXG")
    assert (rxg["segment_before"], rxg["segment_after"]) == (3, 1)
    assert rxg["segment_change_reason"] == "financial override"
    rows = [line for line in out.splitlines() if line.startswith("mental_health_community")]
    assert any("*" in line for line in rows)  # at least one significant change is starred
    code, _, err = cli("movement", "--quarter", "2025/26 Q1")
    assert code == 2
    assert "no earlier quarter to compare 2025/26 Q1 with: it is the first quarter" in err

    target = tmp_path / "revisions.csv"
    code, out, _ = cli("revisions", "--quarter", "2025/26 Q1", "--csv", str(target))
    assert code == 0
    assert "v1 (" in out and "revised sources: nof_trust_data_acute" in out
    rte = next(line for line in out.splitlines() if line.startswith("RTE "))
    assert "OF0061" in rte and "2 -> 1" in rte
    assert pd.read_csv(target)["trust_code"].eq("RTE").any()
    code, out, _ = cli("revisions", "--quarter", "2025/26 Q2")
    assert code == 0 and "no trust's values, scores, segments or rank changed" in out


def test_league_export(cli, tmp_path):
    code, out, _ = cli("export", "--quarter", "2025/26 Q2", "--out", str(tmp_path / "x"))
    assert code == 0
    assert out.splitlines()[0].startswith("2025/26 Q2 (snapshot v2): 4 files in ")
    assert (
        tmp_path / "x" / "nhs-oversight-framework-mental-health-and-community-trust-data.csv"
    ).exists()
    code, _, err = cli("export", "--quarter", "2025/26 Q3")
    assert code == 2 and "there is no snapshot of 2025/26 Q3 yet" in err


def test_trust_pages_show_nhs_englands_own_quartiles(real, acute_bytes):
    """Beside each value the report prints the peer quartiles and median NHS England published
    (recomputed from the 2-decimal values they can differ by 0.01: acute OF0003's upper
    quartile is 3.32 in the file, 3.33 recomputed); without published rows, recomputed."""
    from league_pipeline.formats.nof import read_nof_trust_data
    from league_pipeline.outputs.report.metric_values import metric_rows

    results = load_quarter(Q1, store=real.store)
    nof = read_nof_trust_data(acute_bytes, "Q1 2025/26")
    published = nof.rename(columns=str.lower).assign(source_kind=ACUTE_KIND)
    shown = metric_rows(results, published)
    recomputed = metric_rows(results)
    checked = 0
    for row in (
        nof[nof["Metric_ID"].str.startswith("OF0")].drop_duplicates("Metric_ID").itertuples()
    ):
        code, metric = row.Trust_code, row.Metric_ID
        mine = [m for m in shown.get(code, []) if m["id"] == metric and not m["score_only"]]
        if not mine or pd.isna(row.Median_value):
            continue
        (m,) = mine
        printed = [
            float(m[k].replace(",", "")) for k in ("lower_quartile", "median", "upper_quartile")
        ]
        published = [row.Lower_quartile, row.Median_value, row.Upper_quartile]
        assert printed == [round(v, 2) for v in published], metric
        checked += 1
    assert checked >= 20
    of0003 = next(r for r in nof.itertuples() if r.Metric_ID == "OF0003")
    upper = {
        (m["upper_quartile"], r["upper_quartile"])
        for m, r in zip(shown[of0003.Trust_code], recomputed[of0003.Trust_code], strict=True)
        if m["id"] == "OF0003"
    }
    assert upper == {("3.32", "3.33")}
