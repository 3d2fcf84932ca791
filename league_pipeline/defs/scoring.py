"""Scoring assets: metric values -> metric scores -> domain scores -> segments -> league tables.

Belongs here: the Dagster assets that run the methodology SQL (``assets/sql/scoring``) step by
step. Each asset loads its upstream tables from staging Parquet straight into an in-memory
DuckDB, runs its SQL steps for every quarter in the run at once (so a single-run backfill is one
query per step), and writes each quarter back to staging.
"""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime.
# The library is imported inside the functions that use it (see defs/sources.py), so loading
# the code location does not import it; annotations naming its types are strings.
from typing import TYPE_CHECKING

import dagster as dg

from league_pipeline.core.peer_groups import NOF_SOURCE_KINDS
from league_pipeline.core.staging import Staging, engine_table
from league_pipeline.defs.checks import output_check, output_check_result
from league_pipeline.defs.derived import RECONCILIATION_KEY
from league_pipeline.defs.metadata import table_metadata
from league_pipeline.defs.partitions import quarterly_asset
from league_pipeline.defs.resources import LeagueConfig, StagingResource
from league_pipeline.defs.sources import SOURCE_KEYS, is_absent

if TYPE_CHECKING:
    import pandas as pd

    from league_pipeline.scoring.engine import ScoringSession

CODE_VERSION = "1"
ODS_CHECK = "trust_codes_in_ods"

_common = dict(group_name="scoring", kinds={"duckdb"}, code_version=CODE_VERSION)


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["scoring", name])


def _load(
    staging: Staging, session: "ScoringSession", tables: list[str], partition_keys: list[str]
) -> None:
    for table in tables:
        staged = engine_table(table)
        session.load_parquet(table, [staging.existing_path(staged, k) for k in partition_keys])


def _score(
    staging: Staging, keys: list[str], inputs: list[str], steps: list[str], outputs: list[str]
) -> "dict[str, pd.DataFrame]":
    """Run the SQL ``steps`` on the staged ``inputs`` of ``keys``; stage and return ``outputs``."""
    from league_pipeline.scoring.engine import ScoringSession

    with ScoringSession() as session:
        _load(staging, session, inputs, keys)
        session.run(steps)
        frames = {name: session.df(name) for name in outputs}
    for name, df in frames.items():
        staging.write_quarters(engine_table(name), df, keys)
    return frames


def _result(
    context: dg.AssetExecutionContext, name: str, df: "pd.DataFrame", schema: str | None
) -> dg.MaterializeResult:
    metadata = table_metadata(f"league.scoring.{name}", df, partitions=len(context.partition_keys))
    checks = [output_check_result(df, schema)] if schema else []
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


AUDIT_CHECK = "agrees_with_publication"


def _audit_spec(name: str, layers: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        AUDIT_CHECK,
        asset=_key(name),
        description=(
            f"Compares the computed {layers} with NHS England's published figures (warns only): "
            "counts compared and agreeing, and one row per disagreement with its reason."
        ),
    )


def _staged(staging: Staging, table: str, keys: list[str]) -> "pd.DataFrame":
    import pandas as pd

    return pd.concat([staging.read_table(table, k) for k in keys], ignore_index=True)


def _audit(
    staging: Staging, rows: "pd.DataFrame", stage_as: str, keys: list[str]
) -> dg.AssetCheckResult:
    """Stage a layer's audit rows and report them as a warn-only check."""
    from league_pipeline.audit import compare as audit

    staging.write_quarters(engine_table(stage_as), rows, keys)
    summary = audit.layer_summary(rows)
    disagreements = rows[~rows["agrees"]]
    computed = rows[rows["basis"] == "computed"]
    metadata: dict = {
        "compared": len(rows),
        "computed_agreeing": f"{int(computed['agrees'].sum())} of {len(computed)}",
        "taken_from_publication": int((rows["basis"] != "computed").sum()),
        "disagreements": len(disagreements),
        "summary": "; ".join(audit.rate_line(rows, layer) for layer in rows["layer"].unique()),
        "by_layer": dg.MetadataValue.md(summary.to_markdown(index=False)) if len(summary) else "",
    }
    if len(disagreements):
        shown = disagreements.head(200).round(4)
        metadata["rows"] = dg.MetadataValue.md(shown.to_markdown(index=False))
    unexplained = int((rows["reason"] == audit.UNEXPLAINED).sum())
    return dg.AssetCheckResult(
        check_name=AUDIT_CHECK,
        passed=disagreements.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata | {"unexplained": unexplained},
    )


def _ods_check(staging: Staging, trusts: "pd.DataFrame", keys: list[str]) -> dg.AssetCheckResult:
    """Warn (not block) about trusts the ODS list does not know: a typo, or a merged trust."""
    known = set().union(*(set(staging.read_table("ods_trusts", k)["ods_code"]) for k in keys))
    unknown = trusts.loc[~trusts["trust_code"].isin(known), ["quarter", "trust_code", "trust_name"]]
    return dg.AssetCheckResult(
        check_name=ODS_CHECK,
        passed=unknown.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unknown_trusts": len(unknown),
            "rows": dg.MetadataValue.md(unknown.head(50).to_markdown(index=False))
            if len(unknown)
            else "none",
        },
    )


FLAGS_CHECK = "flags_agree_with_publication"


def _supplied(staging: Staging, kind: str, keys: list[str], read) -> "pd.DataFrame | None":
    """A landing flag file's flags for ``keys`` (None where none was supplied)."""
    import pandas as pd

    frames = [read(staging.read_table(kind, k)) for k in keys if not is_absent(staging, kind, k)]
    return pd.concat(frames, ignore_index=True) if frames else None


def _flags(staging: Staging, nof: "pd.DataFrame", trusts: "pd.DataFrame", keys: list[str]) -> dict:
    """The override flag and RSP membership of every trust: the publication's (OF5004, OF5007
    or OF5005), else the landing files'. Raises a Failure when a trust has no deficit flag."""
    from league_pipeline.scoring import inputs

    published = inputs.published_flags(nof)
    deficit = inputs.resolve_flag(
        "deficit_flag",
        trusts,
        published,
        _supplied(staging, "deficit_flags", keys, inputs.deficit_flags_input),
    )
    rsp = inputs.resolve_flag(
        "in_rsp",
        trusts,
        published,
        _supplied(staging, "rsp_list", keys, inputs.rsp_input),
        default=False,
    )
    if len(deficit.missing):
        shown = ", ".join(f"{q} {t}" for q, t in deficit.missing.head(10).itertuples(index=False))
        raise dg.Failure(
            description=(
                f"{len(deficit.missing)} trust(s) have no financial override flag: the "
                f"publication carries no OF5004 for them ({shown}) and no deficit-flags file "
                "was supplied — put financial-deficit-flags.csv in the quarter's landing folder"
            ),
            metadata={"trusts": dg.MetadataValue.md(deficit.missing.to_markdown(index=False))},
        )
    return {"deficit": deficit, "rsp": rsp}


def _flags_check(flags: dict) -> dg.AssetCheckResult:
    import pandas as pd

    disagreements = pd.concat([f.disagreements for f in flags.values()], ignore_index=True)
    notes = [n for f in flags.values() for n in f.notes]
    counts = {
        f"{name} from": ", ".join(
            f"{basis} {n}" for basis, n in f.values.iloc[:, -1].value_counts().items()
        )
        for name, f in flags.items()
    }
    metadata: dict = {"disagreements": len(disagreements), **counts}
    if notes:
        metadata["notes"] = "; ".join(notes)
    if len(disagreements):
        metadata["rows"] = dg.MetadataValue.md(disagreements.head(100).to_markdown(index=False))
        metadata["fix"] = (
            "a landing flag file contradicts NHS England's publication: correct or remove "
            "financial-deficit-flags.csv / recovery-support-programme.csv"
        )
    return dg.AssetCheckResult(
        check_name=FLAGS_CHECK, passed=disagreements.empty, metadata=metadata
    )


@quarterly_asset(
    key=_key("metric_values"),
    deps=[
        *(SOURCE_KEYS[k] for k in (*NOF_SOURCE_KINDS, "deficit_flags", "rsp_list", "ods_trusts")),
        RECONCILIATION_KEY,  # derived values and their reconciliation are staged first
    ],
    description=(
        "Every trust's metric values (OF0xxx) with their source (official NOF file or raw "
        "derivation, by the precedence in assets/methodology/metric_sources.yaml), score-only "
        "metrics, deficit and RSP flags (from the publication's OF5004/OF5007, else the landing "
        "files), and NHS England's published layers for the audit and for values the run "
        "cannot compute (peer groups left out)."
    ),
    check_specs=[
        output_check(_key("metric_values"), "metric_values"),
        dg.AssetCheckSpec(
            ODS_CHECK,
            asset=_key("metric_values"),
            description="Every trust in the NOF files is in the ODS trust list (warns only).",
        ),
        dg.AssetCheckSpec(
            FLAGS_CHECK,
            asset=_key("metric_values"),
            blocking=True,
            description=(
                "A supplied deficit-flags or RSP file agrees with the publication's OF5004 / "
                "OF5007 (blocking)."
            ),
        ),
    ],
    **_common,
)
def metric_values(
    context: dg.AssetExecutionContext, league: LeagueConfig, staging: StagingResource
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.scoring import inputs, official

    keys, stage = context.partition_keys, staging.get()
    extracts = [
        stage.read_table(kind, k)
        for kind in NOF_SOURCE_KINDS
        for k in keys
        if not is_absent(stage, kind, k)
    ]
    nof = inputs.nof_frame(extracts)
    tables = inputs.nof_inputs([nof])
    derived = pd.concat([stage.read_table("derived_values", k) for k in keys])
    tables["metric_values"] = inputs.with_sources(
        tables["metric_values"], derived, tables["trusts"]
    )
    unaccounted = inputs.unaccounted_values(nof, tables["metric_values"])
    if len(unaccounted):  # row-count reconciliation: no stage may drop or invent a value
        raise dg.Failure(
            description=(
                f"{len(unaccounted)} metric value(s) were lost or invented between the "
                "validated NOF files and the scoring input; nothing was scored"
            ),
            metadata={"rows": dg.MetadataValue.md(unaccounted.head(50).to_markdown(index=False))},
        )
    flags = _flags(stage, nof, tables["trusts"], keys)
    tables["deficit_flags"] = flags["deficit"].values
    tables["rsp"] = flags["rsp"].values
    tables |= official.published_layers(nof, league.run_peer_groups())
    for table, df in tables.items():
        stage.write_quarters(engine_table(table), df, keys)
    values = tables["metric_values"].merge(
        tables["trusts"][["quarter", "trust_code", "peer_group"]], on=["quarter", "trust_code"]
    )
    result = _result(context, "metric_values", values, "metric_values")
    sources = values.groupby(["quarter", "source"]).size().rename("values").reset_index()
    return dg.MaterializeResult(
        metadata={
            **result.metadata,
            "sources": dg.MetadataValue.md(sources.to_markdown(index=False)),
            "peer_groups": ", ".join(league.run_peer_groups()),
            "published_values_reconciled": len(official.metric_values_from_nof(nof)),
        },
        check_results=[
            *result.check_results,
            _ods_check(stage, tables["trusts"], keys),
            _flags_check(flags),
        ],
    )


@quarterly_asset(
    key=_key("metric_scores"),
    deps=[_key("metric_values")],
    description="Metric scores (OF1xxx, 1 best to 4 worst) by each metric's rule and peer pool.",
    check_specs=[
        output_check(_key("metric_scores"), "metric_scores"),
        _audit_spec("metric_scores", "metric scores (OF1xxx)"),
    ],
    **_common,
)
def metric_scores(
    context: dg.AssetExecutionContext, staging: StagingResource
) -> dg.MaterializeResult:
    from league_pipeline.audit import compare as audit

    keys, stage = context.partition_keys, staging.get()
    tables = ["trusts", "metric_values", "given_scores", "run_scope", "published_scores"]
    df = _score(stage, keys, tables, ["metric_scores"], ["metric_scores"])["metric_scores"]
    result = _result(context, "metric_scores", df, "metric_scores")
    rows = audit.metric_score_rows(
        df, _staged(stage, "published_scores", keys), _staged(stage, "trusts", keys)
    )
    return dg.MaterializeResult(
        metadata=result.metadata,
        check_results=[*result.check_results, _audit(stage, rows, "audit_metric_scores", keys)],
    )


@quarterly_asset(
    key=_key("domain_scores"),
    deps=[_key("metric_scores")],
    description="Averaging items (infections collapsed) and domain scores OF4000-OF4005.",
    check_specs=[
        output_check(_key("domain_scores"), "domain_scores"),
        _audit_spec("domain_scores", "domain scores (OF40xx) and domain segments (OF41xx)"),
    ],
    **_common,
)
def domain_scores(
    context: dg.AssetExecutionContext, staging: StagingResource
) -> dg.MaterializeResult:
    from league_pipeline.audit import compare as audit

    keys, stage = context.partition_keys, staging.get()
    steps = ["score_items", "domain_scores"]
    tables = ["metric_scores", "run_scope", "published_domains"]
    df = _score(stage, keys, tables, steps, steps)["domain_scores"]
    result = _result(context, "domain_scores", df, "domain_scores")
    rows = audit.domain_rows(
        df,
        _staged(stage, "published_domains", keys),
        _staged(stage, "trusts", keys),
        _staged(stage, "audit_metric_scores", keys),
    )
    return dg.MaterializeResult(
        metadata=result.metadata,
        check_results=[*result.check_results, _audit(stage, rows, "audit_domain_scores", keys)],
    )


@quarterly_asset(
    key=_key("segments"),
    deps=[_key("domain_scores")],
    description=(
        "Average metric score, segments 1-4 from pooled quartiles, financial override and "
        "segment 5 (Recovery Support Programme). When the run leaves out a peer group, the "
        "pooled cut-points cannot be computed and the published unadjusted segments are used."
    ),
    check_specs=[
        _audit_spec("segments", "average (OF5002), segments (OF5003, OF5000, OF5005) and flags")
    ],
    **_common,
)
def segments(context: dg.AssetExecutionContext, staging: StagingResource) -> dg.MaterializeResult:
    from league_pipeline.audit import compare as audit

    keys, stage = context.partition_keys, staging.get()
    frames = _score(
        stage,
        keys,
        ["score_items", "deficit_flags", "rsp", "run_scope", "published_summary", "trusts"],
        ["trust_averages", "segment_cut_points", "unadjusted_segments", "trust_segments"],
        ["trust_averages", "segment_cut_points", "trust_segments"],
    )
    cuts = frames["segment_cut_points"]
    result = _result(context, "trust_segments", frames["trust_segments"], None)
    cut_md = dg.MetadataValue.md(cuts.round(4).to_markdown(index=False))
    rows = audit.summary_rows(
        frames["trust_segments"],
        _staged(stage, "published_summary", keys),
        _staged(stage, "trusts", keys),
        _staged(stage, "audit_metric_scores", keys),
        averages=frames["trust_averages"],
    )
    return dg.MaterializeResult(
        metadata={**result.metadata, "cut_points": cut_md},
        check_results=[_audit(stage, rows, "audit_segments", keys)],
    )


@quarterly_asset(
    key=_key("league_tables"),
    deps=[_key("segments")],
    description=(
        "League tables per peer group: rank by adjusted segment then average score (2 dp), with "
        "likely ranges: the exact bootstrap range of the average score and a seeded simulation of "
        "the rank."
    ),
    check_specs=[
        output_check(_key("league_tables"), "league_table"),
        _audit_spec("league_tables", "league ranks"),
    ],
    **_common,
)
def league_tables(
    context: dg.AssetExecutionContext,
    league: LeagueConfig,
    staging: StagingResource,
) -> dg.MaterializeResult:
    import pandas as pd

    from league_pipeline.audit import compare as audit
    from league_pipeline.scoring.engine import ScoringSession
    from league_pipeline.scoring.likely_ranges import likely_ranges

    keys, stage = context.partition_keys, staging.get()
    with ScoringSession() as session:
        _load(stage, session, ["trusts", "trust_segments"], keys)
        session.run(["league_table"])
        table = session.df("league_table")
    ranges = likely_ranges(
        _staged(stage, "score_items", keys),
        _staged(stage, "trust_segments", keys),
        _staged(stage, "segment_cut_points", keys),
        replicates=league.bootstrap_replicates,
        seed=league.bootstrap_seed,
    )
    table = table.merge(ranges, on=["quarter", "peer_group", "trust_code"], how="left")
    published = _staged(stage, "published_summary", keys)
    table = table.merge(
        published[["quarter", "trust_code", "adjusted_segment", "rank"]].rename(
            columns={"adjusted_segment": "published_segment", "rank": "published_rank"}
        ),
        on=["quarter", "trust_code"],
        how="left",
    )
    stage.write_quarters(engine_table("league_table"), table, keys)
    result = _result(context, "league_tables", table, "league_table")
    upstream = pd.concat(
        [_staged(stage, "audit_metric_scores", keys), _staged(stage, "audit_segments", keys)],
        ignore_index=True,
    )
    rows = audit.summary_rows(
        table[["quarter", "trust_code", "peer_group", "rank"]],
        published[["quarter", "trust_code", "rank"]],
        _staged(stage, "trusts", keys),
        upstream,
    )
    previews = {}
    for (quarter, group), g in table.groupby(["quarter", "peer_group"]):
        cols = ["rank", "trust_code", "trust_name", "average_score", "adjusted_segment"]
        top_bottom = pd.concat([g.head(5), g.tail(5)])[cols].drop_duplicates()
        previews[f"top_and_bottom {quarter} {group}"] = dg.MetadataValue.md(
            top_bottom.round(2).to_markdown(index=False)
        )
    return dg.MaterializeResult(
        metadata={**result.metadata, **previews},
        check_results=[*result.check_results, _audit(stage, rows, "audit_league_table", keys)],
    )


scoring_assets = [metric_values, metric_scores, domain_scores, segments, league_tables]
