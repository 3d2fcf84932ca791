"""Catalog safety (issue 12, data loss case 1): a lost or damaged lake catalog never starts a new
lake over existing data files, never reuses a version number, and comes back from a verified
backup with every earlier snapshot intact.

The CLI cases share one populated home, built once for the module: ``league run`` of 2025/26 Q1
(v1, with its outputs folder) plus a second snapshot of Q1 written through the store (v2), so
that "every earlier snapshot" means more than one. Each case copies that home, damages the
catalog one way (truncated, deleted, header overwritten, cut to half its size) and runs
``status``, ``run``, ``lake check``, ``lake restore``, ``lake check``, then reads every
snapshot back; the truncated case (the issue's reproduction) also writes the next snapshot
(v3, through the store: a second ``league run`` would add a third to the file's runtime;
``docs/reliability.md`` records one tried by hand). The store-level tests use small tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from prebuilt import copy_of
from reliability_support import run_home

from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.core.settings import LAKE_BACKUPS, Settings
from league_pipeline.snapshots import backups as backups_module
from league_pipeline.snapshots import lake
from league_pipeline.snapshots.lake import CatalogDamagedError
from league_pipeline.snapshots.store import SnapshotStore

Q1 = "2025/26 Q1"
GARBAGE = b"GARBAGE!" * 16  # written over the first 128 bytes: SQLite's header is the first 100


def cli(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=_settings(home))
    out, err = capsys.readouterr()
    return code, out, err


def _settings(home: Path) -> Settings:
    """The working home ``home`` with a small bootstrap; every other setting its default."""
    return Settings.for_home(home, bootstrap_replicates=200, whatif_checked=0)


def table_hashes(store: SnapshotStore) -> dict[str, str]:
    """snapshot id/table -> sha256 of its rows, for every table of every snapshot."""
    out = {}
    with store.reading():
        for info in store.list():
            for table in info.tables:
                frame = store.read(table, info.quarter, info.version)
                digest = hashlib.sha256(",".join(frame.columns).encode())
                digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
                out[f"{info.snapshot_id}/{table}"] = digest.hexdigest()
    return out


def folder_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def populated(tmp_path_factory) -> dict:
    """A home with 2025/26 Q1 v1 (from `league run`, with outputs) and v2 (store.write)."""
    home = copy_of(run_home(tmp_path_factory), tmp_path_factory.mktemp("lake-safety") / "league")
    settings = _settings(home)
    store = snapshot_store(settings)
    v1 = store.get(Q1, 1)  # v2: the same tables again (the outputs step reads them all)
    tables = {name: store.read(name, Q1, 1).drop(columns="snapshot_version") for name in v1.tables}
    v2 = store.write(Q1, tables, {**v1.lineage, "note": "second snapshot"}, run_id="manual")
    assert v2.version == 2
    hashes = table_hashes(store)
    assert len(hashes) == 2 * len(v1.tables)
    outputs = home / "outputs" / "2025-26-q1"
    assert [p.name for p in outputs.iterdir()] == ["v1"]
    backups = sorted((home / "lake" / "backups").iterdir())
    assert len(backups) == 2  # one after each commit
    return {"home": home, "hashes": hashes, "outputs_v1": folder_hashes(outputs / "v1")}


@pytest.fixture
def home(populated, tmp_path) -> Path:
    copy = tmp_path / "league"
    shutil.copytree(populated["home"], copy)
    return copy


def damage(home: Path, fault: str) -> None:
    catalog = home / "lake" / "catalog.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    if fault == "truncate":
        catalog.write_bytes(b"")
    elif fault == "delete":
        catalog.unlink()
    elif fault == "header":
        with catalog.open("r+b") as f:
            f.write(GARBAGE)
    elif fault == "half":
        os.truncate(catalog, catalog.stat().st_size // 2)
    else:  # pragma: no cover
        raise ValueError(fault)


def data_files(home: Path) -> dict[str, str]:
    return folder_hashes(home / "lake" / "data")


def error_and_fix(err: str) -> tuple[str, str]:
    lines = [line for line in err.splitlines() if line.startswith(("error:", "fix:"))]
    assert len(lines) == 2, err
    return lines[0], lines[1]


@pytest.mark.parametrize("fault", ["truncate", "delete", "header", "half"])
def test_damaged_catalog_status_run_check_restore(capsys, populated, home, fault):
    catalog = home / "lake" / "catalog.sqlite"
    data_before = data_files(home)
    damage(home, fault)
    broken = catalog.read_bytes() if catalog.exists() else None

    # status: not "no snapshots yet" with exit 0, but what is wrong and how to recover
    code, out, err = cli(capsys, home, "status")
    error, fix = error_and_fix(err)
    assert code == 1 and "no snapshots yet" not in out
    assert "lake catalog is damaged or lost" in error and str(catalog) in error
    assert f"holds {len(data_before)} data file(s) of earlier snapshots" in error
    assert "`league lake restore`" in fix

    # run: refused before any work, with the same error and fix; nothing written or overwritten
    code, _, err = cli(capsys, home, "run", "--quarter", Q1)
    assert code == 1 and "[league] running" not in err
    assert error_and_fix(err) == (error, fix)
    assert (catalog.read_bytes() if catalog.exists() else None) == broken
    assert data_files(home) == data_before
    outputs = home / "outputs" / "2025-26-q1"
    assert [p.name for p in outputs.iterdir()] == ["v1"]
    assert folder_hashes(outputs / "v1") == populated["outputs_v1"]

    # lake check: one error line and one fix line
    code, out, err = cli(capsys, home, "lake", "check")
    error, fix = error_and_fix(err)
    assert code == 1 and out == ""
    assert error.startswith("error: the lake catalog is damaged or lost:")
    assert fix.startswith("fix: run `league lake restore`")

    # lake restore: the newest backup, verified; the broken catalog kept aside
    code, out, err = cli(capsys, home, "lake", "restore")
    assert code == 0, err
    newest = sorted((home / "lake" / "backups").iterdir())[-1]
    assert f"from backup {newest}" in out
    assert "snapshots restored (2): 2025-26-q1/v1, 2025-26-q1/v2" in out
    kept = sorted((home / "lake").glob("catalog.sqlite.broken-*"))
    if broken is None:
        assert kept == [] and "kept as" not in out
    else:
        assert kept[0].read_bytes() == broken and f"kept as {kept[0]}" in out

    code, out, err = cli(capsys, home, "lake", "check")
    assert code == 0, out + err
    assert f"snapshots: 2 (2025/26 Q1); data files: {len(data_before)}" in out
    assert out.splitlines()[-1] == "lake check: healthy"

    # every earlier snapshot survives, row for row
    assert table_hashes(snapshot_store(_settings(home))) == populated["hashes"]
    code, out, _ = cli(capsys, home, "status")
    assert code == 0 and "2025/26 Q1  2  " in out

    if fault == "truncate":  # the reproduction: the next write is v3, not v1 again
        store = snapshot_store(_settings(home))
        frame = store.read("league_table", Q1, 1).drop(columns="snapshot_version")
        assert store.write(Q1, {"league_table": frame}, {"after": fault}).version == 3
        code, out, _ = cli(capsys, home, "lake", "check")
        assert code == 0 and "holds 3 snapshot(s)" in out
        assert [p.name for p in outputs.iterdir()] == ["v1"]


def test_status_and_check_of_a_new_home(capsys, league_home):
    home = league_home
    code, out, _ = cli(capsys, home, "status")
    assert code == 0 and "no snapshots yet" in out
    code, out, _ = cli(capsys, home, "lake", "check")
    assert code == 0 and "no lake yet" in out and out.splitlines()[-1] == "lake check: healthy"
    code, _, err = cli(capsys, home, "lake", "restore")
    assert code == 1 and "no catalog backup" in err


# -- the store --------------------------------------------------------------------------------


def small(n: int) -> dict[str, pd.DataFrame]:
    """A snapshot: ``league_table`` in a Parquet file (100 + n rows), ``tiny`` inlined in the
    catalog (DuckLake keeps a few rows in the catalog itself: only a backup holds them)."""
    return {
        "league_table": pd.DataFrame({"org": range(100 + n), "x": 0.5}),
        "tiny": pd.DataFrame({"a": [n]}),
    }


@pytest.fixture
def store(tmp_path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "lake")


def test_backups_are_consistent_copies_read_back_and_pruned(tmp_path, monkeypatch):
    assert SnapshotStore(tmp_path / "lake").backups_kept == LAKE_BACKUPS == 5
    store = SnapshotStore(tmp_path / "lake", backups=2)
    for n in (3, 4, 5):
        store.write(Q1, small(n), {"n": n})
    backups = lake.list_backups(store.spec)
    assert len(backups) == 2  # the oldest beyond LEAGUE_LAKE_BACKUPS went
    newest = store.verify_backup(backups[0])
    assert newest.good and [i.version for i in newest.snapshots] == [1, 2, 3]
    assert [i.version for i in store.verify_backup(backups[1]).snapshots] == [1, 2]
    for path in backups:  # one self-contained file each (DELETE journal, no -wal)
        assert not Path(f"{path}-wal").exists()
        with sqlite3.connect(path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    # a backup that fails its read-back never replaces an older one; the commit stands
    def bad(store, path):
        checked = real(store, path)
        checked.problem = "simulated failure"
        return checked

    real = backups_module.verify_backup
    monkeypatch.setattr(backups_module, "verify_backup", bad)
    info = store.write(Q1, small(6), {})
    monkeypatch.setattr(backups_module, "verify_backup", real)
    assert info.version == 4 and lake.list_backups(store.spec) == backups
    assert not [p for p in lake.backup_dir(store.spec).iterdir() if p not in backups]
    report = store.check()
    assert report.healthy
    assert any("the newest backup lacks 2025-26-q1/v4" in w for w in report.warnings)

    with pytest.raises(ValueError, match="LEAGUE_LAKE_BACKUPS='x' is not a whole number"):
        Settings.from_env({"LEAGUE_LAKE_BACKUPS": "x"})


def test_restore_skips_bad_backups_and_versions_are_never_reused(store, tmp_path):
    for n in (3, 4, 5):
        store.write(Q1, small(n), {})
    newest, middle, oldest = lake.list_backups(store.spec)
    for path in (newest, middle):  # only the oldest backup (v1) is still good
        with path.open("r+b") as f:
            f.write(GARBAGE)
    store.spec.sqlite_file.write_bytes(b"")
    result = store.restore()
    assert result.backup.path == oldest
    assert [c.path for c in result.skipped] == [newest, middle]
    assert all("not a database" in c.problem for c in result.skipped)
    assert [i.snapshot_id for i in store.list()] == ["2025-26-q1/v1"]
    assert result.not_restored == ["2025-26-q1/v2", "2025-26-q1/v3"]
    assert store.write(Q1, small(9), {}).version == 4  # not 2: versions.json remembers 3
    report = store.check()
    assert any("no version 2, 3 in the catalog" in w for w in report.warnings)
    assert any("orphaned data file(s)" in p for p in report.problems)  # v2 and v3's files

    # without versions.json, an outputs folder alone still keeps its number from reuse
    store.versions_file.unlink()
    (tmp_path / "outputs" / "2025-26-q1" / "v7").mkdir(parents=True)
    assert store.write(Q1, small(2), {}).version == 8


def test_a_healthy_catalog_is_not_restored_without_force(store):
    store.write(Q1, small(3), {})
    store.write(Q1, small(4), {})
    with pytest.raises(lake.LakeError, match=r"is healthy \(2 snapshot\(s\)\): nothing to restore"):
        store.restore()
    older = lake.list_backups(store.spec)[-1]
    result = store.restore(Path(older.name), force=True)  # a backup's name is enough
    assert [i.version for i in store.list()] == [1]
    assert result.kept_aside[0].name.startswith("catalog.sqlite.broken-")
    assert result.not_restored == ["2025-26-q1/v2"]


def test_check_finds_missing_changed_orphaned_files_reused_versions_and_row_counts(store):
    store.write(Q1, small(3), {})
    store.write(Q1, small(4), {})
    assert store.check().healthy
    files = sorted(store.spec.data_path.rglob("*.parquet"))
    assert len(files) == 2  # league_table's two writes (the one-row tables are inlined)
    files[0].rename(files[0].with_suffix(".moved"))  # missing, and an orphan
    with files[1].open("ab") as f:
        f.write(b"x")  # changed
    with lake.attached(store.spec, read_only=False) as con:  # what the store never does
        con.execute(
            "INSERT INTO snapshots SELECT quarter, version, snapshot_id, created_at, run_id, "
            "tables, table_columns, lineage FROM snapshots WHERE version = 2"
        )
        con.execute("INSERT INTO tiny VALUES ('2025/26 Q1', 5, 1)")
        con.execute("DELETE FROM tiny WHERE snapshot_version = 1")
    report = store.check()
    text = "\n".join(report.problems)
    assert not report.healthy
    assert f"missing data file: {files[0]}" in text
    assert f"changed data file: {files[1]}" in text
    assert "1 orphaned data file(s) no snapshot references" in text
    assert "2025/26 Q1: version(s) 2 published more than once" in text
    assert "table tiny holds 1 rows of 2025/26 Q1 v5, which no snapshot" in text
    assert "2025-26-q1/v1: table tiny has 0 rows, the manifest says 1" in text
    assert len(report.problems) == 6, text


def test_orphans_of_snapshots_a_backup_holds_are_told_apart_and_kept(store, capsys, monkeypatch):
    store.write(Q1, small(3), {})
    store.write(Q1, small(4), {})
    store.restore(lake.list_backups(store.spec)[-1], force=True)  # the catalog "lost" v2
    report = store.check()
    assert any("belong to snapshots a backup holds" in p for p in report.problems)
    code, _, err = cli(capsys, store.root.parent, "lake", "remove-orphans")
    assert code == 2 and "a catalog backup holds" in err
    assert len(list(store.spec.data_path.rglob("*.parquet"))) == 2


def test_nothing_destructive_runs_on_a_damaged_catalog(store):
    store.write(Q1, small(3), {})
    before = sorted(store.spec.data_path.rglob("*"))
    store.spec.sqlite_file.write_bytes(b"")
    for call in (
        store.list,
        lambda: store.read("league_table", Q1),
        lambda: store.write(Q1, small(1), {}),
        store.remove_orphan_files,  # would re-create an empty lake and delete every file
        store.check,
        store.backup,
    ):
        with pytest.raises(CatalogDamagedError) as exc:
            call()
        assert "league lake restore" in exc.value.fix
    assert sorted(store.spec.data_path.rglob("*")) == before
    assert store.spec.sqlite_file.read_bytes() == b""


def test_a_new_lake_still_starts_where_there_are_no_data_files(store):
    store.root.mkdir(parents=True)
    store.spec.sqlite_file.write_bytes(b"")  # empty, but nothing to lose
    assert store.list() == []
    assert store.write(Q1, small(2), {}).version == 1
    assert json.loads(store.versions_file.read_text()) == {Q1: 1}
