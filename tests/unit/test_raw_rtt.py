"""The RTT full CSV extract reader (no real file in ../shared: generated files, to the
documented 121-column layout): what it counts, its ZIP and XLSX forms, malformed files, and a
large extract streamed through DuckDB without a pandas copy of its rows."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import xlsxwriter

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.derive import derive
from league_pipeline.formats import rtt
from league_pipeline.formats.common import ReaderError
from league_pipeline.formats.rtt import (
    BAND_COLUMNS,
    EXTRACT_COLUMNS,
    ID_COLUMNS,
    read_rtt_extract,
    write_rtt_extract,
)
from league_pipeline.validation.report import validate

Q1 = Quarter(2025, 1)


def _row(
    provider: str,
    commissioner: str,
    part: str,
    function: str,
    bands: dict[int, int],
    unknown: int = 0,
) -> dict:
    """One extract row; ``bands`` maps a band index (0 = "Gt 00 To 01", 104 = "Gt 104") to a
    count."""
    counts = [bands.get(i, 0) for i in range(len(BAND_COLUMNS))]
    total = sum(counts)
    ids = [
        "RTT-June-2025",
        "QOP",
        "NHS GREATER MANCHESTER ICB",
        provider,
        f"TRUST {provider}",
        commissioner,
        "A COMMISSIONER",
        commissioner,
        "A COMMISSIONER",
        part,
        "Incomplete Pathways",
        function,
        "Total" if function == "C_999" else "A function",
    ]
    return dict(zip(EXTRACT_COLUMNS, [*ids, *counts, total, unknown, total + unknown], strict=True))


def _extract() -> pd.DataFrame:
    rows = [
        # R0A: 600 within 18 weeks (bands 0-17), 300 between, 100 over 52 weeks (band 52 and 104)
        _row("R0A", "QOP", "Part_2", "C_999", {0: 400, 17: 200, 18: 300, 52: 60, 104: 40}, 3),
        _row("R0A", "QOP", "Part_2", "C_110", {0: 400, 17: 200, 18: 300, 52: 60, 104: 40}, 3),
        # the 51-52 week band is not "over 52 weeks"
        _row("R0A", "QWE", "Part_2", "C_999", {51: 100}),
        # excluded: a non-English commissioner, completed pathways, a treatment function row
        _row("R0A", "NONC", "Part_2", "C_999", {0: 5000, 60: 5000}),
        _row("R0A", "QOP", "Part_1B", "C_999", {0: 9000}),
        _row("R0A", "QOP", "Part_2", "X02", {80: 7000}),
        _row("RXX", "QOP", "Part_2", "C_999", {3: 50, 30: 30, 70: 20}),
    ]
    return pd.DataFrame(rows, columns=EXTRACT_COLUMNS)


@pytest.fixture
def extract_path(tmp_path: Path) -> Path:
    path = tmp_path / "rtt.csv"
    path.write_bytes(write_rtt_extract(_extract()))
    return path


def _check_counts(df: pd.DataFrame) -> None:
    r0a = df.set_index("org_code").loc["R0A"]
    assert r0a["total"] == 1100  # 1000 + the QWE row's 100; NONC, Part_1B and X02 left out
    assert r0a["within_18_weeks"] == 600
    assert r0a["over_52_weeks"] == 100
    assert r0a["unknown_clock_start"] == 3
    assert r0a["bands_total"] == r0a["total"]
    assert str(df["month"].iloc[0].date()) == "2025-06-01"


def test_counts_incomplete_pathways_of_english_commissioners(extract_path: Path) -> None:
    assert len(EXTRACT_COLUMNS) == 121 and ID_COLUMNS[-4] == "RTT Part Type"
    df = read_rtt_extract(extract_path, Q1)
    assert list(df["org_code"]) == ["R0A", "RXX"]
    _check_counts(df)
    assert validate(df, "raw_rtt", expected_quarter=Q1.label).passed
    derived = derive({"rtt_full_extract": [df]}, [Q1]).set_index(["trust_code", "metric_id"])
    assert derived.loc[("R0A", "OF0023"), "value"] == round(100 * 600 / 1100, 2)  # 54.55
    assert derived.loc[("R0A", "OF0003"), "value"] == round(100 * 100 / 1100, 2)  # 9.09
    assert derived.loc[("RXX", "OF0003"), "value"] == 20.0


def test_zip_and_xlsx_forms(tmp_path: Path, extract_path: Path) -> None:
    archive = tmp_path / "Full-CSV-data-file-Jun25-ZIP.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(extract_path, "20250630-RTT-June-2025-full-extract.csv")
    _check_counts(read_rtt_extract(archive, Q1))

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Provider")
    sheet.write(0, 0, "Referral to Treatment: incomplete pathways (title row)")
    frame = _extract().rename(columns={"Provider Org Code": "Provider Code"})
    sheet.write_row(2, 0, list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False), start=3):
        sheet.write_row(i, 0, list(row))
    book.close()
    workbook = tmp_path / "rtt.xlsx"
    workbook.write_bytes(buffer.getvalue())
    _check_counts(read_rtt_extract(workbook, Q1))


def test_malformed_extracts_are_refused(tmp_path: Path, extract_path: Path) -> None:
    text = extract_path.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace(",400,", ",4x0,", 1))
    with pytest.raises(ReaderError, match="not a whole number"):
        read_rtt_extract(bad, Q1)
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("Period,Provider Org Code,Total\nRTT-June-2025,R0A,5\n")
    with pytest.raises(ReaderError, match="lacks Provider Org Name"):
        read_rtt_extract(narrow, Q1)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ReaderError, match="empty"):
        read_rtt_extract(empty, Q1)
    # a download cut off in its last row, a row the metrics do not use (Part_3)
    frame = pd.DataFrame(
        [*_extract().to_dict("records"), _row("R0A", "QOP", "Part_3", "C_999", {})]
    )
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes(write_rtt_extract(frame)[:-20])
    with pytest.raises(ReaderError, match=r"not a readable CSV file|not a whole number"):
        read_rtt_extract(truncated, Q1)


def test_quoted_fields_and_quoted_line_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass keeps the lines holding Part_2 and C_999; quoted names (commas, doubled
    quotes) are parsed from those alone. A quoted line break could split a wanted row over two
    lines that each hold only one of the two, so it sends the reader to the whole file."""
    whole_file_reads = []
    whole_file_view = rtt._whole_file_view

    def counted(*args):
        whole_file_reads.append(args[1])
        return whole_file_view(*args)

    monkeypatch.setattr(rtt, "_whole_file_view", counted)
    frame = _extract()
    frame["Commissioner Parent Name"] = "BATH, SWINDON AND WILTSHIRE"
    frame.loc[6, "Provider Org Name"] = 'THE "BEST" TRUST, LTD'
    path = tmp_path / "quoted.csv"
    path.write_bytes(write_rtt_extract(frame))
    df = read_rtt_extract(path, Q1)
    _check_counts(df)
    assert df.set_index("org_code").loc["RXX", "org_name"] == 'THE "BEST" TRUST, LTD'
    assert whole_file_reads == []
    # Part_2 on one line, C_999 on the next (not in the last row, whose line would be short)
    frame.loc[[0, 2], "RTT Part Description"] = "Incomplete\r\nPathways"
    path.write_bytes(write_rtt_extract(frame))
    _check_counts(read_rtt_extract(path, Q1))
    assert whole_file_reads == [path]


def test_an_extract_for_another_month_fails_validation(tmp_path: Path) -> None:
    frame = _extract()
    frame["Period"] = "RTT-May-2025"
    path = tmp_path / "may.csv"
    path.write_bytes(write_rtt_extract(frame))
    report = validate(read_rtt_extract(path, Q1), "raw_rtt", expected_quarter=Q1.label)
    assert not report.passed and "quarter's last month" in report.summary


def test_a_large_extract_is_streamed_not_loaded(tmp_path: Path) -> None:
    """100,000 rows x 121 columns (~30 MB of CSV): the reader's Python allocations stay small,
    because DuckDB aggregates the file and only per-provider totals reach pandas."""
    path = tmp_path / "large.csv"
    bands = ", ".join(f'(i % 7)::BIGINT AS "{c}"' for c in BAND_COLUMNS)
    band_sum = f"{len(BAND_COLUMNS)} * (i % 7)"
    query = f"""
        COPY (
            SELECT 'RTT-June-2025' AS "Period", 'QOP' AS "Provider Parent Org Code",
                   'P' AS "Provider Parent Name", 'R' || lpad(CAST(i % 200 AS VARCHAR), 3, '0')
                   AS "Provider Org Code", 'N' AS "Provider Org Name",
                   'QOP' AS "Commissioner Parent Org Code", 'C' AS "Commissioner Parent Name",
                   CASE WHEN i % 50 = 0 THEN 'NONC' ELSE 'QOP' END AS "Commissioner Org Code",
                   'C' AS "Commissioner Org Name",
                   CASE WHEN i % 3 = 0 THEN 'Part_1B' ELSE 'Part_2' END AS "RTT Part Type",
                   'D' AS "RTT Part Description",
                   CASE WHEN i % 4 = 0 THEN 'C_110' ELSE 'C_999' END
                   AS "Treatment Function Code", 'F' AS "Treatment Function Name",
                   {bands}, ({band_sum})::BIGINT AS "Total",
                   0::BIGINT AS "Patients with unknown clock start date",
                   ({band_sum})::BIGINT AS "Total All"
            FROM range(100000) AS t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """
    duckdb.execute(query)  # a test fixture written by DuckDB itself, path from tmp_path
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    df = read_rtt_extract(path, Q1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000, f"Python allocated {peak / 1e6:.0f} MB reading the extract"
    # the same rows, counted without the file: Part_2 (i % 3 > 0), C_999 (i % 4 > 0), not NONC
    providers, expected = duckdb.execute(
        f"""SELECT count(DISTINCT i % 200), sum({band_sum}) FROM range(100000) AS t(i)
            WHERE i % 3 <> 0 AND i % 4 <> 0 AND i % 50 <> 0"""
    ).fetchone()
    assert len(df) == providers > 50
    assert int(df["total"].sum()) == int(expected)
    assert np.all(df["bands_total"] == df["total"])
