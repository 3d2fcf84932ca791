"""One snapshot version of a quarter, loaded into memory for the outputs.

Belongs here: reading a snapshot's tables from the :class:`~league_pipeline.snapshots.store.
SnapshotStore` once, and the small derived tables several outputs share (the averaging items,
re-derived with the methodology's own SQL; the quarter's national average). Nothing here
formats anything for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from league_pipeline.core.peer_groups import PEER_GROUPS, PeerGroup
from league_pipeline.core.quarters import FIRST_QUARTER, Quarter, parse_quarter
from league_pipeline.scoring.engine import ScoringSession
from league_pipeline.snapshots.store import SYSTEM_COLUMNS, SnapshotInfo, SnapshotStore

# the snapshot tables the outputs read (see league_pipeline.defs.snapshots.SNAPSHOT_TABLES)
TABLES = (
    "league_table",
    "trust_segments",
    "segment_cut_points",
    "domain_scores",
    "metric_scores",
    "metric_values",
    "trusts",
)
# read when the snapshot has them: the audit (every recomputed figure beside the published one,
# league_pipeline.audit.compare) is in snapshots built since the audit existed
OPTIONAL_TABLES = ("audit",)
# a trust's layers in the league table, from its average to its rank (what revisions and
# what-if compare between two versions or scenarios)
LEAGUE_LAYERS = [
    "average_score",
    "unadjusted_segment",
    "deficit_flag",
    "adjusted_segment",
    "in_rsp",
    "final_segment",
    "rank",
]


class NoSnapshotError(LookupError):
    """The quarter (or the version asked for) has no snapshot yet."""


@dataclass
class QuarterResults:
    """A quarter's published results at one snapshot version (``quarter`` column kept)."""

    quarter: Quarter
    info: SnapshotInfo
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def league_table(self) -> pd.DataFrame:
        return self.tables["league_table"]

    @property
    def trust_segments(self) -> pd.DataFrame:
        return self.tables["trust_segments"]

    @property
    def domain_scores(self) -> pd.DataFrame:
        return self.tables["domain_scores"]

    @property
    def metric_scores(self) -> pd.DataFrame:
        return self.tables["metric_scores"]

    @property
    def metric_values(self) -> pd.DataFrame:
        return self.tables["metric_values"]

    @property
    def trusts(self) -> pd.DataFrame:
        return self.tables["trusts"]

    @property
    def audit(self) -> pd.DataFrame | None:
        """The audit rows (quarter, peer_group, trust_code, layer, item, ours, published, basis,
        agrees, reason), or None for a snapshot built before the audit existed."""
        return self.tables.get("audit")

    @property
    def cut_points_basis(self) -> str:
        """``computed``, or ``published`` when the run could not compute the cut-points (they
        are then the ones the published segments imply)."""
        cuts = self.tables["segment_cut_points"]
        return str(cuts["basis"].iloc[0]) if "basis" in cuts else "computed"

    @property
    def cut_points(self) -> dict[str, float]:
        """The quarter's segment cut-points: ``{"q25": .., "q50": .., "q75": ..}``."""
        row = self.tables["segment_cut_points"].iloc[0]
        return {name: float(row[name]) for name in ("q25", "q50", "q75")}

    def peer_groups(self) -> list[PeerGroup]:
        """The peer groups this snapshot has trusts in, in the usual order."""
        present = set(self.league_table["peer_group"])
        return [group for group in PEER_GROUPS if group.id in present]

    @cached_property
    def score_items(self) -> pd.DataFrame:
        """The averaging items (quarter, trust_code, peer_group, domain_id, item, score,
        n_metrics), re-derived from the metric scores by the methodology's own
        ``assets/sql/scoring/02_score_items.sql``, so they are exactly what was averaged."""
        with ScoringSession() as session:
            columns = ["quarter", "trust_code", "peer_group", "score_id", "score"]
            session.load_frame("metric_scores", self.metric_scores[columns])
            session.run(["score_items"])
            return session.df("score_items")

    @cached_property
    def national_average(self) -> float:
        """All trusts' item scores added up over the number of items, as NHS England defines
        the national average metric score for a quarter."""
        return float(self.score_items["score"].mean())


def _frame(store: SnapshotStore, table: str, quarter: Quarter, version: int) -> pd.DataFrame:
    df = store.read(table, quarter.label, version)
    return df.drop(columns=[c for c in SYSTEM_COLUMNS if c != "quarter"])


def load_quarter(
    quarter: str | Quarter, version: int | None = None, *, store: SnapshotStore
) -> QuarterResults:
    """Read a quarter's snapshot (the latest version unless ``version`` is given)."""
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(str(quarter))
    infos = store.list(q)
    if not infos:
        raise NoSnapshotError(
            f'there is no snapshot of {q.label} yet: run `league run --quarter "{q.label}"`'
        )
    if version is None:
        info = infos[-1]
    else:
        found = [i for i in infos if i.version == version]
        if not found:
            known = ", ".join(str(i.version) for i in infos)
            raise NoSnapshotError(
                f"{q.label} has no snapshot version {version} (versions: {known})"
            )
        info = found[0]
    missing = [t for t in TABLES if t not in info.tables]
    if missing:
        raise NoSnapshotError(
            f"snapshot {info.snapshot_id} lacks the table(s) {', '.join(missing)}: re-run "
            f'`league run --quarter "{q.label}"` to write a complete version'
        )
    names = [*TABLES, *(t for t in OPTIONAL_TABLES if t in info.tables)]
    tables = {name: _frame(store, name, q, info.version) for name in names}
    return QuarterResults(quarter=q, info=info, tables=tables)


def load_previous(quarter: str | Quarter, *, store: SnapshotStore) -> QuarterResults | None:
    """The latest snapshot of the quarter before ``quarter``, or None (first quarter, or none
    written yet)."""
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(str(quarter))
    if q <= FIRST_QUARTER:
        return None
    if store.latest(q.previous()) is None:
        return None
    return load_quarter(q.previous(), store=store)
