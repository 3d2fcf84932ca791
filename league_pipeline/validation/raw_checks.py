"""Custom pandera checks the raw-statistics schemas (``schemas/raw_*.yaml``) use by name.

Belongs here: checks pandera has no built-in for that only the raw releases need: the months a
quarter's derivation reads are all there (and no others), a monthly file is for the month it was
fetched for, and a file's provider rows add up to its published total row. They are registered
with :func:`~league_pipeline.validation.checks.register_table_check`, as
:mod:`~league_pipeline.validation.checks` registers its own, so they serialise in YAML like
built-in checks; :mod:`~league_pipeline.validation.schemas` imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from league_pipeline.core.quarters import QuarterError, parse_quarter
from league_pipeline.derivation.periods import months_of
from league_pipeline.validation.checks import all_true, register_table_check


def _required(df: pd.DataFrame, quarter_column: str, span: str) -> dict[str, set[pd.Timestamp]]:
    out: dict[str, set[pd.Timestamp]] = {}
    for label in df[quarter_column].dropna().unique():
        try:
            quarter = parse_quarter(str(label), check_methodology=False)
        except QuarterError:
            continue  # the quarter column's own check reports it
        out[str(label)] = {pd.Timestamp(m) for m in months_of(quarter, span)}
    return out


@register_table_check(["quarter_column", "month_column", "span"])
def months_within(
    df: pd.DataFrame, *, quarter_column: str, month_column: str, span: str
) -> pd.DataFrame:
    """Every row's month is one the quarter's derivation reads (``span``: quarter,
    year_to_date or last_month); rows of other months are flagged. Blank months pass here."""
    out = all_true(df)
    if quarter_column not in df or month_column not in df:
        return out
    required = _required(df, quarter_column, span)
    months = pd.to_datetime(df[month_column], errors="coerce")
    ok = [
        pd.isna(m) or str(q) not in required or pd.Timestamp(m) in required[str(q)]
        for q, m in zip(df[quarter_column], months, strict=True)
    ]
    out[month_column] = ok
    return out


@register_table_check(["quarter_column", "month_column", "span"])
def months_complete(df: pd.DataFrame, *, quarter_column: str, month_column: str, span: str) -> bool:
    """Every month the quarter's derivation reads has rows (a release that stops short fails)."""
    if quarter_column not in df or month_column not in df:
        return True
    months = pd.to_datetime(df[month_column], errors="coerce")
    for label, required in _required(df, quarter_column, span).items():
        present = {pd.Timestamp(m) for m in months[df[quarter_column] == label].dropna()}
        if not required <= present:
            return False
    return True


@register_table_check(["month_column", "expected_column", "skip_column", "skip_value"])
def same_month(
    df: pd.DataFrame,
    *,
    month_column: str,
    expected_column: str,
    skip_column: str | None = None,
    skip_value: str | None = None,
) -> pd.DataFrame:
    """``month_column`` equals ``expected_column`` (the month the file was fetched for), except
    on rows where ``skip_column == skip_value`` (a total row has no period of its own)."""
    out = all_true(df)
    if month_column not in df or expected_column not in df:
        return out
    month = pd.to_datetime(df[month_column], errors="coerce")
    expected = pd.to_datetime(df[expected_column], errors="coerce")
    ok = month.eq(expected).fillna(False).astype(bool)
    if skip_column and skip_column in df:
        ok |= df[skip_column].astype("str").eq(str(skip_value))
    out[month_column] = ok
    return out


@register_table_check(["row_type_column", "total_value", "columns", "keys"])
def totals_add_up(
    df: pd.DataFrame,
    *,
    row_type_column: str,
    total_value: str,
    columns: Sequence[str],
    keys: Sequence[str] = (),
) -> pd.DataFrame:
    """Within each group of ``keys``, the rows that are not totals add up to the total row, in
    every column of ``columns``; a total cell that disagrees is flagged. No total row, no check."""
    out = all_true(df)
    if row_type_column not in df or any(k not in df for k in keys):
        return out
    present = [c for c in columns if c in df]
    is_total = df[row_type_column].astype("str").eq(total_value)
    values = df[present].apply(pd.to_numeric, errors="coerce")
    groups = [df[k] for k in keys] if keys else [pd.Series(0, index=df.index)]
    sums = values[~is_total].groupby([g[~is_total] for g in groups], dropna=False).sum()
    for index in df.index[is_total]:
        key = tuple(g[index] for g in groups)
        key = key[0] if len(key) == 1 else key
        for col in present:
            expected = sums[col].get(key, 0.0) if key in sums.index else 0.0
            actual = values.at[index, col]
            if pd.notna(actual) and abs(float(actual) - float(expected)) > 1e-6:
                out.at[index, col] = False
    return out
