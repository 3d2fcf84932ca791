"""Shared helpers for the ``league`` sub-commands: errors, progress, quarter arguments."""

from __future__ import annotations

import argparse
import sys

from league_pipeline import paths


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def progress(message: str) -> None:
    print(f"[league] {message}", file=sys.stderr, flush=True)


def log_level(args: argparse.Namespace) -> str:
    return "INFO" if args.verbose else "CRITICAL"


def check_landing(quarters) -> None:
    """In landing mode, fail early (with the fix) when a quarter has no files."""
    import os

    if os.environ.get("LEAGUE_SOURCE_MODE", "landing") != "landing":
        return
    landing = paths.landing_dir()
    for quarter in quarters:
        folder = landing / quarter.slug
        if not folder.is_dir() or not any(folder.iterdir()):
            raise CliError(
                f"no source files for {quarter.label} in {landing} — run `league sample-data` "
                "for the embedded default, or put NHS England's published files there"
            )
