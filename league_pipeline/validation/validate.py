"""Validate DataFrames against the pandera schemas in ``schemas/`` and report the result for people.

Belongs here: loading the YAML schemas (:func:`load_schema`, :func:`schema_version`), the few
custom pandera checks those schemas use, and turning pandera's failure cases into a
:class:`ValidationReport` (summary paragraph, the offending input rows, Dagster metadata).
Does not belong here: parsing files (:mod:`league_pipeline.formats`) or deciding what a failure
means for a run.

Schemas are pandera's own YAML serialisation (``DataFrameSchema.from_yaml``). Every file carries
``metadata: {schema_version: "N"}``; bump it whenever the schema's meaning changes, because the
version is recorded in snapshot lineage. Checks that pandera has no built-in for (value ranges
by ``Metric_ID`` pattern, consistency within groups, comparisons between two columns, league-table
override rules) are registered below with :func:`pandera.extensions.register_check_method`, so
they serialise in YAML like built-in checks. Importing this module registers them; a plain
``pandera.io.pandas_io.from_yaml`` of a schema that uses them works only after that import.

One custom dtype is registered the same way: ``yyyymmdd_datetime`` (:class:`YyyymmddDateTime`),
``datetime64[ns]`` coerced only from text that is exactly 8 digits, for dates published as
``YYYYMMDD``. pandas alone reads ``2017101`` and ``2017-10-01`` as dates too (or fails on the
whole column without naming a cell); with this dtype each such cell is a ``coerce_dtype`` failure
case with its row.

Checks that depend on the run rather than on the file (the quarter being processed) are added at
validation time: ``validate(df, name, expected_quarter=...)`` (or ``df.attrs["expected_quarter"]``,
which :mod:`league_pipeline.formats.nof` sets) appends an ``equal_to`` check on the quarter column.
"""

from __future__ import annotations

import copy
import datetime
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pandera.extensions as pa_ext
import pandera.pandas as pa
from pandera.dtypes import immutable
from pandera.engines import numpy_engine, pandas_engine
from pandera.engines import utils as engine_utils
from pandera.errors import ParserError, SchemaError, SchemaErrors

from league_pipeline.core import paths
from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.formats.common import is_plain_number

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
_F = TypeVar("_F", bound=Callable[..., Any])


# --------------------------------------------------------------------------------------------
# Custom checks (usable from YAML by name once this module is imported)
# --------------------------------------------------------------------------------------------
def all_true(df: pd.DataFrame) -> pd.DataFrame:
    """The starting result of a table check: every cell passes."""
    return pd.DataFrame(True, index=df.index, columns=df.columns)


def _cells(out: pd.DataFrame) -> pd.DataFrame | pd.Series:
    """A table check's result for pandera: the per-cell frame when a cell fails, so the failure
    cases name its column and row; one True a row when every cell passes. (pandera collects
    failure cases from a frame result column by column even when nothing failed: ~25 ms a
    check on a NOF file, most of the cost of validating one.)"""
    if bool(out.to_numpy(dtype=bool).all()):
        return pd.Series(True, index=out.index)
    return out


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    """Round half away from zero, like the scoring SQL's DECIMAL ``round`` (numpy rounds half to
    even: 2.025 -> 2.02 there, 2.03 here and in the published tables). Exact: each double is
    read as the decimal it stands for (its shortest repr; the scoring SQL stores the nearest
    double to an exact DECIMAL), so 2.145 -> 2.15 although the double 2.145 is just below it."""
    quantum = Decimal(1).scaleb(-decimals)

    def one(value: float) -> float:
        if not np.isfinite(value):
            return value
        return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))

    return values.astype("float64").map(one, na_action="ignore")


def register_table_check(statistics: list[str]) -> Callable[[_F], _F]:
    """Register a DataFrame-level check once (re-imports must not fail). A check that returns a
    per-cell frame is handed to pandera through :func:`_cells`."""

    def decorator(fn: _F) -> _F:
        @functools.wraps(fn)
        def check(df: pd.DataFrame, **statistics_values: Any) -> Any:
            result = fn(df, **statistics_values)
            return _cells(result) if isinstance(result, pd.DataFrame) else result

        if not hasattr(pa.Check, fn.__name__):
            pa_ext.register_check_method(statistics=statistics, supported_types=pd.DataFrame)(check)
        return fn

    return decorator


def _equals(series: pd.Series, expected: pd.Series) -> pd.Series:
    """Cell by cell, ``series`` (read as numbers) equals ``expected``; missing on either side
    fails."""
    return _numeric(series).eq(expected).fillna(False).astype(bool)


def _register_column_check(fn: _F) -> _F:
    """Register an element-wise column check without statistics, once."""
    if not hasattr(pa.Check, fn.__name__):
        pa_ext.register_check_method(statistics=[], supported_types=pd.Series)(fn)
    return fn


@_register_column_check
def yes_no_flag(series: pd.Series) -> pd.Series:
    """A flag the readers could read: a bool, or ``Yes``/``No`` text left by a reader because
    another cell of the column was neither (that cell is the one this check flags)."""

    def ok(value: Any) -> bool:
        if isinstance(value, bool | np.bool_):
            return True
        return isinstance(value, str) and value.strip().lower() in ("yes", "no")

    return series.map(ok).astype(bool)


# Each check builds a boolean DataFrame shaped like its input, False only in the cells at fault,
# so pandera's failure cases name the offending column(s) and row (see _cells). Columns a check
# needs but the frame lacks are skipped here: the missing column is already reported as
# column_in_dataframe.


@register_table_check(["metric_pattern", "min_value", "max_value", "id_column", "value_column"])
def metric_value_in_range(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    min_value: float,
    max_value: float,
    id_column: str = "Metric_ID",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``value_column`` is in [min_value, max_value] where the id matches ``metric_pattern``."""
    out = all_true(df)
    if id_column not in df or value_column not in df:
        return out
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    value = _numeric(df[value_column])
    ok = value.between(min_value, max_value) | value.isna()
    out[value_column] = ~applies | ok
    return out


@register_table_check(["metric_pattern", "allowed_values", "id_column", "value_column"])
def metric_value_isin(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    allowed_values: Sequence[float],
    id_column: str = "Metric_ID",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``value_column`` is one of ``allowed_values`` on rows whose id matches ``metric_pattern``."""
    out = all_true(df)
    if id_column not in df or value_column not in df:
        return out
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    value = _numeric(df[value_column])
    ok = value.isin([float(v) for v in allowed_values]) | value.isna()
    out[value_column] = ~applies | ok
    return out


@functools.cache
def value_ranges() -> dict[str, tuple[float, float]]:
    """``assets/methodology/value_ranges.csv``: the physical range of each metric's value, by Metric_ID or,
    for the rest, by ``unit:<Units>`` (a blank bound is open)."""
    table = pd.read_csv(paths.methodology_dir() / "value_ranges.csv", dtype={"key": "str"})
    return {
        row.key: (
            float(row.min_value) if pd.notna(row.min_value) else -np.inf,
            float(row.max_value) if pd.notna(row.max_value) else np.inf,
        )
        for row in table.itertuples()
    }


@register_table_check(["metric_pattern", "id_column", "unit_column", "value_column"])
def value_in_physical_range(
    df: pd.DataFrame,
    *,
    metric_pattern: str,
    id_column: str = "Metric_ID",
    unit_column: str = "Units",
    value_column: str = "Value",
) -> pd.DataFrame:
    """Every value of a metric matching ``metric_pattern`` lies in its physical range
    (:func:`value_ranges`): percentages 0-100, counts at least 0, finance values within their
    stated bounds. A value whose metric and unit have no range fails too: it cannot be checked.
    (Scores, segments and flags have their own exact checks.)"""
    out = all_true(df)
    if any(c not in df for c in (id_column, unit_column, value_column)):
        return out
    ranges = value_ranges()
    keys = (
        df[id_column]
        .astype("str")
        .where(
            df[id_column].astype("str").isin(list(ranges)), "unit:" + df[unit_column].astype("str")
        )
    )
    lows = keys.map(lambda k: ranges.get(k, (np.nan, np.nan))[0])
    highs = keys.map(lambda k: ranges.get(k, (np.nan, np.nan))[1])
    value = _numeric(df[value_column])
    applies = df[id_column].astype("str").str.match(metric_pattern).fillna(False).astype(bool)
    out[value_column] = ~applies | value.isna() | ((value >= lows) & (value <= highs))
    return out


@register_table_check(["group_by", "rank_column", "value_column"])
def rank_within_pool(
    df: pd.DataFrame,
    *,
    group_by: Sequence[str],
    rank_column: str = "Rank",
    value_column: str = "Value",
) -> pd.DataFrame:
    """``rank_column`` is a whole number from 1 to the number of ranked rows in its group
    (``group_by``, e.g. quarter, metric and trust type)."""
    out = all_true(df)
    if any(c not in df for c in (*group_by, rank_column)):
        return out
    rank = _numeric(df[rank_column])
    pool = rank.notna().groupby([df[g] for g in group_by], dropna=False).transform("sum")
    whole = rank.eq(np.floor(rank))
    out[rank_column] = rank.isna() | (whole & (rank >= 1) & (rank <= pool))
    return out


@register_table_check(["keys", "columns"])
def consistent_within(
    df: pd.DataFrame, *, keys: Sequence[str], columns: Sequence[str]
) -> pd.DataFrame:
    """Each of ``columns`` has a single value within every group of ``keys``."""
    out = all_true(df)
    if any(k not in df for k in keys):
        return out
    grouped = df.groupby(list(keys), dropna=True, sort=False)
    for col in columns:
        if col not in df:
            continue
        distinct = grouped[col].transform("nunique")
        out[col] = ~(distinct.fillna(1) > 1)
    return out


@register_table_check(["lower", "upper", "tolerance"])
def columns_ordered(
    df: pd.DataFrame, *, lower: str, upper: str, tolerance: float = 0.0
) -> pd.DataFrame:
    """``lower <= upper + tolerance`` on rows where both are present (dates or numbers).

    ``tolerance`` absorbs rounding, e.g. a 2 dp bound against an unrounded average.
    """
    out = all_true(df)
    if lower not in df or upper not in df:
        return out
    lo, hi = df[lower], df[upper]
    dates = [pd.api.types.is_datetime64_any_dtype(c) for c in (lo, hi)]
    if all(dates):
        bad = lo.notna() & hi.notna() & (lo > hi)
    elif any(dates):  # the other column failed conversion; that failure is reported already
        return out
    else:
        lo, hi = _numeric(lo), _numeric(hi)
        bad = lo.notna() & hi.notna() & (lo > hi + tolerance)
    out[lower] = ~bad
    out[upper] = ~bad
    return out


@register_table_check(["min_rows"])
def has_rows(df: pd.DataFrame, *, min_rows: int = 1) -> bool:
    """The frame has at least ``min_rows`` rows (a header-only extract is not data)."""
    return len(df) >= min_rows


@register_table_check(["unadjusted", "deficit", "adjusted"])
def financial_override_applied(
    df: pd.DataFrame,
    *,
    unadjusted: str = "unadjusted_segment",
    deficit: str = "deficit_flag",
    adjusted: str = "adjusted_segment",
) -> pd.DataFrame:
    """``adjusted = max(unadjusted, 3)`` for trusts in deficit, else ``unadjusted`` (NOF §4.5)."""
    out = all_true(df)
    if any(c not in df for c in (unadjusted, deficit, adjusted)):
        return out
    raw = _numeric(df[unadjusted])
    in_deficit = df[deficit].astype("boolean").fillna(False).astype(bool)
    expected = raw.where(~in_deficit, raw.clip(lower=3))
    out[adjusted] = _equals(df[adjusted], expected)
    return out


@register_table_check(["adjusted", "in_rsp", "final"])
def rsp_override_applied(
    df: pd.DataFrame,
    *,
    adjusted: str = "adjusted_segment",
    in_rsp: str = "in_rsp",
    final: str = "final_segment",
) -> pd.DataFrame:
    """``final = 5`` for trusts in the Recovery Support Programme, else ``adjusted`` (NOF §4.6)."""
    out = all_true(df)
    if any(c not in df for c in (adjusted, in_rsp, final)):
        return out
    rsp = df[in_rsp].astype("boolean").fillna(False).astype(bool)
    expected = _numeric(df[adjusted]).where(~rsp, 5)
    out[final] = _equals(df[final], expected)
    return out


@register_table_check(["group_by", "segment", "score", "rank", "decimals"])
def competition_rank(
    df: pd.DataFrame,
    *,
    group_by: Sequence[str],
    segment: str,
    score: str,
    rank: str,
    decimals: int = 2,
) -> pd.DataFrame:
    """``rank`` is the competition ("min") rank of (segment, score rounded half away from zero
    to ``decimals``) within each group (NOF §4.7)."""
    out = all_true(df)
    if any(c not in df for c in (*group_by, segment, score, rank)):
        return out
    key = _numeric(df[segment]) * 1000 + _round_half_away(_numeric(df[score]), decimals)
    expected = key.groupby([df[g] for g in group_by], dropna=False).rank(method="min")
    out[rank] = _equals(df[rank], expected)
    return out


# --------------------------------------------------------------------------------------------
# Custom dtype (usable from YAML by name once this module is imported)
# --------------------------------------------------------------------------------------------
_YYYYMMDD = re.compile(r"[0-9]{8}")


def _yyyymmdd(value: str) -> pd.Timestamp:
    if not _YYYYMMDD.fullmatch(value):
        raise ValueError(f"{value!r} is not a date written YYYYMMDD")
    return pd.to_datetime(value, format="%Y%m%d")  # ValueError for 20171301


@pandas_engine.Engine.register_dtype(equivalents=["yyyymmdd_datetime"])
@immutable(init=True)
class YyyymmddDateTime(pandas_engine.DateTime):
    """``datetime64[ns]`` for dates published as ``YYYYMMDD`` (ODS): coerces datetimes, and text
    only when every cell is exactly 8 digits making a real date.

    It prints as ``datetime64[ns]``, so failures read ``coerce_dtype('datetime64[ns]')`` like any
    other date column; the failure cases (one per bad cell, with its row) come from
    :meth:`coerce_value`, which pandera calls on each cell once :meth:`coerce` has failed.
    (Registering again on a re-import just replaces the name's entry.)
    """

    def coerce(self, data_container: Any) -> Any:
        if isinstance(data_container, pd.DataFrame):
            return data_container.transform(self.coerce)
        if not pd.api.types.is_datetime64_any_dtype(data_container):
            # cell by cell: raises on the first cell that is not a date (the ODS list is small)
            data_container = data_container.astype(object).map(self.coerce_value)
        return super().coerce(data_container)

    def coerce_value(self, value: Any) -> Any:
        if _is_missing(value):
            return pd.NaT
        if isinstance(value, str):
            return _yyyymmdd(value)
        if isinstance(value, datetime.date | np.datetime64):
            return super().coerce_value(value)
        raise TypeError(f"{value!r} is neither a datetime nor YYYYMMDD text")


@pandas_engine.Engine.register_dtype(equivalents=["plain_float64"])
@immutable(init=True)
class PlainFloat64(numpy_engine.Float64):
    """``float64`` for numbers published as plain ASCII decimals: coerces finite floats, and
    text only when every cell is blank or a plain number (:func:`readers.is_plain_number`).

    pandera's own float coercion uses Python's ``float()``, which also takes ``1_000``, ``inf``,
    ``nan`` and non-ASCII digits (``١٢``); those are refused here, one failure case per cell
    (``coerce_dtype('float64')``, with its row), as are infinite floats."""

    def coerce(self, data_container: Any) -> Any:
        if isinstance(data_container, pd.DataFrame):
            return data_container.transform(self.coerce)
        if pd.api.types.is_numeric_dtype(data_container) and not pd.api.types.is_bool_dtype(
            data_container
        ):
            values = data_container.astype("float64")
            if np.isinf(values.to_numpy()).any():
                raise ValueError("infinite values")
            return values
        # cell by cell: raises on the first cell that is not a plain number
        return data_container.astype(object).map(self.coerce_value).astype("float64")

    def try_coerce(self, data_container: Any) -> Any:
        # as pandas_engine's types do: failure cases from this type's coerce_value, cell by cell
        try:
            return self.coerce(data_container)
        except Exception as exc:
            raise ParserError(
                f"Could not coerce {type(data_container)} data_container into type {self.type}",
                failure_cases=engine_utils.numpy_pandas_coerce_failure_cases(data_container, self),
            ) from exc

    def coerce_value(self, value: Any) -> Any:
        if _is_missing(value):
            return np.nan
        if isinstance(value, str):
            if not is_plain_number(value):
                raise ValueError(f"{value!r} is not a plain decimal number")
            return float(value)
        if isinstance(value, bool | np.bool_):
            raise TypeError(f"{value!r} is not a number")
        number = float(value)
        if not np.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number


# --------------------------------------------------------------------------------------------
# Schema loading
# --------------------------------------------------------------------------------------------
@functools.cache
def load_schema(name: str) -> pa.DataFrameSchema:
    """Load ``schemas/<name>.yaml`` (cached). Raises FileNotFoundError listing the known names."""
    path = paths.schemas_dir() / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no schema '{name}' in {paths.schemas_dir()}: "
            f"choose one of {', '.join(schema_names())}"
        )
    # the raw-statistics checks (months_within) live with the raw readers; they import this
    # module, so they are registered here, at first use, rather than at import
    import league_pipeline.validation.raw_checks  # noqa: F401

    schema = pa.DataFrameSchema.from_yaml(path)
    if not (schema.metadata or {}).get("schema_version"):
        raise ValueError(f"{path} has no metadata.schema_version: add one (e.g. '1')")
    return schema


def schema_names() -> list[str]:
    """Names of every schema file in ``schemas/``."""
    return sorted(p.stem for p in paths.schemas_dir().glob("*.yaml"))


def schema_version(name: str) -> str:
    """The ``metadata.schema_version`` of schema ``name`` (recorded in snapshot lineage)."""
    return str(load_schema(name).metadata["schema_version"])


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------
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

    @property
    def num_failures(self) -> int:
        """Number of pandera failure cases (one per failing cell, column or schema problem)."""
        return len(self.failure_cases)

    def dagster_metadata(self) -> dict[str, Any]:
        """Plain values and Markdown strings for ``AssetCheckResult``/``Output`` metadata."""
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
            "failing_rows": _markdown(self.failing_rows),
            "failure_cases": _markdown(self.failure_cases.head(MAX_ROWS_SHOWN)),
        }


class ValidationFailed(Exception):
    """Raised by :func:`validate_or_raise`; ``str()`` is the report's summary."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.summary)
        self.report = report


def _markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    shown = df.copy()
    for col in shown.columns:
        if shown[col].dtype == object or pd.api.types.is_string_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: "" if _is_missing(v) else str(v))
    return shown.to_markdown(index=True)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


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
    return [] if _is_missing(column) else [str(column)]


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


def _build_report(
    frame: pd.DataFrame, schema_name: str, version: str, failure_cases: pd.DataFrame
) -> ValidationReport:
    problems: dict[str, dict[str, Any]] = {}
    row_problems: dict[Any, list[str]] = {}
    cases = zip(
        failure_cases["check"].astype(str).tolist(),
        failure_cases["schema_context"].tolist(),
        failure_cases["column"].tolist(),
        failure_cases["failure_case"].tolist(),
        failure_cases["index"].tolist(),
        strict=True,
    )
    for check, context, column, case, index in cases:
        cols = _columns_of(check, column, case)
        key = _problem_key(check, context, cols)
        prob = problems.setdefault(key, {"columns": [], "rows": set(), "table_level": False})
        prob["table_level"] = prob["table_level"] or context == "DataFrameSchema"
        for c in cols:
            if c not in prob["columns"]:
                prob["columns"].append(c)
        if not _is_missing(index):
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
