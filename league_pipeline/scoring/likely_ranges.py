"""The "likely range" of each trust's average score and league rank (methodology section 4.8).

Belongs here: both ranges. The score range is the 2.5th and 97.5th percentiles of the mean of n
draws with replacement from the trust's own n items, computed exactly from that mean's
distribution (:func:`exact_mean_percentiles`), not simulated. The rank range is a seeded joint
bootstrap: each replicate's means are segmented with the quarter's fixed cut-points, the
financial override is applied (segment at least 3 when flagged), every trust in the league table
is re-ranked by (segment, mean), and the 2.5th/97.5th percentiles of a trust's replicate ranks
are its rank range. Each (quarter, peer group) draws from its own stream, derived from the seed
and its names, so a quarter's ranges do not depend on which other quarters share the run.
Method, quantile convention, error bound and costs: ``docs/likely-ranges.md``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from league_pipeline.core.settings import BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED

LOWER_PCT, UPPER_PCT = 2.5, 97.5
GRID = 100  # item scores are published to 2 dp: a draw is a whole number of hundredths
GRID_TOLERANCE = 1e-9  # how far (score units) an item may sit from the 0.01 grid
# the float CDF decides a percentile only where it is further than this from p; otherwise the
# decision is made with exact integer counts (the FFT's own error is about 1e-15 here)
CDF_TOLERANCE = 1e-9


def _hundredths(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """The items as whole hundredths (int64); ValueError unless each is on the 0.01 grid."""
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        raise ValueError("every trust needs at least one scored item")
    scaled = np.rint(values * GRID)
    off = ~np.isfinite(values) | (np.abs(values - scaled / GRID) > GRID_TOLERANCE)
    if off.any():
        raise ValueError(
            "the exact score range needs item scores on the 0.01 grid (2 dp, within "
            f"{GRID_TOLERANCE:g}); not on it: {values[off][:5].tolist()}"
        )
    return scaled.astype(np.int64)


def _float_cdf(steps: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """P(sum of n draws <= j steps) for j = 0..max*n, by FFT (float64, running max applied).

    One draw is ``steps[k]`` with probability ``counts[k] / n``; the n-fold convolution is the
    n-th power of its transform. The transform is at least as long as the sum's support, so
    nothing wraps around.
    """
    size = int(steps[-1]) * n + 1
    length = 1 << (size - 1).bit_length()
    pmf = np.zeros(length)
    pmf[steps] = counts / n
    sums = np.fft.irfft(np.fft.rfft(pmf) ** n, length)[:size]
    return np.maximum.accumulate(np.cumsum(sums))


def _exact_cdf(steps: np.ndarray, counts: np.ndarray, n: int) -> Callable[[int], int]:
    """``count(j)``: how many of the n**n equally likely ordered draws sum to at most j steps.

    Exact, in Python integers, by Kronecker substitution: the polynomial sum(counts[k] *
    x**steps[k]) is packed into one integer with ``bits`` bits a coefficient and raised to the
    n-th power; every coefficient of the power is at most n**n < 2**bits - 1, so none carries
    into the next. The sum of the coefficients of x**0..x**j is the low part of the power taken
    modulo 2**bits - 1 (2**bits is 1 in that modulus), which is below the modulus, so exact.
    """
    bits = (n**n).bit_length() + 1
    packed = 0
    for step, count in zip(steps.tolist(), counts.tolist(), strict=True):
        packed |= count << (bits * step)
    power = packed**n
    modulus = (1 << bits) - 1

    def count(j: int) -> int:
        return (power & ((1 << (bits * (j + 1))) - 1)) % modulus

    return count


def exact_mean_percentiles(
    scores: Sequence[float] | np.ndarray, percents: Sequence[float] = (LOWER_PCT, UPPER_PCT)
) -> list[Fraction]:
    """The percentiles of the bootstrap mean of ``scores`` (2 dp items), exactly, as Fractions.

    The bootstrap mean is the mean of n draws with replacement from the n items. Its q-th
    percentile is the smallest attainable mean m with P(mean <= m) >= q / 100 (where the
    probability equals q / 100 exactly, m itself): the value the bootstrap's percentile tends to
    as the replicates grow, wherever that limit exists (``docs/likely-ranges.md``).
    """
    hundredths = _hundredths(scores)
    n = len(hundredths)
    low = int(hundredths.min())
    steps, counts = np.unique(hundredths - low, return_counts=True)
    if len(steps) == 1:  # all items equal: the mean never moves
        return [Fraction(low, GRID) for _ in percents]
    step = int(np.gcd.reduce(steps))  # the attainable sums are low * n + j * step
    steps = steps // step
    cdf = _float_cdf(steps, counts, n)
    exact: Callable[[int], int] | None = None
    out = []
    for pct in percents:
        p = Fraction(str(pct)) / 100
        if not 0 <= p <= 1:
            raise ValueError(f"a percentile is between 0 and 100, not {pct}")
        # the answer lies in [first, last]: below first the CDF is surely < p, at last surely >= p
        first = int(np.searchsorted(cdf, float(p) - CDF_TOLERANCE, side="left"))
        last = min(int(np.searchsorted(cdf, float(p) + CDF_TOLERANCE, side="left")), len(cdf) - 1)
        if first < last:  # too close to call in floats: binary search on exact counts
            exact = exact or _exact_cdf(steps, counts, n)
            total = n**n
            while first < last:
                mid = (first + last) // 2
                if exact(mid) * p.denominator >= p.numerator * total:
                    last = mid
                else:
                    first = mid + 1
        out.append(Fraction(low * n + last * step, GRID * n))
    return out


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
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """quarter, peer_group, trust_code, score_lower, score_upper, rank_lower, rank_upper.

    The score range is exact (:func:`exact_mean_percentiles`); ``replicates`` and ``seed`` set
    the rank range's joint bootstrap only. Bounds are rounded as before: scores with
    ``np.round(.., 2)``, ranks outwards to whole ranks.
    """
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
        score_lo, score_hi = np.array(
            [[float(b) for b in exact_mean_percentiles(by_trust[c])] for c in seg["trust_code"]]
        ).T
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
    cols += ["rank_lower", "rank_upper"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)
