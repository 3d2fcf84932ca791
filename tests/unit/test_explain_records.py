"""explain._records gives what DataFrame.to_dict(orient="records") gives, value and type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from league_pipeline.outputs.explain import _records


def _typed(records: list[dict]) -> list[list[tuple[str, type, str]]]:
    return [[(k, type(v), repr(v)) for k, v in row.items()] for row in records]


def test_records_are_pandas_records():
    frame = pd.DataFrame(
        {
            "text": pd.Series(["ZA001", None, "ZA003"], dtype="str"),
            "score": [1.5, np.nan, 4.0],
            "count": pd.Series([1, 2, 3], dtype="int32"),
            "rank": [1, 2, 3],
            "flag": [True, False, True],
            "missing": [None, "x", None],
        }
    )
    assert _typed(_records(frame)) == _typed(frame.to_dict(orient="records"))


def test_a_nullable_column_is_left_to_pandas():
    frame = pd.DataFrame({"pool_rank": pd.Series([1, None], dtype="Int64"), "code": ["A", "B"]})
    records = _records(frame)
    assert records == frame.to_dict(orient="records")
    assert records[1]["pool_rank"] is None
