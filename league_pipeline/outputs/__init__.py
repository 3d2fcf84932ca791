"""Outputs people can read, built from a quarter's snapshot.

Belongs here: everything produced *from* a published snapshot for people rather than for the
pipeline: NHS England's official CSV layouts and Parquet (:mod:`.exports`), the explanation of
one trust's result (:mod:`.explain`), quarter-on-quarter movement (:mod:`.movement`), the
differences between versions of a snapshot (:mod:`.revisions`) and the static HTML report
(:mod:`.report`). Loading a snapshot into memory is :mod:`.results`; where the files go is
:func:`quarter_output_dir`. Nothing here changes a snapshot or re-scores a quarter.

Files are written under ``<outputs root>/<quarter slug>/v<snapshot version>/`` (the root is
``<home>/outputs``: :class:`league_pipeline.core.paths.HomeLayout`).
"""

from __future__ import annotations

from pathlib import Path

from league_pipeline.core.quarters import Quarter


def quarter_output_dir(quarter: Quarter, version: int, root: Path) -> Path:
    """``<root>/<2025-26-q1>/v<version>``: the outputs of one snapshot version."""
    return Path(root) / quarter.slug / f"v{version}"
