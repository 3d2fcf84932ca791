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


def print_data_label(*lineages, stream=None) -> None:
    """Print the synthetic-data line (on stdout unless ``stream``) when any of ``lineages`` (a
    snapshot lineage, or ``{"inputs": ...}`` of staged sources) comes from generated sample
    data; nothing for NHS England's files."""
    from league_pipeline import data_origin

    for lineage in lineages:
        line = data_origin.banner_line(lineage)
        if line:
            print(line, file=stream or sys.stdout)
            return


def staged_lineage(partition_key: str) -> dict:
    """``{"inputs": ...}`` of the source files staged for a quarter (the ones present), for
    commands that read staging rather than a snapshot (reconcile, provisional)."""
    from league_pipeline import data_origin, staging
    from league_pipeline.defs.raw import RAW_SOURCE_SPECS
    from league_pipeline.defs.sources import SOURCE_SPECS

    inputs = {}
    for spec in (*SOURCE_SPECS, *RAW_SOURCE_SPECS):
        try:
            inputs[spec.kind] = staging.read_lineage(spec.kind, partition_key)
        except staging.StagingMissingError:
            continue
    return {"data": data_origin.lineage_data(inputs), "inputs": inputs}


def snapshot_to_read(store, quarter, version: int | None):
    """The snapshot a reading command shows: ``version`` of ``quarter``, by default its latest
    (a one-line CliError, with the fix, when the quarter has none)."""
    latest = store.latest(quarter.label)
    if latest is None:
        raise CliError(
            f'no snapshot for {quarter.label} — run `league run --quarter "{quarter.label}"`'
        )
    return latest if version is None else store.get(quarter.label, version)
