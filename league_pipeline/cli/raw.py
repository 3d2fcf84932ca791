"""``league reconcile`` and ``league provisional``: metric values from the raw NHS statistics.

Belongs here: the two commands that run the raw-statistics jobs of
:mod:`league_pipeline.defs.derived` for one quarter and print what they found (match rates and the
trusts that differ; a provisional league table, labelled as such).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from league_pipeline.cli.common import (
    CliError,
    log_level,
    print_data_label,
    progress,
    staged_lineage,
    staging_folder,
    terminal_safe,
    terminal_safe_frame,
)

if TYPE_CHECKING:
    import pandas as pd


def _run_job(job_name: str, quarter, args: argparse.Namespace) -> None:
    """Run ``job_name`` for ``quarter`` in the persistent instance; CliError on failure."""
    from league_pipeline.cli.runner import instance, root_cause
    from league_pipeline.definitions import build_defs

    job = build_defs(args.settings).resolve_job_def(job_name)
    progress(f"running {job_name} for {quarter.label} ...")
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level(args)}}}},
        instance=instance(args.settings.dagster_home),
        partition_key=quarter.key,
        raise_on_error=False,
    )
    if result.success:
        return
    problems = []
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity.value == "ERROR":
            summary = evaluation.metadata.get("summary")
            text = summary.value if summary is not None else "check failed"
            problems.append(f"{'/'.join(evaluation.asset_key.path)}: {text}")
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            message = root_cause(event.step_failure_data.error)
            if "blocking asset check" not in message:
                problems.append(f"{event.step_key}: {message}")
    for problem in problems[:-1]:
        print(f"error: {terminal_safe(problem)}", file=sys.stderr)  # may quote a name
    raise CliError(
        (problems[-1] if problems else "the run failed")
        + f" (run {result.run_id}; fix the source file and re-run)"
    )


def _write_csv(df: pd.DataFrame, path: Path | None) -> None:
    if path is not None:
        from league_pipeline.core.atomic import write_bytes
        from league_pipeline.outputs.exports import frame_csv

        write_bytes(path, frame_csv(df))  # formula-leading text cells neutralised
        progress(f"wrote {len(df)} rows to {path}")


def cmd_reconcile(args: argparse.Namespace) -> int:
    from league_pipeline.core.quarters import parse_quarter

    quarter = parse_quarter(args.quarter)
    _run_job("raw_reconciliation_job", quarter, args)
    staged = staging_folder(args.settings)
    table = staged.read_table("reconciliation", quarter.key)
    rates = staged.read_table("reconciliation_rates", quarter.key)
    shown = rates.assign(match_rate=(rates["match_rate"] * 100).round(1))
    print_data_label(staged_lineage(staged, quarter.key))
    print(f"Derived vs official metric values, {quarter.label}\n")
    print(terminal_safe_frame(shown.drop(columns="quarter")).to_string(index=False))
    differs = table[table["status"] == "differs"]
    if len(differs):
        cols = ["metric_id", "trust_code", "trust_name", "derived_value", "official_value", "note"]
        print(f"\nTrusts whose derived value differs from NHS England's ({len(differs)}):")
        print(terminal_safe_frame(differs[cols]).to_string(index=False, max_colwidth=70))
    for r in rates[~rates["passed"]].itertuples():
        print(
            f"warning: {r.metric_id} matches for {r.match_rate:.1%} of trusts, below the "
            f"{r.min_match_rate:.0%} expected (assets/methodology/metric_sources.yaml)",
            file=sys.stderr,
        )
    _write_csv(table, args.csv)
    return 0


def cmd_provisional(args: argparse.Namespace) -> int:
    from league_pipeline.core.peer_groups import peer_group
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.defs.derived import NoOfficialQuarterError, carried_inputs

    quarter = parse_quarter(args.quarter)
    staged = staging_folder(args.settings)
    try:
        carried_from = carried_inputs(staged, quarter).quarter
    except NoOfficialQuarterError as exc:
        raise CliError(str(exc)) from None
    _run_job("provisional_league_job", quarter, args)
    table = staged.read_table("provisional_league_table", quarter.key)
    if args.peer_group:
        table = table[table["peer_group"] == peer_group(args.peer_group).id]
    cols = ["peer_group", "rank", "trust_code", "trust_name", "average_score"]
    cols += ["adjusted_segment", "metrics_derived", "metrics_carried"]
    print_data_label(staged_lineage(staged, quarter.key))
    print(
        f"PROVISIONAL league table, {quarter.label}: not NHS England's. Metric values derived "
        f"from the raw statistics where available, all others carried from {carried_from}.\n"
    )
    shown = terminal_safe_frame(table[cols].round({"average_score": 2}))
    print(shown.to_string(index=False, max_colwidth=60))
    _write_csv(table, args.csv)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconcile",
        help="derive metric values from the raw NHS statistics and compare with NOF's",
    )
    p.add_argument("--quarter", required=True, help='e.g. "2025/26 Q1"')
    p.add_argument("--csv", type=Path, help="also write the per-trust comparison to this CSV")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser(
        "provisional",
        help="a provisional league table before NHS England publishes the quarter",
    )
    p.add_argument("--quarter", required=True, help='e.g. "2025/26 Q2"')
    p.add_argument("--peer-group", help="acute, mental_health_community or ambulance")
    p.add_argument("--csv", type=Path, help="also write the table to this CSV")
    p.set_defaults(func=cmd_provisional)
