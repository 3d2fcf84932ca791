"""The custom pandera checks the schemas use by name (NOF files, outputs, the league table).

Belongs here: :func:`register_table_check` and the checks it registers with
:func:`pandera.extensions.register_check_method`, so that they serialise in YAML like built-in
checks (value ranges by ``Metric_ID``, consistency within groups, ordered columns, the override
and ranking rules). The raw releases' checks are in :mod:`~league_pipeline.validation.raw_checks`.
Importing the module registers them; :mod:`~league_pipeline.validation.schemas` does so before
loading any schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pandera.extensions as pa_ext
import pandera.pandas as pa

from league_pipeline.core import paths

_F = TypeVar("_F", bound=Callable[..., Any])


def is_missing(value: Any) -> bool:
    """``value`` is a missing cell (None, NaN, NaT, pd.NA); False for anything pandas cannot
    test (a list, a dict)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def all_true(df: pd.DataFrame) -> pd.DataFrame:
    """The starting result of a table check: every cell passes."""
    return pd.DataFrame(True, index=df.index, columns=df.columns)


def _cells(out: pd.DataFrame) -> pd.DataFrame | pd.Series:
    """A table check's result for pandera: the per-cell frame when a cell fails, so the failure
    cases name its column and row; one True a row when every cell passes. (pandera collects
    failure cases from a frame result column by column even when nothing failed: ~25 ms a
    check on a NOF file, most of the cost of validating one.)"""
    if bool(out.to_numpy(dtype=bool).all()):
        return pd.Series(True, index=out.index)
    return out


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    """Round half away from zero, like the scoring SQL's DECIMAL ``round`` (numpy rounds half to
    even: 2.025 -> 2.02 there, 2.03 here and in the published tables). Exact: each double is
    read as the decimal it stands for (its shortest repr; the scoring SQL stores the nearest
    double to an exact DECIMAL), so 2.145 -> 2.15 although the double 2.145 is just below it."""
    quantum = Decimal(1).scaleb(-decimals)

    def one(value: float) -> float:
        if not np.isfinite(value):
            return value
        return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))

    return values.astype("float64").map(one, na_action="ignore")


def register_table_check(statistics: list[str]) -> Callable[[_F], _F]:
    """Register a DataFrame-level check once (re-imports must not fail). A check that returns a
    per-cell frame is handed to pandera through :func:`_cells`."""

    def decorator(fn: _F) -> _F:
        @functools.wraps(fn)
        def check(df: pd.DataFrame, **statistics_values: Any) -> Any:
            result = fn(df, **statistics_values)
            return _cells(result) if isinstance(result, pd.DataFrame) else result

        if not hasattr(pa.Check, fn.__name__):
            pa_ext.register_check_method(statistics=statistics, supported_types=pd.DataFrame)(check)
        return fn

    return decorator


def _equals(series: pd.Series, expected: pd.Series) -> pd.Series:
    """Cell by cell, ``series`` (read as numbers) equals ``expected``; missing on either side
    fails."""
    return _numeric(series).eq(expected).fillna(False).astype(bool)


def _register_column_check(fn: _F) -> _F:
    """Register an element-wise column check without statistics, once."""
    if not hasattr(pa.Check, fn.__name__):
        pa_ext.register_check_method(statistics=[], supported_types=pd.Series)(fn)
    return fn


@_register_column_check
def yes_no_flag(series: pd.Series) -> pd.Series:
    """A flag the readers could read: a bool, or ``Yes``/``No`` text left by a reader because
    another cell of the column was neither (that cell is the one this check flags)."""

    def ok(value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return True
        return isinstance(value, str) and value.strip().lower() in ("yes", "no")

    return series.map(ok).astype(bool)


# Each check builds a boolean DataFrame shaped like its input, False only in the cells at fault,
# so pandera's failure cases name the offending column(s) and row (see _cells). Columns a check
# needs but the frame lacks are skipped here: the missing column is already reported as
# column_in_dataframe.


@register_table_check(["metric_pattern", "min_value", "max_value", "id_column", "value_column"])
def metric_value_in_range(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    min_value: float,
    max_value: float,
    id_column: str = "Metric_ID",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``value_column`` is in [min_value, max_value] where the id matches ``metric_pattern``."""
    out = all_true(df)
    if id_column not in df or value_column not in df:
        return out
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    value = _numeric(df[value_column])
    ok = value.between(min_value, max_value) | value.isna()
    out[value_column] = ~applies | ok
    return out


@register_table_check(["metric_pattern", "allowed_values", "id_column", "value_column"])
def metric_value_isin(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    allowed_values: Sequence[float],
    id_column: str = "Metric_ID",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``value_column`` is one of ``allowed_values`` on rows whose id matches ``metric_pattern``."""
    out = all_true(df)
    if id_column not in df or value_column not in df:
        return out
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    value = _numeric(df[value_column])
    ok = value.isin([float(v) for v in allowed_values]) | value.isna()
    out[value_column] = ~applies | ok
    return out


@functools.cache
def value_ranges() -> dict[str, tuple[float, float]]:
    """``assets/methodology/value_ranges.csv``: the physical range of each metric's value, by
    Metric_ID or, for the rest, by ``unit:<Units>`` (a blank bound is open)."""
    table = pd.read_csv(paths.methodology_dir() / "value_ranges.csv", dtype={"key": "str"})
    return {
        row.key: (
            float(row.min_value) if pd.notna(row.min_value) else -np.inf,
            float(row.max_value) if pd.notna(row.max_value) else np.inf,
        )
        for row in table.itertuples()
    }


@register_table_check(["metric_pattern", "id_column", "unit_column", "value_column"])
def value_in_physical_range(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    id_column: str = "Metric_ID",
    unit_column: str = "Units",
    value_column: str = "Value",
) -> pd.DataFrame:
    """Every value of a metric matching ``metric_pattern`` lies in its physical range
    (:func:`value_ranges`): percentages 0-100, counts at least 0, finance values within their
    stated bounds. A value whose metric and unit have no range fails too: it cannot be checked.
    (Scores, segments and flags have their own exact checks.)"""
    out = all_true(df)
    if any(c not in df for c in (id_column, unit_column, value_column)):
        return out
    ranges = value_ranges()
    keys = (
        df[id_column]
        .astype("str")
        .where(
            df[id_column].astype("str").isin(list(ranges)), "unit:" + df[unit_column].astype("str")
        )
    )
    lows = keys.map(lambda k: ranges.get(k, (np.nan, np.nan))[0])
    highs = keys.map(lambda k: ranges.get(k, (np.nan, np.nan))[1])
    value = _numeric(df[value_column])
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    out[value_column] = ~applies | value.isna() | ((value >= lows) & (value <= highs))
    return out


@register_table_check(["group_by", "rank_column", "value_column"])
def rank_within_pool(
    df: pd.DataFrame,
    *,
    group_by: Sequence[str],
    rank_column: str = "Rank",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``rank_column`` is a whole number from 1 to the number of ranked rows in its group
    (``group_by``, e.g. quarter, metric and trust type)."""
    out = all_true(df)
    if any(c not in df for c in (*group_by, rank_column)):
        return out
    rank = _numeric(df[rank_column])
    pool = rank.notna().groupby([df[g] for g in group_by], dropna=False).transform("sum")
    whole = rank.eq(np.floor(rank))
    out[rank_column] = rank.isna() | (whole & (rank >= 1) & (rank <= pool))
    return out


@register_table_check(["keys", "columns"])
def consistent_within(
    df: pd.DataFrame, *, keys: Sequence[str], columns: Sequence[str]
) -> pd.DataFrame:
    """Each of ``columns`` has a single value within every group of ``keys``."""
    out = all_true(df)
    if any(k not in df for k in keys):
        return out
    grouped = df.groupby(list(keys), dropna=True, sort=False)
    for col in columns:
        if col not in df:
            continue
        distinct = grouped[col].transform("nunique")
        out[col] = ~(distinct.fillna(1) > 1)
    return out


@register_table_check(["lower", "upper", "tolerance"])
def columns_ordered(
    df: pd.DataFrame, *, lower: str, upper: str, tolerance: float = 0.0
) -> pd.DataFrame:
    """``lower <= upper + tolerance`` on rows where both are present (dates or numbers).

    ``tolerance`` absorbs rounding, e.g. a 2 dp bound against an unrounded average.
    """
    out = all_true(df)
    if lower not in df or upper not in df:
        return out
    lo, hi = df[lower], df[upper]
    dates = [pd.api.types.is_datetime64_any_dtype(c) for c in (lo, hi)]
    if all(dates):
        bad = lo.notna() & hi.notna() & (lo > hi)
    elif any(dates):  # the other column failed conversion; that failure is reported already
        return out
    else:
        lo, hi = _numeric(lo), _numeric(hi)
        bad = lo.notna() & hi.notna() & (lo > hi + tolerance)
    out[lower] = ~bad
    out[upper] = ~bad
    return out


@register_table_check(["min_rows"])
def has_rows(df: pd.DataFrame, *, min_rows: int = 1) -> bool:
    """The frame has at least ``min_rows`` rows (a header-only extract is not data)."""
    return len(df) >= min_rows


@register_table_check(["unadjusted", "deficit", "adjusted"])
def financial_override_applied(
    df: pd.DataFrame,
    *,
    unadjusted: str = "unadjusted_segment",
    deficit: str = "deficit_flag",
    adjusted: str = "adjusted_segment",
) -> pd.DataFrame:
    """``adjusted = max(unadjusted, 3)`` for trusts in deficit, else ``unadjusted`` (NOF §4.5)."""
    out = all_true(df)
    if any(c not in df for c in (unadjusted, deficit, adjusted)):
        return out
    raw = _numeric(df[unadjusted])
    in_deficit = df[deficit].astype("boolean").fillna(False).astype(bool)
    expected = raw.where(~in_deficit, raw.clip(lower=3))
    out[adjusted] = _equals(df[adjusted], expected)
    return out


@register_table_check(["adjusted", "in_rsp", "final"])
def rsp_override_applied(
    df: pd.DataFrame,
    *,
    adjusted: str = "adjusted_segment",
    in_rsp: str = "in_rsp",
    final: str = "final_segment",
) -> pd.DataFrame:
    """``final = 5`` for trusts in the Recovery Support Programme, else ``adjusted`` (NOF §4.6)."""
    out = all_true(df)
    if any(c not in df for c in (adjusted, in_rsp, final)):
        return out
    rsp = df[in_rsp].astype("boolean").fillna(False).astype(bool)
    expected = _numeric(df[adjusted]).where(~rsp, 5)
    out[final] = _equals(df[final], expected)
    return out


@register_table_check(["group_by", "segment", "score", "rank", "decimals"])
def competition_rank(
    df: pd.DataFrame,
    *,
    group_by: Sequence[str],
    segment: str,
    score: str,
    rank: str,
    decimals: int = 2,
) -> pd.DataFrame:
    """``rank`` is the competition ("min") rank of (segment, score rounded half away from zero
    to ``decimals``) within each group (NOF §4.7)."""
    out = all_true(df)
    if any(c not in df for c in (*group_by, segment, score, rank)):
        return out
    key = _numeric(df[segment]) * 1000 + _round_half_away(_numeric(df[score]), decimals)
    expected = key.groupby([df[g] for g in group_by], dropna=False).rank(method="min")
    out[rank] = _equals(df[rank], expected)
    return out
