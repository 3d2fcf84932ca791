"""The outputs' round-trip schema check (outputs/publish.py): the exported files of a schema
are validated as one table only when that gives each file's own result, and a failing file is
named, as when each file was validated alone."""

from __future__ import annotations

import copy

import pandas as pd
import pandera.pandas as pa
import pytest

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.outputs import publish
from league_pipeline.outputs.exports import OfficialExport
from league_pipeline.outputs.publish import _check_round_trip, _checked_together
from league_pipeline.validation.report import validate
from league_pipeline.validation.schemas import load_schema

Q1 = "2025/26 Q1"
Q2 = "2025/26 Q2"
TYPES = {
    "acute": ("Acute trust", "Acute - Large"),
    "ambulance": ("Ambulance trust", "Ambulance"),
}


def _text(values: list) -> pd.Series:
    return pd.Series(values, dtype="str")


def _trusts(group: str, codes: list[str], quarter: str) -> dict[str, pd.Series]:
    """The columns both layouts open with: quarter, region and each trust's type and name."""
    trust_type, subtype = TYPES[group]
    n = len(codes)
    return {
        "Quarter": _text([quarter] * n),
        "Region": _text(["London"] * n),
        "Trust_type": _text([trust_type] * n),
        "Trust_subtype": _text([subtype] * n),
        "Trust_code": _text(codes),
        "Trust_name": _text([f"Trust {c}" for c in codes]),
    }


def league_table(group: str, codes: list[str], ranks: list[float]) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame(
        {
            **_trusts(group, codes, Q1),
            "Average_score": [1.5 + r / 10 for r in ranks],
            "Likely_range_of_average_score": _text(["1.2 to 1.9"] * n),
            "Segment": [1.0] * n,
            "Trust_in_financial_deficit": [False] * n,
            "Rank": ranks,
            "Likely_range_of_rank": _text(["1 to 3"] * n),
        }
    )


def trust_data(group: str, codes: list[str], description: str, quarter: str = Q1) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame(
        {
            **_trusts(group, codes, quarter),
            "Domain": _text(["Access to services"] * n),
            "Sub_domain": _text(["Urgent care"] * n),
            "Metric_ID": _text(["OF1001"] * n),
            "Metric_description": _text([description] * n),
            "Reporting_date": _text(["Q1 2025/26"] * n),
            "Units": _text(["score"] * n),
            "Value": [2.0] * n,
            "Median_value": [2.0] * n,
            "Lower_quartile": [1.5] * n,
            "Upper_quartile": [2.5] * n,
            "Rank": [float(i + 1) for i in range(n)],
        }
    )


def export(league_tables: dict, trust_data_files: dict) -> OfficialExport:
    return OfficialExport(
        quarter=parse_quarter(Q1),
        version=1,
        league_tables=league_tables,
        trust_data=trust_data_files,
    )


def test_files_that_pass_are_checked_as_one_table():
    tables = {
        "acute": league_table("acute", ["ZA001", "ZA002"], [1.0, 2.0]),
        "ambulance": league_table("ambulance", ["ZU001"], [1.0]),
    }
    data = {
        "acute": trust_data("acute", ["ZA001", "ZA002"], "A metric"),
        "ambulance": trust_data("ambulance", ["ZU001"], "A metric"),
    }
    for frames, schema in ((tables, "nof_league_table"), (data, "nof_trust_data")):
        assert all(validate(frame, schema).passed for frame in frames.values())
        assert _checked_together(list(frames.values()), schema) is not None
    assert _check_round_trip(export(tables, data)) == []


def test_a_failing_file_is_named_alone():
    tables = {
        "acute": league_table("acute", ["ZA001", "ZA002"], [1.0, 3.0]),  # 3: not a rank of 2
        "ambulance": league_table("ambulance", ["ZU001"], [1.0]),
    }
    problems = _check_round_trip(export(tables, {}))
    assert len(problems) == 1
    assert problems[0].startswith("Acute trusts nof_league_table: ")
    assert problems[0].endswith(validate(tables["acute"], "nof_league_table").summary)


def test_files_that_would_pass_only_together_are_checked_one_by_one():
    """Two files of one trust type whose ranks run 1-2 and 3: together a valid ranking, alone
    the second is wrong. They are not checked as one table, and the second file is named."""
    tables = {
        "acute": league_table("acute", ["ZA001", "ZA002"], [1.0, 2.0]),
        "ambulance": league_table("acute", ["ZA003"], [3.0]),
    }
    together = pd.concat(tables.values(), ignore_index=True)
    assert validate(together, "nof_league_table").passed
    assert _checked_together(list(tables.values()), "nof_league_table") is None
    problems = _check_round_trip(export(tables, {}))
    assert [p.split(":")[0] for p in problems] == ["Ambulance trusts nof_league_table"]


def test_files_that_fail_only_together_pass():
    """Each peer group's file may word a metric its own way: one table would fail the
    one-description-a-metric check, each file alone passes, and so does the round trip."""
    data = {
        "acute": trust_data("acute", ["ZA001"], "Wording of the acute file"),
        "ambulance": trust_data("ambulance", ["ZU001"], "Wording of the ambulance file"),
    }
    together = pd.concat(data.values(), ignore_index=True)
    assert not validate(together, "nof_trust_data").passed
    assert all(validate(f, "nof_trust_data").passed for f in data.values())
    assert _check_round_trip(export({}, data)) == []


def test_a_file_without_rows_is_named():
    tables = {
        "acute": league_table("acute", [], []),
        "ambulance": league_table("ambulance", ["ZU001"], [1.0]),
    }
    assert _checked_together(list(tables.values()), "nof_league_table") is None
    problems = _check_round_trip(export(tables, {}))
    assert [p.split(":")[0] for p in problems] == ["Acute trusts nof_league_table"]


def test_files_with_an_expected_quarter_are_checked_one_by_one():
    """``validate`` adapts the schema to ``attrs["expected_quarter"]``: the cumulative trust data
    must have rows of that quarter, which a table passes when any file has them. Frames with
    attrs are checked one by one, so the file holding only another quarter's rows is named."""
    acute = pd.concat(
        [
            trust_data("acute", ["ZA001"], "A metric"),
            trust_data("acute", ["ZA001"], "A metric", Q2),
        ],
        ignore_index=True,
    )
    data = {"acute": acute, "ambulance": trust_data("ambulance", ["ZU001"], "A metric")}
    for frame in data.values():
        frame.attrs["expected_quarter"] = Q2
    together = pd.concat(data.values(), ignore_index=True)
    assert together.attrs == {"expected_quarter": Q2}
    assert validate(together, "nof_trust_data").passed
    alone = validate(data["ambulance"], "nof_trust_data")
    assert not alone.passed
    assert validate(acute, "nof_trust_data").passed
    assert _checked_together(list(data.values()), "nof_trust_data") is None
    problems = _check_round_trip(export({}, data))
    assert problems == [f"Ambulance trusts nof_trust_data: {alone.summary}"]
    assert f"no rows for {Q2}" in problems[0]


def _league_tables() -> list[pd.DataFrame]:
    return [
        league_table("acute", ["ZA001", "ZA002"], [1.0, 2.0]),
        league_table("ambulance", ["ZU001"], [1.0]),
    ]


@pytest.mark.parametrize("change", ["table check groupby", "column check groupby", "index"])
def test_schemas_with_groupby_or_an_index_are_checked_one_by_one(monkeypatch, change):
    """pandera's ``groupby`` splits a check by a column the code does not reason about, and an
    index is validated as a whole: either way the files are validated one at a time."""
    assert _checked_together(_league_tables(), "nof_league_table") is not None
    schema = copy.deepcopy(load_schema("nof_league_table"))
    if change == "table check groupby":
        schema.checks = [*schema.checks, pa.Check(lambda g: True, groupby="Region")]
    elif change == "column check groupby":
        column = schema.columns["Rank"]
        checks = [*column.checks, pa.Check.greater_than_or_equal_to(1, groupby="Region")]
        schema = schema.update_column("Rank", checks=checks)
    else:
        schema.index = pa.Index(int)
    monkeypatch.setattr(publish, "load_schema", lambda _name: schema)
    assert _checked_together(_league_tables(), "nof_league_table") is None
