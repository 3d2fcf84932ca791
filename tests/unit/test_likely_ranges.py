"""The exact score range of ``scoring/likely_ranges.py`` against independent computations.

* an exact enumeration of the bootstrap distribution (every multiset of draws, weighted by its
  multinomial coefficient, in Python integers): the percentiles must be equal, exactly;
* a brute-force 1,000,000-replicate bootstrap (``np.percentile`` over the replicate sums, as the
  old code took it over the replicate means): within one step of the attainable means, and equal
  where the percentile is far from a mass point's boundary (the CDF more than 5 standard errors
  of the replicate fraction from p on both sides);
* properties (hypothesis): lower <= mean <= upper within [min item, max item], all-equal items
  give a zero-width range, and the float CDF decides as the exact integer counts do.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from itertools import combinations_with_replacement

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from league_pipeline.scoring import likely_ranges as lr

REPLICATES = 1_000_000
PCTS = (lr.LOWER_PCT, lr.UPPER_PCT)
CASES = [
    # (items, percents)
    ([2.55, 3.80, 3.00], PCTS),  # RTX Q1 patient safety (3 items)
    ([1.00, 1.00, 4.00, 2.37], PCTS),  # a tie at the minimum
    ([3.33, 3.34, 3.35, 1.50, 1.50, 1.50], PCTS),  # two clusters, three equal items
    ([1.23, 3.87, 2.05, 2.05, 3.12, 1.00, 4.00, 2.66], PCTS),  # 8 items, a pair tied
    ([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0], PCTS),  # a coarse lattice (steps of 0.5)
    ([2.50] * 5, PCTS),  # all equal
    ([1.00, 2.00], (25.0, 75.0)),  # P(mean <= v) = p exactly at both percentiles
    ([1.00, 2.00, 2.00, 4.00, 1.37], (5.0, 10.0, 50.0, 90.0)),
]


def enumerated(items: list[float]) -> Counter[int]:
    """Ordered draws (of n**n) per sum in hundredths: every multiset, multinomially weighted."""
    hundredths = [round(s * 100) for s in items]
    n = len(hundredths)
    out: Counter[int] = Counter()
    for picks in combinations_with_replacement(range(n), n):
        weight = math.factorial(n)
        for count in Counter(picks).values():
            weight //= math.factorial(count)
        out[sum(hundredths[i] for i in picks)] += weight
    return out


def enumerated_percentile(dist: Counter[int], n: int, pct: float) -> int:
    """Smallest sum s with P(sum <= s) >= pct / 100, in exact integers."""
    p, total, seen = Fraction(str(pct)) / 100, n**n, 0
    for s in sorted(dist):
        seen += dist[s]
        if seen * p.denominator >= p.numerator * total:
            return s
    raise AssertionError("the CDF never reaches p")


def brute_force_sums(items: list[float], replicates: int, seed: int) -> np.ndarray:
    """Replicate sums (hundredths, int64) of n draws with replacement, one column at a time."""
    hundredths = np.rint(np.asarray(items) * 100).astype(np.int64)
    rng = np.random.default_rng(seed)
    sums = np.zeros(replicates, dtype=np.int64)
    for _ in range(len(hundredths)):
        sums += hundredths[rng.integers(0, len(hundredths), size=replicates)]
    return sums


@pytest.mark.parametrize("items, percents", CASES)
def test_exact_equals_full_enumeration(items, percents):
    n = len(items)
    dist = enumerated(items)
    got = lr.exact_mean_percentiles(items, percents)
    want = [Fraction(enumerated_percentile(dist, n, pct), 100 * n) for pct in percents]
    assert got == want


def test_exact_matches_a_million_replicate_bootstrap():
    far_checked = 0
    for case, (items, percents) in enumerate(CASES):
        n = len(items)
        dist = enumerated(items)
        support = sorted(dist)
        cumulative = np.cumsum([dist[s] for s in support]) / n**n
        sums = brute_force_sums(items, REPLICATES, seed=case)
        brute = np.percentile(sums, percents)  # linear interpolation, as the old code
        exact = lr.exact_mean_percentiles(items, percents)
        for pct, simulated, value in zip(percents, brute, exact, strict=True):
            s = value * 100 * n
            assert s.denominator == 1 and int(s) in dist  # an attainable sum
            k = support.index(int(s))
            below = support[max(k - 1, 0)]
            above = support[min(k + 1, len(support) - 1)]
            # within one step of the attainable means (0.01/n wherever the lattice is dense)
            assert below <= simulated <= above, (items, pct, simulated, int(s))
            p = pct / 100
            margin = 5 * math.sqrt(p * (1 - p) / REPLICATES)
            before = cumulative[k - 1] if k else 0.0
            if before < p - margin and cumulative[k] > p + margin:
                assert simulated == int(s), (items, pct, simulated, int(s))
                far_checked += 1
    assert far_checked >= 10  # most percentiles here are clear of a boundary


def test_likely_ranges_score_columns_are_the_exact_percentiles_rounded():
    quarter = "2025/26 Q1"
    items = {"A": [2.55, 3.80, 3.00], "B": [1.00, 1.00, 4.00, 2.37], "C": [2.5] * 4}
    score_items = pd.DataFrame(
        [(quarter, t, "acute", s) for t, ss in items.items() for s in ss],
        columns=["quarter", "trust_code", "peer_group", "score"],
    )
    segments = pd.DataFrame(
        {
            "quarter": quarter,
            "trust_code": list(items),
            "peer_group": "acute",
            "deficit_flag": [False, True, False],
        }
    )
    cuts = pd.DataFrame({"quarter": [quarter], "q25": [2.0], "q50": [2.5], "q75": [3.0]})
    first = lr.likely_ranges(score_items, segments, cuts, replicates=500, seed=1)
    other = lr.likely_ranges(score_items, segments, cuts, replicates=2000, seed=2)
    # the score range depends on neither the seed nor the replicates
    cols = ["score_lower", "score_upper"]
    pd.testing.assert_frame_equal(first[cols], other[cols])
    for row in first.itertuples():
        lo, hi = lr.exact_mean_percentiles(items[row.trust_code])
        assert (row.score_lower, row.score_upper) == (round(float(lo), 2), round(float(hi), 2))
    c = first.set_index("trust_code").loc["C"]
    assert c["score_lower"] == c["score_upper"] == 2.5


def test_items_off_the_grid_are_refused():
    with pytest.raises(ValueError, match=r"0\.01 grid.*2\.345"):
        lr.exact_mean_percentiles([2.0, 2.345, 3.0])
    with pytest.raises(ValueError, match=r"0\.01 grid"):
        lr.exact_mean_percentiles([2.0, float("nan")])
    with pytest.raises(ValueError, match="at least one"):
        lr.exact_mean_percentiles([])
    # float noise well inside 1e-9 is the grid value
    assert lr.exact_mean_percentiles([2.34 + 1e-12] * 3) == [Fraction(234, 100)] * 2


@pytest.mark.parametrize("n", [21, 40])
def test_float_cdf_is_within_its_tolerance_of_the_exact_cdf(n):
    """The FFT's CDF against exact integer counts at every sum, for as many items as trusts
    have (the acute default has about 21; 40 is more than any peer group's catalogue)."""
    rng = np.random.default_rng(n)
    hundredths = np.rint(np.clip(rng.normal(250, 80, n), 100, 400)).astype(np.int64)
    steps, counts = np.unique(hundredths - hundredths.min(), return_counts=True)
    cdf = lr._float_cdf(steps, counts, n)
    # all the coefficients of the packed power, one integer each (bits rounded up to bytes)
    width = -(-((n**n).bit_length() + 1) // 8)
    packed = sum(int(c) << (8 * width * int(s)) for s, c in zip(steps, counts, strict=True))
    raw = (packed**n).to_bytes(width * len(cdf), "little")
    exact = np.cumsum(
        [int.from_bytes(raw[i * width : (i + 1) * width], "little") for i in range(len(cdf))],
        dtype=object,
    )
    assert exact[-1] == n**n
    error = max(abs(float(Fraction(int(k), n**n)) - f) for k, f in zip(exact, cdf, strict=True))
    assert error < lr.CDF_TOLERANCE / 1000, error


items_on_grid = st.lists(st.integers(100, 400), min_size=1, max_size=12).map(
    lambda hs: [h / 100 for h in hs]
)


@settings(max_examples=150, deadline=None)
@given(items_on_grid)
def test_range_contains_the_mean_within_the_items(items):
    lower, upper = lr.exact_mean_percentiles(items)
    mean = Fraction(sum(round(s * 100) for s in items), 100 * len(items))
    low, high = Fraction(round(min(items) * 100), 100), Fraction(round(max(items) * 100), 100)
    assert low <= lower <= mean <= upper <= high
    if len(set(items)) == 1:
        assert lower == upper == mean


@settings(max_examples=60, deadline=None)
@given(items_on_grid, st.lists(st.sampled_from([0.0, 2.5, 5.0, 25.0, 50.0, 97.5, 100.0])))
def test_float_cdf_decides_as_exact_counts_do(items, extra):
    percents = (lr.LOWER_PCT, lr.UPPER_PCT, *extra)
    fast = lr.exact_mean_percentiles(items, percents)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lr, "CDF_TOLERANCE", 2.0)  # every decision goes to the integer counts
        exact = lr.exact_mean_percentiles(items, percents)
    assert fast == exact
