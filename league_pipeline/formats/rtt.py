"""Referral to Treatment (RTT) waiting times, full CSV data extract: reader and writer.

Belongs here: turning NHS England's monthly RTT full extract (121 columns, millions of rows;
the CSV, the published ZIP holding it, or an XLSX sheet with the same columns) into one row per
provider (:data:`RTT_COLUMNS`: incomplete pathways, those within 18 weeks, those over 52
weeks), and writing the extract layout back (generator, tests). It is never loaded into
pandas: DuckDB streams it from disk in two passes (``sql/rtt_candidate_lines.sql``, then
``sql/rtt_provider_totals.sql``). The layout and the two passes: docs/formats.md ("Raw
releases").
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.periods import month_in_text
from league_pipeline.formats.common import ReaderError, find_header, is_workbook, is_zip, sheet_rows

SQL_DIR = Path(__file__).resolve().parent / "sql"

WHAT = "RTT full CSV extract"
MEMORY_LIMIT = "1GB"
SEPARATOR = "\x01"  # a character no text extract holds: the first pass reads whole lines
PART_TYPE = "Part_2"  # incomplete pathways
TOTAL_FUNCTION = "C_999"  # the all-treatment-functions row
EXCLUDED_COMMISSIONER = "NONC"  # non-English commissioners (NOF OF0023 specification)
ID_COLUMNS = [
    "Period",
    "Provider Parent Org Code",
    "Provider Parent Name",
    "Provider Org Code",
    "Provider Org Name",
    "Commissioner Parent Org Code",
    "Commissioner Parent Name",
    "Commissioner Org Code",
    "Commissioner Org Name",
    "RTT Part Type",
    "RTT Part Description",
    "Treatment Function Code",
    "Treatment Function Name",
]
BAND_COLUMNS = [f"Gt {w:02d} To {w + 1:02d} Weeks SUM 1" for w in range(104)]
BAND_COLUMNS.append("Gt 104 Weeks SUM 1")
TOTAL_COLUMNS = ["Total", "Patients with unknown clock start date", "Total All"]
EXTRACT_COLUMNS = [*ID_COLUMNS, *BAND_COLUMNS, *TOTAL_COLUMNS]  # 121
COUNT_COLUMNS = frozenset([*BAND_COLUMNS, *TOTAL_COLUMNS])
REQUIRED = [
    "Period",
    "Provider Org Code",
    "Provider Org Name",
    "Commissioner Parent Org Code",
    "Commissioner Org Code",
    "RTT Part Type",
    "Treatment Function Code",
    *BAND_COLUMNS,
    *TOTAL_COLUMNS[:2],
]
RTT_COLUMNS = [
    "quarter",
    "month",
    "period",
    "org_code",
    "org_name",
    "source_rows",
    "total",
    "bands_total",
    "within_18_weeks",
    "over_52_weeks",
    "unknown_clock_start",
]
_ALIASES = {"provider code": "Provider Org Code", "provider name": "Provider Org Name"}
_CANONICAL = {name.lower(): name for name in EXTRACT_COLUMNS}


def _canonical(name: str) -> str:
    key = re.sub(r"\s+", " ", str(name)).strip().lower()
    return _ALIASES.get(key) or _CANONICAL.get(key) or str(name).strip()


def _connect() -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": False}
    return duckdb.connect(":memory:", config=config)


def _check_columns(names: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ReaderError(
            f"{WHAT}: the header lacks {shown}; expected the 121-column full CSV extract "
            "(Period, Provider Org Code, ..., Gt 00 To 01 Weeks SUM 1, ..., Total All)"
        )


@contextmanager
def _csv_path(path: Path) -> Iterator[Path]:
    """The CSV to read: ``path`` itself, or the CSV inside it when it is a ZIP (streamed out)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not is_zip(head):
        yield path
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise ReaderError(
                    f"{WHAT}: the ZIP holds {len(members)} CSV files; expected exactly one"
                )
            with tempfile.TemporaryDirectory(prefix="league-rtt-") as tmp:
                target = Path(tmp) / "extract.csv"
                with archive.open(members[0]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
                yield target
    except zipfile.BadZipFile as exc:
        raise ReaderError(f"{WHAT}: damaged ZIP archive ({exc}); download it again") from None


def _totals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    sql = (SQL_DIR / "rtt_provider_totals.sql").read_text()
    params = {
        "part_type": PART_TYPE,
        "total_function": TOTAL_FUNCTION,
        "excluded_commissioner": EXCLUDED_COMMISSIONER,
    }
    try:
        return con.execute(sql, params).df()
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        first = " ".join(str(exc).split())[:300]
        raise ReaderError(
            f"{WHAT}: a count is not a whole number ({first}); the file is damaged or not "
            "the full extract"
        ) from None


def _last_line_width(path: Path) -> int:
    """How many fields the file's last non-blank line has (a truncated download has too few)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - (1 << 16)))
        lines = [line for line in fh.read().splitlines() if line.strip()]
    if not lines:
        return 0
    try:
        return len(next(csv.reader([lines[-1].decode("utf-8")])))
    except (UnicodeDecodeError, csv.Error):
        return 0


def _column_types(names: list[str]) -> dict[str, str]:
    """DuckDB types of a CSV extract's columns: counts as BIGINT, the rest as text."""
    return {c: "BIGINT" if c in COUNT_COLUMNS else "VARCHAR" for c in names}


def _candidate_view(
    con: duckdb.DuckDBPyConnection, csv_file: Path, names: list[str], folder: Path
) -> bool:
    """View ``rtt_rows`` over the lines of ``csv_file`` that may hold a wanted row (see
    ``rtt_candidate_lines.sql``), copied to ``folder``; False when that shortcut does not apply
    (the whole file must then be read)."""
    if len(set(names)) != len(names) or _last_line_width(csv_file) != len(names):
        return False
    target = folder / "candidates.csv"
    params = {
        "source": str(csv_file),
        "target": str(target),
        "separator": SEPARATOR,
        "part_type": PART_TYPE,
        "total_function": TOTAL_FUNCTION,
    }
    try:
        con.execute((SQL_DIR / "rtt_candidate_lines.sql").read_text(), params)
        rel = con.read_csv(
            str(target),
            header=False,
            columns=_column_types(names),
            delimiter=",",
            quotechar='"',
            escapechar='"',
            auto_detect=False,
        )
    except duckdb.Error:
        return False
    rel.create_view("rtt_rows", replace=True)
    return True


def _whole_file_view(con: duckdb.DuckDBPyConnection, csv_file: Path, names: list[str]) -> None:
    """View ``rtt_rows`` over every row of ``csv_file`` (DuckDB sniffs the dialect)."""
    try:
        rel = con.read_csv(str(csv_file), header=True, dtype=_column_types(names), delimiter=",")
    except duckdb.Error as exc:
        first = " ".join(str(exc).split())[:300]
        raise ReaderError(f"{WHAT}: not a readable CSV file ({first})") from None
    rel.create_view("rtt_rows", replace=True)


def _csv_totals(con: duckdb.DuckDBPyConnection, csv_file: Path) -> pd.DataFrame:
    """Per-provider totals of a CSV extract: from its candidate lines when they can be trusted
    to hold every wanted row and parse cleanly, else from the whole file."""
    names = _csv_header(csv_file)
    _check_columns(names)
    with tempfile.TemporaryDirectory(prefix="league-rtt-") as tmp:
        if _candidate_view(con, csv_file, names, Path(tmp)):
            try:
                return _totals(con)
            except (ReaderError, duckdb.Error):
                pass  # the whole file decides: the same error as before, or a result
    _whole_file_view(con, csv_file, names)
    return _totals(con)


def _csv_header(path: Path) -> list[str]:
    """The header line's column names (read directly: no need to sniff a huge file for them)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        try:
            return [name.strip() for name in next(csv.reader(fh))]
        except (StopIteration, UnicodeDecodeError, csv.Error) as exc:
            raise ReaderError(f"{WHAT}: no readable header line ({exc}); fetch it again") from None


def _typed_columns(names: list[str]) -> str:
    """A projection casting the count columns of a text table to BIGINT (blank -> NULL)."""
    parts = []
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        if name in COUNT_COLUMNS:
            parts.append(f"CAST(nullif(trim({quoted}), '') AS BIGINT) AS {quoted}")
        else:
            parts.append(quoted)
    return ", ".join(parts)


def _workbook_rows(content: bytes) -> pd.DataFrame:
    rows = sheet_rows(content, WHAT)
    head = find_header(rows, ["Treatment Function Code", "Total"], WHAT)
    header = [_canonical(c) for c in rows[head]]
    body = [
        [
            ""
            if c is None
            else (str(int(c)) if isinstance(c, float) and c.is_integer() else str(c))
            for c in r
        ]
        for r in rows[head + 1 :]
        if any(str(c).strip() for c in r)
    ]
    return pd.DataFrame(body, columns=header, dtype="str")


def read_rtt_extract(path: Path, quarter: Quarter) -> pd.DataFrame:
    """Per-provider incomplete-pathway totals (:data:`RTT_COLUMNS`) from the extract at
    ``path`` (CSV, ZIP holding the CSV, or XLSX), streamed through DuckDB."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.strip():
        raise ReaderError(f"{WHAT}: the file is empty; fetch it again")
    con = _connect()
    try:
        if is_zip(head) and is_workbook(path.read_bytes()):
            frame = _workbook_rows(path.read_bytes())
            _check_columns(list(frame.columns))
            con.register("rtt_text", frame)
            con.table("rtt_text").project(_typed_columns(list(frame.columns))).create_view(
                "rtt_rows"
            )
            totals = _totals(con)
        else:
            with _csv_path(path) as csv_file:
                totals = _csv_totals(con, csv_file)
    finally:
        con.close()
    months = totals["period"].map(month_in_text)
    if months.isna().any():
        bad = totals.loc[months.isna(), "period"].iloc[0]
        raise ReaderError(f"{WHAT}: cannot read the month of Period '{bad}' (e.g. RTT-June-2025)")
    totals["month"] = pd.to_datetime(months.astype("object"))
    totals.insert(0, "quarter", quarter.label)
    for col in ("source_rows", "total", "bands_total", "within_18_weeks", "over_52_weeks"):
        totals[col] = totals[col].astype("int64")
    totals["unknown_clock_start"] = totals["unknown_clock_start"].astype("int64")
    out = totals[RTT_COLUMNS].reset_index(drop=True)
    out.attrs["expected_quarter"] = quarter.label
    return out


def write_rtt_extract(df: pd.DataFrame) -> bytes:
    """The 121-column CSV layout from a frame holding :data:`EXTRACT_COLUMNS` (counts as
    integers), UTF-8 without BOM, CRLF line ends, as published."""
    missing = [c for c in EXTRACT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write the RTT extract: missing column(s) {missing[:5]}")
    buffer = io.StringIO()
    df[EXTRACT_COLUMNS].to_csv(
        buffer, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
    )
    return buffer.getvalue().encode("utf-8")
