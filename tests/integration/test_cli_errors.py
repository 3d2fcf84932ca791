"""Every failure is one ``error:`` line and a ``fix:`` line right for its cause; tracebacks only
with ``--debug``. The faults a test cannot make for real on this machine (a full disk, a
read-only home: the suite runs as root) are simulated by making the write raise the OS error."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from reliability_support import run_home

from league_pipeline.cli import main
from league_pipeline.cli.errors import explain, from_text
from league_pipeline.core.settings import Settings


def run(capsys, settings, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=settings)
    out, err = capsys.readouterr()
    return code, out, err


def _two_lines(err: str) -> tuple[str, str]:
    lines = [line for line in err.splitlines() if not line.startswith("[league]")]
    assert len(lines) == 2, err
    assert lines[0].startswith("error: ") and lines[1].startswith("fix: ")
    assert "Traceback" not in err
    return lines[0], lines[1]


def _raise(code: int, path: str):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code), path)

    return fail


def test_disk_full_while_writing_the_sample_data(capsys, league_home, settings, monkeypatch):
    from league_pipeline.sample import generator as sample_data

    target = str(league_home / "landing" / "2025-26-q1" / "etr.csv")
    monkeypatch.setattr(sample_data, "write_sample_landing", _raise(errno.ENOSPC, target))
    code, _, err = run(capsys, settings, "sample-data", "--quarter", "2025/26 Q1")
    error, fix = _two_lines(err)
    assert code == 1
    assert error == f"error: no space left on the device for {target}"
    assert "free space" in fix and "LEAGUE_HOME" in fix


@pytest.mark.parametrize(
    ("code", "words"), [(errno.EROFS, "read-only file system"), (errno.EACCES, "not writable")]
)
def test_a_home_that_cannot_be_written(capsys, league_home, settings, monkeypatch, code, words):
    from league_pipeline.sample import generator as sample_data

    monkeypatch.setattr(sample_data, "write_sample_landing", _raise(code, str(league_home)))
    status, _, err = run(capsys, settings, "sample-data")
    error, fix = _two_lines(err)
    assert status == 1 and words in error and str(league_home) in error
    assert "set LEAGUE_HOME" in fix


def test_a_full_disk_under_the_dagster_home(
    capsys, league_home, settings, monkeypatch, generated_landing
):
    from league_pipeline.cli import runner

    shutil.copytree(generated_landing, league_home / "landing")

    def full(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(runner, "instance", full)
    code, _, err = run(capsys, settings, "run", "--quarter", "2025/26 Q1")
    error, fix = _two_lines(err)
    assert code == 1 and error == "error: no space left on the device"
    assert "free space" in fix


def test_a_full_disk_during_the_snapshot_says_so(capsys, tmp_path):
    """A step that fails on the disk gets the disk's fix, not "correct the source file(s)"."""
    from league_pipeline.cli.pipeline import report
    from league_pipeline.cli.runner import RunOutcome

    problem = (
        "snapshots__quarterly_snapshot: [Errno 28] No space left on device: "
        f"'{tmp_path}/lake/data/league_table/part-1.parquet'"
    )
    code = report([RunOutcome([], "abc123", False, [problem])], tmp_path / "dagster")
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 1 and lines[0] == f"error: {problem}"
    assert lines[1].startswith("fix: free space on that disk")
    assert "correct the source" not in err and "abc123" in lines[1]


def test_a_bad_source_file_still_gets_the_source_fix(capsys, tmp_path):
    from league_pipeline.cli.pipeline import report
    from league_pipeline.cli.runner import RunOutcome

    problem = "sources/nof_trust_data_acute failed pandera_schema: 1 of 7,265 rows fail"
    report([RunOutcome([], "abc123", False, [problem])], tmp_path / "dagster")
    _, err = capsys.readouterr()
    assert err.splitlines()[1].startswith("fix: correct the source file(s) named above")


def test_unexpected_errors_are_two_lines_and_debug_shows_the_traceback(
    capsys, settings, monkeypatch
):
    from league_pipeline.snapshots.store import SnapshotStore

    def boom(self, *args, **kwargs):
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr(SnapshotStore, "list", boom)
    code, _, err = run(capsys, settings, "status")
    error, fix = _two_lines(err)
    assert code == 1
    assert error == "error: unexpected RuntimeError: something nobody planned for second line"
    assert "--debug" in fix
    with pytest.raises(RuntimeError):
        main(["--debug", "status"], settings=settings)


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("duckdb.IOException: database is locked", "another league run is writing"),
        ("Catalog Error: file is not a database", "league lake restore"),
        ("[Errno 30] Read-only file system: '/x/league'", "set LEAGUE_HOME"),
        ("[Errno 13] Permission denied: '/x/league/lake'", "fix its permissions"),
    ],
)
def test_causes_recognised_from_a_failed_step(message, words):
    found = from_text(None, message)
    assert found is not None and words in found.fix


def test_the_innermost_known_cause_wins():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/full/disk")
        except OSError as inner:
            raise RuntimeError("writing the snapshot failed") from inner
    except RuntimeError as outer:
        assert explain(outer).error == "no space left on the device for /full/disk"


def test_home_path_is_reported(tmp_path: Path):
    found = explain(PermissionError(errno.EACCES, "Permission denied", str(tmp_path)))
    assert found.error == f"{tmp_path} is not writable (permission denied)"


def test_a_run_over_a_lost_catalog_is_refused_before_any_work(
    capsys, league_home, settings, monkeypatch, generated_landing
):
    from league_pipeline.cli import runner

    shutil.copytree(generated_landing, league_home / "landing")
    data = league_home / "lake" / "data" / "main" / "league_table"
    data.mkdir(parents=True)
    (data / "part-0.parquet").write_bytes(b"PAR1 earlier snapshot PAR1")  # data, no catalog

    def never(*_args, **_kwargs):
        raise AssertionError("no run may start over a lost catalog")

    monkeypatch.setattr(runner, "run_quarters", never)
    code, _, err = run(capsys, settings, "run", "--quarter", "2025/26 Q1")
    error, fix = _two_lines(err)
    assert code == 1 and "catalog is damaged or lost" in error
    assert "no catalog backup" in fix  # the store says what recovery is possible


@pytest.fixture(scope="module")
def built_home(tmp_path_factory) -> Path:
    """A home with a 2025/26 Q1 snapshot of the generated default (the session's, read-only)."""
    return run_home(tmp_path_factory)


@pytest.fixture
def home_copy(built_home, tmp_path) -> Path:
    home = tmp_path / "league"
    shutil.copytree(built_home, home)
    return home


@pytest.fixture
def settings_copy(home_copy) -> Settings:
    return Settings.for_home(home_copy)


def test_a_read_only_home_for_run_and_report(capsys, home_copy, settings_copy, monkeypatch):
    from league_pipeline.cli import runner
    from league_pipeline.outputs import report

    monkeypatch.setattr(runner, "instance", _raise(errno.EROFS, str(home_copy / "dagster")))
    code, _, err = run(capsys, settings_copy, "run", "--quarter", "2025/26 Q1")
    error, fix = _two_lines(err)
    assert code == 1 and error.endswith("/dagster is on a read-only file system")
    assert "set LEAGUE_HOME" in fix
    monkeypatch.setattr(report, "write_report", _raise(errno.EROFS, str(home_copy / "outputs")))
    code, _, err = run(capsys, settings_copy, "report", "--quarter", "2025/26 Q1")
    error, fix = _two_lines(err)
    assert code == 1 and error.endswith("/outputs is on a read-only file system")


def test_a_corrupt_catalog_for_status_and_table(capsys, home_copy, settings_copy):
    catalog = home_copy / "lake" / "catalog.sqlite"
    with open(catalog, "r+b") as fh:
        fh.write(b"garbage!" * 16)  # the SQLite header overwritten
    for argv in (["status"], ["table", "--quarter", "2025/26 Q1", "--peer-group", "acute"]):
        code, _, err = run(capsys, settings_copy, *argv)
        error, fix = _two_lines(err)
        assert code == 1 and "catalog is damaged or lost" in error, argv
        assert "league lake restore" in fix, argv
