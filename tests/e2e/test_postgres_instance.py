"""The production instance: ``deploy/dagster.yaml`` on a throwaway PostgreSQL started from the
Debian binaries (``apt-get install postgresql``).

* a quarter's run with Dagster's runs, events and check results in Postgres, and its snapshot
  in a DuckLake catalog on Postgres (``LEAGUE_LAKE_CATALOG``);
* the snapshot store on a Postgres catalog: versions, reads, lineage;
* the daemon: the publication sensor's tick is recorded; ``dagster job backfill`` queues one
  run a quarter and ``dagster-daemon run`` launches them through the queued run coordinator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg2
import pytest

from league_pipeline.cli.common import snapshot_store
from league_pipeline.cli.runner import run_quarters
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.snapshots import SNAPSHOT_TABLES
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.store import SnapshotError, SnapshotStore

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
DAEMON_TIMEOUT = 300  # seconds: a generous bound, not a speed claim


def _dagster_home(path: Path) -> Path:
    path.mkdir(parents=True)
    shutil.copy(DEPLOY_YAML, path / "dagster.yaml")
    return path


def test_a_quarter_runs_on_a_postgres_instance_and_lake(
    postgres, generated_landing, league_home, tmp_path, monkeypatch
):
    postgres.create_database("dagster_a")
    postgres.create_database("lake_a")
    for name, value in postgres.dagster_env("dagster_a").items():
        monkeypatch.setenv(name, value)
    home = _dagster_home(tmp_path / "dagster_home")
    shutil.copytree(generated_landing, league_home / "landing")
    catalog = f"postgres:{postgres.dsn('lake_a')}"
    settings = Settings.for_home(
        league_home,
        dagster_home=home,
        lake_catalog=catalog,
        bootstrap_replicates=200,
        whatif_checked=0,
    )

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
        [outcome] = run_quarters([Q1], settings=settings, dagster_instance=instance)
        assert outcome.success, outcome.problems
        run_ids = [outcome.run_id]
        run = instance.get_run_by_id(outcome.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "quarterly_league_job"
        assert run.tags["dagster/partition"] == Q1.key
        record = instance.get_latest_materialization_event(
            dg.AssetKey(["snapshots", "quarterly_snapshot"])
        )
        assert record.run_id == outcome.run_id
        check = dg.AssetCheckKey(dg.AssetKey(["sources", "nof_trust_data_acute"]), "pandera_schema")
        history = instance.event_log_storage.get_asset_check_execution_history(check, limit=5)
        assert ("SUCCEEDED", outcome.run_id) in {(e.status.value, e.run_id) for e in history}

    # the same facts, read straight from Postgres
    runs = postgres.query(
        "dagster_a", "SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (run_ids,)
    )
    assert sorted(runs) == sorted((r, "SUCCESS") for r in run_ids)
    materialised = postgres.query(
        "dagster_a",
        "SELECT run_id, asset_key FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND run_id = ANY(%s)",
        (run_ids,),
    )
    for run_id in run_ids:
        keys = {"/".join(json.loads(key)) for r, key in materialised if r == run_id}
        assert {
            "sources/nof_trust_data_acute",
            "scoring/league_tables",
            "snapshots/quarterly_snapshot",
        } <= keys
    # (Dagster also keeps a PLANNED row per partition: a check result of a partitioned asset
    # is stored without its partition, as a row of its own)
    checks = postgres.query(
        "dagster_a",
        "SELECT asset_key, check_name, execution_status FROM asset_check_executions "
        "WHERE run_id = %s AND execution_status <> 'PLANNED'",
        (run_ids[0],),
    )
    by_check = {("/".join(json.loads(k)), c): s for k, c, s in checks}
    assert by_check[("sources/nof_trust_data_acute", "pandera_schema")] == "SUCCEEDED"
    assert len(by_check) >= 6 and set(by_check.values()) == {"SUCCEEDED"}

    # the snapshot: in the DuckLake catalog on Postgres
    store = snapshot_store(settings)
    assert store.spec.kind == "postgres"
    assert [(i.quarter, i.version, i.run_id) for i in store.list()] == [(Q1.label, 1, run_ids[0])]
    assert len(store.read("league_table", Q1.label)) == 205
    (count,) = postgres.query("lake_a", "SELECT count(*) FROM ducklake_table")[0]
    assert count >= len(SNAPSHOT_TABLES)


def test_snapshot_store_on_a_postgres_catalog(postgres, tmp_path):
    postgres.create_database("lake_b")
    store = SnapshotStore(tmp_path / "lake", catalog=f"postgres:{postgres.dsn('lake_b')}")
    assert store.list() == []
    table = pd.DataFrame({"trust_code": ["RX1", "RX2"], "rank": [1, 2]})
    first = store.write(Q1, {"league_table": table}, {"inputs": {"a": {"sha256": "0" * 64}}})
    second = store.write(Q1, {"league_table": table.iloc[:1]}, {"inputs": {}}, run_id="r2")
    assert (first.version, second.version) == (1, 2)
    assert second.snapshot_id == "2025-26-q1/v2"
    assert len(store.read("league_table", Q1, 1)) == 2
    assert store.read("league_table", Q1)["trust_code"].tolist() == ["RX1"]
    assert store.latest(Q1).run_id == "r2"
    assert store.lineage(Q1, 1)["inputs"]["a"]["sha256"] == "0" * 64
    # the catalog (manifest, versions, schema) is in Postgres
    assert postgres.query("lake_b", "SELECT count(*) FROM ducklake_snapshot")[0][0] >= 2

    # writers on other machines are kept apart by a Postgres advisory lock: while another
    # session holds it, a write waits and then fails clearly; once it is released, it succeeds
    holder = psycopg2.connect(store.spec.dsn)  # another machine's writer, say
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", [lake.PG_WRITER_LOCK_KEY])
    store.lock_timeout = 1
    with pytest.raises(SnapshotError, match="write lock"):
        store.write(Q1, {"league_table": table}, {})
    holder.close()
    assert store.write(Q1, {"league_table": table}, {}).version == 3


def _dagster(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN / "dagster"), *args, "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def _wait(condition, what: str, daemon: subprocess.Popen, log: Path):
    deadline = time.monotonic() + DAEMON_TIMEOUT
    while True:
        value = condition()
        if value:
            return value
        if daemon.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen; daemon log:\n{log.read_text()[-4000:]}")
        time.sleep(1)


def test_daemon_records_sensor_ticks_and_launches_a_backfill(
    postgres, generated_landing, tmp_path, monkeypatch
):
    postgres.create_database("dagster_c")
    postgres.create_database("lake_c")
    league_home = tmp_path / "league"
    home = _dagster_home(tmp_path / "dagster_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAGUE_", "DAGSTER_"))}
    env |= postgres.dagster_env("dagster_c") | {
        "DAGSTER_HOME": str(home),
        "LEAGUE_HOME": str(league_home),
        "LEAGUE_LAKE_CATALOG": f"postgres:{postgres.dsn('lake_c')}",
        "LEAGUE_BOOTSTRAP_REPLICATES": "200",
        "LEAGUE_WHATIF_CHECKED": "0",
        "PYTHONWARNINGS": "ignore",
    }
    for name, value in postgres.dagster_env("dagster_c").items():
        monkeypatch.setenv(name, value)  # the credentials deploy/dagster.yaml reads
    instance = dg.DagsterInstance.from_config(str(home))

    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run workers share its process group
        )
    try:
        # the publication sensor, turned on while nothing is published yet: its first tick is
        # recorded in Postgres, and skips
        _dagster(["sensor", "start", "new_publication_sensor"], env)

        def sensor_ticked():
            return postgres.query(
                "dagster_c",
                "SELECT status, tick_body FROM job_ticks WHERE type = 'SENSOR' "
                "AND status <> 'STARTED'",
            )

        [(status, body)] = _wait(sensor_ticked, "a publication sensor tick", daemon, log)
        assert status == "SKIPPED" and "no new or revised source files" in body

        # then Dagster's own backfill command: one queued run per quarter, tagged
        # dagster/backfill; the daemon dequeues them within deploy/dagster.yaml's limits and
        # launches each in a process of its own
        shutil.copytree(generated_landing, league_home / "landing")
        backfill = ["backfill", "-j", "quarterly_league_job", "--from", Q1.key, "--to", Q2.key]
        _dagster(["job", *backfill, "--noprompt"], env)
        submitted = instance.get_runs()
        assert {r.tags["dagster/partition"] for r in submitted} == {Q1.key, Q2.key}
        assert len(submitted) == 2 and len({r.tags["dagster/backfill"] for r in submitted}) == 1
        finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}

        def backfill_done():
            runs = instance.get_runs()
            return runs if all(r.status in finished for r in runs) else None

        runs = _wait(backfill_done, "the backfill's two runs finishing", daemon, log)
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, [
            (r.run_id, r.status) for r in runs
        ]
        events = {
            e.dagster_event.event_type_value
            for e in instance.all_logs(runs[0].run_id)
            if e.dagster_event is not None
        }
        assert {"PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_SUCCESS"} <= events
        store = SnapshotStore(league_home / "lake", catalog=env["LEAGUE_LAKE_CATALOG"])
        infos = store.list()
        assert [(i.quarter, i.version) for i in infos] == [(Q1.label, 1), (Q2.label, 1)]
        assert {i.run_id for i in infos} == {r.run_id for r in runs}
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        instance.dispose()
