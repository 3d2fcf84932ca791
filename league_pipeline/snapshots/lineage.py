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
from league_pipeline.validation.validate import schema_version


@cache
def code_version() -> str:
    """Package version plus the git commit of the checkout, when there is one."""
    repo = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()

    try:
        sha = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}{'.dirty' if dirty else ''}"


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
