"""The "likely range" of each trust's average score and league rank (percentile bootstrap).

Belongs here: the vectorised bootstrap only. Method (methodology doc section 4.8, inferred from
NHS England's published ranges): resample each trust's own scored items with replacement (as
many as it has), take the mean; the 2.5th and 97.5th percentiles of the means are the score
range. For the rank range, each replicate's mean is segmented with the quarter's fixed
cut-points, the financial override is applied (segment at least 3 when flagged), and every
trust in the league table is re-ranked by (segment, mean); the 2.5th/97.5th percentiles of a
trust's replicate ranks are its rank range. Fixed seed => reproducible: each (quarter, peer
group) draws from its own stream, derived from the seed and its names, so a quarter's ranges do
not depend on which other quarters share the run (a range backfill equals per-quarter runs).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

DEFAULT_REPLICATES = 10_000
DEFAULT_SEED = 20250401
LOWER_PCT, UPPER_PCT = 2.5, 97.5


def bootstrap_means(
    item_scores: list[np.ndarray], replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Means of ``replicates`` resamples of each trust's items: array [replicates, trusts]."""
    counts = np.array([len(s) for s in item_scores])
    if (counts == 0).any():
        raise ValueError("every trust needs at least one scored item")
    width = counts.max()
    padded = np.zeros((len(item_scores), width))
    for i, scores in enumerate(item_scores):
        padded[i, : len(scores)] = scores
    # draw uniform positions and scale them by each trust's own item count
    picks = (rng.random((replicates, len(item_scores), width)) * counts[None, :, None]).astype(
        np.int64
    )
    mask = np.arange(width)[None, None, :] < counts[None, :, None]
    drawn = np.take_along_axis(padded[None, :, :], picks, axis=2)
    return (drawn * mask).sum(axis=2) / counts[None, :]


def competition_ranks(keys: np.ndarray) -> np.ndarray:
    """Row-wise competition ranks (ties share the lowest rank, 1-based) of a [rows, n] array."""
    rows, n = keys.shape
    ordered = np.sort(keys, axis=1)
    # offset each row so a single searchsorted over the flattened array ranks every row
    span = np.nanmax(np.abs(keys)) * 2 + 1 if keys.size else 1
    offsets = (np.arange(rows) * span)[:, None]
    flat_sorted = (ordered + offsets).ravel()
    positions = np.searchsorted(flat_sorted, (keys + offsets).ravel(), side="left")
    return positions.reshape(rows, n) - np.arange(rows)[:, None] * n + 1


def group_rng(seed: int, quarter: str, peer_group: str) -> np.random.Generator:
    """The random stream of one (quarter, peer group): the same whatever else is in the run."""
    names = [zlib.crc32(str(name).encode()) for name in (quarter, peer_group)]
    return np.random.default_rng(np.random.SeedSequence([seed, *names]))


def likely_ranges(
    score_items: pd.DataFrame,
    trust_segments: pd.DataFrame,
    cut_points: pd.DataFrame,
    *,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """quarter, trust_code, score_lower, score_upper, rank_lower, rank_upper for every trust."""
    out = []
    for (quarter, peer_group), seg in trust_segments.groupby(["quarter", "peer_group"], sort=True):
        cuts = cut_points.loc[cut_points["quarter"] == quarter].iloc[0]
        seg = seg.sort_values("trust_code")
        items = score_items[score_items["quarter"] == quarter]
        by_trust = {code: g["score"].to_numpy(float) for code, g in items.groupby("trust_code")}
        rng = group_rng(seed, quarter, peer_group)
        means = bootstrap_means([by_trust[c] for c in seg["trust_code"]], replicates, rng)
        segment = 1 + (means > cuts["q25"]) + (means > cuts["q50"]) + (means > cuts["q75"])
        flagged = seg["deficit_flag"].to_numpy(bool)[None, :]
        segment = np.where(flagged, np.maximum(segment, 3), segment)
        ranks = competition_ranks(segment * 10.0 + means)
        score_lo, score_hi = np.percentile(means, [LOWER_PCT, UPPER_PCT], axis=0)
        rank_lo, rank_hi = np.percentile(ranks, [LOWER_PCT, UPPER_PCT], axis=0)
        out.append(
            pd.DataFrame(
                {
                    "quarter": quarter,
                    "peer_group": peer_group,
                    "trust_code": seg["trust_code"].to_numpy(),
                    "score_lower": np.round(score_lo, 2),
                    "score_upper": np.round(score_hi, 2),
                    "rank_lower": np.floor(rank_lo).astype(int),
                    "rank_upper": np.ceil(rank_hi).astype(int),
                }
            )
        )
    cols = ["quarter", "peer_group", "trust_code", "score_lower", "score_upper"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)
