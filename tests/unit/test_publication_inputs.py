"""Unit tests of what a published quarter's run takes from its publication: the run's peer
groups, the flags (OF5004/OF5007/OF5005 against landing files), and NHS England's revisions
compared cell by cell."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from league_pipeline.cli.pipeline import peer_groups_arg
from league_pipeline.defs.derived import _left_out_pools
from league_pipeline.defs.resources import LeagueConfig
from league_pipeline.ingest.revisions import publication_changes
from league_pipeline.scoring import inputs

Q1 = "2025/26 Q1"


def test_peer_groups_option_and_setting() -> None:
    assert peer_groups_arg("acute,mh") == ["acute", "mental_health_community"]
    assert peer_groups_arg("ambulance, acute,acute") == ["ambulance", "acute"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown peer group 'dental'"):
        peer_groups_arg("acute,dental")
    with pytest.raises(argparse.ArgumentTypeError, match="at least one"):
        peer_groups_arg(",")
    assert LeagueConfig().run_peer_groups() == ["acute", "mental_health_community", "ambulance"]
    # standard order whatever the order given; aliases accepted
    assert LeagueConfig(peer_groups=["amb", "acute"]).run_peer_groups() == ["acute", "ambulance"]


def test_a_provisional_run_without_every_group_names_the_pools() -> None:
    assert _left_out_pools(["acute", "mental_health_community", "ambulance"]) == ""
    message = _left_out_pools(["acute", "mental_health_community"])
    assert "OF1082" in message and "OF1028" in message  # sickness (all types), conveyance
    assert "segment cut-points span ambulance" in message
    assert "OF1005" not in message  # acute + MH only: complete without ambulance


def _trusts(*codes: str) -> pd.DataFrame:
    return pd.DataFrame({"quarter": Q1, "trust_code": list(codes)})


def _published(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """trust -> (OF5004, OF5007, OF5005) as a summary frame (NaN = not published)."""
    frame = pd.DataFrame(
        [(Q1, code, *values) for code, values in rows.items()],
        columns=["quarter", "trust_code", "deficit_flag", "in_rsp", "final_segment"],
    )
    from_final = frame["final_segment"].map(lambda v: v == 5 if pd.notna(v) else float("nan"))
    frame["in_rsp"] = frame["in_rsp"].where(frame["in_rsp"].notna(), from_final)
    return frame.drop(columns="final_segment")


def test_flags_come_from_the_publication_and_a_landing_file_must_agree() -> None:
    nan = float("nan")
    published = _published({"RAA": (1, 0, 3), "RBB": (0, nan, 5), "RCC": (nan, nan, nan)})
    supplied = pd.DataFrame(
        {"quarter": Q1, "trust_code": ["RAA", "RCC"], "deficit_flag": [False, True]}
    )
    deficit = inputs.resolve_flag("deficit_flag", _trusts("RAA", "RBB", "RCC"), published, supplied)
    by_code = deficit.values.set_index("trust_code")
    assert by_code.loc["RAA", "deficit_flag"] and by_code.loc["RAA", "deficit_flag_basis"] == (
        "published"
    )
    assert by_code.loc["RCC", "deficit_flag"] and by_code.loc["RCC", "deficit_flag_basis"] == (
        "supplied"
    )
    assert deficit.disagreements[["trust_code", "publication", "landing_file"]].values.tolist() == [
        ["RAA", 1.0, False]
    ]
    assert deficit.missing.empty
    # no landing file: RCC has no flag anywhere, and the deficit flag has no default
    bare = inputs.resolve_flag("deficit_flag", _trusts("RAA", "RCC"), published, None)
    assert bare.missing["trust_code"].tolist() == ["RCC"]
    # RSP: OF5007 where published, else OF5005 = 5, else the default with a note
    rsp = inputs.resolve_flag(
        "in_rsp", _trusts("RAA", "RBB", "RCC"), published, None, default=False
    )
    assert rsp.values.set_index("trust_code")["in_rsp"].to_dict() == {
        "RAA": False,
        "RBB": True,
        "RCC": False,
    }
    assert "1 trust(s) have no OF5007" in rsp.notes[0]


def test_publication_changes_cell_by_cell() -> None:
    before = pd.DataFrame(
        {
            "quarter": Q1,
            "trust_code": ["RAA", "RAA", "RBB"],
            "metric_id": ["OF0001", "OF1001", "OF0001"],
            "value": [10.0, 2.5, 3.0],
            "rank": [1.0, 2.0, 3.0],
        }
    )
    after = before.copy()
    after.loc[0, "value"] = 10.5
    after = after[after["trust_code"] == "RAA"]  # RBB's row withdrawn
    after = pd.concat(
        [
            after,
            pd.DataFrame(
                [
                    {
                        "quarter": Q1,
                        "trust_code": "RCC",
                        "metric_id": "OF0001",
                        "value": 1.0,
                        "rank": 4.0,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    changes = publication_changes(before, after)
    assert changes[["trust_code", "metric_id", "column", "before", "after", "change"]].fillna(
        ""
    ).values.tolist() == [
        ["RAA", "OF0001", "value", "10.0", "10.5", "changed"],
        ["RBB", "OF0001", "", "", "", "removed"],
        ["RCC", "OF0001", "", "", "", "added"],
    ]
    assert publication_changes(before, before).empty
