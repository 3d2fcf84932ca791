"""Staging: each quarter of a frame written as that quarter of a table, and the NOF source kinds
named once, by the peer groups."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from league_pipeline.core.peer_groups import (
    BY_SOURCE_KIND,
    NOF_SOURCE_KINDS,
    PEER_GROUPS,
)
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.staging import Staging
from league_pipeline.defs.sources import SOURCE_SPECS

Q1, Q2, Q3 = (parse_quarter(q) for q in ("2025/26 Q1", "2025/26 Q2", "2025/26 Q3"))


def test_write_quarters_writes_each_quarter_its_rows(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    frame = pd.DataFrame(
        {"quarter": [Q2.label, Q1.label, Q2.label, Q3.label], "value": [2.0, 1.0, 2.5, 3.0]},
        index=[10, 11, 12, 13],
    )
    staging.write_quarters("derived_values", frame, [Q1.key, Q2.key])
    q1 = staging.read_table("derived_values", Q1.key)
    q2 = staging.read_table("derived_values", Q2.key)
    assert q1.to_dict("list") == {"quarter": [Q1.label], "value": [1.0]}
    assert q2.to_dict("list") == {"quarter": [Q2.label, Q2.label], "value": [2.0, 2.5]}
    assert list(q2.index) == [0, 1]  # a fresh index
    assert not staging.path_for("derived_values", Q3.key).exists()  # not a partition of the run

    staging.write_quarters("derived_values", frame[frame["quarter"] == Q3.label], [Q1.key])
    empty = staging.read_table("derived_values", Q1.key)  # replaced: no Q1 rows any more
    assert empty.empty and list(empty.columns) == ["quarter", "value"]


def test_the_nof_source_kinds_are_the_peer_groups() -> None:
    assert NOF_SOURCE_KINDS == (
        "nof_trust_data_acute",
        "nof_trust_data_mental_health_community",
        "nof_trust_data_ambulance",
    )
    assert [BY_SOURCE_KIND[kind] for kind in NOF_SOURCE_KINDS] == list(PEER_GROUPS)
    nof_specs = [spec for spec in SOURCE_SPECS if spec.peer_group is not None]
    assert [(s.kind, s.peer_group) for s in nof_specs] == [
        (g.source_kind, g.id) for g in PEER_GROUPS
    ]
