"""The raw-statistics assets end to end on the generated default (which writes the raw releases
too): derived values, the warn-only reconciliation check, metric values with their source,
the snapshot tables, the provisional league table, blocking checks on a bad raw file, the
precedence configuration, and the CLI's refusal without an earlier official quarter."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.core import paths
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.core.staging import Staging
from league_pipeline.definitions import ALL_ASSETS, defs, run_resources
from league_pipeline.derivation.config import MetricSourcesError, metric_sources
from league_pipeline.derivation.precedence import official_values, provisional_values
from league_pipeline.formats.cwt import read_cwt_provider, write_cwt_provider
from league_pipeline.ingest.catalogue import landing_path

Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
RECONCILIATION = dg.AssetKey(["derivation", "reconciliation"])
# everything but the report outputs, which are not this and take the longest
SELECTION = dg.AssetSelection.groups(
    "sources", "raw_statistics", "derivation", "scoring", "snapshots"
)


@pytest.fixture(scope="module")
def generated(generated_landing) -> Path:
    """The session's generated landing for Q1-Q2 (read-only: the runs only read it)."""
    return generated_landing


def _settings(home: Path, landing: Path) -> Settings:
    return Settings.for_home(home, landing_dir=landing, bootstrap_replicates=200, whatif_checked=0)


def _materialize(settings: Settings, keys: tuple[str, str]) -> dg.ExecuteInProcessResult:
    tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[1]}
    return dg.materialize(
        ALL_ASSETS,
        selection=SELECTION,
        resources=run_resources(settings),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=tags,
    )


@pytest.fixture(scope="module")
def run(generated, tmp_path_factory):
    """One single-run backfill of Q1-Q2 in its own working home."""
    settings = _settings(tmp_path_factory.mktemp("home"), generated)
    result = _materialize(settings, (Q1.key, Q2.key))
    staging = Staging(settings.layout.staging)
    tables = {
        name: {q: staging.read_table(name, q.key) for q in (Q1, Q2)}
        for name in ("derived_values", "reconciliation", "metric_values")
    }
    tables["provisional"] = {Q2: staging.read_table("provisional_league_table", Q2.key)}
    tables["provisional_values"] = {Q2: staging.read_table("provisional_metric_values", Q2.key)}
    tables["league_table"] = {Q2: staging.read_table("league_table", Q2.key)}
    q1_provisional = staging.path_for("provisional_league_table", Q1.key).exists()
    snapshot = snapshot_store(settings).read("reconciliation", Q1.label)
    return result, tables, q1_provisional, snapshot


def test_code_location_has_the_raw_assets_and_jobs() -> None:
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "sources/ambsys",
        "sources/ae_monthly_m1",
        "sources/ae_monthly_m2",
        "sources/ae_monthly_m3",
        "sources/cwt_crs_provider",
        "sources/rtt_full_extract",
        "derivation/derived_values",
        "derivation/reconciliation",
        "derivation/provisional_league_table",
    } <= keys
    assert defs.resolve_job_def("provisional_league_job") is not None
    assert defs.resolve_job_def("raw_reconciliation_job") is not None


def test_generated_raw_releases_reproduce_the_generated_values(run) -> None:
    result, tables, _, _ = run
    assert result.success
    for quarter in (Q1, Q2):
        rec = tables["reconciliation"][quarter]
        for metric_id in ("OF0003", "OF0010", "OF0011", "OF0017", "OF0023", "OF0028"):
            rows = rec[rec["metric_id"] == metric_id]
            assert (rows.loc[rows["official_value"].notna(), "status"] == "match").all(), metric_id
        ae = rec[rec["metric_id"] == "OF0013"]
        differs = ae[ae["status"] == "differs"]
        # the planted independent UTCs: NHS England's figure is higher, and said why
        assert 5 <= len(differs) <= 40
        assert (differs["official_value"] > differs["derived_value"]).all()
        assert (ae["status"] == "match").sum() == len(ae) - len(differs)
    derived = tables["derived_values"][Q1]
    assert {"cat1_mean", "cat2_mean", "cat2_p90", "conveyance_to_ed"} <= set(derived["measure"])
    assert derived["source_files"].str.contains("ambsys:").any()


def test_reconciliation_check_warns_and_reports_match_rates(run) -> None:
    result, _, _, _ = run
    drift = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == RECONCILIATION and e.check_name == "derived_matches_official"
    ]
    assert len(drift) == 1 and drift[0].passed
    assert drift[0].severity == dg.AssetCheckSeverity.WARN
    metadata = drift[0].metadata
    assert metadata["match_rate 2025/26 Q1 OF0010"].value == "100.0%"  # formatted for people
    assert 50 < float(metadata["match_rate 2025/26 Q1 OF0013"].value.removesuffix("%")) < 100
    materialization = result.asset_materializations_for_node("derivation__reconciliation")[0]
    assert "| OF0013" in materialization.metadata["match_rates"].value


def test_metric_values_record_their_source_and_snapshot_keeps_the_reconciliation(run) -> None:
    _, tables, _, snapshot = run
    values = tables["metric_values"][Q1]
    assert set(values["source"]) == {"official"}  # default precedence: as NHS England publishes
    assert (values["source_quarter"] == Q1.label).all()
    cancer = values[values["metric_id"] == "OF0010"]
    assert (cancer["derived_value"] == cancer["value"]).all()
    assert values.loc[values["metric_id"] == "OF0082", "derived_value"].isna().all()
    assert len(snapshot) == len(tables["reconciliation"][Q1])
    assert set(snapshot["status"]) >= {"match", "differs"}


def test_provisional_table_is_labelled_and_carries_from_the_official_quarter(run) -> None:
    result, tables, q1_provisional, _ = run
    table = tables["provisional"][Q2]
    assert set(table["status"]) == {"provisional"} and set(table["carried_from"]) == {Q1.label}
    assert len(table) == 205
    by_group = table.groupby("peer_group")[["metrics_derived", "metrics_carried"]].sum()
    assert (by_group.loc[["acute", "ambulance"], "metrics_derived"] > 0).all()
    assert by_group.loc["mental_health_community", "metrics_derived"] == 0
    assert (table["metrics_carried"] > 0).all()
    values = tables["provisional_values"][Q2]
    assert set(values["source"]) == {"derived", "carried"}
    assert set(values.loc[values["source"] == "carried", "source_quarter"]) == {Q1.label}
    assert (values["quarter"] == Q2.label).all()
    # derived values are the quarter's own: they equal Q2's official cancer values
    official = tables["metric_values"][Q2].set_index(["trust_code", "metric_id"])["value"]
    cancer = values[(values["metric_id"] == "OF0010") & (values["source"] == "derived")]
    keys = list(zip(cancer["trust_code"], cancer["metric_id"], strict=True))
    assert (cancer["value"].to_numpy() == official.loc[keys].to_numpy()).all()
    # Q1 is the methodology's first quarter: nothing to carry, so no provisional table
    assert not q1_provisional
    materialization = result.asset_materializations_for_node(
        "derivation__provisional_league_table"
    )[0]
    assert "first quarter" in materialization.metadata["status"].value[Q1.label]
    assert "2025/26 Q2" in materialization.metadata["compared_with_official"].value
    official_table = tables["league_table"][Q2]
    assert len(official_table) == len(table)


def test_drift_warns_without_blocking(generated, league_home, tmp_path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(generated / Q1.slug, landing / Q1.slug)
    path = landing / landing_path("cwt_crs_provider", Q1)
    cwt = read_cwt_provider(path.read_bytes(), Q1)
    fds = cwt["standard"] == "28-day FDS"
    cwt.loc[fds, "within_standard"] = (cwt.loc[fds, "within_standard"] * 0.9).round()
    cwt.loc[fds, "breaches"] = cwt.loc[fds, "total"] - cwt.loc[fds, "within_standard"]
    path.write_bytes(write_cwt_provider(cwt))
    settings = _settings(league_home, landing)
    result = _materialize(settings, (Q1.key, Q1.key))
    assert result.success  # warn, not block: the league tables and snapshot are still built
    drift = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "derived_matches_official"
    )
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert "OF0010" in drift.metadata["summary"].value
    assert snapshot_store(settings).latest(Q1.label) is not None


def test_a_raw_file_that_fails_validation_blocks_downstream(generated, league_home, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(generated / Q1.slug, landing / Q1.slug)
    # April's A&E file put in May's place
    shutil.copy(
        landing / landing_path("ae_monthly_m1", Q1), landing / landing_path("ae_monthly_m2", Q1)
    )
    settings = _settings(league_home, landing)
    result = _materialize(settings, (Q1.key, Q1.key))
    assert not result.success
    failed = [
        e
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert [e.asset_key.to_user_string() for e in failed] == ["sources/ae_monthly_m2"]
    assert "month the file was fetched for" in failed[0].metadata["summary"].value
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert (
        "derivation/derived_values" not in materialized
        and "scoring/metric_values" not in materialized
    )
    assert snapshot_store(settings).list() == []


# -- precedence ------------------------------------------------------------------------------
def _frames():
    official = pd.DataFrame(
        {
            "quarter": ["2025/26 Q1"] * 2,
            "trust_code": ["RAA", "RBB"],
            "metric_id": ["OF0010", "OF0082"],
            "value": [80.0, 4.5],
            "unit": ["percent", "percent"],
            "tiebreak": [1.0, 2.0],
        }
    )
    derived = pd.DataFrame(
        {
            "quarter": ["2025/26 Q1"] * 4,
            "trust_code": ["RAA", "RBB", "RMH", "XYZ"],
            "measure": ["cancer_fds_28_day"] * 4,
            "metric_id": ["OF0010"] * 4,
            "value": [80.01, 77.0, 70.0, 60.0],
            "unit": ["percent"] * 4,
        }
    )
    trusts = pd.DataFrame(
        {
            "quarter": ["2025/26 Q1"] * 3,
            "trust_code": ["RAA", "RBB", "RMH"],
            "peer_group": ["acute", "acute", "mental_health_community"],
        }
    )
    return official, derived, trusts


def _config(tmp_path: Path, precedence: str, metrics: str = "{}") -> Path:
    text = (paths.methodology_dir() / "metric_sources.yaml").read_text()
    text = text.replace(
        "precedence:\n  official: [official]\n  provisional: [derived, carried]\n\nmetrics: {}",
        f"precedence:\n{precedence}\n\nmetrics: {metrics}",
    )
    path = tmp_path / f"metric_sources_{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(text)
    return path


def test_official_precedence_default_and_fallback(tmp_path: Path) -> None:
    official, derived, trusts = _frames()
    default = official_values(official, derived, trusts)
    assert list(default["source"]) == ["official", "official"]
    assert default.set_index("trust_code").loc["RAA", "value"] == 80.0
    fallback = metric_sources(
        _config(tmp_path, "  official: [official, derived]\n  provisional: [derived, carried]")
    )
    filled = official_values(official, derived, trusts, fallback).set_index(
        ["trust_code", "metric_id"]
    )
    # RBB gets its missing OF0010 from the raw derivation; the MH trust (OF0010 is not scored
    # for its peer group) and the provider outside the official files do not
    assert filled.loc[("RBB", "OF0010"), "source"] == "derived"
    assert filled.loc[("RAA", "OF0010"), "source"] == "official"
    assert ("RMH", "OF0010") not in filled.index and ("XYZ", "OF0010") not in filled.index


def test_provisional_precedence_and_per_metric_override(tmp_path: Path) -> None:
    official, derived, _ = _frames()
    values = provisional_values(
        "2025/26 Q2", derived.assign(quarter="2025/26 Q2"), official, "2025/26 Q1"
    ).set_index(["trust_code", "metric_id"])
    # coverage is the latest official file's: RAA's OF0010 derived, RBB's OF0082 carried
    assert values.loc[("RAA", "OF0010"), "source"] == "derived"
    assert values.loc[("RAA", "OF0010"), "value"] == 80.01
    assert values.loc[("RBB", "OF0082"), "source"] == "carried"
    assert values.loc[("RBB", "OF0082"), "source_quarter"] == "2025/26 Q1"
    assert ("RBB", "OF0010") not in values.index
    override = metric_sources(
        _config(
            tmp_path,
            "  official: [official]\n  provisional: [derived, carried]",
            "\n  OF0010: {provisional: [carried, derived]}",
        )
    )
    carried_first = provisional_values(
        "2025/26 Q2", derived.assign(quarter="2025/26 Q2"), official, "2025/26 Q1", override
    ).set_index(["trust_code", "metric_id"])
    assert carried_first.loc[("RAA", "OF0010"), "source"] == "carried"


def test_precedence_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(MetricSourcesError, match="use each of official, derived, carried"):
        metric_sources(
            _config(tmp_path, "  official: [official, guessed]\n  provisional: [derived]")
        )
    with pytest.raises(MetricSourcesError, match="cannot use 'carried'"):
        metric_sources(_config(tmp_path, "  official: [carried]\n  provisional: [derived]"))


def test_cli_provisional_needs_an_earlier_official_quarter(settings, capsys) -> None:
    assert main(["provisional", "--quarter", "2025/26 Q3"], settings=settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no official quarter before 2025/26 Q3 has been run")
    assert 'league run --quarter "2025/26 Q2"' in err
    assert main(["provisional", "--quarter", "2025/26 Q1"], settings=settings) == 2
    assert "first quarter" in capsys.readouterr().err
