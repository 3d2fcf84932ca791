"""The outputs assets: what people read, written from each quarter's newest snapshot.

Belongs here: the Dagster face of :func:`league_pipeline.outputs.publish.publish`. One step (a
multi-asset, so a quarter's snapshot is read once) materialises ``outputs/official_exports``
(with its ``official_format_round_trip`` check), ``outputs/insights`` and
``outputs/html_report`` into ``<home>/outputs/<quarter slug>/v<snapshot version>/``, written
whole or not at all. Each reads its quarter's snapshot and the previous quarter's (movement),
so each depends on both (:data:`SNAPSHOT_DEP`): rebuilding a quarter marks its outputs and the
next quarter's stale. What each asset holds, its metadata and the folder: docs/outputs.md.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.defs.partitions import previous_quarter, quarterly_partitions
from league_pipeline.defs.resources import (
    FetcherResource,
    HomeResource,
    LeagueConfig,
    SnapshotStoreResource,
)

if TYPE_CHECKING:  # the outputs (Altair, Jinja) are imported when the step runs, not on load
    from league_pipeline.outputs.publish import QuarterOutputs

GROUP = "outputs"
SNAPSHOT_KEY = dg.AssetKey(["snapshots", "quarterly_snapshot"])
EXPORTS_KEY = dg.AssetKey([GROUP, "official_exports"])
INSIGHTS_KEY = dg.AssetKey([GROUP, "insights"])
REPORT_KEY = dg.AssetKey([GROUP, "html_report"])
ROUND_TRIP_CHECK = "official_format_round_trip"
CODE_VERSION = "1"


# the quarter's snapshot and the previous quarter's (movement)
SNAPSHOT_DEP = dg.AssetDep(SNAPSHOT_KEY, partition_mapping=previous_quarter(and_this=True))


def _spec(key: dg.AssetKey, description: str, kinds: set[str]) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        deps=[SNAPSHOT_DEP],
        group_name=GROUP,
        description=description,
        kinds=kinds,
        code_version=CODE_VERSION,
    )


def _per_quarter(written: "list[QuarterOutputs]", value) -> dict:
    return {f"{o.quarter.label} v{o.version}": value(o) for o in written}


def _paths(written: "list[QuarterOutputs]", pick) -> dict[str, dg.MetadataValue]:
    """One ``path`` entry for a single quarter, a JSON map for a range."""
    if len(written) == 1:
        return {"path": dg.MetadataValue.path(str(pick(written[0])))}
    return {"paths": dg.MetadataValue.json(_per_quarter(written, lambda o: str(pick(o))))}


@dg.multi_asset(
    name="quarterly_outputs",
    specs=[
        _spec(
            EXPORTS_KEY,
            "NHS England's league table and trust data file for each peer group, in the "
            "published CSV layout and as Parquet, plus the snapshot's tables as Parquet.",
            {"csv", "parquet"},
        ),
        _spec(
            INSIGHTS_KEY,
            "Why each trust is where it is (metric effects, distance to the next segment, "
            "override and RSP), quarter-on-quarter movement and revisions, as CSV.",
            {"csv"},
        ),
        _spec(
            REPORT_KEY,
            "Static one-file HTML report: league tables with segment colours, likely-range "
            "and heat-map charts, score distribution, movement, revisions, a page per trust.",
            {"html"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            ROUND_TRIP_CHECK,
            asset=EXPORTS_KEY,
            description="Each exported CSV, read back by the project's readers, passes the "
            "schemas/nof_league_table.yaml or nof_trust_data.yaml schema.",
        )
    ],
    partitions_def=quarterly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def quarterly_outputs(
    context: dg.AssetExecutionContext,
    home: HomeResource,
    snapshots: SnapshotStoreResource,
    fetcher: FetcherResource,
    league: LeagueConfig,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    from league_pipeline.outputs.publish import publish_latest

    written: list[QuarterOutputs] = []
    store, source_store = snapshots.get(), fetcher.get().store
    for key in context.partition_keys:
        outputs, said = publish_latest(
            key,
            store=store,
            source_store=source_store,
            root=home.layout().outputs,
            cache_dir=home.cache(),
            whatif_checked=league.whatif_checked,
        )
        for line in said:
            context.log.info(line)
        context.log.info(f"{len(outputs.files)} output files written to {outputs.folder}")
        written.append(outputs)

    previews = {
        f"top_and_bottom {o.quarter.label} {group}": dg.MetadataValue.md(markdown)
        for o in written
        for group, markdown in o.previews.items()
    }
    yield dg.MaterializeResult(
        asset_key=EXPORTS_KEY,
        metadata={
            **_paths(written, lambda o: o.folder / "official"),
            "files": sum(len(o.official.files) + len(o.snapshot_files) for o in written),
            "snapshot_versions": dg.MetadataValue.json(_per_quarter(written, lambda o: o.version)),
            # "synthetic": made from `league sample-data`'s files (file names synthetic-...)
            "data": dg.MetadataValue.json(_per_quarter(written, lambda o: o.data)),
            **previews,
        },
    )
    problems = [p for o in written for p in o.schema_problems]
    yield dg.AssetCheckResult(
        asset_key=EXPORTS_KEY,
        check_name=ROUND_TRIP_CHECK,
        passed=not problems,
        metadata={
            "files_checked": sum(len(o.official.files) // 2 for o in written),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )
    yield dg.MaterializeResult(
        asset_key=INSIGHTS_KEY,
        metadata={
            **_paths(written, lambda o: o.folder / "insights"),
            "movement": dg.MetadataValue.json(_per_quarter(written, lambda o: o.movement_summary)),
            "revisions": dg.MetadataValue.json(_per_quarter(written, lambda o: o.revision_summary)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=REPORT_KEY,
        metadata={
            **_paths(written, lambda o: o.report),
            "size_bytes": sum(o.report.stat().st_size for o in written if o.report),
        },
    )


output_assets = [quarterly_outputs]
