"""Monthly A&E attendances and emergency admissions (provider CSV): reader and writer.

Belongs here: parsing NHS England's monthly ``Monthly-AE-<Month>-<Year>[-revised].csv`` into
:data:`AE_COLUMNS` (the national total row kept as ``row_type = "total"``, blank trailing
columns dropped), and writing that layout back (generator, tests). ``month`` is the month in
``Period``; ``landing_month`` the month the file was fetched for, so a file put in the wrong
slot fails validation. The layout and its quirks: docs/formats.md ("Raw releases").
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import numpy as np
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.periods import month_in_text
from league_pipeline.formats.common import ReaderError, csv_rows, find_header

WHAT = "A&E monthly CSV"
ID_COLUMNS = {
    "Period": "period",
    "Org Code": "org_code",
    "Parent Org": "parent_org",
    "Org name": "org_name",
}
COUNT_COLUMNS = {
    "A&E attendances Type 1": "att_type1",
    "A&E attendances Type 2": "att_type2",
    "A&E attendances Other A&E Department": "att_other",
    "A&E attendances Booked Appointments Type 1": "att_booked_type1",
    "A&E attendances Booked Appointments Type 2": "att_booked_type2",
    "A&E attendances Booked Appointments Other Department": "att_booked_other",
    "Attendances over 4hrs Type 1": "over4_type1",
    "Attendances over 4hrs Type 2": "over4_type2",
    "Attendances over 4hrs Other Department": "over4_other",
    "Attendances over 4hrs Booked Appointments Type 1": "over4_booked_type1",
    "Attendances over 4hrs Booked Appointments Type 2": "over4_booked_type2",
    "Attendances over 4hrs Booked Appointments Other Department": "over4_booked_other",
    "Patients who have waited 4-12 hs from DTA to admission": "dta_4_to_12h",
    "Patients who have waited 12+ hrs from DTA to admission": "dta_over_12h",
    "Emergency admissions via A&E - Type 1": "emergency_admissions_type1",
    "Emergency admissions via A&E - Type 2": "emergency_admissions_type2",
    "Emergency admissions via A&E - Other A&E department": "emergency_admissions_other",
    "Other emergency admissions": "other_emergency_admissions",
}
PUBLISHED_COLUMNS = [*ID_COLUMNS, *COUNT_COLUMNS]
ATTENDANCES = [v for k, v in COUNT_COLUMNS.items() if k.startswith("A&E attendances")]
OVER_4_HOURS = [v for k, v in COUNT_COLUMNS.items() if k.startswith("Attendances over 4hrs")]
AE_COLUMNS = [
    "quarter",
    "month",
    "landing_month",
    "row_type",
    "period",
    "org_code",
    "parent_org",
    "org_name",
    *COUNT_COLUMNS.values(),
]


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().lower()


_KEY = {_key(k): v for k, v in {**ID_COLUMNS, **COUNT_COLUMNS}.items()}


def _counts(values: list[str]) -> pd.Series:
    """Counts as float64 (blank -> NaN); any other text keeps the column as text."""
    parsed = pd.to_numeric(pd.Series(values, dtype="str").str.replace(",", ""), errors="coerce")
    texts = pd.Series(values, dtype="str")
    if (texts.ne("") & parsed.isna()).any():
        return texts.where(texts.ne(""), np.nan)
    return parsed.astype("float64")


def read_ae_monthly(content: bytes, quarter: Quarter, landing_month: date) -> pd.DataFrame:
    """Read one month's A&E CSV into :data:`AE_COLUMNS` (see the module docstring)."""
    rows = csv_rows(content, WHAT)
    head = find_header(rows, ["Period", "Org Code"], WHAT)
    header, body = rows[head], rows[head + 1 :]
    width = max([len(header), *(len(r) for r in body)])
    header = header + [""] * (width - len(header))
    body = [r + [""] * (width - len(r)) for r in body]
    columns: dict[str, list[str]] = {}
    for index, name in enumerate(header):
        cells = [r[index] for r in body]
        key = _KEY.get(_key(name))
        if key is None:
            if not any(cells):
                continue  # a blank trailing column (September 2024)
            key = name or f"unnamed_{index + 1}"
        if key in columns:
            raise ReaderError(f"{WHAT}: the header repeats '{name}'; fix the header")
        columns[key] = cells
    known = [v for v in _KEY.values() if v in columns]
    if len(known) * 2 < len(_KEY):
        raise ReaderError(
            f"{WHAT}: the header does not look like the monthly A&E CSV (found "
            f"{', '.join(header[:6])}); expected {', '.join(PUBLISHED_COLUMNS[:6])}, ..."
        )
    df = pd.DataFrame({k: v for k, v in columns.items() if k not in COUNT_COLUMNS.values()})
    for col in COUNT_COLUMNS.values():
        if col in columns:
            df[col] = _counts(columns[col])
    for col in ("period", "org_code", "parent_org", "org_name"):
        if col in df:
            df[col] = df[col].astype("str").str.strip().replace("", np.nan)
    code = df["org_code"].fillna("").str.upper() if "org_code" in df else pd.Series("", df.index)
    df["row_type"] = np.where(code.eq("TOTAL"), "total", "provider")
    if "org_code" in df:
        df.loc[code.eq("TOTAL"), "org_code"] = "TOTAL"  # "Total " in September 2024
    if "period" in df:
        months = df["period"].map(lambda p: month_in_text(p) if isinstance(p, str) else None)
        df["month"] = pd.to_datetime(months.astype("object"))
    df["landing_month"] = pd.Timestamp(landing_month)
    df.insert(0, "quarter", quarter.label)
    known_order = [c for c in AE_COLUMNS if c in df.columns]
    extra = [c for c in df.columns if c not in AE_COLUMNS]
    out = df[known_order + extra].reset_index(drop=True)
    out.attrs["expected_quarter"] = quarter.label
    return out


def write_ae_monthly(df: pd.DataFrame, month: date, *, total_label: str = "TOTAL") -> bytes:
    """The published layout for one month: providers in the given order, then the total row.

    ``df`` holds ``org_code``, ``parent_org``, ``org_name`` and the count columns (snake names);
    missing counts are written as 0, as NHS England does.
    """
    period = f"MSitAE-{month.strftime('%B').upper()}-{month.year}"
    out = pd.DataFrame({"Period": period}, index=df.index)
    for published, name in {**ID_COLUMNS, **COUNT_COLUMNS}.items():
        if name == "period":
            continue
        out[published] = df.get(name, 0)
    counts = list(COUNT_COLUMNS)
    out[counts] = out[counts].fillna(0).astype("int64")
    total = {c: total_label for c in ID_COLUMNS} | out[counts].sum().to_dict()
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue().encode("utf-8")
