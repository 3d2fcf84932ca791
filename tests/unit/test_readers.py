"""Readers and writers against NHS England's real published files (read from the shared folder).

Belongs here: parsing, normalisation, round trips and ReaderError for unreadable input. Whether
parsed data is *valid* is tested in test_validation.py.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from league_pipeline.formats.common import ReaderError, decode_text
from league_pipeline.formats.flags import (
    read_deficit_flags,
    read_rsp_list,
    write_deficit_flags,
    write_rsp_list,
)
from league_pipeline.formats.nof import (
    NOF_LEAGUE_TABLE_COLUMNS,
    NOF_TRUST_DATA_COLUMNS,
    read_nof_league_table,
    read_nof_trust_data,
    split_likely_range,
    split_quarters,
    write_nof_league_table,
    write_nof_trust_data,
)
from league_pipeline.formats.ods import ODS_TRUST_COLUMNS, read_ods_trusts, write_ods_trusts
from league_pipeline.validation.report import validate

DERIVED_LEAGUE_FILE = "DERIVED_nof2526_q1_acute_league_table_reconstructed.csv"

# NHS England leaves a no-break space after this metric name; the readers trim it, so a
# round trip reproduces the file exactly except for this one character on those rows.
NBSP_NAME = "NHS staff survey engagement theme sub-score\xa0".encode()
TRIMMED_NAME = b"NHS staff survey engagement theme sub-score"

# Three rows of the official Q4 2025/26 mental health and community league table
# (nhs-oversight-framework-mental-health-and-community-trust-league-table.csv), as stored.
OFFICIAL_LEAGUE_EXCERPT = (
    b"Quarter,Region,Trust_type,Trust_subtype,Trust_code,Trust_name,Average_score,"
    b"Likely_range_of_average_score,Segment,Trust_in_financial_deficit,Rank,Likely_range_of_rank\n"
    b"Q4 2025/26,South East,Mental health and community trust,Community,RYY,"
    b"Kent Community Health NHS Foundation Trust,1.53,1.2 to 1.89,1.0,No,1.0,1 to 11\n"
    b"Q4 2025/26,North East and Yorkshire,Mental health and community trust,"
    b'Mental Health and Learning Disability,RX3,"Tees, Esk and Wear Valleys NHS Foundation Trust",'
    b"2.11,1.52 to 2.74,2.0,No,15.0,2 to 49\n"
    b"Q4 2025/26,East,Mental health and community trust,Mental Health and Learning Disability,RWR,"
    b"Hertfordshire Partnership University NHS Foundation Trust,2.12,1.79 to 2.44,3.0,Yes,31.0,"
    b"26 to 39\n"
)


@pytest.fixture(scope="module")
def acute(acute_bytes: bytes) -> pd.DataFrame:
    return read_nof_trust_data(acute_bytes, "2025/26 Q1")


@pytest.fixture(scope="module")
def mh(mh_bytes: bytes) -> pd.DataFrame:
    return read_nof_trust_data(mh_bytes)


def _summary_rows(df: pd.DataFrame, metric_id: str) -> pd.Series:
    rows = df[df["Metric_ID"] == metric_id].set_index("Trust_code")
    return rows["Value"]


# --------------------------------------------------------------------------------------------
# NOF trust data
# --------------------------------------------------------------------------------------------
def test_acute_q1_is_read_and_normalised(acute: pd.DataFrame) -> None:
    assert list(acute.columns) == NOF_TRUST_DATA_COLUMNS
    assert acute.shape == (7265, 17)
    assert acute["Trust_code"].nunique() == 134
    assert set(acute["Quarter"]) == {"2025/26 Q1"}  # Q1 file has no Quarter: filled from label
    assert acute.attrs["expected_quarter"] == "2025/26 Q1"
    assert isinstance(acute.index, pd.RangeIndex)
    for col in ["Value", "Median_value", "Lower_quartile", "Upper_quartile", "Rank"]:
        assert acute[col].dtype == np.float64, col
    first = acute.iloc[0]
    assert (first["Trust_code"], first["Metric_ID"], first["Rank"]) == ("R0A", "OF0003", 113.0)
    assert first["Sub_domain"] == "Elective care"
    # blanks are NaN, not "" (4,901 rows have no median; 268 no reporting date)
    assert acute["Median_value"].isna().sum() == 4901
    assert acute["Reporting_date"].isna().sum() == 268
    assert not acute.isin([""]).any().any()
    # strings trimmed, including the published trailing no-break space
    assert not acute["Metric_description"].str.endswith(("\xa0", " ")).any()
    assert "NHS staff survey engagement theme sub-score" in set(acute["Metric_description"])
    assert set(acute["Trust_type"]) == {"Acute trust"}
    # published league facts survive parsing: Moorfields 1st, QEH King's Lynn last of 134
    ranks = acute[acute["Metric_ID"] == "OF5000"].set_index("Trust_code")["Rank"]
    assert ranks["RP6"] == 1.0 and ranks["RCX"] == 134.0
    assert _summary_rows(acute, "OF5002")["RP6"] == pytest.approx(1.39)


def test_acute_round_trip_reproduces_the_published_bytes(
    acute: pd.DataFrame, acute_bytes: bytes
) -> None:
    written = write_nof_trust_data(acute, with_quarter=False)
    assert written.startswith(b"\xef\xbb\xbfRegion,Trust_type,")
    assert b",Sub-domain," in written.split(b"\r\n", 1)[0]
    # identical except the trimmed no-break space (268 rows)
    assert acute_bytes.count(NBSP_NAME) == 268
    assert written == acute_bytes.replace(NBSP_NAME, TRIMMED_NAME)
    again = read_nof_trust_data(written, "2025/26 Q1")
    pd.testing.assert_frame_equal(again, acute)


def test_mh_q1q2_whole_file_keeps_its_quarters(mh: pd.DataFrame) -> None:
    assert mh.shape == (4502, 17)
    assert list(mh.columns) == NOF_TRUST_DATA_COLUMNS
    assert mh["Quarter"].value_counts().to_dict() == {"2025/26 Q2": 2260, "2025/26 Q1": 2242}
    assert "expected_quarter" not in mh.attrs
    assert "%" not in set(mh["Units"]) and "percent" in set(mh["Units"])
    assert set(mh["Trust_type"]) == {"Mental health and community trust"}
    assert mh["Region"].eq("North East and Yorkshire").any()


def test_mh_round_trip_reproduces_the_stored_bytes(mh: pd.DataFrame, mh_bytes: bytes) -> None:
    # the stored Q1-Q2 cut has no BOM and LF line ends (unlike the verbatim acute file)
    written = write_nof_trust_data(mh, with_quarter=True, bom=False, line_terminator="\n")
    assert written == mh_bytes.replace(NBSP_NAME, TRIMMED_NAME)
    default = write_nof_trust_data(mh, with_quarter=True)
    assert default.startswith(b"\xef\xbb\xbfQuarter,Region,") and b"\r\n" in default
    assert b",Q1 2025/26," not in default[:200] and default.split(b"\r\n")[1].startswith(
        b"Q1 2025/26,"
    )
    assert b",%," in default


def test_split_quarters(mh: pd.DataFrame) -> None:
    parts = split_quarters(mh)
    assert list(parts) == ["2025/26 Q1", "2025/26 Q2"]
    assert [len(p) for p in parts.values()] == [2242, 2260]
    for label, part in parts.items():
        assert set(part["Quarter"]) == {label}
        assert part.attrs["expected_quarter"] == label
        assert isinstance(part.index, pd.RangeIndex)
    # RSP membership (OF5007) differs by quarter: 3 trusts in Q1, 2 in Q2
    rsp = {
        label: sorted(part.query("Metric_ID == 'OF5007' and Value == 1")["Trust_code"])
        for label, part in parts.items()
    }
    assert rsp == {"2025/26 Q1": ["RHA", "RW1", "RXV"], "2025/26 Q2": ["RHA", "RW1"]}


def test_quarter_label_keeps_the_files_quarter_column(mh_bytes: bytes) -> None:
    df = read_nof_trust_data(mh_bytes, "2025-07")  # partition key of 2025/26 Q2
    assert df.attrs["expected_quarter"] == "2025/26 Q2"
    assert set(df["Quarter"]) == {"2025/26 Q1", "2025/26 Q2"}  # not overwritten


def test_missing_quarter_without_label_is_a_reader_error(acute_bytes: bytes) -> None:
    with pytest.raises(ReaderError, match="no Quarter column"):
        read_nof_trust_data(acute_bytes)


def test_trust_type_alias_and_units_are_normalised(mh_bytes: bytes) -> None:
    old_name = mh_bytes.replace(b"Mental health and community trust", b"Non-acute hospital trust")
    df = read_nof_trust_data(old_name)
    assert set(df["Trust_type"]) == {"Mental health and community trust"}


def test_non_numeric_value_is_kept_not_blanked(acute_bytes: bytes) -> None:
    bad = acute_bytes.replace(b",percent,4.01,2.4,", b",percent,abc,2.4,", 1)
    df = read_nof_trust_data(bad, "2025/26 Q1")
    assert len(df) == 7265
    # the column stays text as read (validation converts the rest and names the bad cell)
    assert pd.api.types.is_string_dtype(df["Value"])
    assert df.loc[0, "Value"] == "abc"
    assert df.loc[1, "Value"] == "0.03"
    assert df["Median_value"].dtype == np.float64  # other columns are unaffected
    df.to_parquet(io.BytesIO())  # still stageable


# --------------------------------------------------------------------------------------------
# NOF league table
# --------------------------------------------------------------------------------------------
def test_official_league_table_layout_round_trips() -> None:
    df = read_nof_league_table(OFFICIAL_LEAGUE_EXCERPT)
    assert list(df.columns) == NOF_LEAGUE_TABLE_COLUMNS
    assert df["Quarter"].tolist() == ["2025/26 Q4"] * 3
    assert df["Segment"].tolist() == [1.0, 2.0, 3.0]
    assert df["Rank"].tolist() == [1.0, 15.0, 31.0]
    assert df["Trust_in_financial_deficit"].tolist() == [False, False, True]
    assert df["Trust_name"][1] == "Tees, Esk and Wear Valleys NHS Foundation Trust"
    ranges = split_likely_range(df["Likely_range_of_average_score"])
    assert ranges.iloc[0].tolist() == [1.2, 1.89]
    written = write_nof_league_table(df, bom=False, line_terminator="\n")
    assert written == OFFICIAL_LEAGUE_EXCERPT
    assert write_nof_league_table(df).startswith(b"\xef\xbb\xbfQuarter,Region,")


def test_derived_q1_league_table_matches_the_trust_data(
    real_data: Path, acute: pd.DataFrame
) -> None:
    table = read_nof_league_table((real_data / DERIVED_LEAGUE_FILE).read_bytes())
    assert len(table) == 134
    assert set(table["Quarter"]) == {"2025/26 Q1"}  # its Reporting_date column read as Quarter
    assert table.columns[-3:].tolist() == [
        "Unadjusted_segment_OF5003",
        "Final_segment_incl_RSP_OF5005",
        "In_RSP_OF5007",
    ]
    table = table.set_index("Trust_code")
    of5000 = acute[acute["Metric_ID"] == "OF5000"].set_index("Trust_code")
    pd.testing.assert_series_equal(
        table["Rank"].sort_index(), of5000["Rank"].sort_index(), check_names=False
    )
    deficit = _summary_rows(acute, "OF5004").eq(1)
    assert (table["Trust_in_financial_deficit"] == deficit.reindex(table.index)).all()


# --------------------------------------------------------------------------------------------
# ODS etr
# --------------------------------------------------------------------------------------------
def test_ods_etr_is_read(ods_bytes: bytes, acute: pd.DataFrame) -> None:
    ods = read_ods_trusts(ods_bytes)
    assert list(ods.columns) == ODS_TRUST_COLUMNS
    assert ods.shape == (273, 27)
    row = ods.set_index("ods_code").loc["R0A"]
    assert row["name"] == "MANCHESTER UNIVERSITY NHS FOUNDATION TRUST"
    assert row["postcode"] == "M13 9WL"
    assert row["open_date"] == pd.Timestamp("2017-10-01")
    assert pd.isna(row["close_date"])
    assert pd.api.types.is_datetime64_any_dtype(ods["open_date"])
    assert ods["close_date"].notna().sum() == 68  # closed trusts
    assert set(acute["Trust_code"]) <= set(ods["ods_code"])
    assert ods["null_13"].isna().all()


def test_ods_round_trip_is_byte_identical(ods_bytes: bytes) -> None:
    assert write_ods_trusts(read_ods_trusts(ods_bytes)) == ods_bytes


def test_ods_bad_date_is_kept(ods_bytes: bytes) -> None:
    bad = ods_bytes.replace(b'"20171001"', b'"20171301"', 1)
    ods = read_ods_trusts(bad)
    assert pd.api.types.is_string_dtype(ods["open_date"])
    assert ods.loc[ods["ods_code"] == "R0A", "open_date"].item() == "20171301"
    assert pd.api.types.is_datetime64_any_dtype(ods["close_date"])


def _ods_date_edited(ods_bytes: bytes, code: str, column: str, text: str) -> bytes:
    """The real ODS list with one trust's ``column`` (open_date/close_date) written ``text``."""
    rows = list(csv.reader(io.StringIO(ods_bytes.decode("utf-8"), newline="")))
    row = next(r for r in rows if r[0] == code)
    row[ODS_TRUST_COLUMNS.index(column)] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL).writerows(rows)
    return out.getvalue().encode("utf-8")


# ODS publishes dates as YYYYMMDD, exactly 8 digits. Anything else must leave the column as text
# and fail validation on the rows at fault: 2017-10-01 used to fail the whole column without a
# row, and 2017101 (which strptime's %Y%m%d reads as 2017-10-01) used to pass. G6V2S is the
# first row (pandas infers a column's date format from its first cell), R0A the second, R0C a
# closed trust. (Reader and schema decide this together, so the validation is asserted here.)
@pytest.mark.parametrize(
    ("code", "column", "text"),
    [
        ("R0A", "open_date", "2017-10-01"),
        ("R0A", "open_date", "2017101"),
        ("G6V2S", "open_date", "2024111"),
        ("G6V2S", "open_date", "2024-11-01"),
        ("R0A", "open_date", "201710011"),
        ("R0A", "open_date", "2017١001"),  # an Arabic-Indic digit is not a digit here
        ("R0C", "close_date", "2020-03-26"),
        ("R0C", "close_date", "2020326"),
    ],
)
def test_ods_date_not_yyyymmdd_fails_validation_on_its_row(
    ods_bytes: bytes, code: str, column: str, text: str
) -> None:
    ods = read_ods_trusts(_ods_date_edited(ods_bytes, code, column, text))
    assert pd.api.types.is_string_dtype(ods[column])  # kept as read, for validation to show
    assert ods.loc[ods["ods_code"] == code, column].item() == text
    other = "close_date" if column == "open_date" else "open_date"
    assert pd.api.types.is_datetime64_any_dtype(ods[other])

    report = validate(ods, "ods_trusts")
    assert not report.passed
    (at,) = ods.index[ods["ods_code"] == code]
    assert report.num_failing_rows == 1
    assert report.failing_rows.index.tolist() == [at]
    assert report.failing_rows.loc[at, column] == text
    assert report.failing_rows.loc[at, "_failed_checks"] == (
        f"{column} coerce_dtype('datetime64[ns]')"
    )
    cases = report.failure_cases
    coerce = cases[cases["check"].eq("coerce_dtype('datetime64[ns]')")]
    assert coerce[["column", "failure_case", "index"]].values.tolist() == [[column, text, at]]
    assert f"1 of 273 rows fail 1 check: {column} coerce_dtype" in report.summary


def test_ods_yyyymmdd_dates_and_blank_close_dates_pass(ods_bytes: bytes) -> None:
    ods = read_ods_trusts(ods_bytes)
    assert ods["close_date"].isna().sum() == 273 - 68  # open trusts: blank close date
    report = validate(ods, "ods_trusts")
    assert report.passed, report.summary
    # a valid 8-digit date that is written differently from the file's is still a date
    edited = read_ods_trusts(_ods_date_edited(ods_bytes, "R0A", "close_date", "20991231"))
    assert edited.loc[edited["ods_code"] == "R0A", "close_date"].item() == pd.Timestamp(
        "2099-12-31"
    )
    assert validate(edited, "ods_trusts").passed


# --------------------------------------------------------------------------------------------
# Project formats: RSP list and deficit flags
# --------------------------------------------------------------------------------------------
def _trust_flags(df: pd.DataFrame, metric_id: str) -> pd.DataFrame:
    rows = df[df["Metric_ID"] == metric_id]
    return rows[["Quarter", "Trust_code", "Trust_name", "Value"]].reset_index(drop=True)


def test_rsp_list_round_trip(acute: pd.DataFrame) -> None:
    flags = _trust_flags(acute, "OF5007")
    rsp = flags.assign(In_RSP=flags["Value"].eq(1)).drop(columns="Value")
    content = write_rsp_list(rsp)
    assert content.startswith(b"Quarter,Trust_code,Trust_name,In_RSP\nQ1 2025/26,")
    back = read_rsp_list(content)
    pd.testing.assert_frame_equal(back, rsp, check_dtype=False)
    assert back["In_RSP"].dtype == bool
    assert back["In_RSP"].sum() == 14  # Q1 acute trusts in the Recovery Support Programme


def test_rsp_list_accepts_project_labels_and_keeps_bad_flags() -> None:
    content = (
        b"\xef\xbb\xbfQuarter,Trust_code,Trust_name,In_RSP\r\n"
        b"2025/26 Q1,RHM,,yes\r\n"
        b"2025-04,RA9,x,Maybe\r\n"
    )
    df = read_rsp_list(content)
    assert df["Quarter"].tolist() == ["2025/26 Q1", "2025/26 Q1"]
    assert df["In_RSP"].tolist() == ["yes", "Maybe"]  # kept as read: "Maybe" is not a flag
    assert read_rsp_list(content.replace(b"Maybe", b"NO"))["In_RSP"].tolist() == [
        True,
        False,
    ]
    assert pd.isna(df.loc[0, "Trust_name"])


def test_deficit_flags_round_trip(acute: pd.DataFrame) -> None:
    flags = _trust_flags(acute, "OF5004")
    plan = _summary_rows(acute, "OF0079")
    deficit = flags.assign(
        Planned_surplus_deficit_pct=flags["Trust_code"].map(plan),
        In_deficit_or_receiving_support=flags["Value"].eq(1),
    ).drop(columns="Value")
    content = write_deficit_flags(deficit)
    assert content.splitlines()[0] == (
        b"Quarter,Trust_code,Trust_name,Planned_surplus_deficit_pct,In_deficit_or_receiving_support"
    )
    back = read_deficit_flags(content)
    pd.testing.assert_frame_equal(back, deficit, check_dtype=False)
    assert back["In_deficit_or_receiving_support"].sum() == 99  # flagged acute trusts in Q1


# --------------------------------------------------------------------------------------------
# Unreadable input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\r\n  \n", "empty"),
        (b"<!DOCTYPE html>\n<html><body><h1>Page not found</h1></body></html>", "HTML page"),
        (b"\n  <html lang='en'><head><title>Sign in</title></head></html>", "HTML page"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel"),
        (b"%PDF-1.7 ...", "PDF"),
        ("Region,Trust_name\nLondon,Guy\u2019s\n".encode("cp1252"), "not UTF-8"),
        (b'{"error": "rate limited"}', "JSON"),
        (b"just some text\nwithout the right columns\n", "does not look like"),
        (b"R\x00e\x00g\x00i\x00o\x00n\x00", "binary"),
    ],
)
def test_unreadable_input_raises_reader_error(content: bytes, message: str) -> None:
    with pytest.raises(ReaderError, match=message) as info:
        read_nof_trust_data(content, "2025/26 Q1")
    text = str(info.value)
    assert "\n" not in text and ";" in text  # one line: the problem; the fix


@pytest.mark.parametrize(
    ("content", "byte", "position"),
    [
        (b"a,b\n1,\xff\n", 0xFF, 6),
        (b"\xef\xbb\xbfa,b\n1,\xff\n", 0xFF, 9),  # UTF-8 BOM: still the offset in the file
        (b"a,b\n1,\xe9t\xe9\n", 0xE9, 6),  # cp1252 "\xe9t\xe9"
        (b"\xef\xbb\xbfa,b\n1,\xe9t\xe9\n", 0xE9, 9),
        (b"\xef\xbb\xbfa,\xe2\x82b\n", 0xE2, 5),  # a cut-off 3-byte sequence: its first byte
        (b"\xef\xbb\xbf\xff,b\n", 0xFF, 3),  # right after the BOM
    ],
)
def test_not_utf8_names_the_byte_at_its_offset_in_the_file(
    content: bytes, byte: int, position: int
) -> None:
    assert content[position] == byte
    with pytest.raises(ReaderError) as info:
        decode_text(content, "NOF trust data")
    assert f"not UTF-8 text (byte 0x{byte:02x} at position {position});" in str(info.value)
    # the same through a reader (the message every source step shows)
    with pytest.raises(ReaderError, match=rf"byte 0x{byte:02x} at position {position}\)"):
        read_rsp_list(content)


def test_utf8_bom_is_dropped_once() -> None:
    assert decode_text(b"\xef\xbb\xbfa,b\n", "x") == "a,b\n"
    assert decode_text(b"a,b\n", "x") == "a,b\n"


def test_truncated_or_ragged_rows_are_refused_with_the_line(acute_bytes: bytes) -> None:
    truncated = acute_bytes[: acute_bytes.index(b"\r\n", 5000) - 20]
    with pytest.raises(ReaderError, match=r"line \d+ has \d+ fields"):
        read_nof_trust_data(truncated, "2025/26 Q1")


def test_unterminated_quote_is_a_reader_error(acute_bytes: bytes) -> None:
    header = acute_bytes.split(b"\r\n", 1)[0]
    with pytest.raises(ReaderError, match="not a readable CSV"):
        read_nof_trust_data(header + b'\r\nNorth West,"Acute trust\r\n', "2025/26 Q1")


def test_other_readers_refuse_html_and_empty_files() -> None:
    page = b"<html><body>Service unavailable</body></html>"
    for reader in (
        read_ods_trusts,
        read_rsp_list,
        read_deficit_flags,
        read_nof_league_table,
    ):
        with pytest.raises(ReaderError, match="HTML"):
            reader(page)
        with pytest.raises(ReaderError, match="empty"):
            reader(b"")
    with pytest.raises(ReaderError, match="expected 27"):
        read_ods_trusts(b"a,b,c\n")


def test_header_only_file_reads_as_an_empty_frame(acute_bytes: bytes) -> None:
    header = acute_bytes.split(b"\r\n", 1)[0] + b"\r\n"
    df = read_nof_trust_data(header, "2025/26 Q1")
    assert df.empty and list(df.columns) == NOF_TRUST_DATA_COLUMNS


def test_broken_utf16_is_a_reader_error():
    """A UTF-16 BOM followed by an odd byte count is not text: one clear ReaderError."""
    with pytest.raises(ReaderError, match="starts like UTF-16 text but is not"):
        decode_text(b"\xff\xfeA", "test file")
    assert decode_text("Quarter,x\n".encode("utf-16"), "test file") == "Quarter,x\n"
