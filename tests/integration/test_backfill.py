"""Backfills: one run for a range with its steps in one process, or one run a quarter with its
steps in processes of their own, two at a time (``--parallel 2``: Dagster's multiprocess
executor), give identical snapshots with no lock errors; afterwards the publication sensor
requests only revised quarters; the ``league`` CLI prints a progress line per step; a failed
source is one clear error with the fix. (Dagster's own ``dagster job backfill`` through the
daemon: tests/e2e/test_postgres_instance.py.)"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.cli.runner import BACKFILL_TAG, MODE_TAG, instance
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.automation import new_publication_sensor
from league_pipeline.defs.resources import run_resources
from league_pipeline.defs.snapshots import SNAPSHOT_TABLES
from league_pipeline.formats.nof import read_nof_trust_data, write_nof_trust_data
from league_pipeline.sample.generator import write_sample_landing
from league_pipeline.snapshots.store import SnapshotStore

REPO = Path(__file__).resolve().parents[2]
Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")
ACUTE_Q1 = "2025-26-q1/nhs-oversight-framework-acute-trust-data.csv"
LOCK_ERRORS = ("database is locked", "could not set lock", "conflicting lock", "lock timeout")


@pytest.fixture
def home(league_home, generated_landing) -> Path:
    """A working home with Q1-Q2 landing data (and its own Dagster home)."""
    shutil.copytree(generated_landing, league_home / "landing")
    return league_home


@pytest.fixture
def settings(league_home) -> Settings:
    """The home's settings, with a small bootstrap."""
    return Settings.for_home(league_home, bootstrap_replicates=200, whatif_checked=0)


def cli(capsys, settings: Settings, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=settings)
    out, err = capsys.readouterr()
    return code, out, err


def _contents(store: SnapshotStore, table: str, quarter, version: int) -> pd.DataFrame:
    """A snapshot table without its version column, in a canonical row order."""
    frame = store.read(table, quarter.label, version).drop(columns=["snapshot_version"])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def assert_step_progress(err: str, label: str) -> None:
    """One line per step of the run, numbered 1..N, with its time and (for assets) row count."""
    steps = re.findall(
        rf"^\[league\] {re.escape(label)}: \[(\d+)/(\d+)\] (\S+) \((\d+\.\d) s(.*)\)$",
        err,
        re.MULTILINE,
    )
    total = int(steps[0][1])
    assert [int(s[0]) for s in steps] == list(range(1, total + 1))
    assert {int(s[1]) for s in steps} == {total}
    names = {s[2]: s[4] for s in steps}
    assert names["sources/nof_trust_data_acute"].startswith(", ")  # ", 7,269 rows"
    assert names["snapshots/quarterly_snapshot"].endswith(" rows")
    assert "scoring/league_tables" in names


def _runs(instance: dg.DagsterInstance, mode: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={MODE_TAG: mode})))


def _step_pids(instance: dg.DagsterInstance, run: dg.DagsterRun) -> set[int]:
    """The processes the run's steps executed in."""
    starts = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
    return {e.dagster_event.pid for e in starts}


def test_single_run_and_multiprocess_backfills_give_identical_snapshots(capsys, home, settings):
    code, out, err = cli(capsys, settings, "backfill", "--from", "2025/26 Q1", "--to", "2025/26 Q2")
    assert code == 0, err
    assert "[league] running 2025/26 Q1 to 2025/26 Q2" in err
    assert_step_progress(err, "2025/26 Q1 to 2025/26 Q2")
    assert "2025/26 Q1 to 2025/26 Q2: done" in err

    code, out, err = cli(
        capsys,
        settings,
        "backfill",
        "--from",
        "2025/26 Q1",
        "--to",
        "2025/26 Q2",
        "--per-quarter",
        "--parallel",
        "2",
    )
    assert code == 0, err
    for quarter in (Q1, Q2):  # the steps of other processes reach the progress output
        assert_step_progress(err, quarter.label)
        assert f"[league] {quarter.label}: done" in err
    assert "error" not in err.lower()
    assert re.search(r"^2025/26 Q2 +2 ", out, re.MULTILINE)  # the snapshot list printed at the end

    store = snapshot_store(settings)
    assert [(i.quarter, i.version) for i in store.list()] == [
        (Q1.label, 1),
        (Q1.label, 2),
        (Q2.label, 1),
        (Q2.label, 2),
    ]
    for quarter in (Q1, Q2):
        single, parallel = store.get(quarter.label, 1), store.get(quarter.label, 2)
        assert single.run_id != parallel.run_id
        assert single.tables == parallel.tables and single.tables["league_table"] == 205
        for table in SNAPSHOT_TABLES.values():
            pd.testing.assert_frame_equal(
                _contents(store, table, quarter, 1), _contents(store, table, quarter, 2)
            )
        for kind, record in single.lineage["inputs"].items():  # the same files, fetched twice
            assert parallel.lineage["inputs"][kind]["sha256"] == record["sha256"]

    # the runs are in the Dagster instance (so in `dagster dev`): one range run with its steps
    # in this process, and two per-quarter runs with each step in a process of its own, none
    # with a lock error
    runs = instance(settings.dagster_home)
    single_runs, parallel_runs = _runs(runs, "single_run"), _runs(runs, "per_quarter")
    assert len(single_runs) == 1 and len(parallel_runs) == 2
    assert {r.tags[BACKFILL_TAG] for r in parallel_runs} != {single_runs[0].tags[BACKFILL_TAG]}
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in single_runs + parallel_runs)
    assert {r.job_name for r in single_runs + parallel_runs} == {"quarterly_league_job"}
    assert sorted(r.tags["dagster/partition"] for r in parallel_runs) == [Q1.key, Q2.key]
    # the range run is Dagster's single-run backfill of a partition range
    assert single_runs[0].tags["dagster/asset_partition_range_start"] == Q1.key
    assert single_runs[0].tags["dagster/asset_partition_range_end"] == Q2.key
    assert single_runs[0].run_config["execution"]["config"] == {"in_process": {}}
    assert _step_pids(runs, single_runs[0]) == {os.getpid()}
    for run in parallel_runs:
        executor = run.run_config["execution"]["config"]["multiprocess"]
        assert executor["max_concurrent"] == 2
        assert "forkserver" in executor["start_method"]
        pids = _step_pids(runs, run)  # a process per step, none of them this one
        assert len(pids) > 2 and os.getpid() not in pids
        text = " ".join(e.user_message for e in runs.all_logs(run.run_id)).lower()
        assert not any(marker in text for marker in LOCK_ERRORS)

    # turning the publication sensor on now requests nothing: the latest snapshots were built
    # from the files as they are; a revised Q2 file then requests Q2 only
    resources = run_resources(settings)
    first = new_publication_sensor(dg.build_sensor_context(instance=runs, resources=resources))
    assert not first.run_requests
    assert "latest snapshots of 2025/26 Q1, 2025/26 Q2 use the files" in str(first.skip_reason)
    path = home / "landing" / ACUTE_Q1.replace("q1", "q2")
    path.write_bytes(path.read_bytes().replace(b"Acute - Teaching", b"Acute - Teaching ", 1))
    revised = new_publication_sensor(
        dg.build_sensor_context(instance=runs, cursor=first.cursor, resources=resources)
    )
    assert [r.partition_key for r in revised.run_requests] == [Q2.key]


def test_failed_source_stops_with_one_error_and_the_fix(capsys, league_home, settings):
    landing = league_home / "landing"
    write_sample_landing(landing, [Q1])
    path = landing / ACUTE_Q1
    df = read_nof_trust_data(path.read_bytes(), Q1.published_label)
    df.loc[df.index[df["Metric_ID"] == "OF1003"][0], "Value"] = 7.5  # a score above 4
    path.write_bytes(write_nof_trust_data(df, with_quarter=False))

    code, _, err = cli(capsys, settings, "run", "--quarter", "2025/26 Q1")
    assert code == 1
    assert re.search(
        r"^\[league\] 2025/26 Q1: \[\d+/\d+\] sources/nof_trust_data_acute FAILED: "
        r"check pandera_schema failed$",
        err,
        re.MULTILINE,
    )
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: sources/nof_trust_data_acute failed pandera_schema:")
    fix = [line for line in err.splitlines() if line.startswith("fix:")]
    assert len(fix) == 1 and "dagster dev" in fix[0]
    assert "snapshots/quarterly_snapshot" not in err  # nothing downstream ran


def test_bad_parallel_value_is_one_line(capsys, home, settings):
    code, _, err = cli(capsys, settings, "backfill", "--parallel", "0")
    assert code == 2 and err.splitlines() == [
        "error: --parallel must be 1 or more, not 0",
        "fix: correct what the error names, then re-run (see --help)",
    ]
