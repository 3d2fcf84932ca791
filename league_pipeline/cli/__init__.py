"""``league``: the command line for people who never open Dagster.

Belongs here: the top-level parser and ``main``. Each sub-command lives in a module of this
package exposing ``register(subparsers)``; the modules are listed in :data:`COMMAND_MODULES`.
Commands call library code; nothing in the CLI computes results. ``main`` reads the settings
from the environment once (:meth:`~league_pipeline.core.settings.Settings.from_env`), unless
it is given them, and hands them to the command as ``args.settings``. Errors are one line saying
what went wrong and a ``fix:`` line saying how to fix it (league_pipeline.cli.errors), with a
non-zero exit code: 2 for bad input, 1 for anything else; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from league_pipeline.core.settings import Settings

COMMAND_MODULES = (
    "league_pipeline.cli.pipeline",
    "league_pipeline.cli.snapshots",
    "league_pipeline.cli.outputs",
    "league_pipeline.cli.raw",
    "league_pipeline.cli.audit",
    "league_pipeline.cli.lake",
    "league_pipeline.cli.whatif",
)

EXAMPLES = """\
examples:
  league sample-data                          write the synthetic sample data (labelled so)
  league run --quarter "2025/26 Q1"           fetch, validate, score and snapshot a quarter
  league backfill --from "2025/26 Q1" --to "2025/26 Q4"
  league backfill --parallel 2                one run, two steps at a time in processes of their own
  league status                               which quarters have snapshots, and their versions
  league table --quarter "2025/26 Q1" --peer-group ambulance
  league explain ZA001 --quarter "2025/26 Q2" why a trust got its score, segment and rank
  league audit --quarter "2025/26 Q1"         recomputed figures vs NHS England's published ones
  league whatif ZA010 --quarter "2025/26 Q1" --target-segment 1
                                              what would it take: the smallest single-metric
                                              changes that reach a segment (or --set METRIC=V)
  league report --quarter "2025/26 Q2"        the static HTML report (also: export, movement,
                                              revisions)

environment: LEAGUE_HOME (working folder, default ./.league), LEAGUE_SOURCE_MODE (landing|http),
LEAGUE_LANDING_DIR, LEAGUE_HTTP_BASE_URL, DAGSTER_HOME (default $LEAGUE_HOME/dagster).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="league",
        description="Reproduce, audit and explain the NHS Oversight Framework 2025/26 league "
        "tables, quarter by quarter.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show Dagster's own logs")
    parser.add_argument(
        "--debug", action="store_true", help="on a failure, show the Python traceback too"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import logging  # after parsing: `league --help` and a usage error need none of it

    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    if not args.verbose:
        warnings.filterwarnings("ignore")  # Dagster's beta/preview notices are not for end users
    try:
        if settings is None:
            from league_pipeline.core.settings import Settings

            settings = Settings.from_env()
        args.settings = settings
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`league audit --format csv | head`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        print("fix: run the command again: nothing half-written was kept", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from league_pipeline.cli.common import terminal_safe
        from league_pipeline.cli.errors import explain, is_input_error

        explained = explain(exc)  # the text may quote a file name or input: made safe to print
        print(f"error: {terminal_safe(explained.error)}", file=sys.stderr)
        print(f"fix: {terminal_safe(explained.fix)}", file=sys.stderr)
        return 2 if is_input_error(exc) else 1


if __name__ == "__main__":
    sys.exit(main())
