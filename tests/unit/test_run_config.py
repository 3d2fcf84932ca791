"""What the runner hands Dagster for a run (no run here): the code location's own job, the tags
the UI finds runs by, and a run config that the job accepts, whose executor follows
``--parallel`` and whose resources are the given settings whatever the environment says."""

from __future__ import annotations

import dagster as dg
import pytest

from league_pipeline.cli.runner import JOB_NAME, code_location_job, run_config, run_tags
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.defs.automation import STEP_PROCESS_PRELOAD, executor_config
from league_pipeline.defs.resources import league_config

Q1, Q2 = parse_quarter("2025/26 Q1"), parse_quarter("2025/26 Q2")


def test_the_job_is_the_code_locations():
    from league_pipeline.definitions import defs

    job = code_location_job()
    assert job.name == JOB_NAME
    assert job is defs.resolve_job_def(JOB_NAME)
    assert dg.reconstructable(code_location_job).get_definition().name == JOB_NAME


def test_tags_of_one_quarter_and_of_a_range():
    location = {".dagster/repository": "__repository__@league_pipeline"}
    one = run_tags([Q1], {"league/backfill": "b1"})
    assert one == location | {
        "dagster/code_location": "league_pipeline",
        "dagster/partition": Q1.key,
        "league/backfill": "b1",
        "league/quarter": "2025/26 Q1",  # the quarter as people read it
    }
    both = run_tags([Q1, Q2])
    assert both["league/quarter"] == "2025/26 Q1 to 2025/26 Q2"
    assert both["dagster/asset_partition_range_start"] == Q1.key
    assert both["dagster/asset_partition_range_end"] == Q2.key
    assert "dagster/partition" not in both
    assert both[".dagster/repository"] == location[".dagster/repository"]


def test_run_config_follows_parallel_and_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAGUE_HOME", str(tmp_path / "somewhere else"))
    settings = Settings.for_home(tmp_path / "home", bootstrap_replicates=123)
    league = league_config(settings)
    job = code_location_job()

    one = run_config(settings, league, parallel=1, log_level="ERROR")
    assert one["execution"] == {"config": {"in_process": {}}}
    assert one["loggers"]["console"]["config"]["log_level"] == "ERROR"
    resources = one["resources"]
    assert resources["home"]["config"]["path"] == str(settings.home)
    assert resources["staging"]["config"]["root"] == str(settings.home / "staging")
    assert resources["league"]["config"]["bootstrap_replicates"] == 123
    assert dg.validate_run_config(job, one)

    two = run_config(settings, league, parallel=2)
    multiprocess = two["execution"]["config"]["multiprocess"]
    assert multiprocess["max_concurrent"] == 2
    assert multiprocess["start_method"]["forkserver"]["preload_modules"] == STEP_PROCESS_PRELOAD
    assert dg.validate_run_config(job, two)


def test_executor_config_refuses_zero():
    with pytest.raises(ValueError, match="at least 1"):
        executor_config(0)
