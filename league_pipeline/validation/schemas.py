"""The pandera schemas in ``schemas/``: loading them, their versions, and the custom dtypes.

Belongs here: :func:`load_schema`, :func:`schema_names`, :func:`schema_version` (recorded in
snapshot lineage), and the dtypes the YAML files use by name: ``yyyymmdd_datetime`` (ODS
dates) and ``plain_float64`` (numbers written as plain ASCII decimals). Importing it registers
every custom check first (:mod:`~league_pipeline.validation.checks`,
:mod:`~league_pipeline.validation.raw_checks`). Conventions: ``schemas/README.md``.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import immutable
from pandera.engines import numpy_engine, pandas_engine
from pandera.engines import utils as engine_utils
from pandera.errors import ParserError

from league_pipeline.core import paths
from league_pipeline.formats.common import is_plain_number

# importing the check modules registers their checks, which the schemas use by name
from league_pipeline.validation import raw_checks  # noqa: F401
from league_pipeline.validation.checks import is_missing

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
        if is_missing(value):
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
    text only when every cell is blank or a plain number
    (:func:`~league_pipeline.formats.common.is_plain_number`).

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
        if is_missing(value):
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


@functools.cache
def load_schema(name: str) -> pa.DataFrameSchema:
    """Load ``schemas/<name>.yaml`` (cached). Raises FileNotFoundError listing the known names."""
    path = paths.schemas_dir() / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no schema '{name}' in {paths.schemas_dir()}: "
            f"choose one of {', '.join(schema_names())}"
        )
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
