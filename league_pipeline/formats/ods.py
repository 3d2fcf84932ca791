"""The ODS ``etr`` report of NHS trusts: reader and writer.

Belongs here: :func:`read_ods_trusts` (the headerless CSV, or the ``etr.zip`` it comes in) and
:func:`write_ods_trusts`. Layout: docs/formats.md.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd

from league_pipeline.formats.common import (
    ReaderError,
    csv_bytes,
    decode_text,
    read_csv,
    require_columns,
    to_date,
)

ODS_TRUST_COLUMNS: list[str] = [
    "ods_code",  # 1 Organisation code
    "name",  # 2
    "national_grouping",  # 3 NHS England region code (Y56-Y63)
    "high_level_health_geography",  # 4 ICB code
    "address_line_1",  # 5
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",  # 9
    "postcode",  # 10
    "open_date",  # 11 YYYYMMDD
    "close_date",  # 12 YYYYMMDD or blank
    "null_13",
    "null_14",
    "null_15",
    "null_16",
    "null_17",
    "contact_telephone_number",  # 18
    "null_19",
    "null_20",
    "null_21",
    "amended_record_indicator",  # 22
    "null_23",
    "gor_code",  # 24 Government Office Region letter
    "null_25",
    "null_26",
    "null_27",
]
_ODS_DATES = ["open_date", "close_date"]
_ODS_DATE_PATTERN = "[0-9]{8}"  # YYYYMMDD, exactly 8 ASCII digits (schemas/ods_trusts.yaml agrees)


def _unzip_member(content: bytes, member: str, what: str) -> bytes:
    """The ``member`` of a zip archive (as NHS Digital publishes ``etr.zip``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = {Path(n).name.lower(): n for n in archive.namelist()}
            if member.lower() not in names:
                raise ReaderError(
                    f"{what}: the zip holds {sorted(names)}, not {member}; download the "
                    "'etr' extract from the ODS data downloads"
                )
            return archive.read(names[member.lower()])
    except zipfile.BadZipFile as exc:
        raise ReaderError(f"{what}: damaged zip archive ({exc}); download it again") from exc


def read_ods_trusts(content: bytes) -> pd.DataFrame:
    """Read the headerless ODS ``etr`` report into :data:`ODS_TRUST_COLUMNS` (27 columns).

    Accepts the CSV or the ``etr.zip`` archive NHS Digital publishes (the CSV is read from it).
    A file with more columns keeps the extras as ``extra_28``...; fewer than 12 columns is not
    this report and raises :class:`ReaderError`.
    """
    what = "ODS etr report"
    if content[:4] == b"PK\x03\x04":
        content = _unzip_member(content, "etr.csv", what)
    df = read_csv(decode_text(content, what), what, header=False)
    if df.shape[1] < 12:
        raise ReaderError(
            f"{what}: {df.shape[1]} columns, expected 27 (headerless ODS layout); "
            "download the 'etr' report as CSV from the ODS API"
        )
    names = [
        ODS_TRUST_COLUMNS[i] if i < len(ODS_TRUST_COLUMNS) else f"extra_{i + 1}"
        for i in range(df.shape[1])
    ]
    df.columns = names
    for col in _ODS_DATES:
        if col in df.columns:
            df[col] = to_date(df[col], "%Y%m%d", _ODS_DATE_PATTERN)
    return df.reset_index(drop=True)


def write_ods_trusts(df: pd.DataFrame) -> bytes:
    """Write the ODS ``etr`` layout: headerless, all 27 fields quoted, dates YYYYMMDD, CRLF."""
    require_columns(df, ODS_TRUST_COLUMNS, "ODS etr report")
    out = df[ODS_TRUST_COLUMNS].copy()
    for col in _ODS_DATES:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y%m%d")
    return csv_bytes(out, bom=False, line_terminator="\r\n", header=False, quoting=csv.QUOTE_ALL)
