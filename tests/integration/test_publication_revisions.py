"""NHS England's revisions, as they arrive: a newer cumulative publication whose rows for an
earlier quarter differ from what that quarter's snapshot was built from.

Built from the real mental health & community file: Q1's landing folder holds its Q1 rows in
the Sept 2025 layout (no Quarter column, the "non-acute hospital trust" name), Q2's holds the
cumulative file with one Q1 value revised. The Q2 run warns and lists the revised cell; a
backfill over Q1 then builds a new version from the newer publication, and the revision shows
the value that changed.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from league_pipeline.cli.common import snapshot_store
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
from league_pipeline.defs.resources import LeagueConfig
from league_pipeline.defs.sources import REVISIONS_CHECK
from league_pipeline.formats.nof import read_nof_trust_data, split_quarters, write_nof_trust_data
from league_pipeline.ingest import catalogue
from league_pipeline.outputs.revisions import revision

pytestmark = pytest.mark.slow

Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
KIND = "nof_trust_data_mental_health_community"
REVISED = ("RLY", "OF0082")  # North Staffordshire: sickness absence rate, Q1


def _revised(mh: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    out = mh.copy()
    row = (
        (out["Quarter"] == Q1.label)
        & (out["Trust_code"] == REVISED[0])
        & (out["Metric_ID"] == REVISED[1])
    )
    assert row.sum() == 1
    before = float(out.loc[row, "Value"].iloc[0])
    out.loc[row, "Value"] = round(before + 0.5, 2)
    return out, before, float(out.loc[row, "Value"].iloc[0])


def _materialize(
    settings: Settings, league: LeagueConfig, key: str, instance
) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        ALL_ASSETS,
        partition_key=key,
        resources=run_resources(settings, league),
        instance=instance,
        raise_on_error=False,
    )
    assert result.success
    return result


def _check(result: dg.ExecuteInProcessResult):
    (evaluation,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == REVISIONS_CHECK and e.asset_key.path[-1] == KIND
    ]
    return evaluation


def test_a_revised_earlier_quarter_warns_then_backfills_as_a_new_version(
    league_home: Path, mh_bytes: bytes, ods_bytes: bytes
) -> None:
    landing = league_home / "landing"
    mh = read_nof_trust_data(mh_bytes)
    q1_rows = split_quarters(mh)[Q1.label]
    q1_file = landing / Q1.slug / "nhs-oversight-framework-non-acute-hospital-trust-data.csv"
    q1_file.parent.mkdir(parents=True)
    q1_file.write_bytes(write_nof_trust_data(q1_rows, with_quarter=False))
    for quarter in (Q1, Q2):
        ods = landing / catalogue.landing_path("ods_trusts", quarter)
        ods.parent.mkdir(parents=True, exist_ok=True)
        ods.write_bytes(ods_bytes)
    settings = Settings.for_home(league_home)
    league = LeagueConfig(
        bootstrap_replicates=100, whatif_checked=0, peer_groups=["mental_health_community"]
    )
    instance = dg.DagsterInstance.ephemeral()

    # Q1 from its own (Sept 2025 layout) publication: nothing earlier to compare
    first = _materialize(settings, league, Q1.key, instance)
    assert _check(first).passed
    store = snapshot_store(settings)
    assert store.lineage(Q1.label)["inputs"][KIND]["publication_quarter"] == Q1.label

    # Q2's cumulative publication revises one Q1 value: the Q2 run warns and lists it
    revised, before, after = _revised(mh)
    q2_file = landing / catalogue.landing_path(KIND, Q2)
    q2_file.write_bytes(write_nof_trust_data(revised, with_quarter=True))
    second = _materialize(settings, league, Q2.key, instance)
    check = _check(second)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["changed_cells"].value == 1
    table = check.metadata["changes"].value
    assert f"| {REVISED[0]} " in table and f"| {REVISED[1]} " in table
    assert repr(before) in table and repr(after) in table

    # a backfill over Q1 builds v2 from the newer publication; v1 is untouched
    _materialize(settings, league, Q1.key, instance)
    versions = [i.version for i in store.list(Q1.label)]
    assert versions == [1, 2]
    inputs = store.lineage(Q1.label, 2)["inputs"][KIND]
    assert inputs["publication_quarter"] == Q2.label
    assert inputs["url"] == q2_file.as_uri()
    change = revision(Q1, store=store)
    values = change.details["metric_values"]
    row = values[(values["trust_code"] == REVISED[0]) & (values["metric_id"] == REVISED[1])]
    assert len(row) == 1
    assert row.filter(like="value").round(2).to_numpy().ravel().tolist()[:2] == [before, after]
    old_value = store.read("metric_values", Q1.label, 1)
    old_value = old_value[
        (old_value["trust_code"] == REVISED[0]) & (old_value["metric_id"] == REVISED[1])
    ]
    assert float(old_value["value"].iloc[0]) == before
    # and the Q2 publication, read again for Q2, has nothing new against Q1's v2
    assert _check(_materialize(settings, league, Q2.key, instance)).passed
