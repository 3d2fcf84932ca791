"""``league sample-data``, ``league run`` and ``league backfill``: producing snapshots.

Belongs here: the argument handling of the commands that write data. Running the job is
:mod:`league_pipeline.cli.runner`; on stderr, a progress bar on a terminal
(:mod:`league_pipeline.cli.progress_bar`), a line per finished step otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from league_pipeline.cli.common import (
    CliError,
    check_landing,
    log_level,
    progress,
    snapshot_store,
    terminal_safe,
)
from league_pipeline.cli.snapshots import print_snapshots


def cmd_sample_data(args: argparse.Namespace) -> int:
    from league_pipeline.core.quarters import all_quarters, parse_quarter
    from league_pipeline.sample import data_origin
    from league_pipeline.sample.generator import LandingNotOursError, write_sample_landing

    landing = args.settings.landing_dir if args.landing is None else args.landing.resolve()
    quarters = [parse_quarter(q) for q in args.quarter] if args.quarter else all_quarters()
    progress(f"writing sample landing data for {len(quarters)} quarter(s) to {landing}")
    try:
        files = write_sample_landing(landing, quarters, seed=args.seed, force=args.force)
    except LandingNotOursError as exc:
        raise CliError(str(exc)) from None
    progress(
        f"wrote {len(files)} files: {data_origin.SYNTHETIC_LABEL} (invented trusts, codes Z...); "
        f"everything made from them is labelled so (list: {data_origin.manifest_path(landing)})"
    )
    return 0


def report(outcomes, dagster_home: Path) -> int:
    """Print each failed run's problems and the fix for their cause; 1 if any run failed."""
    from league_pipeline.cli.errors import from_text

    failed = [o for o in outcomes if not o.success]
    for outcome in failed:
        problems = outcome.problems or ["the run failed (see `dagster dev` for the logs)"]
        fixes = []
        for problem in problems:
            print(f"error: {terminal_safe(problem)}", file=sys.stderr)  # may quote a name
            found = from_text(None, problem)
            if found is not None and found.fix not in fixes:
                fixes.append(found.fix)
        if not fixes:
            fixes.append("correct the source file(s) named above, then re-run")
        print(
            f"fix: {'; '.join(fixes)}; inspect run {outcome.run_id} "
            f"with `DAGSTER_HOME={dagster_home} dagster dev`",
            file=sys.stderr,
        )
    return 1 if failed else 0


def peer_groups_arg(text: str) -> list[str]:
    """``acute,mental_health_community`` -> the peer-group ids (aliases such as ``mh`` too)."""
    from league_pipeline.core.peer_groups import peer_group

    names = [part for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one peer group")
    try:
        return list(dict.fromkeys(peer_group(name).id for name in names))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(quarters, args: argparse.Namespace, *, single_run: bool) -> int:
    from league_pipeline.cli.runner import run_quarters, with_peer_groups
    from league_pipeline.defs.resources import league_config

    if args.parallel is not None and args.parallel < 1:
        raise CliError(f"--parallel must be 1 or more, not {args.parallel}")
    settings = args.settings
    check_landing(settings, quarters)
    league = with_peer_groups(league_config(settings), args.peer_groups)
    # a lost or damaged lake catalog stops the run before any work (nothing would be kept)
    snapshot_store(settings).check_catalog()
    bar = _terminal_bar(verbose=args.verbose)
    with bar or contextlib.nullcontext():
        outcomes = run_quarters(
            quarters,
            single_run=single_run,
            parallel=args.parallel,
            league=league,
            progress=progress if bar is None else bar.line,
            steps=None if bar is None else bar.steps,
            log_level=log_level(args),
            settings=settings,
        )
    code = report(outcomes, settings.dagster_home)
    if code == 0:
        print_snapshots(settings, [q.label for q in quarters])
    return code


def _terminal_bar(*, verbose: bool = False):
    """A progress bar when stderr is a terminal (rich, imported only then); None otherwise, and
    with ``-v``: Dagster's logs then reach the terminal too, partly through its ``tail -F`` of
    the compute logs, which no bar can keep above itself (docs/cli.md)."""
    if verbose or not sys.stderr.isatty():
        return None
    from league_pipeline.cli.progress_bar import ProgressBar

    return ProgressBar.on_stderr()


def cmd_run(args: argparse.Namespace) -> int:
    from league_pipeline.core.quarters import parse_quarter

    quarters = [parse_quarter(q) for q in args.quarter]
    return _run(quarters, args, single_run=len(quarters) > 1)


def cmd_backfill(args: argparse.Namespace) -> int:
    from league_pipeline.core.quarters import parse_quarter, quarter_range

    quarters = quarter_range(parse_quarter(args.start), parse_quarter(args.end))
    return _run(quarters, args, single_run=not args.per_quarter)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample-data", help="write the embedded default landing folder")
    p.add_argument("--landing", type=Path, help="folder (default: $LEAGUE_HOME/landing)")
    p.add_argument("--quarter", action="append", help="only this quarter (repeatable)")
    p.add_argument("--seed", type=int, default=2025, help="generator seed (default 2025)")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite files in the folder that sample-data did not write or that changed since",
    )
    p.set_defaults(func=cmd_sample_data)

    p = sub.add_parser("run", help="fetch, validate, score and snapshot quarter(s)")
    p.add_argument("--quarter", action="append", required=True, help='e.g. "2025/26 Q1"')
    _parallel_option(p)
    _peer_groups_option(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("backfill", help="run a range of quarters")
    p.add_argument("--from", dest="start", default="2025/26 Q1", help="first quarter")
    p.add_argument("--to", dest="end", default="2025/26 Q4", help="last quarter")
    p.add_argument("--per-quarter", action="store_true", help="one run per quarter, in turn")
    _parallel_option(p)
    _peer_groups_option(p)
    p.set_defaults(func=cmd_backfill)


def _parallel_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help=(
            "run N steps of a run at a time, each in a process of its own (Dagster's "
            "multiprocess executor); default 1: one after another in this process"
        ),
    )


def _peer_groups_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--peer-groups",
        type=peer_groups_arg,
        metavar="LIST",
        help=(
            "score only these peer groups, comma-separated (acute, mental_health_community, "
            "ambulance; default all). Values whose ranking pool or segment cut-points span a "
            "group left out are taken from NHS England's publication (basis 'published')"
        ),
    )
