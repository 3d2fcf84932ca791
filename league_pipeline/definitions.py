"""The Dagster code location: every asset, check, job, schedule, sensor and resource.

Load it with ``dagster dev`` (``workspace.yaml`` points here) or import ``defs``.
"""

from __future__ import annotations

import dagster as dg

from league_pipeline.core.settings import Settings
from league_pipeline.defs.automation import (
    new_publication_sensor,
    quarterly_league_job,
    quarterly_league_schedule,
)
from league_pipeline.defs.consistency import consistency_checks
from league_pipeline.defs.derived import raw_assets, raw_jobs
from league_pipeline.defs.freshness import freshness_checks, freshness_schedule
from league_pipeline.defs.outputs import output_assets
from league_pipeline.defs.resources import LeagueConfig, run_resources
from league_pipeline.defs.scale_out import celery_job
from league_pipeline.defs.scoring import scoring_assets
from league_pipeline.defs.snapshots import quarterly_snapshot
from league_pipeline.defs.sources import source_assets

# the blocking cross-source checks ride along, so every materialize(ALL_ASSETS) runs them
ALL_ASSETS = [
    *source_assets,
    *scoring_assets,
    quarterly_snapshot,
    *consistency_checks,
    *output_assets,
    *raw_assets,
]


def build_defs(settings: Settings, league: LeagueConfig | None = None) -> dg.Definitions:
    """The definitions, their resources built from ``settings`` (``league`` overrides the
    run's scoring settings)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=freshness_checks,  # not in ALL_ASSETS: judged by the calendar, not a run
        jobs=[
            quarterly_league_job,
            celery_job(settings.celery_broker, settings.celery_backend),
            *raw_jobs,
        ],
        schedules=[quarterly_league_schedule, freshness_schedule],
        sensors=[new_publication_sensor],
        resources=run_resources(settings, league),
    )


defs = build_defs(Settings.from_env())
