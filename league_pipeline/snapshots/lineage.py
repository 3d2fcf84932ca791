"""Lineage: what a snapshot was built from and by what code.

Belongs here: assembling the lineage record (inputs with URL and content hash, schema versions,
methodology version, code version, Dagster run id, and ``data``: ``synthetic`` or ``published``)
from the staging lineage the source assets left behind.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from league_pipeline import __version__
from league_pipeline.core.staging import Staging
from league_pipeline.sample import data_origin
from league_pipeline.scoring.catalogue import METHODOLOGY_VERSION
from league_pipeline.validation.schemas import schema_version


@cache
def code_version() -> str:
    """The package version with the commit the code came from.

    An installed wheel carries its commit in its version (``0.1.1.devN+g<commit>``): hatch-vcs
    recorded it when the wheel was built (``league_pipeline/_version.py``), and no git is needed.
    A git checkout (an editable install, or the source tree on the path) asks git instead, since
    the version recorded when it was installed goes stale with the next commit:
    ``<version>+g<commit>``, with ``.dirty`` when tracked files have changed.
    """
    commit = _checkout_commit(Path(__file__).resolve().parents[2])
    if commit is None:
        return __version__
    return f"{__version__.split('+')[0]}+{commit}"


def _checkout_commit(root: Path) -> str | None:
    """``g<commit>[.dirty]`` when ``root`` is the top of a git checkout; None otherwise (a wheel
    installed anywhere, even in a virtualenv inside a checkout, or no git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None
        sha = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"g{sha}{'.dirty' if dirty else ''}"


def snapshot_lineage(
    staging: Staging,
    partition_key: str,
    source_kinds: list[str],
    output_schemas: list[str],
    run_id: str | None,
) -> dict[str, Any]:
    """The lineage of a quarter's snapshot, from the records ``staging`` holds for it."""
    inputs = {kind: staging.read_lineage(kind, partition_key) for kind in source_kinds}
    return {
        "partition_key": partition_key,
        # "synthetic" when any input is sample data (league_pipeline.sample.data_origin)
        "data": data_origin.lineage_data(inputs),
        "inputs": inputs,
        "schema_versions": {
            **{
                rec["schema"]: rec["schema_version"]
                for rec in inputs.values()
                if not rec.get("absent")
            },
            **{name: schema_version(name) for name in output_schemas},
        },
        "methodology_version": METHODOLOGY_VERSION,
        "code_version": code_version(),
        "dagster_run_id": run_id,
        "built_at": datetime.now(UTC).isoformat(),
    }
