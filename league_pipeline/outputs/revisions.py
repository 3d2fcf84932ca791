"""Revisions: what changed between two versions of a quarter's snapshot.

Belongs here: when a quarter has more than one snapshot version (NHS England revised a source
file and the quarter was re-run), listing which sources changed and which trusts' metric
values, metric scores, domain scores, average score, segments and rank changed. The row-level
differences are :meth:`league_pipeline.snapshots.store.SnapshotStore.diff`'s
(:func:`league_pipeline.snapshots.diff.diff_frames`, each version's table read once).

A trust is listed when one of its values, scores or domain scores changed, or its average,
segments (unadjusted, adjusted, final), financial-override or RSP flag, or rank changed. Its
likely ranges are shown old and new, but a change in the ranges alone does not list a trust:
they move whenever any trust in the peer group changes. Columns that only rank a value among
the others (``pool_rank``, ``tiebreak``) are likewise not counted as a change of the trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.outputs.results import LEAGUE_LAYERS, QuarterResults
from league_pipeline.snapshots.diff import diff_frames
from league_pipeline.snapshots.store import SYSTEM_COLUMNS, SnapshotInfo, SnapshotStore

# table -> (row key, the columns whose change counts, the summary column listing the ids)
_TRACKED = {
    "metric_values": (["trust_code", "metric_id"], ["value", "unit"], "values_changed"),
    "metric_scores": (["trust_code", "score_id"], ["score"], "scores_changed"),
    "domain_scores": (["trust_code", "domain_id"], ["score", "segment"], "domains_changed"),
}
RANGE_COLUMNS = ["score_lower", "score_upper", "rank_lower", "rank_upper"]


class NoRevisionError(LookupError):
    """The quarter has a single snapshot version, so there is nothing to compare."""


@dataclass
class Revision:
    """The differences between two versions of one quarter's snapshot."""

    quarter: Quarter
    old: SnapshotInfo
    new: SnapshotInfo
    sources_changed: list[dict[str, str | None]] = field(default_factory=list)
    trusts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # one row a trust
    details: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)  # table -> diff

    @property
    def has_changes(self) -> bool:
        return not self.trusts.empty

    def summary(self) -> dict[str, object]:
        t = self.trusts
        return {
            "quarter": self.quarter.label,
            "old_version": self.old.version,
            "new_version": self.new.version,
            "sources_changed": [s["kind"] for s in self.sources_changed],
            "trusts_changed": len(t),
            "values_changed": int(t["values_changed"].ne("").sum()) if len(t) else 0,
            "scores_changed": int(t["scores_changed"].ne("").sum()) if len(t) else 0,
            "segments_changed": int(t["segment_changed"].sum()) if len(t) else 0,
            "ranks_changed": int(t["rank_changed"].sum()) if len(t) else 0,
        }


def _sources_changed(old: SnapshotInfo, new: SnapshotInfo) -> list[dict[str, str | None]]:
    old_inputs = old.lineage.get("inputs", {})
    new_inputs = new.lineage.get("inputs", {})
    out = []
    for kind in sorted(set(old_inputs) | set(new_inputs)):
        before = (old_inputs.get(kind) or {}).get("sha256")
        after = (new_inputs.get(kind) or {}).get("sha256")
        if before != after:
            out.append({"kind": kind, "old_sha256": before, "new_sha256": after})
    return out


def _tracked_diff(diff: pd.DataFrame, tracked: list[str]) -> pd.DataFrame:
    """Rows added or removed, or whose tracked columns changed."""
    if diff.empty:
        return diff
    touched = (
        diff["changed_columns"].str.split(",").map(lambda cols: bool(set(cols) & set(tracked)))
    )
    return diff[(diff["change"] != "changed") | touched].reset_index(drop=True)


def _ids_by_trust(diff: pd.DataFrame, id_column: str) -> pd.Series:
    if diff.empty:
        return pd.Series(dtype="str")
    return diff.groupby("trust_code")[id_column].agg(lambda ids: ",".join(sorted(map(str, ids))))


def _pick(versions: list[int], old: int | None, new: int | None, q: Quarter) -> tuple[int, int]:
    if len(versions) < 2 and (old is None or new is None):
        raise NoRevisionError(
            f"{q.label} has {'one snapshot version' if versions else 'no snapshot'} "
            f"({', '.join(f'v{v}' for v in versions) or 'none'}): there is nothing to compare; "
            "revisions appear when a source file is revised and the quarter is run again"
        )
    new = versions[-1] if new is None else new
    if old is None:
        earlier = [v for v in versions if v < new]
        if not earlier:
            raise NoRevisionError(f"{q.label} has no version before v{new} to compare with")
        old = earlier[-1]
    for version in (old, new):
        if version not in versions:
            known = ", ".join(f"v{v}" for v in versions)
            raise NoRevisionError(f"{q.label} has no snapshot version {version} ({known})")
    if old == new:
        raise NoRevisionError(f"compare two different versions (both are v{old})")
    return old, new


def revision(
    quarter: str | Quarter,
    old_version: int | None = None,
    new_version: int | None = None,
    *,
    store: SnapshotStore,
    loaded: QuarterResults | None = None,
) -> Revision:
    """Compare two versions of a quarter (default: the latest with the one before it).
    ``loaded``: a version already in memory (its tables are not read again)."""
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(str(quarter))
    infos = {i.version: i for i in store.list(q)}
    old, new = _pick(sorted(infos), old_version, new_version, q)
    rows = _Rows(store, q, loaded)
    details: dict[str, pd.DataFrame] = {}
    per_trust: dict[str, pd.Series] = {}
    for table, (key, tracked, summary_column) in _TRACKED.items():
        diff = _tracked_diff(rows.diff(table, old, new, key), tracked)
        details[table] = diff
        per_trust[summary_column] = _ids_by_trust(diff, key[1])
    league = _tracked_diff(
        rows.diff("league_table", old, new, ["peer_group", "trust_code"]), LEAGUE_LAYERS
    )
    details["league_table"] = league
    codes = sorted(set(league["trust_code"]).union(*(set(s.index) for s in per_trust.values())))
    shown = ["peer_group", "trust_code", "trust_name", *LEAGUE_LAYERS, *RANGE_COLUMNS]
    old_rows = rows.read("league_table", old)[shown]
    new_rows = rows.read("league_table", new)[shown]
    trusts = old_rows[old_rows["trust_code"].isin(codes)].merge(
        new_rows[new_rows["trust_code"].isin(codes)],
        on="trust_code",
        how="outer",
        suffixes=("_old", "_new"),
        indicator=True,
    )
    states = {"both": "changed", "left_only": "removed", "right_only": "added"}
    trusts.insert(0, "change", trusts.pop("_merge").astype("str").map(states).astype("str"))
    for column in ("peer_group", "trust_name"):
        trusts.insert(0, column, trusts.pop(f"{column}_new").fillna(trusts.pop(f"{column}_old")))
    for column, ids in per_trust.items():
        # reindex keeps the ids' string dtype (map gave float64 NaN when none matched, and
        # pandas 3 warns that filling those with "" will raise in a later version)
        trusts[column] = ids.reindex(trusts["trust_code"]).fillna("").astype("str").to_numpy()
    trusts["segment_changed"] = pd.concat(
        [
            trusts[f"{c}_old"].ne(trusts[f"{c}_new"])
            for c in ("unadjusted_segment", "adjusted_segment", "final_segment")
        ],
        axis=1,
    ).any(axis=1)
    trusts["rank_changed"] = trusts["rank_old"].ne(trusts["rank_new"]).astype(bool)
    first = ["peer_group", "trust_code", "trust_name", "change", *per_trust]
    paired = [f"{c}_{side}" for c in [*LEAGUE_LAYERS, *RANGE_COLUMNS] for side in ("old", "new")]
    trusts = trusts[[*first, *paired, "segment_changed", "rank_changed"]]
    trusts = trusts.sort_values(["peer_group", "trust_code"]).reset_index(drop=True)
    return Revision(
        quarter=q,
        old=infos[old],
        new=infos[new],
        sources_changed=_sources_changed(infos[old], infos[new]),
        trusts=trusts,
        details=details,
    )


def latest_revision(
    quarter: str | Quarter,
    version: int | None = None,
    *,
    store: SnapshotStore,
    loaded: QuarterResults | None = None,
) -> Revision | None:
    """The revision that produced ``version`` (default the latest): a comparison with the
    version before it, or None when it is the quarter's first version (``loaded``:
    :func:`revision`)."""
    q = quarter if isinstance(quarter, Quarter) else parse_quarter(str(quarter))
    versions = [i.version for i in store.list(q)]
    target = versions[-1] if version is None and versions else version
    if target is None or not any(v < target for v in versions):
        return None
    return revision(q, None, target, store=store, loaded=loaded)


class _Rows:
    """A version's rows of a table (without the system columns), each read once: the loaded
    version's from memory."""

    def __init__(self, store: SnapshotStore, quarter: Quarter, loaded: QuarterResults | None):
        self.store = store
        self.quarter = quarter
        self.loaded = loaded if loaded is not None and loaded.quarter == quarter else None
        self.frames: dict[tuple[str, int], pd.DataFrame] = {}

    def read(self, table: str, version: int) -> pd.DataFrame:
        if (table, version) not in self.frames:
            if self.loaded is not None and self.loaded.version == version:
                frame = self.loaded.tables.get(table)
            else:
                frame = None
            if frame is None:
                frame = self.store.read(table, self.quarter, version)
            self.frames[table, version] = frame.drop(
                columns=[c for c in SYSTEM_COLUMNS if c in frame.columns]
            )
        return self.frames[table, version]

    def diff(self, table: str, old: int, new: int, key: list[str]) -> pd.DataFrame:
        """:meth:`SnapshotStore.diff`, from the rows read here."""
        return diff_frames(self.read(table, old), self.read(table, new), key, table)
