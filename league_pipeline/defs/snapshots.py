"""The snapshot asset: each quarter's results written as an immutable, versioned snapshot.

Belongs here: collecting a quarter's staged tables and lineage and handing them to
:class:`league_pipeline.snapshots.store.SnapshotStore`, which assigns the next version atomically. A
re-run creates a new version; an earlier one is never changed.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
# The library is imported inside the functions that use it (see defs/sources.py), so loading
# the code location does not import it; annotations naming its types are strings.
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.staging import Staging
from league_pipeline.defs.derived import RAW_SOURCE_SPECS
from league_pipeline.defs.partitions import quarterly_asset
from league_pipeline.defs.resources import LeagueConfig, SnapshotStoreResource, StagingResource
from league_pipeline.defs.sources import SOURCE_SPECS, is_absent

if TYPE_CHECKING:
    import pandas as pd

# staging table -> snapshot table
SNAPSHOT_TABLES = {
    "league_table": "league_table",
    "trust_segments": "trust_segments",
    "segment_cut_points": "segment_cut_points",
    "domain_scores": "domain_scores",
    "metric_scores": "metric_scores",
    "metric_values": "metric_values",
    "given_scores": "given_scores",
    "trusts": "trusts",
    "derived_values": "derived_values",
    "reconciliation": "reconciliation",
}


# each scoring layer's comparison with NHS England's published figures
# (league_pipeline.audit.compare)
AUDIT_TABLES = (
    "audit_metric_scores",
    "audit_domain_scores",
    "audit_segments",
    "audit_league_table",
)


def published_rows(staging: Staging, key: str) -> "pd.DataFrame":
    """The quarter's rows of every NOF file the run read, as published, with their file kind."""
    import pandas as pd

    frames = [
        staging.read_table(spec.kind, key)
        .drop(columns=["Quarter"])
        .rename(columns=str.lower)
        .assign(source_kind=spec.kind)
        for spec in SOURCE_SPECS
        if spec.cumulative and not is_absent(staging, spec.kind, key)
    ]
    return pd.concat(frames, ignore_index=True)


def value_basis(audit_rows: "pd.DataFrame") -> dict[str, dict[str, int]]:
    """Per audited layer, how many values were computed and how many taken from the
    publication (lineage says which parts of a snapshot are NHS England's own figures)."""
    counts = audit_rows.groupby(["layer", "basis"]).size()
    return {
        layer: {basis: int(n) for (lay, basis), n in counts.items() if lay == layer}
        for layer in dict.fromkeys(audit_rows["layer"])
    }


OUTPUT_SCHEMAS = ["metric_values", "metric_scores", "domain_scores", "league_table"]
# the instance's concurrency pool of snapshot writes (deploy/dagster.yaml: one at a time), so a
# queued write waits visibly in the UI rather than inside the store's file lock
SNAPSHOT_POOL = "snapshot_writes"


@quarterly_asset(
    key=dg.AssetKey(["snapshots", "quarterly_snapshot"]),
    deps=[dg.AssetKey(["scoring", "league_tables"])],
    group_name="snapshots",
    description=(
        "Immutable, versioned snapshot of the quarter's league tables and every layer behind "
        "them, with lineage (inputs' URLs and hashes, schema, methodology and code versions, "
        "run id). Re-running a quarter adds a version."
    ),
    kinds={"duckdb", "parquet"},
    code_version="1",
    pool=SNAPSHOT_POOL,
)
def quarterly_snapshot(
    context: dg.AssetExecutionContext,
    league: LeagueConfig,
    staging: StagingResource,
    snapshots: SnapshotStoreResource,
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.snapshots.lineage import snapshot_lineage
    from league_pipeline.snapshots.store import PUBLISHED_ROWS

    store, stage = snapshots.get(), staging.get()
    written = []
    for key in context.partition_keys:
        quarter = parse_quarter(key)
        tables = {out: stage.read_table(src, key) for src, out in SNAPSHOT_TABLES.items()}
        tables[PUBLISHED_ROWS] = published_rows(stage, key)
        tables["audit"] = pd.concat(
            [stage.read_table(name, key) for name in AUDIT_TABLES], ignore_index=True
        )
        lineage = snapshot_lineage(
            stage,
            key,
            [s.kind for s in (*SOURCE_SPECS, *RAW_SOURCE_SPECS)],
            OUTPUT_SCHEMAS,
            context.run.run_id,
        )
        lineage["peer_groups"] = league.run_peer_groups()
        lineage["basis"] = value_basis(tables["audit"])
        info = store.write(quarter.label, tables, lineage, run_id=context.run.run_id)
        context.log.info(f"snapshot {info.snapshot_id} written ({info.tables})")
        written.append(info)
    last = written[-1]
    return dg.MaterializeResult(
        metadata={
            "snapshot_ids": ", ".join(i.snapshot_id for i in written),
            "version": last.version,
            "dagster/table_name": "league.lake.league_table",
            "dagster/row_count": sum(i.tables.get("league_table", 0) for i in written),
            "tables": dg.MetadataValue.json({i.snapshot_id: i.tables for i in written}),
            "lineage": dg.MetadataValue.json(last.lineage),
            "code_version": last.lineage["code_version"],
            "methodology_version": last.lineage["methodology_version"],
        }
    )
