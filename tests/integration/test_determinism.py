"""Determinism: re-running a quarter on the same inputs gives identical snapshot contents.

The quarter's first run is the shared home's (``tests/support/reliability_support.py``: 2025/26 Q1
and Q2 in one range run, up to the snapshot). It is run again, alone, in a fresh interpreter
with a different ``PYTHONHASHSEED``, from the sources through the raw statistics to the
snapshot. So set and dict orders, thread timing, DuckDB's parallel plans and the range-versus-
one-quarter batching all get a chance to differ. Every table of the two snapshots is hashed
without the columns that are meant to differ (the snapshot version; run ids and timestamps,
should a table ever carry them) and the hashes must be equal, table by table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reliability_support import Q1, REPLICATES, populated_home, snapshot_digests, use_home

from league_pipeline.cli.common import snapshot_store

RERUN = """
import sys, warnings
warnings.filterwarnings("ignore")
import dagster as dg
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
snapshot = dg.AssetKey(["snapshots", "quarterly_snapshot"])
settings = Settings.for_home(sys.argv[3], bootstrap_replicates=int(sys.argv[2]))
result = dg.materialize(ALL_ASSETS, selection=dg.AssetSelection.assets(snapshot).upstream(),
                        partition_key=sys.argv[1], instance=dg.DagsterInstance.ephemeral(),
                        resources=run_resources(settings), raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


def test_rerunning_a_quarter_gives_identical_tables(tmp_path_factory, tmp_path: Path) -> None:
    settings = use_home(populated_home(tmp_path_factory), tmp_path / "home")
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    env = {**os.environ, "PYTHONHASHSEED": seed}
    rerun = subprocess.run(
        [sys.executable, "-c", RERUN, Q1.key, str(REPLICATES), str(settings.home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    store = snapshot_store(settings)
    v1, v2 = store.get(Q1.label, 1), store.get(Q1.label, 2)
    assert v1.tables == v2.tables  # same tables, same row counts
    for kind, record in v1.lineage["inputs"].items():  # from the same input files
        assert v2.lineage["inputs"][kind]["sha256"] == record["sha256"], kind
    assert v1.lineage["dagster_run_id"] != v2.lineage["dagster_run_id"]
    first, second = snapshot_digests(store, Q1, 1), snapshot_digests(store, Q1, 2)
    assert set(first) >= {"league_table", "metric_scores", "metric_values", "trusts"}
    differing = sorted(table for table in first if first[table] != second[table])
    assert differing == [], f"tables that differ between the two runs: {differing}"
