"""Dagster assets for the raw NHS statistics and what is derived from them.

Belongs here: wiring :mod:`league_pipeline.derivation` into Dagster: one source asset per raw
release kind (``sources/ambsys`` ..., group ``raw_statistics``, built like the NOF sources),
the ``derivation`` layer (``derivation/derived_values``, ``derivation/reconciliation`` with
its warn-only ``derived_matches_official`` check, ``derivation/provisional_league_table``;
each named after the table it stages), and the jobs behind ``league reconcile`` and
``league provisional``. See docs/raw-statistics.md.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
# The library is imported inside the functions that use it (see defs/sources.py), so loading
# the code location does not import it; annotations naming its types are strings.
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.peer_groups import NOF_SOURCE_KINDS
from league_pipeline.core.quarters import FIRST_QUARTER, Quarter, parse_quarter
from league_pipeline.core.staging import Staging, engine_table
from league_pipeline.defs.checks import OUTPUT_CHECK, output_check, output_check_result
from league_pipeline.defs.metadata import markdown_preview, percent, table_metadata
from league_pipeline.defs.partitions import previous_quarter, quarterly_asset
from league_pipeline.defs.resources import LeagueConfig, StagingResource
from league_pipeline.defs.sources import SOURCE_KEYS, SourceSpec, build_source_asset, is_absent

if TYPE_CHECKING:
    import pandas as pd

    from league_pipeline.derivation.provisional import CarriedInputs
    from league_pipeline.ingest.store import StoredFile

CODE_VERSION = "1"
GROUP = "raw_statistics"  # the raw releases' source assets
LAYER = "derivation"  # key prefix and group of the assets derived from them
DRIFT_CHECK = "derived_matches_official"
CARRIED_TABLES = ("trusts", "metric_values", "given_scores", "deficit_flags", "rsp")


def _ae(slot: int) -> "Callable[[StoredFile, Quarter], pd.DataFrame]":
    def read(stored: "StoredFile", q: Quarter) -> "pd.DataFrame":
        from league_pipeline.formats.ae import read_ae_monthly

        return read_ae_monthly(stored.read_bytes(), q, q.months[slot - 1])

    return read


def _ambsys(stored: "StoredFile", q: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.ambsys import read_ambsys

    return read_ambsys(stored.read_bytes(), q)


def _cwt(stored: "StoredFile", q: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.cwt import read_cwt_provider

    return read_cwt_provider(stored.read_bytes(), q)


def _rtt(stored: "StoredFile", q: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.rtt import read_rtt_extract

    return read_rtt_extract(stored.path, q)


RAW_SOURCE_SPECS: tuple[SourceSpec, ...] = (
    SourceSpec(
        "ambsys",
        "raw_ambsys",
        _ambsys,
        "AmbSYS time series (Ambulance Quality Indicators): response times and conveyance to "
        "ED per ambulance service and month (OF0017, OF0028).",
        group=GROUP,
        optional=True,
    ),
    *(
        SourceSpec(
            f"ae_monthly_m{slot}",
            "raw_ae_monthly",
            _ae(slot),
            f"Monthly A&E attendances and emergency admissions, month {slot} of the quarter "
            "(OF0013).",
            group=GROUP,
            optional=True,
        )
        for slot in (1, 2, 3)
    ),
    SourceSpec(
        "cwt_crs_provider",
        "raw_cwt_provider",
        _cwt,
        "Cancer Waiting Times CWT-CRS provider extract (OF0010, OF0011).",
        group=GROUP,
        optional=True,
    ),
    SourceSpec(
        "rtt_full_extract",
        "raw_rtt",
        _rtt,
        "RTT full CSV extract of the quarter's last month, aggregated per provider by DuckDB "
        "(OF0023, OF0003).",
        group=GROUP,
        optional=True,
    ),
)
RAW_SOURCE_KEYS = {spec.kind: dg.AssetKey(["sources", spec.kind]) for spec in RAW_SOURCE_SPECS}
DERIVED_KEY = dg.AssetKey([LAYER, "derived_values"])
RECONCILIATION_KEY = dg.AssetKey([LAYER, "reconciliation"])
PROVISIONAL_KEY = dg.AssetKey([LAYER, "provisional_league_table"])

_common = dict(group_name=LAYER, code_version=CODE_VERSION)


raw_source_assets = [build_source_asset(spec) for spec in RAW_SOURCE_SPECS]


# --------------------------------------------------------------------------------------------
# Derived values
# --------------------------------------------------------------------------------------------
def _source_files(staging: Staging, kinds: str, partition_key: str) -> str:
    """``kind:sha256[:12]`` of each staged source a measure was derived from."""
    out = []
    for kind in kinds.split("+"):
        record = staging.read_lineage(kind, partition_key)
        out.append(f"{kind}:{record['sha256'][:12]}")
    return ", ".join(out)


@quarterly_asset(
    key=DERIVED_KEY,
    deps=list(RAW_SOURCE_KEYS.values()),
    description=(
        "Metric values derived from the raw statistics (assets/sql/derivation): Category 1/2 "
        "response times and conveyance (AmbSYS), 4-hour A&E performance, cancer 28-day FDS and "
        "62-day, RTT 18-week and 52-week percentages, per provider and quarter."
    ),
    kinds={"duckdb"},
    check_specs=[output_check(DERIVED_KEY, "derived_values")],
    **_common,
)
def derived_values(
    context: dg.AssetExecutionContext, staging: StagingResource
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.derivation.derive import Derivation

    keys, stage = context.partition_keys, staging.get()
    with Derivation() as session:
        for spec in RAW_SOURCE_SPECS:
            # a raw file is optional for a published quarter: an absent one derives nothing
            present = [k for k in keys if not is_absent(stage, spec.kind, k)]
            if present:
                session.load_parquet(
                    spec.kind, [stage.existing_path(spec.kind, k) for k in present]
                )
        df = session.run([parse_quarter(k) for k in keys])
    by_key = {parse_quarter(k).label: k for k in keys}
    df["source_files"] = pd.Series(
        [
            _source_files(stage, kinds, by_key[q])
            for q, kinds in zip(df["quarter"], df["source_kind"], strict=True)
        ],
        index=df.index,
        dtype="str",
    )
    stage.write_quarters("derived_values", df, keys)
    counts = df.groupby(["quarter", "measure", "metric_id"], dropna=False).size()
    metadata = table_metadata("league.derivation.derived_values", df, partitions=len(keys)) | {
        "providers_per_measure": dg.MetadataValue.md(
            counts.rename("providers").reset_index().to_markdown(index=False)
        )
    }
    return dg.MaterializeResult(
        metadata=metadata, check_results=[output_check_result(df, "derived_values")]
    )


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------
def official_inputs(staging: Staging, keys: list[str]) -> "dict[str, pd.DataFrame]":
    """trusts / metric_values / given_scores of the staged NOF files of ``keys``."""
    from league_pipeline.scoring import inputs

    extracts = [
        staging.read_table(kind, k)
        for kind in NOF_SOURCE_KINDS
        for k in keys
        if not is_absent(staging, kind, k)
    ]
    return inputs.nof_inputs(extracts)


@quarterly_asset(
    key=RECONCILIATION_KEY,
    deps=[DERIVED_KEY, *(SOURCE_KEYS[k] for k in NOF_SOURCE_KINDS)],
    description=(
        "Derived vs official NOF value per trust and metric, with the match rate per metric "
        "(within half a unit of the published decimals) and the trusts that differ."
    ),
    kinds={"pandas"},
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=RECONCILIATION_KEY,
            description=(
                "Warns (never blocks) when a metric's match rate falls below its min_match_rate "
                "in assets/methodology/metric_sources.yaml: the raw derivation and NHS England "
                "disagree."
            ),
        ),
        output_check(RECONCILIATION_KEY, "reconciliation"),
    ],
    **_common,
)
def reconciliation(
    context: dg.AssetExecutionContext, staging: StagingResource
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.derivation.reconcile import match_rates, reconcile, report_markdown

    keys, stage = context.partition_keys, staging.get()
    official = official_inputs(stage, keys)
    derived = pd.concat([stage.read_table("derived_values", k) for k in keys])
    table = reconcile(derived, official["metric_values"], official["trusts"])
    rates = match_rates(table)
    stage.write_quarters("reconciliation", table, keys)
    stage.write_quarters("reconciliation_rates", rates, keys)
    report = report_markdown(table, rates)
    failing = rates[~rates["passed"]]
    rate_values = {
        f"match_rate {r.quarter} {r.metric_id}": percent(float(r.match_rate))
        for r in rates.itertuples()
        if pd.notna(r.match_rate)
    }
    check_meta = {
        "summary": (
            "every metric meets its match rate"
            if failing.empty
            else "below the expected match rate: "
            + ", ".join(
                f"{r.metric_id} {r.quarter} {r.match_rate:.1%} < {r.min_match_rate:.0%}"
                for r in failing.itertuples()
            )
        ),
        "report": dg.MetadataValue.md(report),
        **rate_values,
    }
    metadata = table_metadata("league.derivation.reconciliation", table, partitions=len(keys)) | {
        "match_rates": dg.MetadataValue.md(
            rates.assign(match_rate=(rates["match_rate"] * 100).round(1)).to_markdown(index=False)
        ),
        "trusts_that_differ": int((table["status"] == "differs").sum()),
        **rate_values,
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                passed=failing.empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=check_meta,
            ),
            output_check_result(table, "reconciliation"),
        ],
    )


# --------------------------------------------------------------------------------------------
# Provisional league table
# --------------------------------------------------------------------------------------------
class NoOfficialQuarterError(LookupError):
    """No official quarter before the provisional one has been run (nothing to carry)."""


def latest_official_before(staging: Staging, quarter: Quarter) -> Quarter | None:
    """The latest quarter before ``quarter`` whose official inputs are staged."""
    current = quarter
    while current > FIRST_QUARTER:
        current = current.previous()
        if all(staging.path_for(engine_table(t), current.key).exists() for t in CARRIED_TABLES):
            return current
    return None


def carried_inputs(staging: Staging, quarter: Quarter) -> "CarriedInputs":
    """The staged scoring inputs of the latest official quarter before ``quarter``."""
    from league_pipeline.derivation.provisional import CarriedInputs

    source = latest_official_before(staging, quarter)
    if source is None:
        first = quarter.previous() if quarter > FIRST_QUARTER else None
        fix = (
            f'run `league run --quarter "{first.label}"` first (its official files are needed '
            "for the metrics with no raw source)"
            if first
            else f"{FIRST_QUARTER.label} is the methodology's first quarter: no earlier official "
            "file exists to carry values from"
        )
        raise NoOfficialQuarterError(
            f"no official quarter before {quarter.label} has been run: {fix}"
        )
    tables = {t: staging.read_table(engine_table(t), source.key) for t in CARRIED_TABLES}
    return CarriedInputs(quarter=source.label, **tables)


def _left_out_pools(peer_groups: list[str]) -> str:
    """The ranking pools and cut-points a run of ``peer_groups`` cannot compute ('' if none)."""
    from league_pipeline.core.peer_groups import PEER_GROUPS
    from league_pipeline.scoring import catalogue

    out = {g.id for g in PEER_GROUPS} - set(peer_groups)
    if not out:
        return ""
    pools = catalogue.pools_spanning(out)
    return (
        f"the ranking pools of {', '.join(pools)} and the segment cut-points span "
        f"{', '.join(sorted(out))}, which the run leaves out"
    )


@quarterly_asset(
    key=PROVISIONAL_KEY,
    deps=[
        DERIVED_KEY,
        dg.AssetDep(
            dg.AssetKey(["scoring", "metric_values"]),
            partition_mapping=previous_quarter(),
        ),
        dg.AssetKey(["scoring", "league_tables"]),
    ],
    description=(
        "PROVISIONAL league tables for a quarter NHS England has not published yet: metric "
        "values derived from the raw statistics, every other value carried from the latest "
        "earlier official quarter (flagged carried). When the quarter's official table exists, "
        "the metadata compares the two."
    ),
    kinds={"duckdb"},
    check_specs=[output_check(PROVISIONAL_KEY, "league_table")],
    **_common,
)
def provisional_league_table(
    context: dg.AssetExecutionContext, league: LeagueConfig, staging: StagingResource
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.derivation.provisional import compare_with_official, provisional_table

    stage = staging.get()
    left_out = _left_out_pools(league.run_peer_groups())
    tables, notes, comparisons = [], {}, []
    for key in context.partition_keys:
        quarter = parse_quarter(key)
        try:
            carried = carried_inputs(stage, quarter)
        except NoOfficialQuarterError as exc:
            notes[quarter.label] = str(exc)
            context.log.warning(str(exc))
            stage.path_for("provisional_league_table", key).unlink(missing_ok=True)
            continue
        missing = [spec.kind for spec in RAW_SOURCE_SPECS if is_absent(stage, spec.kind, key)]
        if (missing or left_out) and stage.path_for("league_table", key).exists():
            # NHS England published the quarter: its raw files are optional, and so is this
            why = left_out or f"{', '.join(missing)} absent"
            notes[quarter.label] = f"no provisional table: {why}"
            stage.path_for("provisional_league_table", key).unlink(missing_ok=True)
            continue
        if left_out:
            raise dg.Failure(
                description=(
                    f"{quarter.label} is provisional: nothing is published to take the values "
                    f"the run cannot compute from ({left_out}) — run every peer group"
                ),
            )
        if missing:
            raise dg.Failure(
                description=(
                    f"{quarter.label} is provisional (not published by NHS England), so its raw "
                    f"statistics are required: {', '.join(missing)} absent — put them in the "
                    "landing folder (see assets/sources.yaml for their names)"
                ),
                metadata={"absent": ", ".join(missing)},
            )
        derived = stage.read_table("derived_values", key)
        result = provisional_table(
            quarter,
            derived,
            carried,
            replicates=league.bootstrap_replicates,
            seed=league.bootstrap_seed,
        )
        stage.write_table("provisional_league_table", key, result.league_table)
        stage.write_table("provisional_metric_values", key, result.metric_values)
        notes[quarter.label] = f"PROVISIONAL, values carried from {carried.quarter}"
        tables.append(result.league_table)
        official = stage.path_for("league_table", key)
        if official.exists():
            comparison = compare_with_official(result.league_table, pd.read_parquet(official))
            comparisons.append(comparison.assign(quarter=quarter.label))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    metadata = table_metadata(
        "league.derivation.provisional_league_table", table, partitions=len(context.partition_keys)
    ) | {"status": dg.MetadataValue.json(notes)}
    if comparisons:
        metadata["compared_with_official"] = dg.MetadataValue.md(
            pd.concat(comparisons).to_markdown(index=False)
        )
    for (quarter, group), g in table.groupby(["quarter", "peer_group"]) if len(table) else []:
        cols = ["rank", "trust_code", "trust_name", "average_score", "adjusted_segment"]
        cols += ["metrics_derived", "metrics_carried"]
        metadata[f"PROVISIONAL {quarter} {group}"] = markdown_preview(g[cols].round(2))
    checks_out = (
        [output_check_result(table, "league_table")]
        if len(table)
        else [
            dg.AssetCheckResult(
                check_name=OUTPUT_CHECK,
                passed=True,
                metadata={"summary": "no provisional table: " + "; ".join(notes.values())},
            )
        ]
    )
    return dg.MaterializeResult(metadata=metadata, check_results=checks_out)


raw_assets = [*raw_source_assets, derived_values, reconciliation, provisional_league_table]

raw_reconciliation_job = dg.define_asset_job(
    "raw_reconciliation_job",
    selection=dg.AssetSelection.assets(
        *RAW_SOURCE_KEYS.values(),
        *(SOURCE_KEYS[k] for k in NOF_SOURCE_KINDS),
        DERIVED_KEY,
        RECONCILIATION_KEY,
    ),
    description="Fetch the raw statistics and the official NOF files of a quarter; reconcile.",
)
provisional_league_job = dg.define_asset_job(
    "provisional_league_job",
    selection=dg.AssetSelection.assets(*RAW_SOURCE_KEYS.values(), DERIVED_KEY, PROVISIONAL_KEY),
    description=(
        "Provisional league tables for a quarter whose NOF files are not published yet (needs "
        "an earlier quarter's official run)."
    ),
)
raw_jobs = [raw_reconciliation_job, provisional_league_job]
