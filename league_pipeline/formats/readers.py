"""Parse source files (bytes, as kept by the source store) into normalised DataFrames, and back.

Belongs here: one ``read_*`` function per extract format turning the stored bytes into a pandas
DataFrame with the project's column names and types, the matching ``write_*`` function producing
the file layout (used for fixtures, the synthetic generator and round-trip tests), and
:class:`ReaderError` for input that cannot be read at all. Does not belong here: deciding whether
the data is *valid* (that is :mod:`league_pipeline.validation.validate` with the ``schemas/`` YAML) or
fetching files.

Rules every reader follows
--------------------------
* Bytes are decoded as UTF-8 (a UTF-8 BOM is dropped, a UTF-16 BOM is honoured). Empty input,
  HTML pages, Excel/ZIP/PDF files, binary data, text that is not UTF-8 and text pandas cannot
  parse as CSV raise :class:`ReaderError` with one line saying what is wrong and how to fix it.
* No row is ever dropped and no bad value silently blanked: if a column holds a value that
  cannot be converted (``abc`` in a numeric column, ``Maybe`` in a Yes/No column, ``20251301``
  as a date) the whole column is returned as the text read, so pandera validation reports the
  bad cells with their rows (and the frame can still be staged to Parquet).
  Only empty (or all-whitespace) cells become NaN. Missing columns stay missing and unexpected
  columns are kept after the known ones, so validation names both.
* Strings are trimmed (including the no-break space NHS England leaves after one metric name).
* Quarters are normalised to the project label ``2025/26 Q1`` (:mod:`league_pipeline.core.quarters`);
  NHS England's files write ``Q1 2025/26`` and the writers write that form back.
* Output frames have a fresh RangeIndex: row ``i`` is line ``i + 2`` of a file with a header.
* NOF trust data, which a cumulative publication makes the largest of these files, is read in
  blocks of rows (:func:`_read_csv_blocks`): the text is decoded a block at a time and each
  block's cells go straight into pyarrow string columns, so the peak memory stays within a few
  times the file's size (``benchmarks/nof_reader_memory.py``). The result and the errors are the
  whole-text reader's, except that a file with several faults reports the first in file order.

Formats
-------
NOF trust data (NHS England, ``nhs-oversight-framework-<group>-trust-data.csv``)
    Header ``[Quarter,]Region,Trust_type,Trust_subtype,Trust_code,Trust_name,Domain,Sub-domain,
    Metric_ID,Metric_description,Reporting_date,Units,Value,Median_value,Lower_quartile,
    Upper_quartile,Rank``; the Sept 2025 (Q1) files have no ``Quarter`` column. Normalised to
    :data:`NOF_TRUST_DATA_COLUMNS` (``Sub_domain``; ``Units`` ``%`` -> ``percent``; Trust_type
    ``Non-acute hospital trust`` -> ``Mental health and community trust``; numbers as float64,
    ``Rank`` too, as published: ``113.0``).
NOF league table (NHS England, ``...-trust-league-table.csv``)
    :data:`NOF_LEAGUE_TABLE_COLUMNS`; ``Segment`` and ``Rank`` are floats (``1.0``), likely
    ranges are text (``1.2 to 1.89``, ``1 to 11``; split them with :func:`split_likely_range`),
    ``Trust_in_financial_deficit`` is ``Yes``/``No`` (read as bool). A ``Reporting_date`` column
    (said to replace ``Quarter`` in the Q1 layout) is read as ``Quarter``.
ODS ``etr`` report (NHS trusts)
    Headerless, 27 columns, every field quoted, CRLF; named :data:`ODS_TRUST_COLUMNS`. Dates are
    ``YYYYMMDD``, exactly 8 digits (read as datetimes; blank close date -> NaT); a date written
    otherwise (``2017-10-01``, ``2017101``) leaves its column as text for validation to show.
RSP list (this project's own format; NHS England publishes the list only in prose)
    UTF-8 CSV with header ``Quarter,Trust_code,Trust_name,In_RSP``: one row per trust and quarter,
    ``Quarter`` as ``Q1 2025/26`` (``2025/26 Q1`` is accepted too), ``In_RSP`` ``Yes``/``No``.
    Trusts not listed for a quarter are not in the Recovery Support Programme; ``Trust_name`` is
    for people and may be blank.
Deficit flags (this project's own format: NOF metric OF5004 cannot be derived from public data)
    UTF-8 CSV with header ``Quarter,Trust_code,Trust_name,Planned_surplus_deficit_pct,
    In_deficit_or_receiving_support``: ``Planned_surplus_deficit_pct`` is the planned
    surplus (+) / deficit (-) as a percentage of income (may be blank),
    ``In_deficit_or_receiving_support`` ``Yes``/``No`` drives the financial override.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from league_pipeline.core.peer_groups import BY_TRUST_TYPE
from league_pipeline.core.quarters import QuarterError, parse_quarter

__all__ = [
    "DEFICIT_FLAGS_COLUMNS",
    "NOF_LEAGUE_TABLE_COLUMNS",
    "NOF_TRUST_DATA_COLUMNS",
    "ODS_TRUST_COLUMNS",
    "RSP_LIST_COLUMNS",
    "ReaderError",
    "decode_text",
    "is_plain_number",
    "nhs_quarter_text",
    "normalise_quarter_label",
    "read_deficit_flags",
    "read_nof_league_table",
    "read_nof_trust_data",
    "read_ods_trusts",
    "read_rsp_list",
    "split_likely_range",
    "split_quarters",
    "write_deficit_flags",
    "write_nof_league_table",
    "write_nof_trust_data",
    "write_ods_trusts",
    "write_rsp_list",
]

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

RSP_LIST_COLUMNS: list[str] = ["Quarter", "Trust_code", "Trust_name", "In_RSP"]
DEFICIT_FLAGS_COLUMNS: list[str] = [
    "Quarter",
    "Trust_code",
    "Trust_name",
    "Planned_surplus_deficit_pct",
    "In_deficit_or_receiving_support",
]

# A number as the published files write one: ASCII digits, an optional sign, decimal point and
# exponent. Nothing else (validation's plain_float64 dtype uses the same rule).
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# the same rule for pyarrow's RE2, anchored (RE2's ``$`` is the end of the text, as fullmatch)
_PLAIN_NUMBER_RE2 = f"^(?:{PLAIN_NUMBER.pattern})$"
_UNITS_ALIASES = {"%": "percent"}
_TRUST_TYPE_ALIASES = {
    alias: group.trust_type for alias, group in BY_TRUST_TYPE.items() if alias != group.trust_type
}
_UTF8_BOM = b"\xef\xbb\xbf"
# the block reader: rows per block, bytes decoded at a time, characters the start check reads
_BLOCK_ROWS = 2048
_DECODE_CHUNK = 1 << 20
_TEXT_START = 1024
_BLANK_BYTES = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.strip() strips
_WHOLE_TEXT_STARTS = (b"PK\x03\x04", b"%PDF", b"\xff\xfe", b"\xfe\xff")
_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


class ReaderError(ValueError):
    """The input cannot be read as the expected file format (the message says how to fix it)."""


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------
def decode_text(content: bytes, what: str) -> str:
    """Decode stored bytes to text, refusing things that are not a text CSV file."""
    if not content or not content.strip():
        raise ReaderError(f"{what}: the file is empty; fetch it again or check the source URL")
    head = content[:8]
    if head.startswith(b"PK\x03\x04"):
        raise ReaderError(
            f"{what}: this is a ZIP/Excel workbook, not CSV; download the .csv file instead"
        )
    if head.startswith(b"%PDF"):
        raise ReaderError(f"{what}: this is a PDF, not CSV; download the .csv file instead")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ReaderError(
                f"{what}: starts like UTF-16 text but is not (bytes {exc.start}-{exc.end - 1}: "
                f"{exc.reason}); re-save the file as UTF-8 CSV"
            ) from None
    else:
        # drop a UTF-8 BOM here rather than with "utf-8-sig": that codec reports a bad byte's
        # position counted after the BOM, and the message must name the offset in the file
        bom = len(_UTF8_BOM) if content.startswith(_UTF8_BOM) else 0
        try:
            text = content[bom:].decode("utf-8")
        except UnicodeDecodeError as exc:
            position = bom + exc.start
            raise ReaderError(
                f"{what}: not UTF-8 text (byte 0x{content[position]:02x} at position "
                f"{position}); re-save the file as UTF-8 CSV"
            ) from None
    if "\x00" in text:
        raise ReaderError(f"{what}: binary data, not CSV text; check the file is the CSV download")
    _check_text_start(text.lstrip()[:_TEXT_START].lower(), what)
    return text


def _check_text_start(start: str, what: str) -> None:
    """Refuse text whose start (lower case, leading whitespace dropped) is HTML or JSON."""
    if start.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in start:
        raise ReaderError(
            f"{what}: received an HTML page, not CSV (an error, login or moved page?); "
            "check the download URL"
        )
    if start.startswith(("{", "[")):
        raise ReaderError(f"{what}: this looks like JSON, not CSV; check the download URL")


def _text_lines(content: bytes, what: str) -> Iterator[str]:
    """The lines of ``content`` (line ends kept), decoded a block at a time: the text
    :func:`decode_text` gives, without holding all of it. Whatever it refuses is refused with its
    message (found by :func:`decode_text` itself on the whole file, so the message and its byte
    offset are the same)."""

    def refuse() -> NoReturn:
        decode_text(content, what)  # raises the whole-file message
        raise ReaderError(f"{what}: not readable as UTF-8 CSV text; re-save the file as UTF-8 CSV")

    if content.startswith(_WHOLE_TEXT_STARTS) or _BLANK_BYTES.fullmatch(content):
        # empty, an archive or PDF (refused), or UTF-16 (rare and small: decoded whole)
        yield from io.StringIO(decode_text(content, what), newline="")
        return
    stream = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", newline="")
    stream._CHUNK_SIZE = _DECODE_CHUNK  # type: ignore[attr-defined]  # bigger reads: faster
    try:
        lines = iter(stream)
        start: list[str] = []  # the first lines, until they hold _TEXT_START characters of text
        text = 0
        for line in lines:
            if not start:
                line = line.removeprefix("\ufeff")  # the BOM (decode_text drops it once)
            start.append(line)
            text = text + len(line) if text else len(line.lstrip())
            if text >= _TEXT_START:
                break
        try:
            _check_text_start("".join(start).lstrip()[:_TEXT_START].lower(), what)
        except ReaderError:
            refuse()
        for line in start:
            if "\x00" in line:
                refuse()
            yield line
        for line in lines:
            if "\x00" in line:
                refuse()
            yield line
    except UnicodeDecodeError:
        refuse()


def _read_csv(text: str, what: str, *, header: bool = True) -> pd.DataFrame:
    """Every cell as trimmed text; only empty cells become NaN.

    Parsed with :mod:`csv` rather than ``pandas.read_csv`` so that a row with more or fewer
    fields than the header is refused with its line number instead of being shifted into an
    index column or padded with blanks.
    """
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as exc:
        raise ReaderError(
            f"{what}: not a readable CSV file ({exc}); check it is the published CSV"
        ) from None
    if not rows:
        raise ReaderError(f"{what}: the file has no lines; fetch it again")
    if header:
        names = [name.strip().lstrip("\ufeff").strip() for name in rows[0]]
        body = rows[1:]
        first_line = 2
    else:
        names = [str(i) for i in range(len(rows[0]))]
        body = rows
        first_line = 1
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ReaderError(
            f"{what}: the header repeats column(s) {', '.join(map(repr, duplicated))}; "
            "fix the header so every column name is unique"
        )
    width = len(names)
    for offset, row in enumerate(body):
        if len(row) != width:
            raise ReaderError(
                f"{what}: line {first_line + offset} has {len(row)} fields but the "
                f"{'header has' if header else 'first line has'} {width}; "
                "the file is malformed or truncated, fetch it again"
            )
    df = (
        pd.DataFrame(body, columns=names, dtype="str")
        if body
        else pd.DataFrame({name: pd.Series([], dtype="str") for name in names})
    )
    for col in df.columns:
        df[col] = _strip(df[col])
    return df


def _header_names(row: list[str], what: str) -> list[str]:
    names = [name.strip().lstrip("\ufeff").strip() for name in row]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ReaderError(
            f"{what}: the header repeats column(s) {', '.join(map(repr, duplicated))}; "
            "fix the header so every column name is unique"
        )
    return names


def _text_column(values: Sequence[str]) -> pa.Array:
    """Cells as a pyarrow string array: trimmed as ``Series.str.strip()`` trims the default
    ``str`` dtype (pyarrow's ``utf8_trim_whitespace``), empty cells null (NaN).

    Allocated from the system allocator: pyarrow's default (mimalloc) kept the pages of each
    block's intermediate arrays, which took the reader's peak from about 2.6x to 3.8x the file's
    size at 200,000 rows."""
    pool = pa.system_memory_pool()
    array = pa.array(values, type=pa.large_string(), memory_pool=pool)
    array = pc.utf8_trim_whitespace(array, memory_pool=pool)
    blank = pc.equal(array, "", memory_pool=pool)
    return pc.if_else(blank, pa.scalar(None, pa.large_string()), array, memory_pool=pool)


def _read_csv_blocks(
    content: bytes, what: str, check_header: Callable[[list[str]], None] | None = None
) -> pd.DataFrame:
    """:func:`_read_csv` of a file with a header, read a block of rows at a time.

    The same result (every cell trimmed text in the ``str`` dtype; only empty cells NaN) and the
    same refusals (duplicated header names; a row with more or fewer fields than the header,
    named by its line; CSV the strict :mod:`csv` reader cannot parse), but the memory held is the
    pyarrow string columns (about the size of the text) and one block of Python strings.
    ``check_header`` is called with the header's names before any row is read.
    """
    reader = csv.reader(_text_lines(content, what), strict=True)
    try:
        header = next((row for row in reader if row), None)
        if header is None:
            raise ReaderError(f"{what}: the file has no lines; fetch it again")
        names = _header_names(header, what)
        if check_header is not None:
            check_header(names)
        width = len(names)
        columns: list[list[pa.Array]] = [[] for _ in names]
        block: list[list[str]] = []
        line = 2  # the number of the next row, as _read_csv counts them (blank lines skipped)
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise ReaderError(
                    f"{what}: line {line} has {len(row)} fields but the header has {width}; "
                    "the file is malformed or truncated, fetch it again"
                )
            block.append(row)
            line += 1
            if len(block) == _BLOCK_ROWS:
                for chunks, values in zip(columns, zip(*block, strict=True), strict=True):
                    chunks.append(_text_column(values))
                block = []
        if block:
            for chunks, values in zip(columns, zip(*block, strict=True), strict=True):
                chunks.append(_text_column(values))
            block = []
    except csv.Error as exc:
        raise ReaderError(
            f"{what}: not a readable CSV file ({exc}); check it is the published CSV"
        ) from None
    return pd.DataFrame(
        {
            name: pd.Series(
                pd.arrays.ArrowStringArray(
                    pa.chunked_array(chunks, type=pa.large_string()), dtype=_STR
                ),
                copy=False,
            )
            for name, chunks in zip(names, columns, strict=True)
        }
    )


def _strip(series: pd.Series) -> pd.Series:
    stripped = series.astype("str").str.strip()
    return stripped.where(stripped.ne(""), np.nan)


def _check_header(df: pd.DataFrame, expected: Sequence[str], what: str) -> None:
    """Refuse text that is not this format at all (fewer than half the expected columns)."""
    found = [c for c in expected if c in df.columns]
    if len(found) * 2 < len(expected):
        shown = ", ".join(list(map(str, df.columns))[:8]) or "(none)"
        raise ReaderError(
            f"{what}: the header does not look like this format (found {shown}); "
            f"expected columns {', '.join(expected)}"
        )


def _order(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Known columns first (those present), then any unexpected ones as read."""
    known = [c for c in columns if c in df.columns]
    extra = [c for c in df.columns if c not in columns]
    return df[known + extra].reset_index(drop=True)


def is_plain_number(text: object) -> bool:
    """``text`` is a plain ASCII decimal (``12``, ``-0.5``, ``1.2e3``) of a finite value: not
    ``nan``/``inf``, no ``1_000``, thousands separators, spaces or non-ASCII digits (``١٢``),
    all of which Python's ``float()`` would accept or misread."""
    if not isinstance(text, str) or not PLAIN_NUMBER.fullmatch(text):
        return False
    return bool(np.isfinite(float(text)))


def _all_plain_numbers(series: pd.Series) -> bool:
    """Every cell is blank or matches :data:`PLAIN_NUMBER` (pyarrow strings: tested by RE2 in
    one pass; others: by :func:`is_plain_number`, which also wants a finite value)."""
    array = getattr(series.array, "_pa_array", None)
    if array is not None and (
        pa.types.is_large_string(array.type) or pa.types.is_string(array.type)
    ):
        matched = pc.match_substring_regex(array, _PLAIN_NUMBER_RE2)
        return bool(pc.all(matched, skip_nulls=True).as_py() is not False)
    return bool(series.map(is_plain_number, na_action="ignore").fillna(True).astype(bool).all())


def _to_float(series: pd.Series) -> pd.Series:
    """Numbers as float64, when every cell is blank or a plain number (:func:`is_plain_number`).
    Otherwise the column stays text, exactly as read, so validation can point at the cells that
    are not plain numbers (and the frame still writes to Parquet)."""
    if not _all_plain_numbers(series):
        return series
    numbers = pd.to_numeric(series).astype("float64")
    overflowed = numbers.notna() & ~np.isfinite(numbers)  # 1e999: plain, but not finite
    if overflowed.any() and not all(is_plain_number(text) for text in series[overflowed]):
        return series
    return numbers


def _to_yes_no(series: pd.Series) -> pd.Series:
    """``Yes``/``No`` (any case) as bool; if any cell is something else (or blank) the column
    stays text, exactly as read, for validation to show."""
    mapped = series.str.lower().map({"yes": True, "no": False})
    if mapped.notna().all():
        return mapped.astype(bool)
    return series


def _to_date(series: pd.Series, fmt: str, pattern: str) -> pd.Series:
    """Dates written as ``pattern`` (a regular expression the whole cell must match) in ``fmt``;
    if any cell does not match or does not parse, the column stays text, exactly as read.

    The pattern is needed because ``strptime`` formats are lenient: ``%Y%m%d`` also reads
    ``2017101`` (as 2017-10-01), which is not a date as ODS publishes them."""
    shaped = series.str.fullmatch(pattern).fillna(False).astype(bool)
    parsed = pd.to_datetime(series.where(shaped), format=fmt, errors="coerce")
    if (series.notna() & parsed.isna()).any():
        return series
    return parsed


def normalise_quarter_label(text: object) -> object:
    """``Q1 2025/26`` (NHS files), ``2025/26 Q1`` or ``2025-04`` -> ``2025/26 Q1``.

    Anything that is not a quarter is returned unchanged (NaN stays NaN), so validation can show
    it as a failing value.
    """
    return _quarter_as(text, "label")


def nhs_quarter_text(label: object) -> object:
    """``2025/26 Q1`` -> ``Q1 2025/26``, the form NHS England's files use (others unchanged)."""
    return _quarter_as(label, "published_label")


def _quarter_as(text: object, form: str) -> object:
    """The quarter ``text`` names, as its ``form`` (a :class:`Quarter` property); anything that
    is not a quarter's text is returned unchanged."""
    if not isinstance(text, str):
        return text
    try:
        return getattr(parse_quarter(text, check_methodology=False), form)
    except QuarterError:
        return text


def _expected_label(quarter_label: str) -> str:
    # raises the QuarterError (with its fix) for a label that is not a quarter
    return parse_quarter(quarter_label, check_methodology=False).label


def _fill_quarter(
    df: pd.DataFrame, quarter_label: str | None, what: str, *, aliases: Iterable[str] = ()
) -> pd.DataFrame:
    """Normalise an existing Quarter column, or add one from ``quarter_label``."""
    for alias in aliases:
        if alias in df.columns and "Quarter" not in df.columns:
            df = df.rename(columns={alias: "Quarter"})
    if "Quarter" in df.columns:
        # each distinct text once (a cumulative file repeats a handful of quarters)
        labels = {text: normalise_quarter_label(text) for text in df["Quarter"].dropna().unique()}
        df["Quarter"] = df["Quarter"].map(labels).astype("str")
    elif quarter_label is None:
        raise ReaderError(
            f"{what}: the file has no Quarter column; pass quarter_label (e.g. '2025/26 Q1')"
        )
    else:
        df.insert(0, "Quarter", _expected_label(quarter_label))
    if quarter_label is not None:
        df.attrs["expected_quarter"] = _expected_label(quarter_label)
    return df


def _csv_bytes(
    df: pd.DataFrame,
    *,
    bom: bool,
    line_terminator: str,
    header: bool = True,
    quoting: int = csv.QUOTE_MINIMAL,
) -> bytes:
    buffer = io.StringIO()
    df.to_csv(buffer, index=False, header=header, lineterminator=line_terminator, quoting=quoting)
    return (_UTF8_BOM if bom else b"") + buffer.getvalue().encode("utf-8")


def _floats_for_output(series: pd.Series) -> pd.Series:
    """Numeric columns as float64 so integers print like the published files (``113.0``)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    return series


def _yes_no_for_output(series: pd.Series) -> pd.Series:
    return series.map(lambda v: v if not isinstance(v, bool | np.bool_) else ("Yes" if v else "No"))


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write {what}: missing column(s) {', '.join(missing)}")


# --------------------------------------------------------------------------------------------
# NOF trust data
# --------------------------------------------------------------------------------------------
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
        _check_header(pd.DataFrame(columns=renamed), NOF_TRUST_DATA_COLUMNS[1:], what)

    df = _read_csv_blocks(content, what, check_header)
    df = df.rename(columns={"Sub-domain": "Sub_domain"})
    df = _fill_quarter(df, quarter_label, what)
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(_TRUST_TYPE_ALIASES)
    if "Units" in df.columns:
        df["Units"] = df["Units"].replace(_UNITS_ALIASES)
    for col in _TRUST_DATA_NUMERIC:
        if col in df.columns:
            df[col] = _to_float(df[col])
    out = _order(df, NOF_TRUST_DATA_COLUMNS)
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
    _require(df, columns, "NOF trust data")
    out = df[columns].copy()
    if with_quarter:
        out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    unit = percent_unit if percent_unit is not None else ("%" if with_quarter else "percent")
    out["Units"] = out["Units"].replace({"percent": unit})
    for col in _TRUST_DATA_NUMERIC:
        out[col] = _floats_for_output(out[col])
    out = out.rename(columns=_TRUST_DATA_PUBLISHED_NAMES)
    return _csv_bytes(out, bom=bom, line_terminator=line_terminator)


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
    df = _read_csv(decode_text(content, what), what)
    df = _fill_quarter(df, quarter_label, what, aliases=("Reporting_date",))
    _check_header(df, NOF_LEAGUE_TABLE_COLUMNS, what)
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(_TRUST_TYPE_ALIASES)
    for col in _LEAGUE_NUMERIC:
        if col in df.columns:
            df[col] = _to_float(df[col])
    if "Trust_in_financial_deficit" in df.columns:
        df["Trust_in_financial_deficit"] = _to_yes_no(df["Trust_in_financial_deficit"])
    out = _order(df, NOF_LEAGUE_TABLE_COLUMNS)
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
    _require(df, NOF_LEAGUE_TABLE_COLUMNS, "NOF league table")
    out = df[NOF_LEAGUE_TABLE_COLUMNS].copy()
    out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    for col in _LEAGUE_NUMERIC:
        out[col] = _floats_for_output(out[col])
    out["Trust_in_financial_deficit"] = _yes_no_for_output(out["Trust_in_financial_deficit"])
    return _csv_bytes(out, bom=bom, line_terminator=line_terminator)


# --------------------------------------------------------------------------------------------
# ODS etr (NHS trusts)
# --------------------------------------------------------------------------------------------
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
    df = _read_csv(decode_text(content, what), what, header=False)
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
            df[col] = _to_date(df[col], "%Y%m%d", _ODS_DATE_PATTERN)
    return df.reset_index(drop=True)


def write_ods_trusts(df: pd.DataFrame) -> bytes:
    """Write the ODS ``etr`` layout: headerless, all 27 fields quoted, dates YYYYMMDD, CRLF."""
    _require(df, ODS_TRUST_COLUMNS, "ODS etr report")
    out = df[ODS_TRUST_COLUMNS].copy()
    for col in _ODS_DATES:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y%m%d")
    return _csv_bytes(out, bom=False, line_terminator="\r\n", header=False, quoting=csv.QUOTE_ALL)


# --------------------------------------------------------------------------------------------
# The project's own inputs: RSP list and deficit flags
# --------------------------------------------------------------------------------------------
def _read_flag_csv(
    content: bytes, what: str, columns: Sequence[str], flags: Sequence[str], numbers=()
) -> pd.DataFrame:
    """A project flag list: ``Quarter`` normalised, Yes/No ``flags`` -> bool, ``numbers`` ->
    float; known columns first."""
    df = _read_csv(decode_text(content, what), what)
    _check_header(df, columns, what)
    if "Quarter" in df.columns:
        df = _fill_quarter(df, None, what)
    for col in numbers:
        if col in df.columns:
            df[col] = _to_float(df[col])
    for col in flags:
        if col in df.columns:
            df[col] = _to_yes_no(df[col])
    return _order(df, columns)


def _write_flag_csv(
    df: pd.DataFrame, what: str, columns: Sequence[str], flags: Sequence[str], numbers=()
) -> bytes:
    """A project flag list as written: UTF-8, no BOM, LF, ``Q1 2025/26``, Yes/No."""
    _require(df, columns, what)
    out = df[list(columns)].copy()
    out["Quarter"] = out["Quarter"].map(nhs_quarter_text)
    for col in numbers:
        out[col] = _floats_for_output(out[col])
    for col in flags:
        out[col] = _yes_no_for_output(out[col])
    return _csv_bytes(out, bom=False, line_terminator="\n")


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
    """Read the deficit flags (see the module docstring); Yes/No -> bool, percentage -> float."""
    return _read_flag_csv(
        content, "deficit flags", DEFICIT_FLAGS_COLUMNS, _DEFICIT_FLAGS, _DEFICIT_NUMBERS
    )


def write_deficit_flags(df: pd.DataFrame) -> bytes:
    """Write the deficit flags format (UTF-8, no BOM, LF, ``Q1 2025/26``, Yes/No)."""
    return _write_flag_csv(
        df, "deficit flags", DEFICIT_FLAGS_COLUMNS, _DEFICIT_FLAGS, _DEFICIT_NUMBERS
    )
