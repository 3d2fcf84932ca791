"""NHS England's NOF files: trust data (metric values) and league tables; readers and writers.

Belongs here: :func:`read_nof_trust_data` / :func:`write_nof_trust_data` (both layouts, with
and without ``Quarter``), :func:`split_quarters` of a cumulative file, and the league table's
reader and writer with :func:`split_likely_range`. Layouts: docs/formats.md.
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.core.peer_groups import BY_TRUST_TYPE
from league_pipeline.core.quarters import QuarterError, parse_quarter
from league_pipeline.formats.common import (
    check_layout,
    csv_bytes,
    decode_text,
    fill_quarter,
    floats_for_output,
    nhs_quarter_text,
    order_columns,
    read_csv,
    read_csv_blocks,
    require_columns,
    to_float,
    to_yes_no,
    yes_no_for_output,
)

NOF_TRUST_DATA_COLUMNS: list[str] = [
    "Quarter",
    "Region",
    "Trust_type",
    "Trust_subtype",
    "Trust_code",
    "Trust_name",
    "Domain",
    "Sub_domain",
    "Metric_ID",
    "Metric_description",
    "Reporting_date",
    "Units",
    "Value",
    "Median_value",
    "Lower_quartile",
    "Upper_quartile",
    "Rank",
]
_TRUST_DATA_NUMERIC = ["Value", "Median_value", "Lower_quartile", "Upper_quartile", "Rank"]
_TRUST_DATA_PUBLISHED_NAMES = {"Sub_domain": "Sub-domain"}

NOF_LEAGUE_TABLE_COLUMNS: list[str] = [
    "Quarter",
    "Region",
    "Trust_type",
    "Trust_subtype",
    "Trust_code",
    "Trust_name",
    "Average_score",
    "Likely_range_of_average_score",
    "Segment",
    "Trust_in_financial_deficit",
    "Rank",
    "Likely_range_of_rank",
]
_LEAGUE_NUMERIC = ["Average_score", "Segment", "Rank"]
_UNITS_ALIASES = {"%": "percent"}
_TRUST_TYPE_ALIASES = {
    alias: group.trust_type for alias, group in BY_TRUST_TYPE.items() if alias != group.trust_type
}


def read_nof_trust_data(content: bytes, quarter_label: str | None = None) -> pd.DataFrame:
    """Read an NHS England NOF trust data CSV into :data:`NOF_TRUST_DATA_COLUMNS`.

    ``quarter_label`` is the quarter being processed (``2025/26 Q1`` or a partition key). Files
    without a ``Quarter`` column (Q1, Sept 2025) get it filled from ``quarter_label``; files with
    one keep theirs, and ``df.attrs["expected_quarter"]`` is set so that validation flags rows of
    another quarter. With ``quarter_label=None`` the file's own ``Quarter`` column is required and
    all its quarters are kept (see :func:`split_quarters`).
    """
    what = "NOF trust data"

    def check_header(names: list[str]) -> None:  # before any row is read
        renamed = ["Sub_domain" if name == "Sub-domain" else name for name in names]
        check_layout(pd.DataFrame(columns=renamed), NOF_TRUST_DATA_COLUMNS[1:], what)

    df = read_csv_blocks(content, what, check_header)
    df = df.rename(columns={"Sub-domain": "Sub_domain"})
    df = fill_quarter(df, quarter_label, what)
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(_TRUST_TYPE_ALIASES)
    if "Units" in df.columns:
        df["Units"] = df["Units"].replace(_UNITS_ALIASES)
    for col in _TRUST_DATA_NUMERIC:
        if col in df.columns:
            df[col] = to_float(df[col])
    out = order_columns(df, NOF_TRUST_DATA_COLUMNS)
    out.attrs = dict(df.attrs)
    return out


def split_quarters(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Split a multi-quarter trust data frame by ``Quarter`` (oldest first).

    Each part has a fresh index and ``attrs["expected_quarter"]`` set to its key. Rows without a
    quarter are not dropped: they come back under the key ``"(blank)"``.
    """
    if "Quarter" not in df.columns:
        raise ValueError("split_quarters needs a Quarter column")
    keys = df["Quarter"].astype(object).where(df["Quarter"].notna(), "(blank)")

    def order(key: str) -> tuple[int, object]:
        try:
            return (0, parse_quarter(key, check_methodology=False))
        except QuarterError:
            return (1, key)

    parts: dict[str, pd.DataFrame] = {}
    for key in sorted(keys.unique(), key=order):
        part = df[keys.eq(key)].reset_index(drop=True)
        part.attrs = {**df.attrs, "expected_quarter": key} if order(key)[0] == 0 else {}
        parts[str(key)] = part
    return parts


def write_nof_trust_data(
    df: pd.DataFrame,
    with_quarter: bool,
    *,
    percent_unit: str | None = None,
    bom: bool = True,
    line_terminator: str = "\r\n",
) -> bytes:
    """Write the published trust data layout.

    ``with_quarter=False`` gives the Sept 2025 (Q1) layout: no ``Quarter`` column and percentages
    in ``percent``; ``True`` gives the later layout with ``Quarter`` (as ``Q1 2025/26``) and ``%``.
    ``percent_unit`` overrides the percent spelling. UTF-8 with BOM and CRLF line ends, as the
    verbatim acute file; blanks for missing values; floats as Python prints them (``113.0``).
    """
    columns = NOF_TRUST_DATA_COLUMNS if with_quarter else NOF_TRUST_DATA_COLUMNS[1:]
    require_columns(df, columns, "NOF trust data")
    out = df[columns].copy()
    if with_quarter:
        out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    unit = percent_unit if percent_unit is not None else ("%" if with_quarter else "percent")
    out["Units"] = out["Units"].replace({"percent": unit})
    for col in _TRUST_DATA_NUMERIC:
        out[col] = floats_for_output(out[col])
    out = out.rename(columns=_TRUST_DATA_PUBLISHED_NAMES)
    return csv_bytes(out, bom=bom, line_terminator=line_terminator)


# --------------------------------------------------------------------------------------------
# NOF league table
# --------------------------------------------------------------------------------------------
def read_nof_league_table(content: bytes, quarter_label: str | None = None) -> pd.DataFrame:
    """Read an NHS England NOF league-table CSV into :data:`NOF_LEAGUE_TABLE_COLUMNS`.

    Scores, segments and ranks become float64; ``Trust_in_financial_deficit`` becomes bool;
    likely ranges stay text. ``quarter_label`` fills a missing ``Quarter`` (and sets
    ``attrs["expected_quarter"]``), as for :func:`read_nof_trust_data`.
    """
    what = "NOF league table"
    df = read_csv(decode_text(content, what), what)
    df = fill_quarter(df, quarter_label, what, aliases=("Reporting_date",))
    check_layout(df, NOF_LEAGUE_TABLE_COLUMNS, what)
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(_TRUST_TYPE_ALIASES)
    for col in _LEAGUE_NUMERIC:
        if col in df.columns:
            df[col] = to_float(df[col])
    if "Trust_in_financial_deficit" in df.columns:
        df["Trust_in_financial_deficit"] = to_yes_no(df["Trust_in_financial_deficit"])
    out = order_columns(df, NOF_LEAGUE_TABLE_COLUMNS)
    out.attrs = dict(df.attrs)
    return out


def split_likely_range(series: pd.Series) -> pd.DataFrame:
    """``"1.2 to 1.89"`` -> columns ``lower`` = 1.2, ``upper`` = 1.89 (NaN where not a range)."""
    parts = series.astype("str").str.extract(r"^\s*(-?[\d.]+)\s+to\s+(-?[\d.]+)\s*$")
    parts.columns = ["lower", "upper"]
    return parts.apply(pd.to_numeric, errors="coerce").astype("float64")


def write_nof_league_table(
    df: pd.DataFrame, *, bom: bool = True, line_terminator: str = "\r\n"
) -> bytes:
    """Write the published league-table layout (``Q4 2025/26``, ``1.0``, ``Yes``/``No``)."""
    require_columns(df, NOF_LEAGUE_TABLE_COLUMNS, "NOF league table")
    out = df[NOF_LEAGUE_TABLE_COLUMNS].copy()
    out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    for col in _LEAGUE_NUMERIC:
        out[col] = floats_for_output(out[col])
    out["Trust_in_financial_deficit"] = yes_no_for_output(out["Trust_in_financial_deficit"])
    return csv_bytes(out, bom=bom, line_terminator=line_terminator)
