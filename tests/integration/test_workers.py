"""The worker pool of range runs (league_pipeline.workers): same results as in one process, the
caller's settings in every task, the worker's own error, and the LEAGUE_WORKERS setting.

The pipeline-level proof is in test_backfill.py and test_outputs_pipeline.py: their range runs
use the pool (conftest sets LEAGUE_WORKERS=2) and give the same snapshots and outputs as runs of
one quarter, which never use it.
"""

from __future__ import annotations

import os

import pytest

from league_pipeline.workers import QuarterPool, default_workers


def test_pool_gives_what_one_process_gives_in_order():
    items = [str(n) for n in range(7)]
    with QuarterPool(2) as pool:
        assert pool.map(int, items) == list(range(7))
    with QuarterPool(1) as pool:  # one worker: no processes at all
        assert pool.map(int, items) == list(range(7))
        assert pool._executor is None


def test_each_task_runs_with_the_callers_environment_and_folder(tmp_path, monkeypatch):
    pool = QuarterPool(2)
    pool.start()  # the fork server keeps the environment of the moment it starts
    monkeypatch.setenv("LEAGUE_TEST_SETTING", "set after the workers started")
    monkeypatch.chdir(tmp_path)
    try:
        assert (
            pool.map(os.getenv, ["LEAGUE_TEST_SETTING", "LEAGUE_TEST_SETTING"])
            == ["set after the workers started"] * 2
        )
        assert pool.map(os.path.realpath, [".", "."]) == [str(tmp_path.resolve())] * 2
    finally:
        pool.close()


def test_a_workers_error_is_raised_with_its_own_message():
    with QuarterPool(2) as pool, pytest.raises(ValueError) as raised:
        pool.map(int, ["1", "not a number"])
    assert "not a number" in str(raised.value)
    assert raised.value.__cause__ is None  # the run reports the message, not a traceback
    assert any("raised in a worker process" in note for note in raised.value.__notes__)


def test_workers_setting(monkeypatch):
    monkeypatch.setenv("LEAGUE_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("LEAGUE_WORKERS")
    assert default_workers() == max(1, min(2, os.cpu_count() or 1))
    for bad in ("0", "two"):
        monkeypatch.setenv("LEAGUE_WORKERS", bad)
        with pytest.raises(ValueError, match="LEAGUE_WORKERS must be a whole number"):
            default_workers()
