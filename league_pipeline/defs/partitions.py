"""The Dagster partitions every asset shares: one partition per NHS financial-year quarter.

Belongs here: the partitions definition only. The quarters themselves (keys, labels, the range
the methodology covers) are in :mod:`league_pipeline.core.quarters`, which does not import
Dagster, so the reading commands (``league table``, ``status``...) never load it.
"""

from __future__ import annotations

import dagster as dg

from league_pipeline.core.quarters import END_KEY, FIRST_QUARTER_KEY

quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    start=FIRST_QUARTER_KEY,
    cron_schedule="0 0 1 1,4,7,10 *",
    end=END_KEY,
    fmt="%Y-%m",
    timezone="Europe/London",
)
