"""Bytes to rows for the raw releases: format sniffing, XLSX sheets, CSV text, header rows.

Belongs here: the low-level reading every raw reader shares. Workbooks are read with
python-calamine (Rust), which reads a 3-4 MB workbook in well under a second where openpyxl
takes tens of seconds; cells come back as Python values (float, str, date). Errors are
:class:`league_pipeline.formats.readers.ReaderError` with one line saying what is wrong and the fix.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook

from league_pipeline.formats.readers import ReaderError, decode_text

XLSX_MAGIC = b"PK\x03\x04"


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
