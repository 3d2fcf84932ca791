"""AmbSYS (Ambulance Quality Indicators) time series: reader and writer.

Belongs here: parsing NHS England's AmbSYS time series, as the XLSX workbook (sheet ``Raw``) or
the CSV, into :data:`AMBSYS_COLUMNS`: one row per ambulance service and month of the quarter's
financial year to date, with the A-codes in :data:`INDICATORS` as float64 (England and region
rows are left out); and writing both forms back (generator, tests). Both layouts:
docs/formats.md ("Raw releases").
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import numpy as np
import pandas as pd
import xlsxwriter

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.periods import financial_year_month, months_of
from league_pipeline.formats.common import (
    ReaderError,
    csv_rows,
    find_header,
    is_workbook,
    sheet_rows,
)

WHAT = "AmbSYS time series"
SHEET = "Raw"
# A7 all incidents; C1 A8 count, A24 total seconds, A25 mean, A26 90th centile; C2 A10, A30,
# A31, A32; A53 incidents conveyed to an emergency department (methodology section 7)
INDICATORS = ["A7", "A8", "A10", "A24", "A25", "A26", "A30", "A31", "A32", "A53"]
AMBSYS_COLUMNS = ["quarter", "month", "fy", "region_code", "org_code", "org_name", *INDICATORS]
MISSING_MARKERS = {"", "-", "."}
_AGGREGATE_CODE = re.compile(r"^(ENG|Y\d{2})$")
_XLSX_NAMES = {"fy": "Year", "month": "Month", "region": "Reg", "code": "Area", "name": "Trust"}
_CSV_NAMES = {
    "fy": "Year",
    "month": "Month",
    "region": "Region",
    "code": "Org Code",
    "name": "Org Name",
}


def _number_column(values: list[object]) -> pd.Series:
    """Numbers as float64 (missing markers -> NaN); any other text keeps the column as text."""
    cleaned: list[object] = []
    bad = False
    for value in values:
        if isinstance(value, bool):
            bad = True
            cleaned.append(str(value))
        elif isinstance(value, int | float):
            cleaned.append(float(value))
        else:
            text = str(value).strip()
            if text in MISSING_MARKERS:
                cleaned.append(np.nan)
                continue
            try:
                cleaned.append(float(text.replace(",", "")))
            except ValueError:
                bad = True
                cleaned.append(text)
    if bad:
        return pd.Series([np.nan if v is np.nan else str(v) for v in cleaned], dtype="str")
    return pd.Series(cleaned, dtype="float64")


def _frame(rows: list[list[object]], header: list[str], names: dict[str, str]) -> pd.DataFrame:
    position = {}
    for index, name in enumerate(header):
        position.setdefault(str(name).strip(), index)
    missing = [n for n in [*names.values(), *INDICATORS] if n not in position]
    if missing:
        raise ReaderError(
            f"{WHAT}: the header lacks {', '.join(missing)}; check it is the AmbSYS time series"
        )

    def column(name: str) -> list[object]:
        i = position[name]
        return [row[i] if i < len(row) else "" for row in rows]

    out = pd.DataFrame(
        {
            "fy": [str(v).strip() for v in column(names["fy"])],
            "month_text": [
                str(int(v)) if isinstance(v, float) else str(v).strip()
                for v in column(names["month"])
            ],
            "region_code": [str(v).strip() for v in column(names["region"])],
            "org_code": [str(v).strip().upper() for v in column(names["code"])],
            "org_name": [str(v).strip() for v in column(names["name"])],
        }
    )
    for code in INDICATORS:
        out[code] = _number_column(column(code))
    return out


def _xlsx_rows(content: bytes) -> tuple[list[list[object]], list[str]]:
    rows = sheet_rows(content, WHAT, SHEET)
    head = find_header(rows, ["Year", "Month", "Area", "Trust", "A7"], WHAT)
    header = [str(c).strip() for c in rows[head]]
    body = rows[head + 1 :]
    marker = next(
        (i for i, r in enumerate(body) if r and str(r[0]).strip().lower() == "raw data"), None
    )
    if marker is not None:
        body = body[marker + 1 :]
    return body, header


def read_ambsys(content: bytes, quarter: Quarter) -> pd.DataFrame:
    """Read the AmbSYS time series (XLSX or CSV) into :data:`AMBSYS_COLUMNS` for ``quarter``."""
    if is_workbook(content):
        body, header = _xlsx_rows(content)
        names = _XLSX_NAMES
    else:
        rows = csv_rows(content, WHAT)
        head = find_header(rows, ["Year", "Month", "Org Code", "A7"], WHAT)
        header, body = rows[head], rows[head + 1 :]
        names = _CSV_NAMES
    body = [r for r in body if any(str(c).strip() for c in r)]
    df = _frame(body, header, names)
    df = df[df["org_code"].ne("") & ~df["org_code"].str.match(_AGGREGATE_CODE)]
    months = [financial_year_month(fy, m) for fy, m in zip(df["fy"], df["month_text"], strict=True)]
    unreadable = [
        f"{fy} {m}"
        for fy, m, d in zip(df["fy"], df["month_text"], months, strict=True)
        if d is None
    ]
    if unreadable:
        raise ReaderError(
            f"{WHAT}: cannot read the month of {len(unreadable)} rows (e.g. '{unreadable[0]}'); "
            "Year must look like 2025-26 and Month like APRIL or 4"
        )
    df["month"] = pd.to_datetime(pd.Series(months, index=df.index, dtype="object"))
    wanted = pd.to_datetime(pd.Series(months_of(quarter, "year_to_date")))
    df = df[df["month"].isin(wanted)].copy()
    df.insert(0, "quarter", quarter.label)
    out = df[AMBSYS_COLUMNS].sort_values(["month", "org_code"], kind="stable")
    out = out.reset_index(drop=True)
    out.attrs["expected_quarter"] = quarter.label
    return out


# --------------------------------------------------------------------------------------------
# Writers (generator and tests): the published layouts from a frame of AMBSYS_COLUMNS
# (``region_name`` optional), months in any order
# --------------------------------------------------------------------------------------------
def _fy_text(month: date) -> str:
    start = month.year if month.month >= 4 else month.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _prepared(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["month"] = pd.to_datetime(out["month"])
    out = out.sort_values(["month", "org_code"], kind="stable").reset_index(drop=True)
    out["fy"] = [_fy_text(m.date()) for m in out["month"]]
    out["month_name"] = out["month"].dt.strftime("%B").str.upper()
    if "region_name" not in out:
        out["region_name"] = ""
    return out


def write_ambsys_xlsx(df: pd.DataFrame) -> bytes:
    """The workbook layout: sheet ``Raw`` with banner rows, England rows, ``Raw data`` marker,
    trust rows; ``-`` for missing values. Written with xlsxwriter (deterministic bytes)."""
    data = _prepared(df)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": pd.Timestamp("2025-04-01").to_pydatetime()})
    book.add_worksheet("Introduction").write(0, 0, "Ambulance Quality Indicators (synthetic)")
    sheet = book.add_worksheet(SHEET)
    header = ["Concatenated", "Year", "Month", "Reg", "", "Area", "Trust", *INDICATORS]
    sheet.write_row(2, 7, ["Incidents", "C1", "", "C2"])
    sheet.write_row(3, 7, ["Count", "Count", "Count", "Total time"])
    sheet.write_row(4, 0, header)
    row = 5

    def values(frame_row: pd.Series) -> list[object]:
        return ["-" if pd.isna(frame_row[c]) else float(frame_row[c]) for c in INDICATORS]

    england = data.groupby(["month", "fy", "month_name"], sort=True)[INDICATORS].sum(min_count=1)
    for (_, fy, name), sums in england.iterrows():
        sheet.write_row(row, 0, [f"{fy}{name}ENG", fy, name, "", "", "ENG", "", *values(sums)])
        row += 1
    row += 1
    sheet.write(row, 0, "Raw data")
    row += 1
    for _, r in data.iterrows():
        fixed = [f"{r['fy']}{r['month_name']}{r['org_code']}", r["fy"], r["month_name"]]
        fixed += [r["region_code"], r["region_name"], r["org_code"], r["org_name"]]
        sheet.write_row(row, 0, [*fixed, *values(r)])
        row += 1
    book.close()
    return buffer.getvalue()


def _number_text(value: float) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def write_ambsys_csv(df: pd.DataFrame) -> bytes:
    """The CSV layout: ``Year,Month,Region,Org Code,Org Name,A...``, numeric months, ``.``
    for missing values, CRLF line ends."""
    data = _prepared(df)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["Year", "Month", "Region", "Org Code", "Org Name", *INDICATORS])
    for _, r in data.iterrows():
        numbers = ["." if pd.isna(r[c]) else _number_text(r[c]) for c in INDICATORS]
        writer.writerow(
            [r["fy"], r["month"].month, r["region_code"], r["org_code"], r["org_name"], *numbers]
        )
    return buffer.getvalue().encode("utf-8")
