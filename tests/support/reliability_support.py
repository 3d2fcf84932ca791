"""Helpers shared by the reliability tests (fault injection, network faults, crash safety,
concurrency, determinism): the asset selections they run, the generated landing data they
share, and fingerprints of what the snapshot store holds.

Fingerprints read the lake through ONE connection (``lake.attached``) rather than one
``SnapshotStore.read`` a table, which attaches the lake each time; the store's own reads are
tested in ``tests/integration/test_snapshots.py``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import dagster as dg
import pandas as pd
from prebuilt import copy_of, prebuilt

from league_pipeline.cli import main
from league_pipeline.cli.runner import instance
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
from league_pipeline.defs.sources import SOURCE_KEYS
from league_pipeline.sample.generator import write_sample_landing
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.store import SYSTEM_COLUMNS, SnapshotStore

SNAPSHOT = dg.AssetKey(["snapshots", "quarterly_snapshot"])
# everything the snapshot is built from (the raw statistics too)
PIPELINE = dg.AssetSelection.assets(SNAPSHOT).upstream()
# the six published/project sources, every check on them, scoring and the snapshot; used on a
# working home where PIPELINE ran once, so the raw statistics' staged derivations are reused
CORE = (
    dg.AssetSelection.assets(*SOURCE_KEYS.values())
    | dg.AssetSelection.groups("scoring")
    | dg.AssetSelection.assets(SNAPSHOT)
)
Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
REPLICATES = 200  # bootstrap replicates of every run in these tests
# columns meant to differ between two runs on the same inputs
VOLATILE = re.compile(r"^snapshot_version$|(^|_)(run_id|created_at|built_at|fetched_at)$")


def _ident(name: str) -> str:
    """A quoted identifier (names come from the store's manifest, checked when written)."""
    return '"' + name.replace('"', '""') + '"'


def shared_landing(tmp_path_factory, quarters: list[Quarter]) -> Path:
    """The embedded default for ``quarters``, generated once per test session (read-only:
    copy it before changing a file)."""
    name = "landing-" + "-".join(q.slug for q in quarters)
    return prebuilt(tmp_path_factory, name, lambda folder: write_sample_landing(folder, quarters))


def populated_home(tmp_path_factory) -> Path:
    """A working home (``landing/``, staging, source store, lake, and a persistent Dagster
    instance in ``dagster/``) where 2025/26 Q1 and Q2 were run once, in one range run up to the
    snapshot: the store holds Q1 v1 and Q2 v1. Built once per test session; copy it (the lake
    and the instance move with the folder) before running anything on it."""

    def build(home: Path) -> None:
        copy_of(shared_landing(tmp_path_factory, [Q1, Q2]), home / "landing")
        settings = home_settings(home)
        with instance(settings.dagster_home) as runs:
            result = dg.materialize(
                ALL_ASSETS,
                selection=PIPELINE,
                resources=run_resources(settings),
                instance=runs,
                raise_on_error=False,
                tags={
                    "dagster/asset_partition_range_start": Q1.key,
                    "dagster/asset_partition_range_end": Q2.key,
                },
            )
        assert result.success, "the shared populated home could not be built"

    return prebuilt(tmp_path_factory, "populated-home", build)


def run_home(tmp_path_factory) -> Path:
    """A working home where ``league run --quarter 2025/26 Q1`` ran once on the generated Q1-Q2
    landing (with its outputs, and the run in the home's Dagster instance): the store holds Q1
    v1. Built once per test session; copy it before using it."""

    def build(home: Path) -> None:
        copy_of(shared_landing(tmp_path_factory, [Q1, Q2]), home / "landing")
        assert main(["run", "--quarter", Q1.label], settings=home_settings(home)) == 0

    return prebuilt(tmp_path_factory, "run-home", build)


def home_settings(home: Path) -> Settings:
    """The settings of the working home ``home`` (everything inside it) for these tests."""
    return Settings.for_home(home, bootstrap_replicates=REPLICATES, whatif_checked=0)


def use_home(source: Path, target: Path) -> Settings:
    """Copy a working home to ``target``; its settings."""
    return home_settings(copy_of(source, target))


def snapshot_digests(store: SnapshotStore, quarter: Quarter, version: int) -> dict[str, str]:
    """sha256 of every table of one snapshot (rows in the order written), without the columns
    meant to differ between runs."""
    info = store.get(quarter.label, version)
    out = {}
    with lake.attached(store.spec, read_only=True) as con:
        for table, columns in info.columns.items():
            kept = [c for c in columns if not VOLATILE.search(c)]
            frame = con.execute(
                f"SELECT {', '.join(map(_ident, kept))} FROM {_ident(table)} "
                "WHERE quarter = ? AND snapshot_version = ? ORDER BY rowid",
                [info.quarter, info.version],
            ).df()
            rows = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
            out[table] = hashlib.sha256(rows + "|".join(kept).encode()).hexdigest()
    return out


def assert_store_consistent(store: SnapshotStore) -> None:
    """Every listed snapshot has exactly the rows its manifest entry says, and the lake holds
    no other rows (nothing half-written visible, nothing lost, nothing twice)."""
    infos = store.list()
    expected: dict[str, dict[tuple[str, int], int]] = {}
    for info in infos:
        for table, rows in info.tables.items():
            expected.setdefault(table, {})[(info.quarter, info.version)] = rows
    with lake.attached(store.spec, read_only=True) as con:
        for table, counts in expected.items():
            found = con.execute(
                f"SELECT {', '.join(SYSTEM_COLUMNS)}, count(*) FROM {_ident(table)} GROUP BY ALL"
            ).fetchall()
            assert {(q, v): n for q, v, n in found} == counts, table
