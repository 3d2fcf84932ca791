"""The Dagster code location: every asset, check, job, schedule, sensor and resource.

Load it with ``dagster dev`` (``workspace.yaml`` points here) or import ``defs``.
"""

from __future__ import annotations

import dagster as dg

from league_pipeline.defs.automation import (
    new_publication_sensor,
    quarterly_league_job,
    quarterly_league_schedule,
)
from league_pipeline.defs.scoring import scoring_assets
from league_pipeline.defs.snapshots import quarterly_snapshot
from league_pipeline.defs.sources import source_assets
from league_pipeline.resources import LeagueConfig, config_from_env

ALL_ASSETS = [*source_assets, *scoring_assets, quarterly_snapshot]


def build_defs(league: LeagueConfig | None = None) -> dg.Definitions:
    """The definitions, with the configuration resource overridable (tests, CLI)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[quarterly_league_job],
        schedules=[quarterly_league_schedule],
        sensors=[new_publication_sensor],
        resources={"league": league or config_from_env()},
    )


defs = build_defs()
