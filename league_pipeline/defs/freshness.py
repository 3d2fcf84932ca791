"""Freshness: every quarter NHS England has published is built within its window.

Belongs here: NHS England's publication lag (which the schedule in
:mod:`league_pipeline.defs.automation` waits for too), a quarter's expected publication date
and the date it should be built by, the check on ``snapshots/quarterly_snapshot`` that WARNs
naming each quarter whose date was missed, and the job and daily schedule that evaluate it
(``quarterly_league_job`` leaves it out: a run builds quarters, the calendar judges them).
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from league_pipeline.core.quarters import Quarter, all_quarters
from league_pipeline.defs.outputs import SNAPSHOT_KEY

PUBLICATION_LAG_DAYS = 70  # NOF results appear about ten weeks after a quarter ends
BUILD_WITHIN_DAYS = 14  # after NHS England's expected publication date
CHECK_NAME = "quarters_built_on_time"
TIMEZONE = "Europe/London"


def expected_publication(quarter: Quarter) -> date:
    """When NHS England is expected to publish the quarter (the schedule's lag after its end)."""
    return quarter.end + timedelta(days=PUBLICATION_LAG_DAYS)


def build_by(quarter: Quarter) -> date:
    """The last day the quarter's snapshot is on time."""
    return expected_publication(quarter) + timedelta(days=BUILD_WITHIN_DAYS)


def overdue(today: date, built: Iterable[str]) -> list[Quarter]:
    """The quarters whose build-by date is before ``today`` with no snapshot (partition keys
    ``built``)."""
    done = set(built)
    return [q for q in all_quarters() if build_by(q) < today and q.key not in done]


def freshness_result(today: date, built: Iterable[str]) -> dg.AssetCheckResult:
    """The check's result on ``today`` given the quarters ``built``: passed, or a WARN naming
    every quarter not built by its date."""
    late = overdue(today, built)
    due = [q for q in all_quarters() if build_by(q) < today]
    missed = {
        q.label: f"expected from NHS England {expected_publication(q).isoformat()}, "
        f"not built by {build_by(q).isoformat()}"
        for q in late
    }
    description = (
        "; ".join(f"{q.label} not built by {build_by(q).isoformat()}" for q in late)
        if late
        else f"every published quarter built ({len(due)} due by {today.isoformat()})"
    )
    return dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not late,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "checked_on": today.isoformat(),
            "quarters_due": len(due),
            "missed": dg.MetadataValue.json(missed),
            "build_by": dg.MetadataValue.json(
                {q.label: build_by(q).isoformat() for q in all_quarters()}
            ),
        },
    )


def today() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()


@dg.asset_check(
    asset=SNAPSHOT_KEY,
    name=CHECK_NAME,
    description=(
        f"Each quarter is built (has a snapshot) within {BUILD_WITHIN_DAYS} days of NHS "
        f"England's expected publication date ({PUBLICATION_LAG_DAYS} days after the quarter "
        "ends); WARNs with the date each late quarter missed."
    ),
    blocking=False,
)
def quarters_built_on_time(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    built = [
        q.key
        for q in all_quarters()
        if context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=SNAPSHOT_KEY, asset_partitions=[q.key]), limit=1
        ).records
    ]
    return freshness_result(today(), built)


freshness_checks_job = dg.define_asset_job(
    "freshness_checks_job",
    selection=dg.AssetSelection.checks(quarters_built_on_time),
    description="Evaluate whether every published quarter was built on time.",
)

freshness_schedule = dg.ScheduleDefinition(
    name="freshness_checks_schedule",
    job=freshness_checks_job,
    cron_schedule="0 7 * * *",
    execution_timezone=TIMEZONE,
    description="Daily: warn when a published quarter has not been built on time.",
)

freshness_checks = [quarters_built_on_time]
