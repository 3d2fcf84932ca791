"""Comparing two versions of a snapshot table.

Belongs here: :func:`diff`, the rows added, removed or changed between two versions of one
quarter's table, matched on a key, with each changed column's old and new value
(:func:`diff_frames`: the same for rows already read).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.snapshots import reader
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import SYSTEM_COLUMNS, ordered_union


def _differs(old: pd.Series, new: pd.Series) -> pd.Series:
    """Element-wise 'the value changed', with missing == missing."""
    both_missing = old.isna() & new.isna()
    try:
        equal = old == new
    except (TypeError, ValueError):
        equal = old.astype(object) == new.astype(object)
    equal = equal.astype("boolean").fillna(False).astype(bool)
    return ~(equal | both_missing)


def diff(
    store: StoreBase,
    table: str,
    quarter: str | Quarter,
    old_version: int,
    new_version: int,
    key: list[str],
) -> pd.DataFrame:
    """Rows added, removed or changed between two versions, matched on ``key``.

    Columns: the key, ``change`` ('added' / 'removed' / 'changed'), ``changed_columns``
    (comma-separated, for 'changed'), then ``<column>_old`` and ``<column>_new`` for every
    other column. Unchanged rows are left out; a column that only one version has is shown
    but does not by itself make a row 'changed'.
    """
    key = list(key)
    if not key:
        raise ValueError("diff needs at least one key column")
    old = reader.read(store, table, quarter, old_version).drop(columns=list(SYSTEM_COLUMNS))
    new = reader.read(store, table, quarter, new_version).drop(columns=list(SYSTEM_COLUMNS))
    return diff_frames(old, new, key, table)


def diff_frames(
    old: pd.DataFrame, new: pd.DataFrame, key: list[str], table: str = "table"
) -> pd.DataFrame:
    """:func:`diff` of two versions' rows already read (without the system columns); the
    frames are left as they are."""
    key = list(key)
    if not key:
        raise ValueError("diff needs at least one key column")
    for label, frame in (("old", old), ("new", new)):
        missing = [k for k in key if k not in frame.columns]
        if missing:
            raise ValueError(f"the {label} version of '{table}' has no key column {missing}")
        if frame.duplicated(key).any():
            raise ValueError(f"{key} does not identify the rows of the {label} version")
    values = [c for c in ordered_union([old.columns, new.columns]) if c not in key]
    compared = [c for c in values if c in old.columns and c in new.columns]
    for column in values:
        if column not in old.columns:
            old = old.assign(**{column: pd.NA})
        if column not in new.columns:
            new = new.assign(**{column: pd.NA})
    merged = old.rename(columns={c: f"{c}_old" for c in values}).merge(
        new.rename(columns={c: f"{c}_new" for c in values}),
        on=key,
        how="outer",
        indicator=True,
    )
    flags = pd.DataFrame(
        {c: _differs(merged[f"{c}_old"], merged[f"{c}_new"]) for c in compared},
        index=merged.index,
    )
    both = merged["_merge"] == "both"
    merged["change"] = "changed"
    merged.loc[merged["_merge"] == "left_only", "change"] = "removed"
    merged.loc[merged["_merge"] == "right_only", "change"] = "added"
    names = np.array(compared, dtype=object)
    merged["changed_columns"] = [
        ",".join(names[row]) if is_both else ""
        for row, is_both in zip(flags.to_numpy(dtype=bool), both, strict=True)
    ]
    keep = ~both | flags.any(axis=1) if compared else ~both
    paired = [f"{c}_{side}" for c in values for side in ("old", "new")]
    result = merged.loc[keep, [*key, "change", "changed_columns", *paired]]
    return result.sort_values(key).reset_index(drop=True)
