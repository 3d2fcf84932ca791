"""Jobs, the quarterly schedule and the new-publication sensor.

Belongs here: when runs happen. The schedule fires after NHS England's publication lag; the
sensor probes the configured sources (landing folder or HTTP HEAD) and asks for a run when a
quarter's files are new or revised. ``run_key`` makes every request idempotent: a quarter is not
run twice for the same set of files, and a revised file gives a new key (so a new snapshot).
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
import hashlib
import json
from datetime import date, datetime

import dagster as dg

from league_pipeline.defs.sources import SOURCE_SPECS
from league_pipeline.quarters import FIRST_QUARTER, Quarter, all_quarters
from league_pipeline.resources import LeagueConfig
from league_pipeline.sources.acquire import probe

PUBLICATION_LAG_DAYS = 70  # NOF results appear about ten weeks after a quarter ends

quarterly_league_job = dg.define_asset_job(
    "quarterly_league_job",
    selection=dg.AssetSelection.all(),
    description="Fetch, validate, score and snapshot one NHS quarter (or a range, in one run).",
)


def due_quarter(today: date) -> Quarter | None:
    """The latest quarter whose results are due by ``today`` (None before the first is due)."""
    due = None
    for quarter in all_quarters():
        if (today - quarter.end).days >= PUBLICATION_LAG_DAYS:
            due = quarter
    return due


@dg.schedule(
    job=quarterly_league_job,
    cron_schedule="0 6 15 3,6,9,12 *",
    execution_timezone="Europe/London",
    description="Quarterly, once a quarter's sources are due (about ten weeks after it ends).",
)
def quarterly_league_schedule(context: dg.ScheduleEvaluationContext):
    when: datetime = context.scheduled_execution_time
    quarter = due_quarter(when.date())
    if quarter is None:
        return dg.SkipReason(f"no quarter is due yet: {FIRST_QUARTER.label} is the first")
    return dg.RunRequest(run_key=quarter.key, partition_key=quarter.key)


def quarter_fingerprint(quarter: Quarter, league: LeagueConfig) -> str | None:
    """A hash of every source's probe (size, etag, sha256); None while any file is missing."""
    parts = {}
    for spec in SOURCE_SPECS:
        found = probe(
            spec.kind,
            quarter,
            mode=league.source_mode,
            landing_dir=league.landing_path(),
            http=league.http_fetcher() if league.source_mode == "http" else None,
            url_overrides=league.url_overrides(),
        )
        if found is None:
            return None
        parts[spec.kind] = [found.size, found.etag, found.sha256]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


@dg.sensor(
    job=quarterly_league_job,
    minimum_interval_seconds=3600,
    description="Requests a run for a quarter when its published files appear or are revised.",
)
def new_publication_sensor(context: dg.SensorEvaluationContext, league: LeagueConfig):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for quarter in all_quarters():
        fingerprint = quarter_fingerprint(quarter, league)
        if fingerprint is None or seen.get(quarter.key) == fingerprint:
            continue
        seen[quarter.key] = fingerprint
        requests.append(
            dg.RunRequest(
                run_key=f"{quarter.key}:{fingerprint}",
                partition_key=quarter.key,
                tags={"league/trigger": "new_publication", "league/fingerprint": fingerprint},
            )
        )
    if not requests:
        return dg.SensorResult(
            skip_reason="no new or revised source files", cursor=json.dumps(seen, sort_keys=True)
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
