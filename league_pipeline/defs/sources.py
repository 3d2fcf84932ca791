"""Source-extract assets: fetch each published file, parse it, validate it with pandera.

Belongs here: the one way a source asset is built (:func:`build_source_asset`, used for the
NOF files here and for the raw statistics in :mod:`league_pipeline.defs.raw`), and the NOF
sources' specs. Each asset has a blocking pandera asset check. The check's metadata holds the
failing rows and columns, so a bad file is visible in the Dagster UI and nothing downstream
(and so no snapshot) is built from it. A rejected extract is kept as
``<quarter>.rejected.parquet`` for inspection.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from league_pipeline import readers, staging
from league_pipeline.defs.metadata import markdown_preview, table_metadata
from league_pipeline.quarters import Quarter, parse_quarter, quarterly_partitions
from league_pipeline.resources import LeagueConfig
from league_pipeline.sources.acquire import acquire
from league_pipeline.sources.store import StoredFile
from league_pipeline.validation import ValidationReport, validate

SCHEMA_CHECK = "pandera_schema"
CODE_VERSION = "1"


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # source kind id in assets/sources.yaml and the staging table name
    schema: str  # pandera schema in schemas/
    read: Callable[[StoredFile, Quarter], pd.DataFrame]  # the stored file -> its extract
    description: str
    group: str = "sources"  # the Dagster asset group


def _nof(stored: StoredFile, quarter: Quarter) -> pd.DataFrame:
    return readers.read_nof_trust_data(stored.read_bytes(), quarter.published_label)


SOURCE_SPECS: tuple[SourceSpec, ...] = (
    SourceSpec(
        "nof_trust_data_acute",
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for acute trusts (metric values, scores, segments).",
    ),
    SourceSpec(
        "nof_trust_data_mental_health_community",
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for mental health and community trusts.",
    ),
    SourceSpec(
        "nof_trust_data_ambulance",
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for ambulance trusts.",
    ),
    SourceSpec(
        "ods_trusts",
        "ods_trusts",
        lambda stored, _q: readers.read_ods_trusts(stored.read_bytes()),
        "ODS list of NHS trusts (etr): codes, names, open and close dates.",
    ),
    SourceSpec(
        "rsp_list",
        "rsp_list",
        lambda stored, _q: readers.read_rsp_list(stored.read_bytes()),
        "Trusts in the Recovery Support Programme (segment 5) for the quarter.",
    ),
    SourceSpec(
        "deficit_flags",
        "deficit_flags",
        lambda stored, _q: readers.read_deficit_flags(stored.read_bytes()),
        "Trusts in deficit or receiving deficit support (the financial override input).",
    ),
)


def _check_metadata(reports: dict[str, ValidationReport]) -> dict:
    failed = {key: r for key, r in reports.items() if not r.passed}
    meta: dict = {
        "quarters_checked": ", ".join(parse_quarter(k).label for k in reports),
        "rows_checked": sum(r.row_count for r in reports.values()),
    }
    if not failed:
        meta["summary"] = " ".join(r.summary for r in reports.values())
        return meta
    meta["summary"] = " ".join(f"{parse_quarter(k).label}: {r.summary}" for k, r in failed.items())
    for key, report in failed.items():
        prefix = "" if len(failed) == 1 else f"{key} "
        for name, value in report.dagster_metadata().items():
            meta[f"{prefix}{name}"] = (
                dg.MetadataValue.md(value) if name in ("failing_rows", "failure_cases") else value
            )
    return meta


def fetch(kind: str, quarter: Quarter, league: LeagueConfig) -> StoredFile:
    """The file of ``kind`` for ``quarter``, from the configured source, in the source store."""
    return acquire(
        kind,
        quarter,
        mode=league.source_mode,
        store=league.source_store(),
        landing_dir=league.landing_path(),
        http=league.http_fetcher() if league.source_mode == "http" else None,
        url_overrides=league.url_overrides(),
    )


def build_source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """``sources/<kind>``: per quarter, fetch, parse, validate, stage (or reject), with lineage."""
    key = dg.AssetKey(["sources", spec.kind])

    @dg.asset(
        key=key,
        group_name=spec.group,
        description=spec.description,
        partitions_def=quarterly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"pandas", "pandera"},
        code_version=CODE_VERSION,
        check_specs=[
            dg.AssetCheckSpec(
                SCHEMA_CHECK,
                asset=key,
                blocking=True,
                description=f"Validates the extract against schemas/{spec.schema}.yaml (pandera).",
            )
        ],
    )
    def _source(context: dg.AssetExecutionContext, league: LeagueConfig) -> dg.MaterializeResult:
        reports: dict[str, ValidationReport] = {}
        frames: list[pd.DataFrame] = []
        lineage: dict[str, dict] = {}
        for partition_key in context.partition_keys:
            quarter = parse_quarter(partition_key)
            context.log.info(f"fetching {spec.kind} for {quarter.label} ({league.source_mode})")
            stored = fetch(spec.kind, quarter, league)
            df = spec.read(stored, quarter)
            report = validate(df, spec.schema, expected_quarter=quarter.label)
            reports[partition_key] = report
            record = stored.to_record() | {
                "kind": spec.kind,
                "schema": spec.schema,
                "schema_version": report.schema_version,
                "rows": len(df),
                "valid": report.passed,
            }
            lineage[partition_key] = record
            if report.passed:
                staging.write_table(spec.kind, partition_key, df)
                staging.write_lineage(spec.kind, partition_key, record)
            else:
                # keep the bad extract for inspection, and make sure downstream cannot read a
                # previous quarter's good file as if it were this one
                staging.write_table(spec.kind, f"{partition_key}.rejected", df)
                staging.path_for(spec.kind, partition_key).unlink(missing_ok=True)
                context.log.error(f"{spec.kind} {quarter.label}: {report.summary}")
            frames.append(df)
        combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        first = next(iter(lineage.values()))
        metadata = table_metadata(
            f"league.staging.{spec.kind}", combined, partitions=len(context.partition_keys)
        ) | {
            "source_url": dg.MetadataValue.url(first["url"])
            if str(first["url"]).startswith("http")
            else dg.MetadataValue.path(str(first["url"])),
            "sha256": ", ".join(r["sha256"] for r in lineage.values()),
            "fetched_at": ", ".join(str(r["fetched_at"]) for r in lineage.values()),
            "schema_version": first["schema_version"],
            "preview": markdown_preview(combined),
        }
        passed = all(r.passed for r in reports.values())
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=SCHEMA_CHECK,
                    passed=passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata=_check_metadata(reports),
                )
            ],
        )

    return _source


source_assets = [build_source_asset(spec) for spec in SOURCE_SPECS]
SOURCE_KEYS = {spec.kind: dg.AssetKey(["sources", spec.kind]) for spec in SOURCE_SPECS}
