"""The outputs assets in the offline main job, on the embedded default (generated) data: one
range run writes every quarter's official exports, insights and report; a revised source file
then gives a new snapshot version whose outputs show the revision (one test, two runs: the
second builds on the first)."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from league_pipeline.cli.common import snapshot_store
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, defs, run_resources
from league_pipeline.defs.automation import quarterly_league_job
from league_pipeline.defs.outputs import (
    EXPORTS_KEY,
    INSIGHTS_KEY,
    REPORT_KEY,
    ROUND_TRIP_CHECK,
)
from league_pipeline.formats.nof import (
    read_nof_league_table,
    read_nof_trust_data,
    write_nof_trust_data,
)
from league_pipeline.sample.generator import write_sample_landing
from league_pipeline.validation.report import validate

Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
ACUTE_Q2 = "2025-26-q2/nhs-oversight-framework-acute-trust-data.csv"


def test_outputs_are_part_of_the_main_job():
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {EXPORTS_KEY, INSIGHTS_KEY, REPORT_KEY} <= keys
    for key in (EXPORTS_KEY, INSIGHTS_KEY, REPORT_KEY):
        node = graph.get(key)
        assert node.group_name == "outputs"
        assert dg.AssetKey(["snapshots", "quarterly_snapshot"]) in node.parent_keys
    job = defs.resolve_job_def(quarterly_league_job.name)
    assert {EXPORTS_KEY, INSIGHTS_KEY, REPORT_KEY} <= set(job.asset_layer.selected_asset_keys)


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    write_sample_landing(folder, [Q1, Q2])
    return folder


def _materialize(settings, instance, *, partition_key=None, tags=None):
    return dg.materialize(
        ALL_ASSETS,
        partition_key=partition_key,
        resources=run_resources(settings),
        instance=instance,
        raise_on_error=False,
        tags=tags or {},
    )


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    """The metadata of ``key``'s materialisation (one event a partition, same metadata)."""
    events = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    assert events
    return events[0].materialization.metadata


def test_main_job_writes_the_outputs_then_a_revision_shows(league_home, landing):
    settings = Settings.for_home(
        league_home, landing_dir=landing, bootstrap_replicates=200, whatif_checked=0
    )
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(
        settings,
        instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: Q1.key, ASSET_PARTITION_RANGE_END_TAG: Q2.key},
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[ROUND_TRIP_CHECK].passed

    root = settings.layout.outputs
    assert root == league_home / "outputs"
    for quarter in (Q1, Q2):
        folder = root / quarter.slug / "v1"
        names = {p.name for p in (folder / "official").iterdir()}
        assert len(names) == 12  # 3 peer groups x (league table, trust data) x (CSV, Parquet)
        table = read_nof_league_table(
            (
                folder
                / "official"
                / "synthetic-nhs-oversight-framework-ambulance-trust-league-table.csv"
            ).read_bytes()
        )
        assert len(table) == 10 and validate(table, "nof_league_table").passed
        tables = snapshot_store(settings).get(quarter.label).tables
        assert len(list((folder / "snapshot").glob("*.parquet"))) == len(tables)
        html = (folder / "report.html").read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>") and 'id="trust-ZU001"' in html
        assert "<title>[SYNTHETIC] " in html and 'class="synthetic-banner"' in html
        assert (folder / "SYNTHETIC-DATA.txt").exists()
        explanations = pd.read_csv(folder / "insights" / "explanations.csv")
        assert len(explanations) == 205
    assert not (root / Q1.slug / "v1" / "insights" / "movement.csv").exists()  # first quarter
    moves = pd.read_csv(root / Q2.slug / "v1" / "insights" / "movement.csv")
    assert set(moves["status"]) == {"both"} and len(moves) == 205

    meta = _metadata(result, EXPORTS_KEY)
    preview = meta["top_and_bottom 2025/26 Q2 Ambulance trusts"].value
    assert preview.splitlines()[0].split("|")[1].strip() == "Rank"
    assert len(preview.splitlines()) == 2 + 10  # header, rule, ten trusts
    acute = meta["top_and_bottom 2025/26 Q1 Acute trusts"].value.splitlines()
    assert len(acute) == 2 + 5 + 1 + 5 and "…" in acute[7]  # top 5, gap, bottom 5
    assert set(meta["paths"].value) == {"2025/26 Q1 v1", "2025/26 Q2 v1"}
    assert _metadata(result, INSIGHTS_KEY)["movement"].value["2025/26 Q1 v1"] is None

    assert set(meta["data"].value.values()) == {"synthetic"}

    # NHS England revises one Q2 value in the acute Q2 file (which holds Q1's rows too); the
    # quarter runs again
    path = landing / ACUTE_Q2
    data = read_nof_trust_data(path.read_bytes(), Q2.label)
    row = (
        (data["Quarter"] == Q2.label)
        & (data["Trust_code"] == "ZA001")
        & (data["Metric_ID"] == "OF0014")
    )
    assert row.sum() == 1
    data.loc[row, "Value"] = 0.5
    path.write_bytes(write_nof_trust_data(data, with_quarter=True))
    result = _materialize(settings, instance, partition_key=Q2.key)
    assert result.success

    folder = root / Q2.slug / "v2"
    assert _metadata(result, REPORT_KEY)["path"].value == str(folder / "report.html")
    revisions = pd.read_csv(folder / "insights" / "revisions.csv", keep_default_na=False)
    revised = revisions.set_index("trust_code").loc["ZA001"]
    assert revised["values_changed"] == "OF0014" and "OF1014" in revised["scores_changed"]
    assert revised["average_score_new"] < revised["average_score_old"]
    summary = _metadata(result, INSIGHTS_KEY)["revisions"].value["2025/26 Q2 v2"]
    assert summary["sources_changed"] == ["nof_trust_data_acute"]
    assert summary["values_changed"] == 1
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "This is version 2. Compared with version 1" in html
    assert "<code>nof_trust_data_acute</code>" in html
    assert (root / Q2.slug / "v1" / "report.html").exists()  # v1's outputs stay
