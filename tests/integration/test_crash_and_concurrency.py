"""Crash safety and concurrency of whole pipeline runs
(``tests/integration/test_snapshots.py`` covers the snapshot store alone).

* Crash: ``league run`` is SIGKILLed while it writes the snapshot (its league table's Parquet
  files are in the lake, the transaction is not committed). The store stays consistent: the
  previous snapshot reads back unchanged, no half snapshot is visible, and the next run succeeds
  with the next version and the same contents. The pause that makes the kill land there is a
  patch applied by this test's own child process (``CHILD`` below), not a hook in the pipeline.
* Concurrency: three quarter runs in parallel processes (a backfill's two quarters, one of
  them twice, as when a sensor run and a manual run overlap) plus a reader process reading the
  store in a loop, all on one working home and one Dagster instance: no errors, no lock errors,
  every snapshot complete, and the lake holds exactly the rows the manifest says (nothing lost,
  nothing twice). A run leaves each source's validated staging extract intact (the scoring
  engine's own inputs are staged under other names; two runs of one quarter failed before).

Both start from a copy of a working home whose store already holds 2025/26 Q1 and Q2 (built
once per test session by ``tests/support/reliability_support.py``). The child processes run the
pipeline up to the snapshot; the raw statistics' derivations staged by that first run are reused
(their files do not change here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from reliability_support import (
    CORE,
    Q1,
    Q2,
    REPLICATES,
    assert_store_consistent,
    populated_home,
    snapshot_digests,
    use_home,
)

from league_pipeline.cli.common import snapshot_store, staging_folder
from league_pipeline.cli.runner import instance
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources

LOCK_ERRORS = ("database is locked", "database is busy", "could not set lock", "lock timeout")

# The child process, in the working home given first: "pause-in-snapshot" runs `league run`
# (configured by the environment, as a user would) with the snapshot writer paused after the
# league table's rows are written (before COMMIT); "run" materialises one quarter up to the
# snapshot in the persistent instance; "read" reads the store's newest snapshot in a loop until
# told to stop, checking that it is complete.
CHILD = r"""
import json, logging, os, sys, time, warnings
from pathlib import Path
warnings.filterwarnings("ignore")
logging.basicConfig(level=logging.WARNING)
logging.getLogger("league_pipeline.snapshots").setLevel(logging.INFO)  # shows store retries
from league_pipeline.core.settings import Settings
settings = Settings.for_home(sys.argv[1], bootstrap_replicates=int(sys.argv[2]), whatif_checked=0)
mode, sys.argv = sys.argv[3], sys.argv[2:]  # then as if called with the mode first
if mode == "pause-in-snapshot":
    from league_pipeline.snapshots import writer
    real_append, marker = writer._append, Path(sys.argv[2])
    def append(con, name, *args):
        columns = real_append(con, name, *args)
        if name == "league_table":
            marker.write_text("written, not committed")
            time.sleep(600)
        return columns
    writer._append = append
    from league_pipeline.cli import main
    sys.exit(main(["run", "--quarter", sys.argv[3]]))
elif mode == "run":
    import dagster as dg
    from league_pipeline.definitions import ALL_ASSETS, run_resources
    from league_pipeline.defs.sources import SOURCE_KEYS
    from league_pipeline.cli.runner import _problems, instance
    snapshot = dg.AssetKey(["snapshots", "quarterly_snapshot"])
    core = (dg.AssetSelection.assets(*SOURCE_KEYS.values()) | dg.AssetSelection.groups("scoring")
            | dg.AssetSelection.assets(snapshot))
    result = dg.materialize(ALL_ASSETS, selection=core, partition_key=sys.argv[2],
                            resources=run_resources(settings),
                            instance=instance(settings.dagster_home),
                            raise_on_error=False, tags={"test/child": sys.argv[3]})
    print(json.dumps({"run_id": result.run_id, "success": result.success,
                      "problems": _problems(result)}))
    sys.exit(0 if result.success else 1)
elif mode == "read":
    from league_pipeline.cli.common import snapshot_store
    store, stop, reads = snapshot_store(settings), Path(sys.argv[2]), 0
    while not stop.exists():  # the newest snapshot, each time: it may be seconds old
        info = store.list()[-1]
        frame = store.read("league_table", info.quarter, info.version)
        assert len(frame) == info.tables["league_table"], (info.snapshot_id, len(frame))
        assert set(frame["snapshot_version"]) == {info.version}
        reads += 1
        time.sleep(0.1)
    print(json.dumps({"reads": reads}))
"""


def child(home: Path, *args: str, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "LEAGUE_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LEAGUE_BOOTSTRAP_REPLICATES": str(REPLICATES),
        "LEAGUE_WHATIF_CHECKED": "0",
        "LEAGUE_SOURCE_MODE": "landing",
    }
    env.pop("LEAGUE_LANDING_DIR", None)
    env.pop("LEAGUE_LAKE_CATALOG", None)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), str(REPLICATES), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


@pytest.fixture
def settings(tmp_path_factory, tmp_path: Path) -> Settings:
    """A copy of the shared home whose store holds Q1 v1 and Q2 v1: its settings."""
    return use_home(populated_home(tmp_path_factory), tmp_path / "home")


@pytest.fixture
def home(settings: Settings) -> Path:
    return settings.home


def wait_for(path: Path, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the child ended early: {proc.communicate()[1][-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the child did not reach the snapshot in {timeout:.0f} s")
        time.sleep(0.05)


def test_league_run_killed_while_writing_the_snapshot(
    home: Path, settings: Settings, tmp_path: Path
) -> None:
    store = snapshot_store(settings)
    before = snapshot_digests(store, Q1, 1)
    marker = tmp_path / "in-snapshot"
    proc = child(home, "pause-in-snapshot", str(marker), Q1.label)
    wait_for(marker, proc, timeout=300)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # consistent: the old snapshots as they were, no trace of the killed one
    assert [(i.quarter, i.version) for i in store.list()] == [(Q1.label, 1), (Q2.label, 1)]
    assert snapshot_digests(store, Q1, 1) == before
    assert_store_consistent(store)
    orphans = store.remove_orphan_files(dry_run=True)  # its uncommitted Parquet files
    assert orphans and all(path.suffix == ".parquet" for path in orphans)

    # the next run (same instance, where the killed run is still "started") succeeds
    with instance(settings.dagster_home) as runs:
        result = dg.materialize(
            ALL_ASSETS,
            selection=CORE,
            partition_key=Q1.key,
            resources=run_resources(settings),
            instance=runs,
            raise_on_error=False,
        )
        assert result.success
        killed = runs.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert len(killed) == 1 and killed[0].run_id != result.run_id
    assert [i.version for i in store.list(Q1.label)] == [1, 2]
    assert snapshot_digests(store, Q1, 2) == before  # same inputs, same contents
    assert store.remove_orphan_files() == orphans
    assert_store_consistent(store)


def test_parallel_quarter_runs_with_a_reader(
    home: Path, settings: Settings, tmp_path: Path
) -> None:
    store = snapshot_store(settings)
    v1 = {q: snapshot_digests(store, q, 1) for q in (Q1, Q2)}
    stop = tmp_path / "stop-reading"
    reader = child(home, "read", str(stop))
    # a backfill's two quarters, and one of them a second time (a sensor run and a manual one)
    writers = [child(home, "run", q.key, str(i)) for i, q in enumerate((Q1, Q2, Q1))]
    outputs = [w.communicate(timeout=600) for w in writers]
    stop.touch()
    read_out, read_err = reader.communicate(timeout=120)

    for proc, (out, err) in zip(writers, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1])["success"]
        assert not any(text in err.lower() for text in LOCK_ERRORS), err[-3000:]
    assert reader.returncode == 0, read_err[-3000:]
    assert not any(text in read_err.lower() for text in LOCK_ERRORS), read_err[-3000:]
    assert json.loads(read_out.strip().splitlines()[-1])["reads"] >= 2

    # every run wrote a whole snapshot with the next free version; nothing lost or doubled
    assert [i.version for i in store.list(Q1.label)] == [1, 2, 3]
    assert [i.version for i in store.list(Q2.label)] == [1, 2]
    assert_store_consistent(store)
    for quarter, versions in ((Q1, (2, 3)), (Q2, (2,))):
        for version in versions:  # and the same contents as before
            assert snapshot_digests(store, quarter, version) == v1[quarter]
    with instance(settings.dagster_home) as dagster:
        runs = dagster.get_runs(filters=dg.RunsFilter(tags={"test/child": ["0", "1", "2"]}))
        assert sorted(r.status.value for r in runs) == ["SUCCESS"] * 3


def test_staged_source_extract_survives_a_run(settings: Settings) -> None:
    """After a run, each source's staging table is still its validated extract (the scoring
    engine's own deficit/RSP inputs once replaced it, which broke parallel runs of a quarter)."""
    from league_pipeline.defs.sources import SOURCE_SPECS
    from league_pipeline.validation.report import validate

    staging = staging_folder(settings)
    for spec in SOURCE_SPECS:
        extract = staging.read_table(spec.kind, Q1.key)
        assert validate(extract, spec.schema, expected_quarter=Q1.label).passed, spec.kind
