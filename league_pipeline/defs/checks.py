"""The output-schema check of the computed assets (scoring, derived statistics).

Belongs here: the blocking ``output_schema`` check every computed asset declares, and its
result: the asset's frame validated against its pandera schema (:mod:`league_pipeline.validation`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    import pandas as pd

OUTPUT_CHECK = "output_schema"


def output_check(key: dg.AssetKey, schema: str) -> dg.AssetCheckSpec:
    """The blocking check that ``key``'s output passes ``schemas/<schema>.yaml``."""
    return dg.AssetCheckSpec(
        OUTPUT_CHECK,
        asset=key,
        blocking=True,
        description=f"Validates the output against schemas/{schema}.yaml (pandera).",
    )


def output_check_result(frame: pd.DataFrame, schema: str) -> dg.AssetCheckResult:
    """The result of :func:`output_check`: ``frame`` validated against ``schema``."""
    # pandera is loaded when a check runs, not when the code location is
    from league_pipeline.validation.report import validate

    report = validate(frame, schema)
    return dg.AssetCheckResult(
        check_name=OUTPUT_CHECK,
        passed=report.passed,
        metadata={k: v for k, v in report.dagster_metadata().items() if v is not None},
    )
