"""Source-extract assets: fetch each published file, parse it, validate it with pandera.

Belongs here: the one way a source asset is built (:func:`build_source_asset`, used for the
NOF files here and for the raw statistics in :mod:`league_pipeline.defs.derived`), and the NOF
sources' specs. Each asset has a blocking pandera asset check, evaluated before the asset is
recorded: a file that fails it fails the step (``dg.Failure``), so its partition shows failed,
nothing downstream (and so no snapshot) is built from it, and the check's metadata and the
failure's name the file, the 1-based line of each bad cell and its text as written there. A
rejected extract is kept as ``<quarter>.rejected.parquet`` for inspection. See
docs/validation.md.
"""

# The library (readers, pandera, pandas, DuckDB, httpx) is imported inside the functions that
# use it, when a run executes them: loading the code location imports Dagster and this wiring
# only. Annotations naming library types are strings, resolved by type checkers alone.
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.peer_groups import ACUTE, AMBULANCE, MHC
from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.core.staging import Staging, StagingMissingError
from league_pipeline.defs.metadata import markdown_preview, table_metadata
from league_pipeline.defs.partitions import quarterly_asset
from league_pipeline.defs.resources import (
    FetcherResource,
    LeagueConfig,
    SnapshotStoreResource,
    StagingResource,
)
from league_pipeline.sample import data_origin

if TYPE_CHECKING:
    import pandas as pd

    from league_pipeline.ingest.acquire import SourceFetcher
    from league_pipeline.ingest.store import StoredFile
    from league_pipeline.snapshots.store import SnapshotStore
    from league_pipeline.validation.locate import FileRows
    from league_pipeline.validation.report import ValidationReport

SCHEMA_CHECK = "pandera_schema"
REVISIONS_CHECK = "publication_revisions"
CODE_VERSION = "1"


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # source kind id in assets/sources.yaml and the staging table name
    schema: str  # pandera schema in schemas/
    read: "Callable[[StoredFile, Quarter], pd.DataFrame]"  # the stored file -> its extract
    description: str
    group: str = "sources"  # the Dagster asset group
    # a cumulative publication (NOF trust data): the newest of the year holding the quarter is
    # read, the quarter's rows are staged, and earlier quarters' rows are checked for revisions
    cumulative: bool = False
    # the file may be absent (recorded as such): the scoring decides whether it was needed
    optional: bool = False
    peer_group: str | None = None  # a NOF file: the peer group whose trusts it holds


def _nof(stored: "StoredFile", quarter: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.nof import read_nof_trust_data

    # ``quarter`` is the publication's: it names the rows of a file with no Quarter column
    return read_nof_trust_data(stored.read_bytes(), quarter.published_label)


def _ods(stored: "StoredFile", _quarter: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.ods import read_ods_trusts

    return read_ods_trusts(stored.read_bytes())


def _rsp(stored: "StoredFile", _quarter: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.flags import read_rsp_list

    return read_rsp_list(stored.read_bytes())


def _deficit(stored: "StoredFile", _quarter: Quarter) -> "pd.DataFrame":
    from league_pipeline.formats.flags import read_deficit_flags

    return read_deficit_flags(stored.read_bytes())


SOURCE_SPECS: tuple[SourceSpec, ...] = (
    SourceSpec(
        ACUTE.source_kind,
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for acute trusts (metric values, scores, segments).",
        cumulative=True,
        peer_group=ACUTE.id,
    ),
    SourceSpec(
        MHC.source_kind,
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for mental health and community trusts.",
        cumulative=True,
        peer_group=MHC.id,
    ),
    SourceSpec(
        AMBULANCE.source_kind,
        "nof_trust_data",
        _nof,
        "NHS England's NOF trust data file for ambulance trusts.",
        cumulative=True,
        peer_group=AMBULANCE.id,
    ),
    SourceSpec(
        "ods_trusts",
        "ods_trusts",
        _ods,
        "ODS list of NHS trusts (etr): codes, names, open and close dates.",
    ),
    SourceSpec(
        "rsp_list",
        "rsp_list",
        _rsp,
        "Trusts in the Recovery Support Programme (segment 5) for the quarter. Optional for "
        "a published quarter whose file carries OF5007 (or OF5005); then it must agree.",
        optional=True,
    ),
    SourceSpec(
        "deficit_flags",
        "deficit_flags",
        _deficit,
        "Trusts in deficit or receiving deficit support (the financial override input). "
        "Optional for a published quarter whose file carries OF5004; then it must agree.",
        optional=True,
    ),
)


MAX_CELLS_NAMED = 5  # bad cells named in the one-line ``where`` (the tables hold the rest)
_MARKDOWN = ("failing_cells", "failing_rows", "failure_cases")


@dataclass(frozen=True)
class Located:
    """A failed file: the path people open (the landing file, else the stored copy) and its
    rows (None when they cannot be matched to its lines)."""

    path: str
    rows: "FileRows | None"


def file_path(stored: "StoredFile") -> str:
    """The path of the file a person opens: the landing file it was read from, or (fetched
    over http) the stored copy in the source store."""
    from urllib.parse import unquote, urlparse

    if stored.url.startswith("file:"):
        return unquote(urlparse(stored.url).path)
    return str(stored.path)


def where(report: "ValidationReport", located: Located) -> str:
    """One line naming the file and the first bad cells: ``<path>: line 6 Trust_code 'X', ...``."""
    import pandas as pd

    cells = report.cells_in_file(located.rows)

    def place(line, record) -> str:
        if pd.notna(line):
            return f"line {line}"
        return "row (line unknown)" if pd.isna(record) else f"data row {record} (line unknown)"

    named = [
        f"{place(line, record)} {column} {text!r}"
        for line, record, column, text in zip(
            cells["line"], cells["record"], cells["column"], cells["text"], strict=True
        )
    ][:MAX_CELLS_NAMED]
    more = report.num_failures - len(named)
    tail = f", and {more} more" if more > 0 and named else ""
    return f"{located.path}: {', '.join(named)}{tail}" if named else located.path


def _check_metadata(
    reports: "dict[str, ValidationReport]", located: "dict[str, Located] | None" = None
) -> dict:
    failed = {key: r for key, r in reports.items() if not r.passed}
    located = located or {}
    meta: dict = {
        "quarters_checked": ", ".join(parse_quarter(k).label for k in reports),
        "rows_checked": sum(r.row_count for r in reports.values()),
    }
    if not failed:
        meta["summary"] = " ".join(r.summary for r in reports.values())
        return meta
    meta["summary"] = " ".join(f"{parse_quarter(k).label}: {r.summary}" for k, r in failed.items())
    wheres = []
    for key, report in failed.items():
        prefix = "" if len(failed) == 1 else f"{key} "
        place = located.get(key)
        if place is not None:
            meta[f"{prefix}file"] = dg.MetadataValue.path(place.path)
            wheres.append(where(report, place))
        rows = place.rows if place is not None else None
        for name, value in report.dagster_metadata(rows).items():
            if name == "failing_cells" and place is not None:
                value = f"In `{place.path}`:\n\n{value}"  # the table names the file it is in
            meta[f"{prefix}{name}"] = dg.MetadataValue.md(value) if name in _MARKDOWN else value
    if wheres:
        meta["where"] = "; ".join(wheres)
    return meta


@dataclass
class Extract:
    """A parsed source file: where it came from and the quarter whose publication it is."""

    stored: "StoredFile"
    published_in: Quarter
    df: "pd.DataFrame"


def _read(
    spec: SourceSpec, quarter: Quarter, fetcher: "SourceFetcher", log
) -> tuple[Extract, Extract | None]:
    """The file the quarter's rows come from, and (for a cumulative kind read from a newer
    publication) the quarter's own file, which is validated too and compared.

    A cumulative kind's rows come from the newest publication of the year that holds rows of
    ``quarter`` (a later quarter's landing folder or URL), else from the quarter's own file."""
    from league_pipeline.ingest.fetch import SourceMissing

    if spec.cumulative:
        later = [Quarter(quarter.fy_start, q) for q in range(quarter.q + 1, 5)]
        for stored, published_in in fetcher.publications(spec.kind, quarter, later):
            extract = Extract(stored, published_in, spec.read(stored, published_in))
            if published_in == quarter:
                return extract, None
            if (extract.df["Quarter"] == quarter.label).any():
                try:
                    own = fetcher.acquire(spec.kind, quarter)
                except SourceMissing:
                    return extract, None
                return extract, Extract(own, quarter, spec.read(own, quarter))
            log.info(
                f"{spec.kind}: the {published_in.label} publication ({stored.url}) holds no "
                f"rows for {quarter.label}; trying the earlier one"
            )
        raise AssertionError("unreachable: the quarter's own file is the last candidate")
    return Extract(
        stored := fetcher.acquire(spec.kind, quarter), quarter, spec.read(stored, quarter)
    ), None


def _absent(staging: Staging, kind: str, partition_key: str, reason: str) -> dict:
    """Record that ``kind`` has no file for the quarter (nothing stale is left staged)."""
    staging.path_for(kind, partition_key).unlink(missing_ok=True)
    record = {"kind": kind, "absent": True, "reason": reason}
    staging.write_lineage(kind, partition_key, record)
    return record


def is_absent(staging: Staging, kind: str, partition_key: str) -> bool:
    """The run recorded ``kind`` as absent for the quarter (optional file, or a peer group the
    run leaves out)."""
    try:
        return bool(staging.read_lineage(kind, partition_key).get("absent"))
    except StagingMissingError:  # the source has not run: reading it says so
        return False


def _revisions(
    kind: str, publication: "pd.DataFrame", quarter: Quarter, store: "SnapshotStore"
) -> "tuple[pd.DataFrame, list[str]]":
    """Rows of earlier quarters in ``publication`` that differ from what their latest snapshot
    was built from (NHS England's revisions), and notes on quarters that could not be compared."""
    import pandas as pd

    from league_pipeline.ingest.revisions import publication_changes
    from league_pipeline.snapshots.store import PUBLISHED_ROWS, SnapshotNotFoundError

    changes, notes = [], []
    for label in sorted(set(publication["Quarter"])):
        earlier = parse_quarter(label, check_methodology=False)
        if earlier >= quarter:
            continue
        try:
            info = store.latest(earlier)
        except SnapshotNotFoundError:
            info = None
        if info is None:
            notes.append(f"{label}: no snapshot yet")
            continue
        if PUBLISHED_ROWS not in info.tables:
            notes.append(f"{label}: v{info.version} predates stored publication rows")
            continue
        used = store.read(PUBLISHED_ROWS, earlier, info.version)
        used = used[used["source_kind"] == kind]
        rows = publication[publication["Quarter"] == label].rename(columns=str.lower)
        found = publication_changes(used, rows)
        notes.append(f"{label}: {len(found)} change(s) against v{info.version}")
        changes.append(found)
    frame = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame()
    return frame, notes


def _revision_result(changes: "list[pd.DataFrame]", notes: list[str]) -> dg.AssetCheckResult:
    import pandas as pd

    nonempty = [c for c in changes if len(c)]
    found = pd.concat(nonempty, ignore_index=True) if nonempty else None
    count = 0 if found is None else len(found)
    metadata: dict = {
        "changed_cells": count,
        "compared": "; ".join(notes) or "no earlier quarter in the publication",
    }
    if count:
        metadata["changes"] = dg.MetadataValue.md(found.head(200).to_markdown(index=False))
        metadata["fix"] = (
            "NHS England revised an earlier quarter: run `league backfill` over it to build a "
            "new version from the newer publication, then `league revisions` to see the changes"
        )
    return dg.AssetCheckResult(
        check_name=REVISIONS_CHECK,
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def build_source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """``sources/<kind>``: per quarter, fetch, parse, validate, stage (or reject), with lineage."""
    key = dg.AssetKey(["sources", spec.kind])
    check_specs = [
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset=key,
            blocking=True,
            description=f"Validates the extract against schemas/{spec.schema}.yaml (pandera).",
        )
    ]
    if spec.cumulative:
        check_specs.append(
            dg.AssetCheckSpec(
                REVISIONS_CHECK,
                asset=key,
                description=(
                    "Earlier quarters' rows in this cumulative publication that differ from "
                    "what those quarters' latest snapshots were built from (warns only)."
                ),
            )
        )

    @quarterly_asset(
        key=key,
        group_name=spec.group,
        description=spec.description,
        kinds={"pandas", "pandera"},
        code_version=CODE_VERSION,
        check_specs=check_specs,
    )
    def _source(
        context: dg.AssetExecutionContext,
        league: LeagueConfig,
        fetcher: FetcherResource,
        staging: StagingResource,
        snapshots: SnapshotStoreResource,
    ):
        import pandas as pd

        from league_pipeline.ingest.fetch import SourceMissing
        from league_pipeline.ingest.revisions import publication_changes
        from league_pipeline.validation.locate import locate
        from league_pipeline.validation.report import validate

        sources, stage = fetcher.get(), staging.get()
        reports: dict[str, ValidationReport] = {}
        frames: list[pd.DataFrame] = []
        lineage: dict[str, dict] = {}
        changes: list[pd.DataFrame] = []
        notes: list[str] = []
        located: dict[str, Located] = {}
        groups = league.run_peer_groups()
        for partition_key in context.partition_keys:
            quarter = parse_quarter(partition_key)
            if spec.peer_group is not None and spec.peer_group not in groups:
                reason = f"the run leaves out peer group {spec.peer_group}"
                lineage[partition_key] = _absent(stage, spec.kind, partition_key, reason)
                continue
            context.log.info(f"fetching {spec.kind} for {quarter.label} ({sources.mode})")
            try:
                chosen, own = _read(spec, quarter, sources, context.log)
            except SourceMissing as exc:
                if not spec.optional:
                    raise
                context.log.info(f"{spec.kind} {quarter.label}: absent ({exc})")
                lineage[partition_key] = _absent(stage, spec.kind, partition_key, str(exc))
                continue
            report = validate(chosen.df, spec.schema, expected_quarter=quarter.label)
            if own is not None and report.passed:
                # the quarter's own file is checked too: a broken file is never skipped over
                own_report = validate(own.df, spec.schema, expected_quarter=quarter.label)
                if not own_report.passed:
                    context.log.error(
                        f"{spec.kind} {quarter.label}: its own publication ({own.stored.url}) "
                        f"fails validation (the newer {chosen.published_in.label} one is fine)"
                    )
                    chosen, report = own, own_report
            stored, published_in, df = chosen.stored, chosen.published_in, chosen.df
            reports[partition_key] = report
            record = stored.to_record() | {
                "kind": spec.kind,
                "schema": spec.schema,
                "schema_version": report.schema_version,
                "rows": len(df),
                "valid": report.passed,
                "publication_quarter": published_in.label,
                # generated by `league sample-data` (listed in the landing folder's manifest)
                "synthetic": data_origin.is_synthetic(sources.landing_dir, stored.sha256),
            }
            lineage[partition_key] = record
            if report.passed:
                rows = df
                if spec.cumulative:
                    rows = df[df["Quarter"] == quarter.label].reset_index(drop=True)
                    record["quarters_in_file"] = sorted(set(df["Quarter"]))
                    record["rows_for_quarter"] = len(rows)
                    found, said = _revisions(spec.kind, df, quarter, snapshots.get())
                    changes.append(found)
                    notes.extend(f"{quarter.label} file: {n}" for n in said)
                    if own is not None and chosen is not own:
                        superseded = own.df[own.df["Quarter"] == quarter.label]
                        found = publication_changes(
                            superseded.rename(columns=str.lower), rows.rename(columns=str.lower)
                        )
                        changes.append(found)
                        notes.append(
                            f"{quarter.label}: {len(found)} change(s) from its own "
                            f"publication to the {published_in.label} one used"
                        )
                        record["superseded_publication"] = {
                            "quarter": quarter.label,
                            "url": own.stored.url,
                            "sha256": own.stored.sha256,
                        }
                stage.write_table(spec.kind, partition_key, rows)
                stage.write_lineage(spec.kind, partition_key, record)
            else:
                # keep the bad extract for inspection, and make sure downstream cannot read a
                # previous quarter's good file as if it were this one
                stage.write_table(spec.kind, f"{partition_key}.rejected", df)
                stage.path_for(spec.kind, partition_key).unlink(missing_ok=True)
                located[partition_key] = Located(file_path(stored), locate(stored.read_bytes(), df))
                context.log.error(
                    f"{spec.kind} {quarter.label}: {report.summary} "
                    f"In {where(report, located[partition_key])}"
                )
            frames.append(df)
        combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        metadata = (
            table_metadata(
                f"league.staging.{spec.kind}",
                combined,
                partitions=len(context.partition_keys),
                schema=spec.schema,
            )
            | _lineage_metadata(lineage)
            | {"preview": markdown_preview(combined)}
        )
        passed = all(r.passed for r in reports.values())
        check_meta = _check_metadata(reports, located) if reports else {}
        absent = {k: r["reason"] for k, r in lineage.items() if r.get("absent")}
        if absent:
            check_meta["absent"] = "; ".join(
                f"{parse_quarter(k).label}: {why}" for k, why in absent.items()
            )
        schema_result = dg.AssetCheckResult(
            check_name=SCHEMA_CHECK,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=check_meta,
        )
        if not passed:
            # validated before the asset is recorded: the check's result, then the step fails,
            # so the partition shows failed and no materialization claims the bad file
            yield schema_result
            raise dg.Failure(
                description=f"{spec.kind}: {check_meta['summary']} In {check_meta['where']}",
                metadata={
                    k: v
                    for k, v in check_meta.items()
                    if k.endswith(("file", "where", "summary", "num_failures", "failing_cells"))
                },
                allow_retries=False,
            )
        results = [schema_result]
        if spec.cumulative:
            results.append(_revision_result(changes, notes))
        yield dg.MaterializeResult(metadata=metadata, check_results=results)

    return _source


def _lineage_metadata(lineage: dict[str, dict]) -> dict:
    present = [r for r in lineage.values() if not r.get("absent")]
    if not present:
        return {"absent": "; ".join(r["reason"] for r in lineage.values())}
    first = present[0]
    out = {
        "source_url": dg.MetadataValue.url(first["url"])
        if str(first["url"]).startswith("http")
        else dg.MetadataValue.path(str(first["url"])),
        "sha256": ", ".join(r["sha256"] for r in present),
        "fetched_at": ", ".join(str(r["fetched_at"]) for r in present),
        "schema_version": first["schema_version"],
    }
    if "publication_quarter" in first:
        out["publication"] = ", ".join(
            f"{r['publication_quarter']} ({r['sha256'][:12]})" for r in present
        )
    return out


source_assets = [build_source_asset(spec) for spec in SOURCE_SPECS]
SOURCE_KEYS = {spec.kind: dg.AssetKey(["sources", spec.kind]) for spec in SOURCE_SPECS}
