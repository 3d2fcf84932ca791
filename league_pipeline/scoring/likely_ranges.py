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
    """Means of ``replicates`` resamples of each trust's items: array [replicates, trusts].

    One trust at a time, in the order given: ``replicates x items`` small-integer positions
    drawn from the trust's stream, gathered and averaged. Per trust keeps the arrays small
    (10,000 x 40 at most), with no padding or mask, so the work is the draws themselves.
    """
    if any(len(s) == 0 for s in item_scores):
        raise ValueError("every trust needs at least one scored item")
    means = np.empty((replicates, len(item_scores)))
    for i, scores in enumerate(item_scores):
        picks = rng.integers(0, len(scores), size=(replicates, len(scores)), dtype=np.int16)
        means[:, i] = np.asarray(scores, dtype=float)[picks].sum(axis=1) / len(scores)
    return means


def competition_ranks(keys: np.ndarray) -> np.ndarray:
    """Row-wise competition ranks (ties share the lowest rank, 1-based) of a [rows, n] array.

    Sort each row, mark where a new value starts, carry the start position forward over ties,
    and put the positions back in the original order.
    """
    rows, n = keys.shape
    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    starts = np.broadcast_to(np.arange(1, n + 1), (rows, n)).copy()
    starts[:, 1:][ordered[:, 1:] == ordered[:, :-1]] = 0
    np.maximum.accumulate(starts, axis=1, out=starts)
    ranks = np.empty_like(starts)
    np.put_along_axis(ranks, order, starts, axis=1)
    return ranks


def group_rng(seed: int, quarter: str, peer_group: str) -> np.random.Generator:
    """The random stream of one (quarter, peer group): the same whatever else is in the run."""
    names = [zlib.crc32(str(name).encode()) for name in (quarter, peer_group)]
    return np.random.default_rng(np.random.SeedSequence([seed, *names]))


def _items_by_trust(items: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each trust's item scores, in the order given (one sort and split, not a groupby loop)."""
    codes = items["trust_code"].astype(str).to_numpy()
    order = np.argsort(codes, kind="stable")
    codes, scores = codes[order], items["score"].to_numpy(float)[order]
    trusts, starts = np.unique(codes, return_index=True)
    return dict(zip(trusts, np.split(scores, starts[1:]), strict=True))


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
    items_of = {q: _items_by_trust(items) for q, items in score_items.groupby("quarter")}
    for (quarter, peer_group), seg in trust_segments.groupby(["quarter", "peer_group"], sort=True):
        cuts = cut_points.loc[cut_points["quarter"] == quarter].iloc[0]
        seg = seg.sort_values("trust_code")
        by_trust = items_of[quarter]
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
