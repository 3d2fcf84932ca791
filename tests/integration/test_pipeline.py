"""The Dagster pipeline end to end on the embedded default data: assets, blocking checks,
snapshots with lineage, re-runs as new versions, the http mode against a local server, and
the schedule and sensor."""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import date, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
import yaml

from league_pipeline.cli.common import snapshot_store
from league_pipeline.cli.runner import root_cause
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.core.staging import Staging
from league_pipeline.definitions import ALL_ASSETS, build_defs, defs, run_resources
from league_pipeline.defs import freshness
from league_pipeline.defs.automation import (
    due_quarter,
    new_publication_sensor,
    quarterly_league_schedule,
)
from league_pipeline.defs.outputs import EXPORTS_KEY, INSIGHTS_KEY, REPORT_KEY
from league_pipeline.defs.resources import LeagueConfig
from league_pipeline.defs.snapshots import SNAPSHOT_POOL
from league_pipeline.formats.nof import read_nof_trust_data, write_nof_trust_data
from league_pipeline.ingest import catalogue
from league_pipeline.ingest.acquire import landing_file

Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
ACUTE_FILE = "2025-26-q1/nhs-oversight-framework-acute-trust-data.csv"
ACUTE_Q2_FILE = "2025-26-q2/nhs-oversight-framework-acute-trust-data.csv"


@pytest.fixture
def landing(generated_landing, tmp_path) -> Path:
    copy = tmp_path / "landing"
    shutil.copytree(generated_landing, copy)
    return copy


@pytest.fixture
def settings(league_home, landing) -> Settings:
    return Settings.for_home(
        league_home, landing_dir=landing, bootstrap_replicates=300, whatif_checked=0
    )


def materialize(settings: Settings, key: str = Q1.key) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ALL_ASSETS,
        partition_key=key,
        resources=run_resources(settings),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_code_location_loads():
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "sources/nof_trust_data_acute",
        "sources/nof_trust_data_mental_health_community",
        "sources/nof_trust_data_ambulance",
        "sources/ods_trusts",
        "sources/rsp_list",
        "sources/deficit_flags",
        "scoring/metric_values",
        "scoring/metric_scores",
        "scoring/domain_scores",
        "scoring/segments",
        "scoring/league_tables",
        "snapshots/quarterly_snapshot",
        "sources/ambsys",
        "sources/ae_monthly_m1",
        "sources/ae_monthly_m2",
        "sources/ae_monthly_m3",
        "sources/cwt_crs_provider",
        "sources/rtt_full_extract",
        "derivation/derived_values",
        "derivation/reconciliation",
        "derivation/provisional_league_table",
        "outputs/official_exports",
        "outputs/insights",
        "outputs/html_report",
    } == keys
    assert defs.resolve_job_def("quarterly_league_job")
    groups = {
        a.group_names_by_key[k]
        for a in ALL_ASSETS
        if isinstance(a, dg.AssetsDefinition)
        for k in a.keys
    }
    assert groups == {"sources", "scoring", "snapshots", "raw_statistics", "derivation", "outputs"}


SNAPSHOT = dg.AssetKey(["snapshots", "quarterly_snapshot"])


def test_outputs_depend_on_this_and_the_previous_quarters_snapshot():
    """Movement reads the previous quarter's snapshot: the dependency says so, so rebuilding a
    quarter marks the next quarter's outputs stale; the first quarter has no previous one."""
    graph = defs.resolve_asset_graph()
    for key in (EXPORTS_KEY, INSIGHTS_KEY, REPORT_KEY):
        mapping = graph.get(key).partition_mappings[SNAPSHOT]
        assert mapping == dg.TimeWindowPartitionMapping(
            start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
        )
    partitions = graph.get(SNAPSHOT).partitions_def
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        partitions.subset_with_partition_keys([Q2.key]), partitions, partitions
    )
    assert set(upstream.partitions_subset.get_partition_keys()) == {Q1.key, Q2.key}
    first = mapping.get_upstream_mapped_partitions_result_for_partitions(
        partitions.subset_with_partition_keys([Q1.key]), partitions, partitions
    )
    assert set(first.partitions_subset.get_partition_keys()) == {Q1.key}
    assert not first.required_but_nonexistent_subset.get_partition_keys()
    # rebuilding Q1 reaches Q2's outputs
    downstream = mapping.get_downstream_partitions_for_partitions(
        partitions.subset_with_partition_keys([Q1.key]), partitions, partitions
    )
    assert {Q1.key, Q2.key} <= set(downstream.get_partition_keys())


def test_the_snapshot_write_is_in_the_deployments_pool():
    """The snapshot step waits for its pool's slot in the UI, one write at a time: the pool
    deploy/dagster.yaml names, at its default limit of 1."""
    node = defs.resolve_asset_graph().get(SNAPSHOT)
    assert node.pools == {SNAPSHOT_POOL} == {"snapshot_writes"}
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
    config = yaml.safe_load(deploy.read_text(encoding="utf-8"))
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert f"# - {SNAPSHOT_POOL}: the snapshot step" in deploy.read_text(encoding="utf-8")
    for other in defs.resolve_asset_graph().get_all_asset_keys() - {SNAPSHOT}:
        assert not defs.resolve_asset_graph().get(other).pools  # only the write is pooled


def test_freshness_warns_with_the_date_each_late_quarter_missed(monkeypatch):
    """Each quarter is due NHS England's lag (70 days) after it ends and should be built 14 days
    after that. Evaluated by its own job, on a fixed date, against the instance's snapshots."""
    assert freshness.expected_publication(Q1) == date(2025, 9, 8)
    assert freshness.build_by(Q1) == date(2025, 9, 22)
    assert freshness.build_by(Q2) == date(2025, 12, 23)
    main_job = defs.resolve_job_def("quarterly_league_job")
    check_key = dg.AssetCheckKey(SNAPSHOT, freshness.CHECK_NAME)
    assert check_key in defs.resolve_asset_graph().asset_check_keys
    assert check_key not in main_job.asset_layer.asset_graph.asset_check_keys
    assert defs.resolve_schedule_def("freshness_checks_schedule").job_name == (
        "freshness_checks_job"
    )

    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization(SNAPSHOT, partition=Q1.key))
    monkeypatch.setattr(freshness, "today", lambda: date(2026, 1, 5))
    job = defs.resolve_job_def("freshness_checks_job")
    (evaluation,) = job.execute_in_process(instance=instance).get_asset_check_evaluations()
    assert evaluation.check_name == freshness.CHECK_NAME
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description == "2025/26 Q2 not built by 2025-12-23"
    assert evaluation.metadata["missed"].value == {
        "2025/26 Q2": "expected from NHS England 2025-12-09, not built by 2025-12-23"
    }

    # before Q2's date nothing is late; once Q2 is built, nothing either
    assert freshness.freshness_result(date(2025, 12, 23), [Q1.key]).passed
    instance.report_runless_asset_event(dg.AssetMaterialization(SNAPSHOT, partition=Q2.key))
    (evaluation,) = job.execute_in_process(instance=instance).get_asset_check_evaluations()
    assert evaluation.passed


def test_quarter_materialises_to_a_snapshot_with_lineage(settings, landing):
    result = materialize(settings)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())

    store = snapshot_store(settings)
    info = store.latest(Q1.label)
    assert info is not None and info.version == 1
    table = store.read("league_table", Q1.label)
    counts = table.groupby("peer_group")["trust_code"].nunique().to_dict()
    assert counts == {"acute": 134, "mental_health_community": 61, "ambulance": 10}
    assert (table.groupby("peer_group")["rank"].min() == 1).all()

    lineage = store.lineage(Q1.label)
    acute = lineage["inputs"]["nof_trust_data_acute"]
    # NOF files are cumulative: Q1's rows come from the newest file holding them, Q2's
    content = (landing / ACUTE_Q2_FILE).read_bytes()
    assert acute["sha256"] == hashlib.sha256(content).hexdigest()
    assert acute["url"].startswith("file://") and acute["url"].endswith(ACUTE_Q2_FILE)
    assert acute["publication_quarter"] == Q2.label and acute["synthetic"] is True
    assert lineage["data"] == "synthetic"
    assert lineage["schema_versions"]["nof_trust_data"] == "2"
    assert lineage["methodology_version"].startswith("NOF-2025/26")
    assert lineage["code_version"]
    assert lineage["dagster_run_id"] == result.run_id
    assert set(lineage["inputs"]) == {
        "nof_trust_data_acute",
        "nof_trust_data_mental_health_community",
        "nof_trust_data_ambulance",
        "ods_trusts",
        "rsp_list",
        "deficit_flags",
        # the raw statistics are inputs too (since 90151b5)
        "ambsys",
        "ae_monthly_m1",
        "ae_monthly_m2",
        "ae_monthly_m3",
        "cwt_crs_provider",
        "rtt_full_extract",
    }

    mats = result.asset_materializations_for_node("scoring__league_tables")
    meta = mats[0].metadata
    assert meta["dagster/row_count"].value == 205
    assert meta["dagster/table_name"].value == "league.scoring.league_tables"
    assert "top_and_bottom 2025/26 Q1 ambulance" in meta
    source_meta = result.asset_materializations_for_node("sources__nof_trust_data_acute")[0]
    assert source_meta.metadata["sha256"].value == acute["sha256"]

    # the same inputs again: a new version, identical contents, version 1 untouched
    again = materialize(settings)
    assert again.success
    assert [i.version for i in store.list(Q1.label)] == [1, 2]
    v1 = store.read("league_table", Q1.label, version=1)
    v2 = store.read("league_table", Q1.label, version=2)
    cols = [c for c in v1.columns if c != "snapshot_version"]
    pd.testing.assert_frame_equal(v1[cols], v2[cols])


def test_invalid_extract_is_blocked_with_failing_rows(settings, landing):
    (landing / ACUTE_Q2_FILE).unlink()  # the broken Q1 file is then the newest publication
    path = landing / ACUTE_FILE
    df = read_nof_trust_data(path.read_bytes(), Q1.published_label)
    df.loc[5, "Trust_code"] = "bad code"
    df.loc[df["Metric_ID"] == "OF5002", "Value"] = df.loc[df["Metric_ID"] == "OF5002", "Value"]
    df.loc[df.index[df["Metric_ID"] == "OF1003"][0], "Value"] = 7.5  # a score above 4
    path.write_bytes(write_nof_trust_data(df, with_quarter=False))

    result = materialize(settings)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [
        ("sources/nof_trust_data_acute", "pandera_schema")
    ]
    meta = failed[0].metadata
    assert "bad code" in meta["failing_rows"].value
    assert "Trust_code" in meta["failing_columns"].value
    assert "7.5" in meta["failing_rows"].value
    # nothing downstream ran, no snapshot was written, the bad extract was kept for inspection
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert not any(k.startswith(("scoring/", "snapshots/")) for k in materialized)
    assert snapshot_store(settings).list() == []
    staging = Staging(settings.layout.staging)
    assert staging.path_for("nof_trust_data_acute", f"{Q1.key}.rejected").exists()
    assert not staging.path_for("nof_trust_data_acute", Q1.key).exists()


def test_unreadable_source_fails_with_a_clear_error(settings, landing):
    (landing / ACUTE_FILE).write_text("<!DOCTYPE html><html><body>Error 503</body></html>")
    result = materialize(settings)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "sources__nof_trust_data_acute"
    message = root_cause(failure.step_failure_data.error)
    assert message.startswith("NOF trust data: received an HTML page, not CSV")
    assert snapshot_store(settings).list() == []


@pytest.fixture
def http_mirror(landing, tmp_path):
    """NHS England's URL layout served from 127.0.0.1, built from the landing files."""
    root = tmp_path / "www"
    for kind in catalogue.source_kinds():
        url = catalogue.url_for(kind, Q1, {"base_url": "http://mirror"})
        if url is None:
            continue
        target = root / url.removeprefix("http://mirror/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(landing_file(kind, Q1, landing), target)  # under either published name
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_mode_fetches_from_a_local_server(league_home, landing, http_mirror):
    settings = Settings.for_home(
        league_home,
        source_mode="http",
        http_base_url=http_mirror,
        landing_dir=landing,  # RSP list and deficit flags are not published over http
        bootstrap_replicates=200,
        whatif_checked=0,
        http_retries=0,
    )
    result = materialize(settings)
    assert result.success
    lineage = snapshot_store(settings).lineage(Q1.label)
    acute = lineage["inputs"]["nof_trust_data_acute"]
    assert acute["url"].startswith(http_mirror)
    assert acute["url"].endswith("nhs-oversight-framework-acute-trust-data.csv")
    assert lineage["inputs"]["rsp_list"]["url"].startswith("file://")
    # the content store kept the file under its hash
    stored = settings.layout.sources / "objects" / acute["sha256"][:2] / acute["sha256"]
    assert stored.exists()


def test_schedule_targets_the_quarter_that_is_due():
    london = ZoneInfo("Europe/London")
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 9, 15, 6, tzinfo=london)
    )
    request = quarterly_league_schedule(ctx)
    assert request.partition_key == "2025-04" and request.run_key == "2025-04"
    assert request.tags["league/quarter"] == "2025/26 Q1"  # as people read it, like CLI runs
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 6, 15, 6, tzinfo=london)
    )
    assert quarterly_league_schedule(ctx).partition_key == "2026-01"
    ctx = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 6, 15, 6, tzinfo=london)
    )
    assert isinstance(quarterly_league_schedule(ctx), dg.SkipReason)
    assert due_quarter(datetime(2025, 12, 15).date()) == Q2


def test_sensor_requests_new_and_revised_quarters_once(settings, landing):
    instance = dg.DagsterInstance.ephemeral()
    resources = run_resources(settings)
    first = new_publication_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert sorted(r.partition_key for r in first.run_requests) == [Q1.key, Q2.key]
    assert sorted(r.tags["league/quarter"] for r in first.run_requests) == [Q1.label, Q2.label]

    second = new_publication_sensor(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
    )
    assert not second.run_requests

    # NHS England revises Q1's acute file: one new request for Q1, with a new run key
    path = landing / ACUTE_FILE
    path.write_bytes(path.read_bytes().replace(b"Acute - Teaching", b"Acute - Teaching ", 1))
    third = new_publication_sensor(
        dg.build_sensor_context(instance=instance, cursor=second.cursor, resources=resources)
    )
    assert [r.partition_key for r in third.run_requests] == [Q1.key]
    old_key = next(r.run_key for r in first.run_requests if r.partition_key == Q1.key)
    assert third.run_requests[0].run_key != old_key


def test_build_defs_accepts_a_resource_override(settings):
    custom = build_defs(settings, LeagueConfig(bootstrap_replicates=50))
    assert custom.resolve_job_def("quarterly_league_job")
