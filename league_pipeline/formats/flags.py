"""The project's own flag lists: the RSP list and the deficit flags; readers and writers.

Belongs here: the Recovery Support Programme list (NHS England publishes it only in prose) and
the deficit flags (NOF metric OF5004 cannot be derived from public data), both UTF-8 CSV with
one row per trust and quarter. Layouts: docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from league_pipeline.formats.common import (
    check_layout,
    csv_bytes,
    decode_text,
    fill_quarter,
    floats_for_output,
    nhs_quarter_text,
    order_columns,
    read_csv,
    require_columns,
    to_float,
    to_yes_no,
    yes_no_for_output,
)

RSP_LIST_COLUMNS: list[str] = ["Quarter", "Trust_code", "Trust_name", "In_RSP"]
DEFICIT_FLAGS_COLUMNS: list[str] = [
    "Quarter",
    "Trust_code",
    "Trust_name",
    "Planned_surplus_deficit_pct",
    "In_deficit_or_receiving_support",
]


def _read_flag_csv(
    content: bytes, what: str, columns: Sequence[str], flags: Sequence[str], numbers=()
) -> pd.DataFrame:
    """A project flag list: ``Quarter`` normalised, Yes/No ``flags`` -> bool, ``numbers`` ->
    float; known columns first."""
    df = read_csv(decode_text(content, what), what)
    check_layout(df, columns, what)
    if "Quarter" in df.columns:
        df = fill_quarter(df, None, what)
    for col in numbers:
        if col in df.columns:
            df[col] = to_float(df[col])
    for col in flags:
        if col in df.columns:
            df[col] = to_yes_no(df[col])
    return order_columns(df, columns)


def _write_flag_csv(
    df: pd.DataFrame, what: str, columns: Sequence[str], flags: Sequence[str], numbers=()
) -> bytes:
    """A project flag list as written: UTF-8, no BOM, LF, ``Q1 2025/26``, Yes/No."""
    require_columns(df, columns, what)
    out = df[list(columns)].copy()
    out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    for col in numbers:
        out[col] = floats_for_output(out[col])
    for col in flags:
        out[col] = yes_no_for_output(out[col])
    return csv_bytes(out, bom=False, line_terminator="\n")


_RSP_FLAGS = ("In_RSP",)
_DEFICIT_FLAGS = ("In_deficit_or_receiving_support",)
_DEFICIT_NUMBERS = ("Planned_surplus_deficit_pct",)


def read_rsp_list(content: bytes) -> pd.DataFrame:
    """Read the RSP list (``Quarter,Trust_code,Trust_name,In_RSP``; In_RSP Yes/No -> bool)."""
    return _read_flag_csv(content, "RSP list", RSP_LIST_COLUMNS, _RSP_FLAGS)


def write_rsp_list(df: pd.DataFrame) -> bytes:
    """Write the RSP list format (UTF-8, no BOM, LF, ``Q1 2025/26``, Yes/No)."""
    return _write_flag_csv(df, "RSP list", RSP_LIST_COLUMNS, _RSP_FLAGS)


def read_deficit_flags(content: bytes) -> pd.DataFrame:
    """Read the deficit flags (layout: docs/formats.md); Yes/No -> bool, percentage -> float."""
    return _read_flag_csv(
        content, "deficit flags", DEFICIT_FLAGS_COLUMNS, _DEFICIT_FLAGS, _DEFICIT_NUMBERS
    )


def write_deficit_flags(df: pd.DataFrame) -> bytes:
    """Write the deficit flags format (UTF-8, no BOM, LF, ``Q1 2025/26``, Yes/No)."""
    return _write_flag_csv(
        df, "deficit flags", DEFICIT_FLAGS_COLUMNS, _DEFICIT_FLAGS, _DEFICIT_NUMBERS
    )
