"""The Dagster partitions every asset shares: one partition per NHS financial-year quarter.

Belongs here: the partitions definition, the decorator of a quarterly asset (backfilled in one
run) and the mapping to the previous quarter. The quarters themselves (keys, labels, the range
the methodology covers) are in :mod:`league_pipeline.core.quarters`, which does not import
Dagster, so the reading commands (``league table``, ``status``...) never load it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from league_pipeline.core.quarters import END_KEY, FIRST_QUARTER_KEY

# the run tag people read the quarter by ("2025/26 Q1", or "2025/26 Q1 to 2025/26 Q4" for a
# range): the partition keys stay month keys, which schedules and backfills need
QUARTER_TAG = "league/quarter"

quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    start=FIRST_QUARTER_KEY,
    cron_schedule="0 0 1 1,4,7,10 *",
    end=END_KEY,
    fmt="%Y-%m",
    timezone="Europe/London",
)

# Beta parameters, and why their notices are silenced (only around the call that passes them):
# * ``backfill_policy`` of ``dg.asset`` (Dagster 1.13; the same parameter of ``dg.multi_asset``
#   is not beta): a range of quarters in one run is how every step works, and
#   ``BackfillPolicy`` itself is stable. Passing it warned once per asset on every load of the
#   code location (21 BetaWarnings in ``dagster dev``'s log).
# * ``allow_nonexistent_upstream_partitions`` of ``TimeWindowPartitionMapping``: the first
#   quarter has no previous quarter, which the provisional table and the outputs read; there is
#   no stable way to say that a missing upstream partition is not an error.
_SINGLE_RUN = dg.BackfillPolicy.single_run()


def quarterly_asset(**kwargs: Any) -> Callable[..., dg.AssetsDefinition]:
    """``dg.asset`` partitioned by quarter, a range of quarters materialised in one run."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning
        )
        return dg.asset(partitions_def=quarterly_partitions, backfill_policy=_SINGLE_RUN, **kwargs)


def previous_quarter(*, and_this: bool = False) -> dg.TimeWindowPartitionMapping:
    """Each quarter depends on the one before it (``and_this``: and on itself, for an asset that
    reads both, since one dependency has one mapping); the first quarter has no previous one."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Parameter `allow_nonexistent_upstream_partitions`",
            category=dg.BetaWarning,
        )
        return dg.TimeWindowPartitionMapping(
            start_offset=-1,
            end_offset=0 if and_this else -1,
            allow_nonexistent_upstream_partitions=True,
        )
