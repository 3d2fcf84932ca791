"""Where an extract's rows and cells are in the file they were read from: line and raw text.

Belongs here: :func:`locate`, which maps the rows of an extract back to the 1-based lines of a
CSV file read row for row (a header line or none, blank lines skipped, as the readers in
:mod:`league_pipeline.formats` read them), and each cell to its text as written in the file.
Every row found is checked against the extract; a file whose rows cannot be matched (a
workbook, a zip, a reader that drops or reshapes rows) is located as ``None``. See
docs/validation.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import pandas as pd

from league_pipeline.formats.common import ReaderError, decode_text

_NAME = re.compile(r"[^0-9a-z]+")


def _normal(name: object) -> str:
    return _NAME.sub("_", str(name).strip().lstrip("\ufeff").lower()).strip("_")


@dataclass(frozen=True)
class FileRows:
    """A file's data rows with the line each starts on, and the file position of each of the
    extract's columns (``None``: the column is not in the file, e.g. a filled-in quarter)."""

    lines: list[int]
    rows: list[list[str]]
    positions: dict[str, int | None]

    def line(self, row: int) -> int:
        return self.lines[row]

    def text(self, row: int, column: str) -> str | None:
        position = self.positions.get(column)
        return None if position is None else self.rows[row][position]


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    """Each non-empty CSV record with the 1-based line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    before = 0
    for row in reader:
        start, before = before + 1, reader.line_num
        if row:
            yield start, row


def _positions(header: list[str], columns: list[str]) -> dict[str, int | None]:
    index = {_normal(name): i for i, name in enumerate(header)}
    return {col: index.get(_normal(col)) for col in columns}


def _agrees(frame: pd.DataFrame, found: FileRows, row: int, label: Hashable) -> bool:
    """The file's row holds the extract's text cells (most of them: readers normalise some)."""
    compared = agreed = 0
    for col in frame.columns:
        value = frame.at[label, col]
        raw = found.text(row, str(col))
        if raw is None or not isinstance(value, str):
            continue
        compared += 1
        agreed += raw.strip() == value
    return compared > 0 and agreed * 2 >= compared


def locate(content: bytes, frame: pd.DataFrame) -> FileRows | None:
    """``frame``'s rows (in order) as the data rows of the CSV ``content``, or None when they
    cannot be matched: not CSV text, another number of rows, or rows whose text differs."""
    try:
        text = decode_text(content, "file")
        records = list(_records(text))
    except (ReaderError, csv.Error):
        return None
    if not records:
        return None
    columns = [str(c) for c in frame.columns]
    header = _positions(records[0][1], columns)
    if sum(p is not None for p in header.values()) * 2 >= len(records[0][1]):
        positions, body = header, records[1:]
    elif all(len(row) == len(columns) for _, row in records[:1]):
        positions, body = {col: i for i, col in enumerate(columns)}, records  # headerless
    else:
        return None
    if len(body) != len(frame):
        return None
    found = FileRows([line for line, _ in body], [row for _, row in body], positions)
    labels = list(frame.index)
    # the first, last and a middle row agree: the rows were read in the file's order
    probes = sorted({0, len(labels) // 2, len(labels) - 1}) if labels else []
    if not all(_agrees(frame, found, i, labels[i]) for i in probes):
        return None
    return found
