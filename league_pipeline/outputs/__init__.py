"""Outputs people can read, built from a quarter's snapshot.

Belongs here: everything produced *from* a published snapshot for people rather than for the
pipeline: NHS England's official CSV layouts and Parquet (:mod:`.exports`), the explanation of
one trust's result (:mod:`.explain`), quarter-on-quarter movement (:mod:`.movement`), the
differences between versions of a snapshot (:mod:`.revisions`) and the static HTML report
(:mod:`.report`). Loading a snapshot into memory is :mod:`.results`; where the files go is
:func:`quarter_output_dir`. Nothing here changes a snapshot or re-scores a quarter.

Files are written under ``$LEAGUE_HOME/outputs/<quarter slug>/v<snapshot version>/``.
"""

from __future__ import annotations

from pathlib import Path

from league_pipeline.core import paths
from league_pipeline.core.quarters import Quarter


def outputs_dir() -> Path:
    """``$LEAGUE_HOME/outputs``: every quarter's readable outputs."""
    return paths.league_home() / "outputs"


def quarter_output_dir(quarter: Quarter, version: int, root: Path | None = None) -> Path:
    """``<root>/<2025-26-q1>/v<version>``: the outputs of one snapshot version."""
    return (root or outputs_dir()) / quarter.slug / f"v{version}"
