"""NHS England's revisions: an earlier quarter's rows in a newer cumulative publication, compared
with the rows that quarter's latest snapshot was built from.

Belongs here: the row-by-row, value-by-value comparison of two extracts of the NOF trust-data
format (one quarter, one file kind). No I/O.
"""

from __future__ import annotations

import pandas as pd

# NOF trust-data columns, lower-cased as snapshots store them
KEY = ["quarter", "trust_code", "metric_id"]
# the published figures whose change is a revision (names, descriptions and reporting-date
# labels are not figures: Q1's file leaves some reporting dates blank that later ones fill in)
COMPARED = ["value", "median_value", "lower_quartile", "upper_quartile", "rank"]
CHANGE_COLUMNS = ["quarter", "trust_code", "metric_id", "column", "before", "after", "change"]


def _text(value: object) -> str | None:
    """A cell as comparable text: numbers by their exact float repr, blanks as None."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


def publication_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Every row and cell that differs between ``before`` (what a snapshot used) and ``after``
    (the newer publication), both with lower-cased column names: one row per changed cell;
    rows only on one side are ``added`` or ``removed`` (``column`` empty)."""
    columns = [c for c in COMPARED if c in before.columns and c in after.columns]
    old = before[KEY + columns].drop_duplicates(KEY).set_index(KEY)
    new = after[KEY + columns].drop_duplicates(KEY).set_index(KEY)
    out: list[dict] = []
    for key in new.index.difference(old.index):
        out.append(dict(zip(KEY, key, strict=True)) | {"column": "", "change": "added"})
    for key in old.index.difference(new.index):
        out.append(dict(zip(KEY, key, strict=True)) | {"column": "", "change": "removed"})
    both = old.index.intersection(new.index)
    if len(both):
        left = old.loc[both, columns].map(_text)
        right = new.loc[both, columns].map(_text)
        differs = left.ne(right) & ~(left.isna() & right.isna())
        for column in columns:
            for key in differs.index[differs[column]]:
                out.append(
                    dict(zip(KEY, key, strict=True))
                    | {
                        "column": column,
                        "before": left.at[key, column],
                        "after": right.at[key, column],
                        "change": "changed",
                    }
                )
    frame = pd.DataFrame(out, columns=CHANGE_COLUMNS)
    return (
        frame[CHANGE_COLUMNS].sort_values(CHANGE_COLUMNS[:4], kind="stable").reset_index(drop=True)
    )
