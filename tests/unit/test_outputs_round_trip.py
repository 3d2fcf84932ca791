"""The outputs' round-trip schema check (outputs/publish.py): the exported files of a schema
are validated as one table only when that gives each file's own result, and a failing file is
named, as when each file was validated alone."""

from __future__ import annotations

import pandas as pd

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.outputs.exports import OfficialExport
from league_pipeline.outputs.publish import _check_round_trip, _checked_together
from league_pipeline.validation.report import validate

Q1 = "2025/26 Q1"
TYPES = {
    "acute": ("Acute trust", "Acute - Large"),
    "ambulance": ("Ambulance trust", "Ambulance"),
}


def _text(values: list) -> pd.Series:
    return pd.Series(values, dtype="str")


def league_table(group: str, codes: list[str], ranks: list[float]) -> pd.DataFrame:
    trust_type, subtype = TYPES[group]
    n = len(codes)
    return pd.DataFrame(
        {
            "Quarter": _text([Q1] * n),
            "Region": _text(["London"] * n),
            "Trust_type": _text([trust_type] * n),
            "Trust_subtype": _text([subtype] * n),
            "Trust_code": _text(codes),
            "Trust_name": _text([f"Trust {c}" for c in codes]),
            "Average_score": [1.5 + r / 10 for r in ranks],
            "Likely_range_of_average_score": _text(["1.2 to 1.9"] * n),
            "Segment": [1.0] * n,
            "Trust_in_financial_deficit": [False] * n,
            "Rank": ranks,
            "Likely_range_of_rank": _text(["1 to 3"] * n),
        }
    )


def trust_data(group: str, codes: list[str], description: str) -> pd.DataFrame:
    trust_type, subtype = TYPES[group]
    n = len(codes)
    return pd.DataFrame(
        {
            "Quarter": _text([Q1] * n),
            "Region": _text(["London"] * n),
            "Trust_type": _text([trust_type] * n),
            "Trust_subtype": _text([subtype] * n),
            "Trust_code": _text(codes),
            "Trust_name": _text([f"Trust {c}" for c in codes]),
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
