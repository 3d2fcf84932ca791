"""The snapshot store: versions, time travel, lineage, diff, schema evolution, atomicity,
concurrent writer/reader processes and a writer killed mid-write."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import multiprocessing.queues
import os
import signal
import threading
import time
from collections import defaultdict
from datetime import UTC, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from league_pipeline.snapshots import lake
from league_pipeline.snapshots import writer as snapshot_writer
from league_pipeline.snapshots.store import SnapshotError, SnapshotNotFoundError, SnapshotStore

Q1 = "2025/26 Q1"
Q2 = "2025/26 Q2"


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "lake")


def league(scores: list[float], extra: dict | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "org_code": [f"R{i:02d}" for i in range(len(scores))],
            "score": scores,
            "rank": list(range(1, len(scores) + 1)),
        }
    )
    for column, values in (extra or {}).items():
        frame[column] = values
    return frame


def data(frame: pd.DataFrame) -> pd.DataFrame:
    """A read-back frame without the columns the store adds."""
    return frame.drop(columns=["quarter", "snapshot_version"])


def physical_tables(store: SnapshotStore) -> set[str]:
    with lake.attached(store.spec, read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    return {row[0] for row in rows}


def test_versions_read_list_latest_lineage(store: SnapshotStore) -> None:
    assert store.list() == []
    assert store.latest(Q1) is None
    v1 = league([1.5, 2.0, None])
    metrics = pd.DataFrame({"org_code": ["R00", "R01"], "metric_id": ["OF0001", "OF0002"]})
    info1 = store.write(Q1, {"league_table": v1, "metric_scores": metrics}, {"code": "a1"}, "run-1")
    assert (info1.quarter, info1.version, info1.snapshot_id) == (Q1, 1, "2025-26-q1/v1")
    assert info1.tables == {"league_table": 3, "metric_scores": 2}
    assert info1.run_id == "run-1" and info1.created_at.tzinfo is not None

    v2 = league([1.5, 3.0, 0.5])
    info2 = store.write(
        "2025-04", {"league_table": v2}, {"code": "b2", "inputs": {"x": "sha256:0"}}
    )
    assert (info2.quarter, info2.version, info2.snapshot_id) == (Q1, 2, "2025-26-q1/v2")
    store.write(Q2, {"league_table": league([9.0])}, {"code": "c3"})

    latest = store.read("league_table", Q1)
    assert set(latest["snapshot_version"]) == {2} and set(latest["quarter"]) == {Q1}
    pd.testing.assert_frame_equal(data(latest), v2, check_dtype=False)
    pd.testing.assert_frame_equal(data(store.read("league_table", Q1, 1)), v1, check_dtype=False)
    pd.testing.assert_frame_equal(
        data(store.read("metric_scores", "2025-26-q1", 1)), metrics, check_dtype=False
    )
    every_quarter = store.read("league_table")  # latest of each quarter
    assert every_quarter.groupby("quarter")["snapshot_version"].unique().to_dict() == {
        Q1: [2],
        Q2: [1],
    }

    assert [i.snapshot_id for i in store.list()] == [
        "2025-26-q1/v1",
        "2025-26-q1/v2",
        "2025-26-q2/v1",
    ]
    assert [i.version for i in store.list(Q1)] == [1, 2]
    assert store.latest(Q1) == info2
    assert store.lineage(Q1) == {"code": "b2", "inputs": {"x": "sha256:0"}}
    assert store.lineage(Q1, 1) == {"code": "a1"}

    with pytest.raises(SnapshotNotFoundError, match="no version 7"):
        store.read("league_table", Q1, 7)
    with pytest.raises(SnapshotNotFoundError, match="no table 'metric_scores'"):
        store.read("metric_scores", Q1)  # v2 did not publish it
    with pytest.raises(SnapshotNotFoundError):
        store.read("league_table", "2025/26 Q3")


def test_reading_block_shares_one_attachment_and_one_view(
    store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.reading():  # an empty store: no session, reads behave as outside a block
        assert store.list() == []
    store.write(Q1, {"league_table": league([1.0, 2.0])}, {"code": "a"})
    store.write(Q2, {"league_table": league([3.0])}, {"code": "b"})
    attaches = []
    real_attached = lake.attached
    monkeypatch.setattr(
        lake, "attached", lambda *a, **k: attaches.append(1) or real_attached(*a, **k)
    )
    other_writer = SnapshotStore(store.root)
    other_writer.backups_kept = 0  # (reading its catalog backup back would attach it too)
    with store.reading():
        first = store.read("league_table", Q1)
        with store.reading():  # nested: the same session
            assert [i.version for i in store.list(Q1)] == [1]
        other_writer.write(Q1, {"league_table": league([9.0])}, {"code": "c"})
        # the block sees the store as it was when it started
        pd.testing.assert_frame_equal(store.read("league_table", Q1), first)
        assert store.latest(Q1).version == 1 and store.lineage(Q2) == {"code": "b"}
        store.export_parquet(Q2, None, tmp_path / "export")
    reads = len(attaches) - 1  # the other writer attached once for its write
    assert reads == 1
    assert store.latest(Q1).version == 2  # after the block, the new version is seen


def test_time_travel_as_of(store: SnapshotStore) -> None:
    info1 = store.write(Q1, {"league_table": league([1.0, 2.0])}, {"v": 1})
    info2 = store.write(Q1, {"league_table": league([5.0, 6.0, 7.0])}, {"v": 2})
    assert info1.created_at < info2.created_at

    then = store.read("league_table", Q1, as_of=info1.created_at)
    assert set(then["snapshot_version"]) == {1} and len(then) == 2
    now = store.read("league_table", Q1, as_of=info2.created_at)
    assert set(now["snapshot_version"]) == {2} and len(now) == 3
    # a naive datetime is UTC; a version that did not exist yet is not found
    naive = info1.created_at.astimezone(UTC).replace(tzinfo=None)
    assert len(store.read("league_table", Q1, as_of=naive)) == 2
    with pytest.raises(SnapshotNotFoundError, match="no version 2"):
        store.read("league_table", Q1, 2, as_of=info1.created_at)
    with pytest.raises(SnapshotNotFoundError):
        store.read("league_table", Q1, as_of=info1.created_at - timedelta(minutes=5))


def test_diff_finds_added_removed_and_changed_rows(store: SnapshotStore) -> None:
    old = pd.DataFrame({"org_code": ["A", "B", "C"], "score": [1.0, 2.0, None], "seg": [1, 2, 3]})
    new = pd.DataFrame({"org_code": ["B", "C", "D"], "score": [2.5, None, 4.0], "seg": [2, 3, 4]})
    store.write(Q1, {"league_table": old}, {})
    store.write(Q1, {"league_table": new}, {})

    diff = store.diff("league_table", Q1, 1, 2, key=["org_code"])
    assert diff.set_index("org_code")["change"].to_dict() == {
        "A": "removed",
        "B": "changed",
        "D": "added",
    }  # C is unchanged (missing == missing)
    b = diff.set_index("org_code").loc["B"]
    assert (b["score_old"], b["score_new"], b["changed_columns"]) == (2.0, 2.5, "score")
    assert store.diff("league_table", Q1, 2, 2, key=["org_code"]).empty
    with pytest.raises(ValueError, match="no key column"):
        store.diff("league_table", Q1, 1, 2, key=["trust"])
    store.write(Q1, {"league_table": pd.concat([new, new])}, {})
    with pytest.raises(ValueError, match="does not identify"):
        store.diff("league_table", Q1, 2, 3, key=["org_code"])


def test_schema_evolution_and_type_widening(store: SnapshotStore) -> None:
    store.write(Q1, {"league_table": league([1.0, 2.0])}, {})
    # v2 adds a column and drops 'rank'; v3 sends 'rank' as floats (a lossless widening)
    wider = league([3.0, 4.0], {"segment": ["1", "2"]}).drop(columns=["rank"])
    store.write(Q1, {"league_table": wider}, {})
    floats = league([5.0, 6.0])
    floats["rank"] = [1.5, 2.5]
    store.write(Q1, {"league_table": floats}, {})

    v1 = store.read("league_table", Q1, 1)
    assert list(v1.columns) == ["quarter", "snapshot_version", "org_code", "score", "rank"]
    assert v1["rank"].tolist() == [1, 2]
    v2 = store.read("league_table", Q1, 2)
    assert list(v2.columns) == ["quarter", "snapshot_version", "org_code", "score", "segment"]
    assert v2["segment"].tolist() == ["1", "2"]
    assert store.read("league_table", Q1, 3)["rank"].tolist() == [1.5, 2.5]
    # every quarter's latest together: the union of their columns
    store.write(Q2, {"league_table": wider}, {})
    both = store.read("league_table")
    assert both.groupby("quarter")["snapshot_version"].max().to_dict() == {Q1: 3, Q2: 1}
    assert {"rank", "segment"} <= set(both.columns)


def test_failed_write_leaves_no_snapshot(store: SnapshotStore) -> None:
    store.write(Q1, {"league_table": league([1.0]), "flags": pd.DataFrame({"n": [1, 2]})}, {})
    before = physical_tables(store)
    # the 1st and 2nd tables are written (one newly created), the 3rd fails mid-transaction
    bad = pd.DataFrame({"n": ["not", "a number"]})
    with pytest.raises(SnapshotError, match="would lose data"):
        store.write(
            Q1,
            {"league_table": league([7.0, 8.0]), "brand_new": league([0.0]), "flags": bad},
            {"attempt": "failed"},
        )
    assert [i.version for i in store.list(Q1)] == [1]
    assert physical_tables(store) == before  # the CREATE TABLE rolled back too
    assert len(store.read("league_table", Q1)) == 1

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed in the middle")

    real_append = snapshot_writer._append
    calls = []

    def flaky(*args: object, **kwargs: object) -> list[str]:
        calls.append(args[1])
        if len(calls) == 2:
            boom()
        return real_append(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snapshot_writer, "_append", flaky)
        with pytest.raises(RuntimeError, match="killed in the middle"):
            store.write(Q1, {"league_table": league([1.0, 2.0, 3.0]), "flags": bad}, {})
    assert calls == ["league_table", "flags"]
    assert [i.version for i in store.list(Q1)] == [1]
    assert store.read("league_table", Q1)["snapshot_version"].tolist() == [1]

    info = store.write(Q1, {"league_table": league([4.0, 5.0])}, {"attempt": "ok"})
    assert info.version == 2
    assert store.read("league_table", Q1)["score"].tolist() == [4.0, 5.0]


def test_bad_names_are_refused(store: SnapshotStore) -> None:
    frame = league([1.0])
    for name in ["League", "x;drop", "snapshots", "1abc", ""]:
        with pytest.raises(ValueError):
            store.write(Q1, {name: frame}, {})
    with pytest.raises(ValueError, match="column"):
        store.write(Q1, {"t": pd.DataFrame({"Bad Column": [1]})}, {})
    with pytest.raises(ValueError, match="snapshot_version"):
        store.write(Q1, {"t": pd.DataFrame({"snapshot_version": [1]})}, {})
    with pytest.raises(ValueError, match="not 2025/26 Q1"):
        store.write(Q1, {"t": pd.DataFrame({"quarter": ["2025/26 Q2"]})}, {})
    with pytest.raises(SnapshotError, match="JSON"):
        store.write(Q1, {"t": frame}, {"when": object()})
    with pytest.raises(ValueError):
        store.read("league_table; --", Q1)
    assert store.list() == []


def test_export_parquet(store: SnapshotStore, tmp_path: Path) -> None:
    frame = league([1.0, 2.0])
    store.write(Q1, {"league_table": frame, "flags": pd.DataFrame({"n": [1]})}, {"code": "x"}, "r1")
    store.write(Q1, {"league_table": league([3.0])}, {"code": "y"})
    files = store.export_parquet(Q1, 1, tmp_path / "out")
    assert sorted(p.name for p in files) == [
        "flags-2025-26-q1-v1.parquet",
        "league_table-2025-26-q1-v1.parquet",
    ]
    table = pq.read_table(tmp_path / "out" / "league_table-2025-26-q1-v1.parquet")
    pd.testing.assert_frame_equal(data(table.to_pandas()), frame, check_dtype=False)
    meta = json.loads(table.schema.metadata[b"league_pipeline"])
    assert meta["snapshot_id"] == "2025-26-q1/v1" and meta["lineage"] == {"code": "x"}
    latest = store.export_parquet(Q1, None, tmp_path / "latest")
    assert [p.name for p in latest] == ["league_table-2025-26-q1-v2.parquet"]


def test_threads_of_one_process_read_while_another_writes(store: SnapshotStore) -> None:
    store.write(Q1, {"league_table": league([1.0, 2.0])}, {})
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                frame = store.read("league_table", Q1)
                assert (
                    len(frame)
                    == store.get(Q1, int(frame["snapshot_version"][0])).tables["league_table"]
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for n in range(3, 6):
            store.write(Q1, {"league_table": league([float(i) for i in range(n)])}, {})
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors
    assert [i.version for i in store.list(Q1)] == [1, 2, 3, 4]


# -- several processes ---------------------------------------------------------------------------
# Child processes come from a fork server that has imported the pipeline once (a fresh
# interpreter per child would spend ~2 s importing pandas and Dagster); each child is still its
# own OS process with its own DuckDB instance, catalog connection and file lock.


def _context() -> mp.context.BaseContext:
    methods = mp.get_all_start_methods()
    if "forkserver" not in methods:
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "pandas", "league_pipeline.snapshots.store"])
    return ctx


def _writer(root: str, writer: int, quarters: list[str], out: mp.queues.Queue) -> None:
    store = SnapshotStore(Path(root))
    for i in range(2):
        quarter = quarters[i % len(quarters)]
        n = 3000 + 100 * writer + i  # a row count unique to this write: nothing lost or doubled
        big = pd.DataFrame({"org": np.arange(n), "writer": writer, "i": i, "x": np.random.rand(n)})
        small = pd.DataFrame({"org": [1, 2], "writer": writer, "i": i})
        tables = {"league_table": big, "small": small}
        info = store.write(quarter, tables, {"writer": writer, "i": i})
        out.put((writer, {"quarter": info.quarter, "version": info.version, "n": n, "i": i}))


def _reader(root: str, stop: str, out: mp.queues.Queue) -> None:
    store = SnapshotStore(Path(root))
    reads = 0
    while not os.path.exists(stop) or reads < 3:
        latest = {info.quarter: info for info in store.list()}  # the newest version wins
        for info in latest.values():
            frame = store.read("league_table", info.quarter, info.version)
            assert len(frame) == info.tables["league_table"], (info, len(frame))
            assert frame["writer"].nunique() == 1 and frame["i"].nunique() == 1
            assert set(frame["snapshot_version"]) == {info.version}
            reads += 1
        if not latest:
            with contextlib.suppress(SnapshotNotFoundError):
                store.read("league_table", Q1)
        time.sleep(0.02)  # poll, without starving the writers of CPU
    out.put(reads)


def test_concurrent_writers_and_reader_processes(tmp_path: Path) -> None:
    ctx = _context()
    root, stop = tmp_path / "lake", tmp_path / "stop"
    out, reads = ctx.Queue(), ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(root), str(stop), reads))
    reader.start()
    plans = [[Q1], [Q1], [Q2], [Q1, Q2]]  # two writers on one quarter, one on both
    writers = [
        ctx.Process(target=_writer, args=(str(root), k, p, out)) for k, p in enumerate(plans)
    ]
    for proc in writers:
        proc.start()
    results = [out.get(timeout=120) for _ in range(8)]
    for proc in writers:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    stop.touch()
    assert reads.get(timeout=60) >= 3
    reader.join(timeout=60)
    assert reader.exitcode == 0

    store = SnapshotStore(root)
    versions: dict[str, list[int]] = defaultdict(list)
    for writer, write in results:
        versions[write["quarter"]].append(write["version"])
        frame = store.read("league_table", write["quarter"], write["version"])
        assert len(frame) == write["n"]
        assert set(frame["writer"]) == {writer} and set(frame["i"]) == {write["i"]}
        assert frame["org"].tolist() == list(range(write["n"]))
    assert sorted(versions[Q1]) == list(range(1, 6))  # 2 + 2 + 1 writes: no gaps, no clashes
    assert sorted(versions[Q2]) == list(range(1, 4))
    assert [i.version for i in store.list(Q1)] == list(range(1, 6))
    with lake.attached(store.spec, read_only=True) as con:
        total = con.execute("SELECT count(*) FROM league_table").fetchone()[0]
    assert total == sum(write["n"] for _, write in results)  # nothing lost, nothing twice


def _doomed_writer(root: str, out: mp.queues.Queue) -> None:
    real_append = snapshot_writer._append

    def announce(con: object, name: str, *args: object) -> list[str]:
        out.put(f"appending {name}")
        columns = real_append(con, name, *args)
        if name == "league_table":  # its Parquet files are written, the commit is still to come
            out.put("written")
            time.sleep(60)
        return columns

    snapshot_writer._append = announce
    n = 1_000_000
    big = pd.DataFrame({"org": np.arange(n), "x": np.random.rand(n)})
    small = pd.DataFrame({"org": [1]})
    SnapshotStore(Path(root)).write(Q1, {"small": small, "league_table": big}, {"doomed": True})
    out.put("committed")


def test_writer_killed_mid_write_leaves_store_consistent(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    store = SnapshotStore(root)
    store.write(Q1, {"league_table": league([1.0, 2.0])}, {"v": 1})

    ctx = _context()
    out = ctx.Queue()
    child = ctx.Process(target=_doomed_writer, args=(str(root), out))
    child.start()
    assert out.get(timeout=60) == "appending small"
    assert out.get(timeout=60) == "appending league_table"
    assert out.get(timeout=60) == "written"  # a million rows in Parquet files, not committed
    child.kill()  # SIGKILL
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    assert out.empty()  # it never reached "committed"

    assert [i.version for i in store.list(Q1)] == [1]  # the doomed snapshot never appeared
    assert store.read("league_table", Q1)["score"].tolist() == [1.0, 2.0]
    with lake.attached(store.spec, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM league_table").fetchone()[0] == 2
    with pytest.raises(SnapshotNotFoundError):
        store.read("small", Q1)

    store.lock_timeout = 10  # the dead writer's lock went with its process
    info = store.write(Q1, {"league_table": league([3.0]), "small": pd.DataFrame({"org": [1]})}, {})
    assert info.version == 2
    assert store.read("small", Q1)["org"].tolist() == [1]

    # whatever Parquet files the dead writer left are orphans; removing them loses nothing
    orphans = store.remove_orphan_files(dry_run=True)
    assert orphans and all(path.suffix == ".parquet" for path in orphans)
    assert store.remove_orphan_files() == orphans
    assert store.remove_orphan_files(dry_run=True) == []
    assert not any(path.exists() for path in orphans)
    assert store.read("league_table", Q1, 1)["score"].tolist() == [1.0, 2.0]
    assert store.read("league_table", Q1)["score"].tolist() == [3.0]
