"""Blocking asset checks across a quarter's source files (trusts, reporting period).

Belongs here: the Dagster wiring of :mod:`league_pipeline.validation.consistency`. Each check
reads the staged extracts the source assets wrote for the run's quarters and fails (ERROR severity,
blocking) with the offending rows in its ``failing_rows`` metadata, so no scoring asset and no
snapshot is built from files that disagree.

* ``trusts_consistent`` on ``sources/ods_trusts`` (the register of trusts), after all six
  sources: unknown trust codes and missing trusts in any file;
* ``reporting_period`` on each NOF trust-data source: the file's newest ``Qn YYYY/YY``
  reporting date is the quarter it is processed as (Q1-layout files have no Quarter column).
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
# The library is imported inside the functions that use it (see defs/sources.py), so loading
# the code location does not import it; annotations naming its types are strings.
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.peer_groups import NOF_SOURCE_KINDS, PEER_GROUPS
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.staging import Staging
from league_pipeline.defs.resources import LeagueConfig, StagingResource
from league_pipeline.defs.sources import SOURCE_KEYS, is_absent

if TYPE_CHECKING:
    import pandas as pd

    from league_pipeline.validation.consistency import ConsistencyReport

TRUSTS_CHECK = "trusts_consistent"
PERIOD_CHECK = "reporting_period"


def _extract(staging: Staging, kind: str, key: str) -> "pd.DataFrame | None":
    """The validated extract a source asset staged for ``key`` (None when the run recorded the
    file as absent), or a one-line error saying why it is not there (the source has not run,
    or something else overwrote its staging file)."""
    if is_absent(staging, kind, key):
        return None
    frame = staging.read_table(kind, key)
    column = "ods_code" if kind == "ods_trusts" else "Trust_code"
    if column not in frame.columns:
        raise ValueError(
            f"staging table '{kind}' for {key} is not the validated extract (no {column} "
            f"column): re-materialise sources/{kind} for that quarter, then run this check"
        )
    return frame


def _result(reports: "list[ConsistencyReport]") -> dg.AssetCheckResult:
    """One check result for the run's quarters: failing quarters' rows, all summaries."""
    import pandas as pd

    from league_pipeline.validation import consistency

    failed = [r for r in reports if not r.passed]
    shown = failed or reports
    rows = pd.concat([r.failing_rows for r in failed], ignore_index=True) if failed else None
    metadata = {
        "summary": " ".join(r.summary for r in shown),
        "rows_checked": sum(r.rows_checked for r in reports),
        "num_failing_rows": sum(r.num_failing_rows for r in reports),
        "failing_rows": dg.MetadataValue.md(
            rows.head(consistency.MAX_ROWS_SHOWN).to_markdown(index=False)
            if rows is not None
            else "(none)"
        ),
    }
    return dg.AssetCheckResult(
        passed=not failed, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
    )


@dg.asset_check(
    asset=SOURCE_KEYS["ods_trusts"],
    name=TRUSTS_CHECK,
    blocking=True,
    additional_deps=[key for kind, key in SOURCE_KEYS.items() if kind != "ods_trusts"],
    description=(
        "The quarter's files agree on its trusts: every NOF trust is in its own peer group's "
        "file only, known to ODS and open; every RSP and deficit-flag trust is scored; every "
        "scored trust has a deficit flag "
        "(league_pipeline.validation.consistency.trust_consistency)."
    ),
)
def trusts_consistent(
    context: dg.AssetCheckExecutionContext, staging: StagingResource, league: LeagueConfig
) -> dg.AssetCheckResult:
    from league_pipeline.validation import consistency

    stage, reports = staging.get(), []
    groups = league.run_peer_groups()
    left_out = [g.source_kind for g in PEER_GROUPS if g.id not in groups]
    for key in context.partition_keys:
        reports.append(
            consistency.trust_consistency(
                parse_quarter(key),
                {
                    kind: frame
                    for kind in NOF_SOURCE_KINDS
                    if kind not in left_out and (frame := _extract(stage, kind, key)) is not None
                },
                _extract(stage, "ods_trusts", key),
                _extract(stage, "rsp_list", key),
                _extract(stage, "deficit_flags", key),
                left_out=left_out,
            )
        )
    return _result(reports)


def _period_check(kind: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=SOURCE_KEYS[kind],
        name=PERIOD_CHECK,
        blocking=True,
        description=(
            "The file's newest 'Qn YYYY/YY' Reporting_date is the quarter it is processed as "
            "(catches a Q1-layout file, which has no Quarter column, in another quarter's folder)."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, staging: StagingResource
    ) -> dg.AssetCheckResult:
        from league_pipeline.validation import consistency

        stage = staging.get()
        return _result(
            [
                consistency.reporting_period(parse_quarter(key), frame, kind)
                if (frame := _extract(stage, kind, key)) is not None
                else consistency.ConsistencyReport(
                    PERIOD_CHECK, True, f"{kind} is absent in {parse_quarter(key).label}", 0
                )
                for key in context.partition_keys
            ]
        )

    return _check


consistency_checks = [trusts_consistent, *(_period_check(kind) for kind in NOF_SOURCE_KINDS)]
