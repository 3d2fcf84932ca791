"""Scoring work on one staged quarter, as module-level functions of picklable values.

Belongs here: the per-quarter parts of the scoring steps that a range run hands to its worker
processes (:mod:`league_pipeline.workers`): each reads one quarter's staged tables and returns
a frame. The Dagster steps (:mod:`league_pipeline.defs.scoring`) combine the quarters.
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.core.staging import Staging
from league_pipeline.scoring.likely_ranges import likely_ranges


def staged_likely_ranges(staging: Staging, key: str, *, replicates: int, seed: int) -> pd.DataFrame:
    """The likely ranges of one staged quarter (its score items, segments and cut-points).

    Each quarter and peer group draws from its own seeded stream, so splitting a range into
    quarters gives exactly the ranges of one call over the whole range.
    """
    return likely_ranges(
        staging.read_table("score_items", key),
        staging.read_table("trust_segments", key),
        staging.read_table("segment_cut_points", key),
        replicates=replicates,
        seed=seed,
    )
