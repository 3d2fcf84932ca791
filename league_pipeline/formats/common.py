"""What every reader and writer of a file format shares.

Belongs here: :class:`ReaderError`; decoding stored bytes to text (refusing HTML, JSON, archives,
PDFs, binary and non-UTF-8 data); CSV parsing, whole or in blocks of rows; plain-number, Yes/No,
date and quarter conversions that keep a column as text when a cell does not convert; CSV
writing; and the XLSX/CSV row access of the raw releases. The rules every reader follows are in
docs/formats.md.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineError, CalamineWorkbook

from league_pipeline.core.quarters import QuarterError, parse_quarter

# A number as the published files write one: ASCII digits, an optional sign, decimal point and
# exponent. Nothing else (validation's plain_float64 dtype uses the same rule).
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# the same rule for pyarrow's RE2, anchored (RE2's ``$`` is the end of the text, as fullmatch)
_PLAIN_NUMBER_RE2 = f"^(?:{PLAIN_NUMBER.pattern})$"
_UTF8_BOM = b"\xef\xbb\xbf"
# the block reader: rows per block, bytes decoded at a time, characters the start check reads
_BLOCK_ROWS = 2048
_DECODE_CHUNK = 1 << 20
_TEXT_START = 1024
_BLANK_BYTES = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.strip() strips
_WHOLE_TEXT_STARTS = (b"PK\x03\x04", b"%PDF", b"\xff\xfe", b"\xfe\xff")
_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype
XLSX_MAGIC = b"PK\x03\x04"


class ReaderError(ValueError):
    """The input cannot be read as the expected file format (the message says how to fix it)."""


# --------------------------------------------------------------------------------------------
# Text and CSV: decoding, parsing, conversions, writing
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


def read_csv(text: str, what: str, *, header: bool = True) -> pd.DataFrame:
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


def read_csv_blocks(
    content: bytes, what: str, check_header: Callable[[list[str]], None] | None = None
) -> pd.DataFrame:
    """:func:`read_csv` of a file with a header, read a block of rows at a time.

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
        line = 2  # the number of the next row, as read_csv counts them (blank lines skipped)
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


def check_layout(df: pd.DataFrame, expected: Sequence[str], what: str) -> None:
    """Refuse text that is not this format at all (fewer than half the expected columns)."""
    found = [c for c in expected if c in df.columns]
    if len(found) * 2 < len(expected):
        shown = ", ".join(list(map(str, df.columns))[:8]) or "(none)"
        raise ReaderError(
            f"{what}: the header does not look like this format (found {shown}); "
            f"expected columns {', '.join(expected)}"
        )


def order_columns(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
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


def to_float(series: pd.Series) -> pd.Series:
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


def to_yes_no(series: pd.Series) -> pd.Series:
    """``Yes``/``No`` (any case) as bool; if any cell is something else (or blank) the column
    stays text, exactly as read, for validation to show."""
    mapped = series.str.lower().map({"yes": True, "no": False})
    if mapped.notna().all():
        return mapped.astype(bool)
    return series


def to_date(series: pd.Series, fmt: str, pattern: str) -> pd.Series:
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


def fill_quarter(
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


def csv_bytes(
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


def floats_for_output(series: pd.Series) -> pd.Series:
    """Numeric columns as float64 so integers print like the published files (``113.0``)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    return series


def yes_no_for_output(series: pd.Series) -> pd.Series:
    return series.map(lambda v: v if not isinstance(v, bool | np.bool_) else ("Yes" if v else "No"))


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write {what}: missing column(s) {', '.join(missing)}")


# --------------------------------------------------------------------------------------------
# Workbooks and raw CSV rows (the raw releases)
# --------------------------------------------------------------------------------------------


def is_zip(content: bytes) -> bool:
    return content[:4] == XLSX_MAGIC


def is_workbook(content: bytes) -> bool:
    """An XLSX workbook (a ZIP holding ``xl/workbook.xml``), not a ZIP of CSV files."""
    if not is_zip(content):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return any(name.startswith("xl/") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def workbook(content: bytes, what: str) -> CalamineWorkbook:
    if not is_zip(content):
        raise ReaderError(f"{what}: not an XLSX workbook; download the .xlsx file")
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(content))
    except (CalamineError, ValueError, OSError) as exc:
        raise ReaderError(f"{what}: damaged workbook ({exc}); download it again") from None


def sheet_rows(content: bytes, what: str, sheet: str | None = None) -> list[list[Any]]:
    """All rows of ``sheet`` (default: the first sheet) as Python values; blanks are ``""``."""
    book = workbook(content, what)
    names = book.sheet_names
    if sheet is None:
        sheet = names[0]
    if sheet not in names:
        raise ReaderError(
            f"{what}: the workbook has no sheet '{sheet}' (it has {', '.join(names)}); "
            "check it is the published workbook"
        )
    try:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except (CalamineError, ValueError) as exc:
        raise ReaderError(f"{what}: cannot read sheet '{sheet}' ({exc})") from None


def csv_rows(content: bytes, what: str) -> list[list[str]]:
    """All lines of a CSV file as lists of trimmed text (rows of different lengths allowed)."""
    text = decode_text(content, what)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise ReaderError(f"{what}: not a readable CSV file ({exc})") from None
    return [[cell.strip() for cell in row] for row in rows if any(c.strip() for c in row)]


def find_header(rows: Sequence[Sequence[Any]], required: Sequence[str], what: str) -> int:
    """Index of the first row holding every name in ``required`` (case-insensitive)."""
    wanted = {r.lower() for r in required}
    for index, row in enumerate(rows[:200]):
        names = {str(cell).strip().lower() for cell in row}
        if wanted <= names:
            return index
    raise ReaderError(
        f"{what}: no header row with {', '.join(required)} in the first 200 rows; "
        "check it is the published file"
    )
