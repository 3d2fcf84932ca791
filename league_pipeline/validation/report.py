"""Validating a DataFrame against a schema, and the report people read.

Belongs here: :func:`validate` (lazy, never raises on data problems; adds the run's expected
quarter), :func:`validate_or_raise`, and :class:`ValidationReport`: pandera's failure cases
turned into one summary paragraph, the offending input rows, the bad cells (each once) and
Dagster metadata, with the file's lines and raw text when the rows can be located in it
(:mod:`~league_pipeline.validation.locate`). See docs/validation.md.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.validation.checks import is_missing
from league_pipeline.validation.locate import FileRows
from league_pipeline.validation.schemas import load_schema, schema_version

MAX_ROWS_SHOWN = 50
FAILED_CHECKS_COLUMN = "_failed_checks"
_FAILURE_CASE_COLUMNS = [
    "schema_context",
    "column",
    "check",
    "check_number",
    "failure_case",
    "index",
]
_QUARTER_COLUMNS = ("Quarter", "quarter")
CELL_COLUMNS = ["row", "column", "value", "check"]
NOT_IN_FILE = "(not in the file)"


@dataclass
class ValidationReport:
    """The outcome of validating one DataFrame against one schema; never raised, only returned."""

    passed: bool
    schema_name: str
    schema_version: str
    row_count: int
    failure_cases: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=_FAILURE_CASE_COLUMNS)
    )
    failing_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: str = ""
    failing_columns: list[str] = field(default_factory=list)
    failing_checks: list[str] = field(default_factory=list)
    num_failing_rows: int = 0
    # one row per bad cell (its row label in the frame, column, value and the checks it fails)
    failing_cells: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CELL_COLUMNS))
    num_structural: int = 0  # problems of a whole column or of the table, with no row at fault

    @property
    def num_failures(self) -> int:
        """Number of failures: each bad cell once (pandera reports a value it cannot convert
        twice), plus each whole-column or whole-table problem."""
        return len(self.failing_cells) + self.num_structural

    def cells_in_file(self, found: FileRows | None, row_of: Any = None) -> pd.DataFrame:
        """The bad cells as people find them in the file: the 1-based ``line``, the
        ``column``, its ``text`` as written there and the failed ``check``. ``found`` is the
        file's rows (:func:`~league_pipeline.validation.locate.locate`); ``row_of`` maps a row
        label to its position (default: the label). Without ``found``, ``line`` is empty and
        ``text`` is the value read."""
        cells = self.failing_cells.head(MAX_ROWS_SHOWN)
        lines, texts = [], []
        for label, column, value in zip(cells["row"], cells["column"], cells["value"], strict=True):
            if found is None:
                lines.append(None)
                texts.append("" if is_missing(value) else str(value))
                continue
            position = label if row_of is None else row_of(label)
            raw = found.text(position, column)
            lines.append(found.line(position))
            texts.append(NOT_IN_FILE if raw is None else raw)
        # the 1-based place of each bad row among the data rows as read (when the file's lines
        # are unknown, the only position there is: a workbook, or rows the reader reshaped)
        records = [
            int(label) + 1 if isinstance(label, (int, np.integer)) else None
            for label in cells["row"]
        ]
        return pd.DataFrame(
            {
                "line": pd.array(lines, dtype="Int64"),
                "record": pd.array(records, dtype="Int64"),
                "column": cells["column"].tolist(),
                "text": texts,
                "check": cells["check"].tolist(),
            }
        )

    def dagster_metadata(self, found: FileRows | None = None, row_of: Any = None) -> dict[str, Any]:
        """Plain values and Markdown strings for ``AssetCheckResult``/``Output`` metadata.

        With ``found`` (the file's rows, see :meth:`cells_in_file`), ``failing_cells`` and
        ``failing_rows`` give each row's 1-based line in the file instead of its position in
        the frame, and the cells' text as written in the file."""
        rows = self.failing_rows
        if found is not None and not rows.empty:
            rows = rows.copy()
            rows.index = pd.Index(
                [found.line(i if row_of is None else row_of(i)) for i in rows.index], name="line"
            )
        cells = self.cells_in_file(found, row_of)
        if found is None:  # no line to give: the row's 1-based place among the data rows read
            cells = cells.drop(columns="line").rename(columns={"record": "data row"})
        else:
            cells = cells.drop(columns="record")
        return {
            "passed": self.passed,
            "schema_name": self.schema_name,
            "schema_version": self.schema_version,
            "row_count": self.row_count,
            "num_failures": self.num_failures,
            "num_failing_rows": self.num_failing_rows,
            "failing_columns": list(self.failing_columns),
            "failing_checks": list(self.failing_checks),
            "summary": self.summary,
            "failing_cells": _markdown(cells, index=False),
            "failing_rows": _markdown(rows),
            "failure_cases": _markdown(self.failure_cases.head(MAX_ROWS_SHOWN)),
        }


class ValidationFailed(Exception):
    """Raised by :func:`validate_or_raise`; ``str()`` is the report's summary."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary)
        self.report = report


def _markdown(df: pd.DataFrame, *, index: bool = True) -> str:
    if df.empty:
        return "(none)"
    shown = df.copy()
    for col in shown.columns:
        if (
            shown[col].dtype == object
            or pd.api.types.is_string_dtype(shown[col])
            or isinstance(shown[col].dtype, pd.Int64Dtype)
        ):
            shown[col] = shown[col].map(lambda v: "" if is_missing(v) else str(v))
    # a cell's text is shown as written: pipes escaped, line breaks as spaces
    for col in shown.columns:
        if shown[col].dtype == object:
            shown[col] = shown[col].map(
                lambda v: v.replace("|", "\\|").replace("\n", " ") if isinstance(v, str) else v
            )
    return shown.to_markdown(index=index)


def _schema_for(
    schema: pa.DataFrameSchema, df: pd.DataFrame, expected_quarter: str | None
) -> pa.DataFrameSchema:
    """Adapt the stored schema to this run: add the expected-quarter check, and drop the
    multi-column uniqueness check when one of its key columns is missing (pandera would check
    the remaining columns and flag nearly every row; the missing column is reported anyway)."""
    unique = schema.unique
    if isinstance(unique, str):
        unique = [unique]
    if unique and any(col not in df.columns for col in unique):
        schema = copy.deepcopy(schema)
        schema.unique = None
    if not expected_quarter:
        return schema
    # a malformed expectation is the caller's bug, not a data problem: QuarterError
    quarter = parse_quarter(str(expected_quarter), check_methodology=False)
    label = quarter.label
    for col in _QUARTER_COLUMNS:
        if col not in schema.columns:
            continue
        if not (schema.metadata or {}).get("cumulative"):
            check = pa.Check.equal_to(label, error=f"equal_to('{label}') [expected quarter]")
            return schema.update_column(col, checks=[*schema.columns[col].checks, check])
        return _cumulative(schema, col, quarter)
    return schema


def _cumulative(schema: pa.DataFrameSchema, col: str, quarter: Quarter) -> pa.DataFrameSchema:
    """A cumulative publication (NHS England's NOF trust data) holds every quarter of the
    financial year to date: each row's quarter is one of that year's, and the quarter being
    run has rows."""
    year = [Quarter(quarter.fy_start, q).label for q in (1, 2, 3, 4)]
    fy = year[0].split()[0]
    in_year = pa.Check.isin(year, error=f"isin({fy} Q1-Q4) [a publication of {fy}]")
    schema = schema.update_column(col, checks=[*schema.columns[col].checks, in_year])
    label = quarter.label
    has_quarter = pa.Check(
        lambda df: bool((df[col] == label).any()) if col in df else True,
        name="has_expected_quarter",
        error=f"no rows for {label}, the quarter being run (is it the right file?)",
    )
    schema = copy.deepcopy(schema)
    schema.checks = [*schema.checks, has_quarter]
    return schema


def validate(
    df: pd.DataFrame, schema_name: str, *, expected_quarter: str | None = None
) -> ValidationReport:
    """Validate ``df`` lazily against schema ``schema_name`` and return a report (never raises
    on data problems).

    ``expected_quarter`` (default ``df.attrs.get("expected_quarter")``) adds a check that every
    row's quarter equals it, so a file for the wrong quarter shows up as failing rows.
    """
    schema = load_schema(schema_name)
    version = schema_version(schema_name)
    if expected_quarter is None:
        expected_quarter = df.attrs.get("expected_quarter")
    schema = _schema_for(schema, df, expected_quarter)

    frame = df if df.index.is_unique else df.reset_index(drop=True)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        failure_cases = exc.failure_cases
    except SchemaError as exc:  # raised outside lazy collection (rare); report it all the same
        failure_cases = pd.DataFrame(
            [
                {
                    "schema_context": type(exc.schema).__name__ if exc.schema else None,
                    "column": getattr(exc.schema, "name", None),
                    "check": str(exc.check) if exc.check is not None else str(exc.reason_code),
                    "check_number": exc.check_index,
                    "failure_case": str(exc),
                    "index": None,
                }
            ]
        )
    else:
        return ValidationReport(
            passed=True,
            schema_name=schema_name,
            schema_version=version,
            row_count=len(df),
            summary=f"{schema_name} (schema v{version}): all {len(df):,} rows pass.",
        )
    return _build_report(frame, schema_name, version, failure_cases.reset_index(drop=True))


def validate_or_raise(
    df: pd.DataFrame, schema_name: str, *, expected_quarter: str | None = None
) -> ValidationReport:
    """Like :func:`validate`, but raise :class:`ValidationFailed` when the data fails."""
    report = validate(df, schema_name, expected_quarter=expected_quarter)
    if not report.passed:
        raise ValidationFailed(report)
    return report


def _columns_of(check: str, column: Any, case: Any) -> list[str]:
    """The data columns a failure case is about (pandera puts dict cases under 'failure_case')."""
    if check in ("column_in_dataframe", "column_in_schema"):
        return [str(case)]
    if isinstance(case, dict):
        return [str(k) for k in case]
    return [] if is_missing(column) else [str(column)]


def _problem_key(check: str, context: str, cols: list[str]) -> str:
    """A readable name for the problem a failure case belongs to."""
    if check == "column_in_dataframe":
        return f"missing column '{cols[0]}'"
    if check == "column_in_schema":
        return f"unexpected column '{cols[0]}'"
    if context == "Column" and cols:
        return f"{cols[0]} {check}"
    # multi-column checks (unique, custom table checks): one problem per check, so a duplicate
    # row counts once; the columns are prefixed once all cases are collected
    return check


def _cases(failure_cases: pd.DataFrame) -> Iterator[tuple[str, Any, Any, Any, Any]]:
    """pandera's failure cases as (check, schema context, column, failing value, row label)."""
    return zip(
        failure_cases["check"].astype(str).tolist(),
        failure_cases["schema_context"].tolist(),
        failure_cases["column"].tolist(),
        failure_cases["failure_case"].tolist(),
        failure_cases["index"].tolist(),
        strict=True,
    )


def _build_report(
    frame: pd.DataFrame, schema_name: str, version: str, failure_cases: pd.DataFrame
) -> ValidationReport:
    problems: dict[str, dict[str, Any]] = {}
    row_problems: dict[Any, list[str]] = {}
    for check, context, column, case, index in _cases(failure_cases):
        cols = _columns_of(check, column, case)
        key = _problem_key(check, context, cols)
        prob = problems.setdefault(key, {"columns": [], "rows": set(), "table_level": False})
        prob["table_level"] = prob["table_level"] or context == "DataFrameSchema"
        for c in cols:
            if c not in prob["columns"]:
                prob["columns"].append(c)
        if not is_missing(index):
            prob["rows"].add(index)
            labels = row_problems.setdefault(index, [])
            if key not in labels:
                labels.append(key)

    label_of: dict[str, str] = {}
    for key, prob in problems.items():
        is_multi = prob["table_level"] and not key.startswith(("missing col", "unexpected col"))
        label_of[key] = (
            f"{'/'.join(prob['columns'])} {key}" if is_multi and prob["columns"] else key
        )
    # pandera reports a value that cannot be converted twice (coerce_dtype and dtype): keep one
    hidden = {
        key
        for key in problems
        if (m := re.fullmatch(r"(.+) dtype\((.+)\)", key))
        and f"{m.group(1)} coerce_dtype({m.group(2)})" in problems
        and problems[key]["rows"] <= problems[f"{m.group(1)} coerce_dtype({m.group(2)})"]["rows"]
    }
    # checks that could not run on a column pandera failed to convert (e.g. a range check
    # raising TypeError on text) say nothing new: the coercion failure names the cells
    unconverted = {
        c for key, p in problems.items() if " coerce_dtype(" in key for c in p["columns"]
    }
    hidden |= {
        key
        for key, p in problems.items()
        if not p["rows"]
        and not p["table_level"]
        and set(p["columns"]) <= unconverted
        and " coerce_dtype(" not in key
    }
    shown = {label_of[k]: p for k, p in problems.items() if k not in hidden}

    failing_columns: list[str] = []
    for prob in shown.values():
        for c in prob["columns"]:
            if c not in failing_columns:
                failing_columns.append(c)

    failing_index = [i for i in frame.index if i in row_problems]
    cells = _cells(frame, failure_cases, problems, hidden, label_of)
    rows = frame.loc[failing_index[:MAX_ROWS_SHOWN]].copy()
    rows[FAILED_CHECKS_COLUMN] = [
        "; ".join(label_of[k] for k in row_problems[i] if k not in hidden) for i in rows.index
    ]
    return ValidationReport(
        passed=False,
        schema_name=schema_name,
        schema_version=version,
        row_count=len(frame),
        failure_cases=failure_cases,
        failing_rows=rows,
        summary=_summary(schema_name, version, len(frame), len(failing_index), shown),
        failing_columns=failing_columns,
        failing_checks=list(shown),
        num_failing_rows=len(failing_index),
        failing_cells=cells,
        num_structural=sum(1 for p in shown.values() if not p["rows"]),
    )


def _cells(
    frame: pd.DataFrame,
    failure_cases: pd.DataFrame,
    problems: dict[str, dict[str, Any]],
    hidden: set[str],
    label_of: dict[str, str],
) -> pd.DataFrame:
    """One row per bad cell, in the frame's row order: the cell's row label, column and value,
    and the (shown) checks it fails. A value pandera could not convert is one cell, not two."""
    found: dict[tuple[Any, str], list[str]] = {}
    for check, context, column, case, index in _cases(failure_cases):
        if is_missing(index):
            continue
        cols = _columns_of(check, column, case)
        key = _problem_key(check, context, cols)
        if key in hidden:
            continue
        for col in cols or problems[key]["columns"]:
            labels = found.setdefault((index, col), [])
            if label_of[key] not in labels:
                labels.append(label_of[key])
    order = {label: i for i, label in enumerate(frame.index)}
    keys = sorted(found, key=lambda k: (order.get(k[0], len(order)), str(k[1])))
    return pd.DataFrame(
        {
            "row": [k[0] for k in keys],
            "column": [k[1] for k in keys],
            "value": [
                frame.at[k[0], k[1]] if k[0] in order and k[1] in frame.columns else None
                for k in keys
            ],
            "check": ["; ".join(found[k]) for k in keys],
        },
        columns=CELL_COLUMNS,
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _summary(
    schema_name: str,
    version: str,
    row_count: int,
    n_failing_rows: int,
    problems: dict[str, dict[str, Any]],
) -> str:
    """One paragraph: row-level problems (worst first), then whole-column/table problems."""
    row_level = sorted(
        ((k, p) for k, p in problems.items() if p["rows"]), key=lambda kp: -len(kp[1]["rows"])
    )
    other = [k for k, p in problems.items() if not p["rows"]]
    sentences: list[str] = []
    if row_level:
        items = ", ".join(f"{k} ({_plural(len(p['rows']), 'row')})" for k, p in row_level)
        sentences.append(
            f"{n_failing_rows:,} of {_plural(row_count, 'row')} fail "
            f"{_plural(len(row_level), 'check')}: {items}."
        )
    if other:
        items = "; ".join(
            k if k.startswith(("missing column", "unexpected column")) else f"{k} (whole table)"
            for k in other
        )
        sentences.append(f"Structural {'problem' if len(other) == 1 else 'problems'}: {items}.")
    if not row_level:
        sentences.append("No individual rows are at fault.")
    return f"{schema_name} (schema v{version}) FAILED. " + " ".join(sentences)
