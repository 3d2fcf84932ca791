"""Support for the outputs tests: snapshots of NHS England's real files, written without Dagster.

Builds a working home (``lake/`` and ``sources/``) holding real snapshots, the way
``snapshots/quarterly_snapshot`` assembles them: the official trust-data files are scored with
the methodology SQL (``run_scoring``), likely ranges come from the bootstrap, and the lineage
names each input by the SHA-256 under which the source store keeps it.

* 2025/26 Q1 v1: acute (134 trusts, the official Sept 2025 file) + mental health & community
  (61 trusts, Q1 rows of the official cumulative file)
* 2025/26 Q2 v1: mental health & community (Q2 rows; there is no acute Q2 file in ../shared)

The real files are read from ../shared/data/real (fixtures ``acute_bytes``/``mh_bytes``) and
copied only into the test's temporary source store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from prebuilt import copy_of, prebuilt

from league_pipeline.formats.nof import read_nof_trust_data, write_nof_trust_data
from league_pipeline.ingest.store import SourceStore, sha256_bytes
from league_pipeline.scoring import official
from league_pipeline.scoring.engine import run_scoring
from league_pipeline.scoring.likely_ranges import likely_ranges
from league_pipeline.snapshots.store import SnapshotInfo, SnapshotStore

Q1, Q2 = "2025/26 Q1", "2025/26 Q2"
ACUTE_KIND = "nof_trust_data_acute"
MHC_KIND = "nof_trust_data_mental_health_community"
REPLICATES = 300


@dataclass
class RealHome:
    """A working home with real snapshots."""

    home: Path
    store: SnapshotStore
    sources: SourceStore
    acute: pd.DataFrame  # the official acute Q1 file, as read
    mhc: pd.DataFrame  # the official MH & community file (Q1 and Q2 rows), as read
    shas: dict[str, str]  # source kind -> sha256 of the stored file


def snapshot_tables(nof: pd.DataFrame, replicates: int = REPLICATES) -> dict[str, pd.DataFrame]:
    """The snapshot tables of official trust-data rows, scored as the pipeline scores them."""
    inputs = official.inputs_from_nof(nof)
    result = run_scoring(inputs)
    ranges = likely_ranges(
        result.score_items,
        result.trust_segments,
        result.segment_cut_points,
        replicates=replicates,
    )
    league = result.league_table.merge(
        ranges, on=["quarter", "peer_group", "trust_code"], how="left"
    )
    return {
        "league_table": league,
        "trust_segments": result.trust_segments,
        "segment_cut_points": result.segment_cut_points,
        "domain_scores": result.domain_scores,
        "metric_scores": result.metric_scores,
        "metric_values": inputs.metric_values,
        "given_scores": inputs.given_scores,
        "trusts": inputs.trusts,
    }


def write_snapshot(
    home: RealHome, quarter: str, nof: pd.DataFrame, inputs: dict[str, str]
) -> SnapshotInfo:
    """Score ``nof`` and publish it as the next version of ``quarter``."""
    lineage = {
        "inputs": {kind: {"kind": kind, "sha256": sha} for kind, sha in inputs.items()},
        "code_version": "test",
        "methodology_version": "NOF-2025/26/test",
    }
    return home.store.write(quarter, snapshot_tables(nof), lineage, run_id=f"test-{quarter}")


def build_real_home(
    tmp_path_factory: pytest.TempPathFactory, home: Path, acute_bytes: bytes, mh_bytes: bytes
) -> RealHome:
    """Q1 v1 (acute + MH) and Q2 v1 (MH) from the real files, in a copy at ``home`` of the
    session's one real home (see ``prebuilt``)."""

    def build(folder: Path) -> None:
        _write_real_home(folder, acute_bytes, mh_bytes)

    copy_of(prebuilt(tmp_path_factory, "real-home", build), home)
    return _real_home(home, acute_bytes, mh_bytes)


def _real_home(home: Path, acute_bytes: bytes, mh_bytes: bytes) -> RealHome:
    """The :class:`RealHome` at ``home``, whose source store holds the two real files."""
    return RealHome(
        home=home,
        store=SnapshotStore(home / "lake"),
        sources=SourceStore(home / "sources"),
        acute=read_nof_trust_data(acute_bytes, Q1),
        mhc=read_nof_trust_data(mh_bytes),
        shas={ACUTE_KIND: sha256_bytes(acute_bytes), MHC_KIND: sha256_bytes(mh_bytes)},
    )


def _write_real_home(home: Path, acute_bytes: bytes, mh_bytes: bytes) -> None:
    """Store the two real files and publish Q1 v1 and Q2 v1 from them under ``home``."""
    sources = SourceStore(home / "sources")
    sources.put(acute_bytes, url="file:///real/acute-q1.csv")
    sources.put(mh_bytes, url="file:///real/mhc-q1q2.csv")
    real = _real_home(home, acute_bytes, mh_bytes)
    acute, mhc = real.acute, real.mhc
    write_snapshot(
        real, Q1, pd.concat([acute, mhc[mhc["Quarter"] == Q1]], ignore_index=True), real.shas
    )
    write_snapshot(
        real, Q2, mhc[mhc["Quarter"] == Q2].reset_index(drop=True), {MHC_KIND: real.shas[MHC_KIND]}
    )


def revise_acute_q1(real: RealHome, trust_code: str, metric_id: str, value: float) -> SnapshotInfo:
    """NHS England revises one value of the acute Q1 file: store the revised file and publish
    Q1 again (the next version) from it."""
    revised = real.acute.copy()
    row = (revised["Trust_code"] == trust_code) & (revised["Metric_ID"] == metric_id)
    assert row.sum() == 1, f"{trust_code} has no single {metric_id} row"
    revised.loc[row, "Value"] = value
    content = write_nof_trust_data(revised, with_quarter=False)
    sha = real.sources.put(content, url="file:///real/acute-q1-revised.csv").sha256
    mhc = real.mhc
    nof = pd.concat([revised, mhc[mhc["Quarter"] == Q1]], ignore_index=True)
    return write_snapshot(real, Q1, nof, {**real.shas, ACUTE_KIND: sha})
