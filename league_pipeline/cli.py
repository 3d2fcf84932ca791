"""``league``: the command line for people who never open Dagster.

Belongs here: argument parsing, printing and exit codes. Every command calls library code
(:mod:`runner`, :mod:`snapshots`, :mod:`sample_data`); nothing here computes results.
Errors are one line saying what went wrong and how to fix it, with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from league_pipeline import paths

EXAMPLES = """\
examples:
  league sample-data                          write the embedded default landing folder
  league run --quarter "2025/26 Q1"           fetch, validate, score and snapshot a quarter
  league backfill --from "2025/26 Q1" --to "2025/26 Q4"
  league status                               which quarters have snapshots, and their versions
  league table --quarter "2025/26 Q1" --peer-group ambulance

environment: LEAGUE_HOME (working folder, default ./.league), LEAGUE_SOURCE_MODE (landing|http),
LEAGUE_LANDING_DIR, LEAGUE_HTTP_BASE_URL, DAGSTER_HOME (default $LEAGUE_HOME/dagster).
"""


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _progress(message: str) -> None:
    print(f"[league] {message}", file=sys.stderr, flush=True)


def _quarters(args: argparse.Namespace):
    from league_pipeline.quarters import all_quarters, parse_quarter, quarter_range

    if getattr(args, "all", False):
        return all_quarters()
    return quarter_range(parse_quarter(args.start), parse_quarter(args.end))


def cmd_sample_data(args: argparse.Namespace) -> int:
    from league_pipeline.quarters import all_quarters, parse_quarter
    from league_pipeline.sample_data import write_sample_landing

    landing = paths.landing_dir() if args.landing is None else args.landing.resolve()
    quarters = [parse_quarter(q) for q in args.quarter] if args.quarter else all_quarters()
    _progress(f"writing sample landing data for {len(quarters)} quarter(s) to {landing}")
    files = write_sample_landing(landing, quarters, seed=args.seed)
    _progress(f"wrote {len(files)} files")
    return 0


def _log_level(args: argparse.Namespace) -> str:
    return "INFO" if args.verbose else "CRITICAL"


def _check_landing(quarters) -> None:
    import os

    from league_pipeline.sources.catalogue import landing_path

    if os.environ.get("LEAGUE_SOURCE_MODE", "landing") != "landing":
        return
    landing = paths.landing_dir()
    for quarter in quarters:
        rel = landing_path("nof_trust_data_acute", quarter)
        if not (landing / rel).exists():
            raise CliError(
                f"no source files for {quarter.label} in {landing} — run `league sample-data` "
                "for the embedded default, or put NHS England's published files there"
            )


def _report(outcomes) -> int:
    failed = [o for o in outcomes if not o.success]
    for outcome in failed:
        for problem in outcome.problems or ["the run failed (see `dagster dev` for the logs)"]:
            print(f"error: {problem}", file=sys.stderr)
        print(
            f"fix: correct the source file(s), then re-run; inspect run {outcome.run_id} "
            f"with `DAGSTER_HOME={paths.dagster_home()} dagster dev`",
            file=sys.stderr,
        )
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    from league_pipeline.quarters import parse_quarter
    from league_pipeline.runner import run_quarters

    quarters = [parse_quarter(q) for q in args.quarter]
    _check_landing(quarters)
    outcomes = run_quarters(
        quarters, single_run=len(quarters) > 1, progress=_progress, log_level=_log_level(args)
    )
    code = _report(outcomes)
    if code == 0:
        _print_snapshots([q.label for q in quarters])
    return code


def cmd_backfill(args: argparse.Namespace) -> int:
    from league_pipeline.runner import run_quarters

    quarters = _quarters(args)
    _check_landing(quarters)
    outcomes = run_quarters(
        quarters, single_run=not args.per_quarter, progress=_progress, log_level=_log_level(args)
    )
    code = _report(outcomes)
    if code == 0:
        _print_snapshots([q.label for q in quarters])
    return code


def _print_snapshots(quarters: list[str] | None = None) -> None:
    from tabulate import tabulate

    from league_pipeline.snapshots import SnapshotStore

    rows = []
    for info in SnapshotStore().list():
        if quarters and info.quarter not in quarters:
            continue
        inputs = info.lineage.get("inputs", {})
        rows.append(
            [
                info.quarter,
                info.version,
                info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                info.tables.get("league_table", 0),
                (info.run_id or "")[:8],
                info.lineage.get("code_version", ""),
                len(inputs),
            ]
        )
    if not rows:
        print('no snapshots yet: run `league run --quarter "2025/26 Q1"`')
        return
    headers = ["quarter", "version", "created (UTC)", "trusts", "run", "code", "inputs"]
    print(tabulate(rows, headers=headers))


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from league_pipeline.quarters import parse_quarter
    from league_pipeline.snapshots import SnapshotStore

    if args.lineage:
        quarter = parse_quarter(args.lineage).label
        print(json.dumps(SnapshotStore().lineage(quarter, args.version), indent=2, default=str))
        return 0
    _print_snapshots()
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from league_pipeline.peer_groups import peer_group
    from league_pipeline.quarters import parse_quarter
    from league_pipeline.snapshots import SnapshotStore

    quarter = parse_quarter(args.quarter)
    group = peer_group(args.peer_group)
    store = SnapshotStore()
    if store.latest(quarter.label) is None:
        raise CliError(f'no snapshot for {quarter.label}: run `league run --quarter "{quarter}"`')
    table = store.read("league_table", quarter.label, args.version)
    table = table[table["peer_group"] == group.id].sort_values(["rank", "trust_code"])
    rows = [
        [
            r.rank,
            r.trust_code,
            r.trust_name,
            f"{r.average_score:.2f}",
            f"{r.score_lower:.2f} to {r.score_upper:.2f}",
            r.adjusted_segment,
            "5 (RSP)" if r.in_rsp else r.final_segment,
            "Yes" if r.deficit_flag else "No",
            f"{r.rank_lower} to {r.rank_upper}",
        ]
        for r in table.itertuples()
    ]
    headers = [
        "rank",
        "code",
        "trust",
        "avg",
        "likely avg",
        "seg",
        "final",
        "deficit",
        "likely rank",
    ]
    print(f"{group.label}, {quarter.label} (snapshot v{store.latest(quarter.label).version})")
    print(tabulate(rows, headers=headers, disable_numparse=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="league",
        description="Reproduce, audit and explain the NHS Oversight Framework 2025/26 league "
        "tables, quarter by quarter.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show Dagster's own logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample-data", help="write the embedded default landing folder")
    p.add_argument("--landing", type=Path, help="folder (default: $LEAGUE_HOME/landing)")
    p.add_argument("--quarter", action="append", help="only this quarter (repeatable)")
    p.add_argument("--seed", type=int, default=2025, help="generator seed (default 2025)")
    p.set_defaults(func=cmd_sample_data)

    p = sub.add_parser("run", help="fetch, validate, score and snapshot quarter(s)")
    p.add_argument("--quarter", action="append", required=True, help='e.g. "2025/26 Q1"')
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("backfill", help="run a range of quarters")
    p.add_argument("--from", dest="start", default="2025/26 Q1", help="first quarter")
    p.add_argument("--to", dest="end", default="2025/26 Q4", help="last quarter")
    p.add_argument("--per-quarter", action="store_true", help="one run per quarter")
    p.set_defaults(func=cmd_backfill, all=False)

    p = sub.add_parser("status", help="list snapshots, versions and lineage")
    p.add_argument("--lineage", metavar="QUARTER", help="print the lineage of a quarter's snapshot")
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("table", help="print a league table from the latest snapshot")
    p.add_argument("--quarter", required=True)
    p.add_argument(
        "--peer-group", default="acute", help="acute, mental_health_community, ambulance"
    )
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    p.set_defaults(func=cmd_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    if not args.verbose:
        warnings.filterwarnings("ignore")  # Dagster's beta/preview notices are not for end users
    from league_pipeline.quarters import QuarterError
    from league_pipeline.sources.fetch import SourceFetchError
    from league_pipeline.staging import StagingMissingError

    try:
        return args.func(args)
    except (CliError, QuarterError, SourceFetchError, StagingMissingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
