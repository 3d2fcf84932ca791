"""Failing cells as people find them in the file: the 1-based line, the text as written there,
each bad cell once; every schema column described, and the descriptions in the Dagster
TableSchema; percentages formatted."""

from __future__ import annotations

import pandas as pd

from league_pipeline.defs.metadata import column_schema, percent, table_metadata
from league_pipeline.formats.nof import read_nof_trust_data
from league_pipeline.formats.ods import read_ods_trusts
from league_pipeline.validation.locate import locate
from league_pipeline.validation.report import validate
from league_pipeline.validation.schemas import load_schema, schema_names


def _lines(content: bytes) -> list[str]:
    return content.decode("utf-8-sig").splitlines()


def test_bad_cells_give_the_files_line_and_raw_text(acute_bytes: bytes) -> None:
    # the sixth data row (0-based row 4 of the extract, line 6 of the file) gets a bad value,
    # and a blank line before it moves everything after it one line down
    lines = _lines(acute_bytes)
    fields = lines[5].split(",")
    value_at = fields.index("percent") + 1
    fields[value_at] = "abc"
    lines[5] = ",".join(fields)
    lines.insert(3, "")
    content = "\r\n".join(lines).encode()
    df = read_nof_trust_data(content, "2025/26 Q1")
    report = validate(df, "nof_trust_data")
    assert not report.passed
    # one bad cell, counted once (pandera reports it as coerce_dtype and dtype)
    assert report.num_failures == 1 and len(report.failure_cases) == 2
    found = locate(content, df)
    assert found is not None
    cells = report.cells_in_file(found)
    assert cells.drop(columns="record").to_dict("records") == [
        {"line": 7, "column": "Value", "text": "abc", "check": "Value coerce_dtype('float64')"}
    ]
    assert content.decode().splitlines()[7 - 1].split(",")[value_at] == "abc"
    meta = report.dagster_metadata(found)
    assert "| line |" in meta["failing_cells"].replace("  ", " ") or "line" in meta["failing_cells"]
    assert meta["failing_rows"].splitlines()[2].lstrip("| ").startswith("7 ")


def test_raw_text_is_the_files_not_the_normalised_value(mh_bytes: bytes) -> None:
    # the file writes "Q2 2025/26" and "%": the extract holds "2025/26 Q2" and "percent"
    df = read_nof_trust_data(mh_bytes, "2025/26 Q1")
    report = validate(df, "nof_trust_data", expected_quarter="2025/26 Q1")
    found = locate(mh_bytes, df)
    assert found is not None
    row = int(df.index[(df["Quarter"] == "2025/26 Q2") & (df["Units"] == "percent")][0])
    assert found.text(row, "Quarter") == "Q2 2025/26"
    assert found.text(row, "Units") == "%"
    assert _lines(mh_bytes)[found.line(row) - 1].startswith("Q2 2025/26,")
    assert report.passed  # a cumulative file: Q2's rows belong to the year of Q1


def test_headerless_files_are_located_and_filled_columns_say_so(ods_bytes: bytes) -> None:
    df = read_ods_trusts(ods_bytes)
    found = locate(ods_bytes, df)
    assert found is not None and found.line(0) == 1
    assert found.text(3, "ods_code") == df.loc[3, "ods_code"]
    other = pd.DataFrame({"Region": ["London"], "Trust_code": ["R1"], "Trust_name": ["A"]})
    content = b"Region,Trust_code,Trust_name\r\nLondon,R2,B\r\n"
    assert locate(content, other) is None  # the file's row holds another row's text


def test_rows_that_do_not_match_the_file_are_not_located(acute_bytes: bytes) -> None:
    df = read_nof_trust_data(acute_bytes, "2025/26 Q1")
    assert locate(acute_bytes, df.iloc[1:].reset_index(drop=True)) is None  # a row dropped
    assert locate(b"PK\x03\x04 a workbook", df) is None
    report = validate(df.assign(Trust_code="bad code"), "nof_trust_data")
    cells = report.cells_in_file(None)
    codes = cells[cells["column"] == "Trust_code"]
    assert cells["line"].isna().all() and len(codes) and (codes["text"] == "bad code").all()
    assert codes["record"].tolist()[:3] == [1, 2, 3]  # 1-based places among the rows read
    meta = report.dagster_metadata(None)
    assert "data row" in meta["failing_cells"] and "| line" not in meta["failing_cells"]
    from league_pipeline.defs.sources import Located, where

    said = where(report, Located("/landing/acute.csv", None))
    assert said.startswith("/landing/acute.csv: data row 1 (line unknown) ")
    assert "data row 1 (line unknown) Trust_code 'bad code'" in said


def test_every_schema_column_has_a_description() -> None:
    missing = [
        f"{name}.{column}"
        for name in schema_names()
        for column, spec in load_schema(name).columns.items()
        if not (spec.description or "").strip()
    ]
    assert missing == []


def test_the_table_schema_shows_each_columns_description_and_declared_type() -> None:
    df = pd.DataFrame({"Trust_code": ["R1"], "Value": ["abc"], "not_in_any_schema": [1]})
    schema = column_schema(df, "nof_trust_data")
    by_name = {c.name: c for c in schema.columns}
    assert (
        by_name["Trust_code"].description
        == load_schema("nof_trust_data").columns["Trust_code"].description
    )
    assert by_name["Value"].type == "float64"  # the schema's type, not the text a bad file holds
    assert by_name["not_in_any_schema"].description is None
    meta = table_metadata("league.scoring.metric_values", pd.DataFrame({"quarter": ["x"]}))
    assert meta["dagster/column_schema"].columns[0].description


def test_percentages_are_formatted() -> None:
    assert percent(0.8455284552845529) == "84.6%"
    assert percent(1.0) == "100.0%"
    assert percent(0.9996) == "99.9%" and percent(0.0004) == "0.1%"  # never a false 100% or 0%
    assert percent(0.0) == "0.0%" and percent(0.99949) == "99.9%"
    assert percent(float("nan")) == percent(None) == "n/a"
