"""Cancer Waiting Times, CWT-CRS provider data extract (XLSX): reader and writer.

Belongs here: parsing NHS England's ``CWT-CRS-<Mon-YYYY>-to-<Mon-YYYY>-Data-Extract-Provider``
workbook into :data:`CWT_COLUMNS`, and writing that layout back (generator, tests).

Layout: one sheet (``CWT CRS Provider Extract``) with the header ``PERIOD, YEAR, MONTH, STANDARD
(28-day FDS / 31-day Combined / 62-day Combined), ORG CODE, STAGE/ROUTE, TREATMENT MODALITY,
CANCER TYPE, TOTAL TREATED, WITHIN STANDARD, BREACHES`` and one row per provider, month,
standard, route, modality and cancer type. ``PERIOD`` is the first day of the month (a date
cell); ``STAGE/ROUTE`` mixes upper and lower case, as published, and is kept as published.
The extract usually runs from April to the latest month: only the rows of the quarter's months
are kept. Counts can be fractional (shared care is split between providers).
"""

from __future__ import annotations

import io
from datetime import date, datetime

import numpy as np
import pandas as pd
import xlsxwriter

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.periods import financial_year_month, months_of
from league_pipeline.formats.common import ReaderError, find_header, is_workbook, sheet_rows

WHAT = "CWT-CRS provider extract"
SHEET = "CWT CRS Provider Extract"
PUBLISHED_COLUMNS = {
    "PERIOD": "period",
    "YEAR": "fy",
    "MONTH": "month_text",
    "STANDARD": "standard",
    "ORG CODE": "org_code",
    "STAGE/ROUTE": "stage_route",
    "TREATMENT MODALITY": "treatment_modality",
    "CANCER TYPE": "cancer_type",
    "TOTAL TREATED": "total",
    "WITHIN STANDARD": "within_standard",
    "BREACHES": "breaches",
}
COUNTS = ["total", "within_standard", "breaches"]
CWT_COLUMNS = [
    "quarter",
    "month",
    "fy",
    "standard",
    "org_code",
    "stage_route",
    "treatment_modality",
    "cancer_type",
    *COUNTS,
]
STANDARDS = ["28-day FDS", "31-day Combined", "62-day Combined"]


def _month(period: object, fy: object, month_text: object) -> date | None:
    if isinstance(period, datetime):
        return period.date().replace(day=1)
    if isinstance(period, date):
        return period.replace(day=1)
    return financial_year_month(str(fy), str(month_text))


def _counts(values: pd.Series) -> pd.Series:
    parsed = pd.to_numeric(values.map(lambda v: v if v != "" else np.nan), errors="coerce")
    if (values.ne("") & values.notna() & parsed.isna()).any():
        return values.astype("str").replace("", np.nan)
    return parsed.astype("float64")


def read_cwt_provider(content: bytes, quarter: Quarter) -> pd.DataFrame:
    """Read the CWT-CRS provider extract into :data:`CWT_COLUMNS` for ``quarter``'s months."""
    if not is_workbook(content):
        raise ReaderError(
            f"{WHAT}: not an XLSX workbook; download the provider extract (.xlsx) from the "
            "cancer waiting times page"
        )
    rows = sheet_rows(content, WHAT)
    head = find_header(rows, ["PERIOD", "STANDARD", "ORG CODE", "TOTAL TREATED"], WHAT)
    header = [str(c).strip().upper() for c in rows[head]]
    body = [r for r in rows[head + 1 :] if any(str(c).strip() for c in r)]
    raw = pd.DataFrame(body, columns=header[: len(body[0])] if body else header)
    raw = raw.loc[:, [c for c in raw.columns if c]]  # blank trailing header cells
    df = raw.rename(columns=PUBLISHED_COLUMNS)
    for col in ("fy", "month_text", "standard", "org_code", "stage_route"):
        if col in df:
            df[col] = df[col].map(lambda v: str(v).strip()).astype("str")
    for col in ("treatment_modality", "cancer_type"):
        if col in df:
            df[col] = df[col].map(lambda v: str(v).strip()).replace("", np.nan).astype("str")
    df["org_code"] = df["org_code"].str.upper()
    months = [
        _month(p, y, m)
        for p, y, m in zip(
            df.get("period", pd.Series("", index=df.index)),
            df.get("fy", pd.Series("", index=df.index)),
            df.get("month_text", pd.Series("", index=df.index)),
            strict=True,
        )
    ]
    if any(m is None for m in months):
        raise ReaderError(
            f"{WHAT}: {sum(m is None for m in months)} rows have no readable PERIOD or "
            "YEAR/MONTH; check it is the published extract"
        )
    df["month"] = pd.to_datetime(pd.Series(months, index=df.index, dtype="object"))
    wanted = pd.to_datetime(pd.Series(months_of(quarter, "quarter")))
    df = df[df["month"].isin(wanted)].copy()
    for col in COUNTS:
        if col in df:
            df[col] = _counts(df[col])
    df.insert(0, "quarter", quarter.label)
    known = [c for c in CWT_COLUMNS if c in df.columns]
    extra = [c for c in df.columns if c not in CWT_COLUMNS and c not in ("period", "month_text")]
    out = df[known + extra].reset_index(drop=True)
    out.attrs["expected_quarter"] = quarter.label
    return out


def write_cwt_provider(df: pd.DataFrame) -> bytes:
    """The published workbook from a frame of :data:`CWT_COLUMNS` (``quarter`` not needed)."""
    data = df.sort_values(["month", "standard", "org_code"], kind="stable").reset_index(drop=True)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"created": datetime(2025, 4, 1)})
    sheet = book.add_worksheet(SHEET)
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, list(PUBLISHED_COLUMNS))
    for i, r in enumerate(data.itertuples(index=False), start=1):
        month = pd.Timestamp(r.month).to_pydatetime()
        start = month.year if month.month >= 4 else month.year - 1
        sheet.write_datetime(i, 0, month, date_format)
        sheet.write_row(
            i,
            1,
            [
                f"{start}/{(start + 1) % 100:02d}",
                month.strftime("%b").upper(),
                r.standard,
                r.org_code,
                r.stage_route,
                "" if pd.isna(r.treatment_modality) else r.treatment_modality,
                "" if pd.isna(r.cancer_type) else r.cancer_type,
                float(r.total),
                float(r.within_standard),
                float(r.breaches),
            ],
        )
    book.close()
    return buffer.getvalue()
