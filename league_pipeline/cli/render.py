"""The output formats of the reading commands (``--format table|csv|json|markdown``).

Belongs here: turning what a command shows into text, one way for every command. A command
builds a :class:`Report`: lines and :class:`Table` blocks for people (``table``, at most
:data:`WIDTH` columns, and ``markdown``) and its data rows for programs (``csv``, ``json``).
What each format does and each command's data are in docs/cli.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

from league_pipeline.cli.common import terminal_safe

FORMATS = ("table", "csv", "json", "markdown")
WIDTH = 100  # columns of the default table format
MACHINE = ("csv", "json")  # formats whose stdout is data only (labels go to stderr)


@dataclass
class Table:
    """A table for people: headers, rows of cells, and the columns that may be abbreviated."""

    headers: list[str]
    rows: list[list[Any]]
    fit: tuple[str, ...] = ()  # headers of the columns abbreviated to fit, first first


@dataclass
class Report:
    """What a command prints: ``blocks`` (lines of text and tables) for the table and markdown
    formats, ``data`` (a DataFrame, a list of records or one record) for csv and json."""

    blocks: list[str | Table] = field(default_factory=list)
    data: Any = None


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help=f"output format (default: a table at most {WIDTH} columns wide)",
    )


def data_stream(fmt: str):
    """Where a command's other lines (the synthetic-data label) go: stderr under csv/json."""
    return sys.stderr if fmt in MACHINE else sys.stdout


def render(report: Report, fmt: str, width: int = WIDTH) -> str:
    """``report`` as text in ``fmt`` (ending with a line break)."""
    if fmt == "json":
        return json_text(report.data) + "\n"
    if fmt == "csv":
        return csv_text(report.data)
    parts = []
    for block in report.blocks:
        if isinstance(block, Table):
            parts.append(markdown_table(block) if fmt == "markdown" else fitted_table(block, width))
        elif fmt == "markdown":
            parts.append(terminal_safe(block))
        else:
            parts.append(_wrap_line(terminal_safe(block), width))
    separator = "\n\n" if fmt == "markdown" else "\n"
    return separator.join(parts) + "\n"


def emit(report: Report, fmt: str) -> None:
    sys.stdout.write(render(report, fmt))


# -- numbers and records ------------------------------------------------------------------------


def exact(value: Any) -> Any:
    """A value as JSON holds it: None for missing, int/float/bool/str, no float noise
    (``0.1 + 0.2`` is ``0.3``: 15 significant digits, the precision of the snapshot's
    DECIMALs), decimals as numbers, times in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (list, dict)):  # numpy scalars
        value = value.item()
        if isinstance(value, (bool, str)):
            return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(str(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        clean = float(f"{value:.15g}")
        return int(clean) if clean.is_integer() and abs(clean) < 2**53 else clean
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except ImportError:  # pragma: no cover - pandas is a base dependency
        pass
    return value


def json_ready(data: Any) -> Any:
    """``data`` (a DataFrame, records, a record, nested lists) with every value :func:`exact`."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        data = data.to_dict(orient="records")
    if isinstance(data, dict):
        return {str(k): json_ready(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_ready(v) for v in data]
    return exact(data)


def json_text(data: Any) -> str:
    """``data`` as JSON (:func:`json_ready`), names in full; every character a terminal would
    act on written as a ``\\u`` escape, which a JSON parser reads back as the same character."""
    text = json.dumps(json_ready(data), indent=1, ensure_ascii=False)
    if text.isascii() and "\x7f" not in text:  # JSON escapes the other ASCII controls itself
        return text
    return "".join(c if c == "\n" or terminal_safe(c) == c else _u_escape(c) for c in text)


def _u_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def csv_text(data: Any) -> str:
    """Records as CSV: exact numbers, booleans ``true``/``false``, missing values empty, no
    cell a spreadsheet would run as a formula, and text :func:`.common.terminal_safe` (the
    ``--csv FILE`` options write the text as it is)."""
    import pandas as pd

    from league_pipeline.outputs.exports import frame_csv

    if isinstance(data, pd.DataFrame):
        columns = list(data.columns)
        records = data.to_dict(orient="records")
    else:
        records = list(data if isinstance(data, list) else [data])
        columns = list(dict.fromkeys(k for r in records for k in r))

    def cell(value):
        value = exact(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return terminal_safe(json.dumps(value, ensure_ascii=False))
        return "" if value is None else terminal_safe(value)

    frame = pd.DataFrame(
        [[cell(r.get(c)) for c in columns] for r in records], columns=columns, dtype=object
    )
    return frame_csv(frame).decode("utf-8")


# -- tables for people --------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(terminal_safe(value))


def _wrap_line(text: str, width: int) -> str:
    """A line of prose at most ``width`` wide: broken after its clauses (``; ``) first, then
    on word boundaries (a longer word stays whole)."""
    if len(text) <= width:
        return text
    lines: list[str] = []
    for clause in text.split("; "):
        if lines and len(lines[-1]) + 2 + len(clause) <= width:
            lines[-1] += "; " + clause
        else:
            if lines:
                lines[-1] += ";"
            lines.append(clause)
    out = []
    for line in lines:
        wrapped = textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)
        out += wrapped or [line]
    return "\n".join(out)


def abbreviate(text: str, width: int) -> str:
    """``text`` cut after its last whole word that fits in ``width`` with ``…``; never
    shorter than its first word (a one-word text stays whole)."""
    if len(text) <= width:
        return text
    words = text.split(" ")
    if len(words) == 1:
        return text
    out = words[0]
    for word in words[1:]:
        if len(out) + 1 + len(word) + 1 > width:
            break
        out += " " + word
    return out + "…"


def fitted_table(table: Table, width: int = WIDTH) -> str:
    """A plain-text table, one line a row, at most ``width`` columns wide when its fitting
    columns allow it: they are narrowed in the order ``table.fit`` names them, their cells
    abbreviated on word boundaries (:func:`abbreviate`), until the table fits. The other
    formats show every cell in full."""
    cells = [[_text(c) for c in row] for row in table.rows]
    order = [table.headers.index(h) for h in table.fit if h in table.headers]
    limits = {i: max([len(table.headers[i])] + [len(r[i]) for r in cells]) for i in order}
    floors = {i: max([1] + [len(abbreviate(r[i], 0)) for r in cells]) for i in order}
    while True:
        shown = [
            [abbreviate(c, limits[i]) if i in limits else c for i, c in enumerate(row)]
            for row in cells
        ]
        text = plain_table(table.headers, shown)
        excess = max((len(line) for line in text.splitlines()), default=0) - width
        narrowable = [i for i in order if limits[i] > floors[i]]
        if excess <= 0 or not narrowable:
            return text
        first = narrowable[0]
        limits[first] = max(floors[first], limits[first] - excess)


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns as wide as their widest cell or header, two spaces apart, a rule of
    dashes under the headers, no trailing spaces."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line("-" * w for w in widths), *(line(r) for r in rows)])


def markdown_table(table: Table) -> str:
    """A pipe table (GitHub Markdown), every cell in full, ``|`` escaped."""
    from tabulate import tabulate

    def cell(value: Any) -> str:
        return _text(value).replace("\\", "\\\\").replace("|", "\\|")

    rows = [[cell(c) for c in row] for row in table.rows]
    headers = [cell(h) for h in table.headers]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
