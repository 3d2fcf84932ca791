"""Jobs, the quarterly schedule and the new-publication sensor.

Belongs here: when runs happen. The schedule fires after NHS England's publication lag; the
sensor probes the configured sources (landing folder or HTTP HEAD) and asks for a run when a
quarter's files are new or revised. ``run_key`` makes every request idempotent: a quarter is not
run twice for the same set of files, and a revised file gives a new key (so a new snapshot).
The sensor also skips a quarter whose latest snapshot was built from exactly the files it sees
(by sha256, or ETag and size over HTTP), so turning it on after a backfill, or after a manual
``league run``, does not build the same snapshot again.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
import hashlib
import json
from datetime import date, datetime
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.quarters import FIRST_QUARTER, Quarter, all_quarters, parse_quarter
from league_pipeline.defs.freshness import PUBLICATION_LAG_DAYS, quarters_built_on_time
from league_pipeline.defs.partitions import QUARTER_TAG
from league_pipeline.defs.resources import FetcherResource, SnapshotStoreResource
from league_pipeline.defs.sources import SOURCE_SPECS

if TYPE_CHECKING:  # the library is imported when the sensor runs (see defs/sources.py)
    from league_pipeline.ingest.acquire import SourceFetcher
    from league_pipeline.ingest.fetch import SourceProbe
    from league_pipeline.snapshots.store import SnapshotStore

CUMULATIVE_KINDS = {spec.kind for spec in SOURCE_SPECS if spec.cumulative}
# The job's executor. One step at a time runs the steps in the run's own process; more run each
# step in a process of its own, forked from a server that imported the package and Dagster's
# instance storage once (defs/step_process.py), at most that many at a time. Run config chooses
# (`league run/backfill --parallel N`); the default is one at a time, the faster on two cores
# (figures in benchmarks/README.md, backfill). Importing defs/step_process.py does that work, so
# only the forkserver imports it; the Postgres storage is preloaded when installed (the
# forkserver ignores an ImportError).
STEP_PROCESS_PRELOAD = [
    "league_pipeline.definitions",
    "league_pipeline.defs.step_process",
    "dagster_postgres",
]
DEFAULT_MAX_CONCURRENT = 1


def executor_config(max_concurrent: int) -> dict:
    """The run config choosing the job's executor: ``max_concurrent`` steps at a time."""
    if max_concurrent < 1:
        raise ValueError(f"max_concurrent must be at least 1, not {max_concurrent}")
    if max_concurrent == 1:
        return {"execution": {"config": {"in_process": {}}}}
    return {
        "execution": {
            "config": {
                "multiprocess": {
                    "max_concurrent": max_concurrent,
                    "start_method": {"forkserver": {"preload_modules": STEP_PROCESS_PRELOAD}},
                }
            }
        }
    }


quarterly_league_job = dg.define_asset_job(
    "quarterly_league_job",
    # every asset and check but the freshness check (its own job evaluates it: defs/freshness.py)
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(quarters_built_on_time),
    description="Fetch, validate, score and snapshot one NHS quarter (or a range, in one run).",
    executor_def=dg.multi_or_in_process_executor,
    config=executor_config(DEFAULT_MAX_CONCURRENT),
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
    return dg.RunRequest(
        run_key=quarter.key, partition_key=quarter.key, tags={QUARTER_TAG: quarter.label}
    )


def quarter_probes(quarter: Quarter, fetcher: "SourceFetcher") -> "dict[str, SourceProbe] | None":
    """Every source's probe (size, etag, sha256) for ``quarter``; None while any is missing."""
    found: dict[str, SourceProbe] = {}
    for spec in SOURCE_SPECS:
        result = fetcher.probe(spec.kind, quarter)
        if result is None:
            return None
        found[spec.kind] = result
    return found


def fingerprint(probes: "dict[str, SourceProbe]") -> str:
    """A short hash of the probes: it changes when any file is added, revised or replaced."""
    parts = {kind: [p.size, p.etag, p.sha256] for kind, p in probes.items()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def quarter_fingerprint(quarter: Quarter, fetcher: "SourceFetcher") -> str | None:
    """The fingerprint of the quarter's sources; None while any file is missing."""
    probes = quarter_probes(quarter, fetcher)
    return None if probes is None else fingerprint(probes)


def _same_file(found: "SourceProbe", record: dict | None) -> bool:
    """Whether a probe shows the file a snapshot's lineage records (sha256, else ETag + size)."""
    if not record:
        return False
    if found.sha256 and record.get("sha256"):
        return found.sha256 == record["sha256"]
    if found.etag and record.get("etag"):
        return found.etag == record["etag"] and found.size in (None, record.get("size"))
    return False  # nothing to compare: treat it as new


def snapshot_is_current(
    quarter: Quarter,
    probes: "dict[str, SourceProbe]",
    fetcher: "SourceFetcher",
    store: "SnapshotStore",
) -> bool:
    """Whether the quarter's latest snapshot was built from exactly the files probed now."""
    latest = store.latest(quarter.label)
    if latest is None:
        return False
    inputs = latest.lineage.get("inputs", {})
    return all(
        _read_file_is_current(quarter, kind, found, inputs.get(kind), fetcher)
        for kind, found in probes.items()
    )


def _read_file_is_current(
    quarter: Quarter,
    kind: str,
    found: "SourceProbe",
    record: dict | None,
    fetcher: "SourceFetcher",
) -> bool:
    """Whether the file the snapshot read for ``kind`` is unchanged and still the one to read.

    A cumulative NOF kind's rows may have come from a later quarter's publication (lineage
    ``publication_quarter``): that file is compared, and a publication newer than it (which
    would hold the quarter's rows too) makes the snapshot out of date."""
    from league_pipeline.ingest.fetch import SourceFetchError

    published = (record or {}).get("publication_quarter")
    if not published or kind not in CUMULATIVE_KINDS:
        return _same_file(found, record)
    read_from = parse_quarter(published)
    if read_from != quarter:
        found = fetcher.probe(kind, read_from)
        if found is None or not _same_file(found, record):
            return False
    elif not _same_file(found, record):
        return False
    for q in range(read_from.q + 1, 5):
        try:
            if fetcher.probe(kind, Quarter(read_from.fy_start, q)) is not None:
                return False
        except SourceFetchError:
            continue  # not checked: as the source asset does, keep to what can be read
    return True


@dg.sensor(
    job=quarterly_league_job,
    minimum_interval_seconds=3600,
    description=(
        "Requests a run for a quarter when its published files appear or are revised (and its "
        "latest snapshot was not built from them)."
    ),
)
def new_publication_sensor(
    context: dg.SensorEvaluationContext,
    fetcher: FetcherResource,
    snapshots: SnapshotStoreResource,
):
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests, current = [], []
    sources, store = fetcher.get(), snapshots.get()
    for quarter in all_quarters():
        probes = quarter_probes(quarter, sources)
        if probes is None:
            continue
        key = fingerprint(probes)
        if seen.get(quarter.key) == key:
            continue
        seen[quarter.key] = key
        if snapshot_is_current(quarter, probes, sources, store):
            current.append(quarter.label)
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"{quarter.key}:{key}",
                partition_key=quarter.key,
                tags={
                    "league/trigger": "new_publication",
                    "league/fingerprint": key,
                    QUARTER_TAG: quarter.label,
                },
            )
        )
    cursor = json.dumps(seen, sort_keys=True)
    if not requests:
        reason = "no new or revised source files"
        if current:
            reason += f" (the latest snapshots of {', '.join(current)} use the files as they are)"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
