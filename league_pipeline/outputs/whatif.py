"""What would it take: a trust's results with some of its metric values changed.

Belongs here: the scoring inputs a quarter's snapshot was built from (:class:`QuarterInputs`),
scoring scenarios (one trust's values changed, everything else as in the snapshot) with the
methodology's own SQL through the scoring engine, many scenarios at once (:class:`WhatIfSession`),
the before and after of every layer (:func:`whatif`), the smallest change of one metric alone
that reaches a segment (:func:`smallest_changes`) and the report's few suggestions per trust
(:func:`suggestions`). Nothing here scores anything itself. Why a scenario is a rerun of the
whole quarter (cut-points and every rank included) and how the search stays exact is in
docs/whatif.md. No Dagster.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from league_pipeline.core.peer_groups import BY_ID
from league_pipeline.core.settings import WHATIF_CHECKED
from league_pipeline.outputs.explain import exact
from league_pipeline.outputs.queries import query_text
from league_pipeline.outputs.results import LEAGUE_LAYERS
from league_pipeline.scoring import catalogue
from league_pipeline.scoring.engine import OUTPUT_TABLES, ScoringSession

if TYPE_CHECKING:
    from league_pipeline.outputs.results import QuarterResults
    from league_pipeline.snapshots.store import SnapshotStore

SEGMENTS = (1, 2, 3, 4)
BATCH = 400  # scenarios scored in one go
NOT_REACHABLE = "not reachable by this metric alone"
# the snapshot's NOF rows (published_rows, lower-case names) as official.published_layers reads them
_PUBLISHED_COLUMNS = {
    "trust_code": "Trust_code",
    "metric_id": "Metric_ID",
    "value": "Value",
    "units": "Units",
    "rank": "Rank",
}


class WhatIfError(ValueError):
    """A what-if that cannot be answered as asked: ``problem`` and ``fix`` say why and what to do
    (the CLI prints them as its ``error:`` and ``fix:`` lines)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem} — {fix}")
        self.problem = problem
        self.fix = fix


# --------------------------------------------------------------------------------------------
# The inputs a snapshot was scored from
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuarterInputs:
    """The scoring engine's inputs of one quarter as its snapshot was built, and what the
    snapshot says about them."""

    quarter: str  # the NHS label, e.g. "2025/26 Q1"
    version: int | None  # the snapshot version, when read from one
    # the engine's inputs (trusts, metric_values, given_scores, deficit_flags, rsp) and the
    # optional ones of assets/sql/scoring/00_optional_inputs.sql the snapshot implies
    tables: dict[str, pd.DataFrame] = field(repr=False)
    lineage: dict[str, Any] = field(repr=False)
    left_out: tuple[str, ...]  # peer groups the snapshot's run left out
    # the snapshot's own results (league_table, trust_segments): "before" is checked against them
    snapshot: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)

    @property
    def partial(self) -> bool:
        """The run left a peer group out, so its cut-points and unadjusted segments are NHS
        England's published ones (README, peer-group subsets): a what-if cannot move them."""
        return bool(self.left_out)

    @property
    def trusts(self) -> pd.DataFrame:
        return self.tables["trusts"]

    def trust_row(self, trust_code: str) -> pd.Series:
        found = self.trusts[self.trusts["trust_code"] == trust_code]
        if found.empty:
            raise WhatIfError(
                f"{trust_code} is not a trust in the {self.quarter} snapshot",
                f'give a trust code from `league table --quarter "{self.quarter}"`',
            )
        return found.iloc[0]

    def changed(self, trust_code: str, changes: Mapping[str, Any]) -> QuarterInputs:
        """These inputs with ``changes`` (metric id -> value) made to one trust's values, checked
        as :func:`whatif` checks them: the quarter a what-if scores, as plain inputs."""
        rows = _change_rows(self, trust_code, changes)
        values = self.tables["metric_values"]
        key = values["trust_code"].eq(trust_code) & values["metric_id"].isin(rows["metric_id"])
        kept = values[~key]
        added = rows.assign(quarter=self.quarter)[
            ["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"]
        ]
        frame = pd.concat([kept, added], ignore_index=True)
        return replace(self, tables={**self.tables, "metric_values": frame}, snapshot={})


def _drop_system(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in ("snapshot_version",) if c in df.columns])


def inputs_from_tables(
    quarter: str,
    tables: Mapping[str, pd.DataFrame],
    lineage: Mapping[str, Any],
    version: int | None = None,
) -> QuarterInputs:
    """The engine's inputs from a snapshot's tables: ``trusts``, ``metric_values``,
    ``trust_segments`` (the flags it was scored with), ``given_scores`` (or the ``given`` rows
    of ``metric_scores``) and, for a run that left a peer group out, ``published_rows`` (NHS
    England's layers the run took where it could not compute them). ``lineage['peer_groups']``
    names the run's peer groups."""
    from league_pipeline.core.peer_groups import PEER_GROUPS
    from league_pipeline.scoring import official

    missing = [t for t in ("trusts", "metric_values", "trust_segments") if t not in tables]
    if missing:
        raise WhatIfError(
            f"the {quarter} snapshot lacks {', '.join(missing)}",
            f'run `league run --quarter "{quarter}"` to write a complete version',
        )
    trusts = _drop_system(tables["trusts"])
    segments = _drop_system(tables["trust_segments"])
    if "given_scores" in tables:
        given = _drop_system(tables["given_scores"])
    else:
        scores = tables["metric_scores"]
        given = scores.loc[
            scores["rule"] == "given", ["quarter", "trust_code", "score_id", "score"]
        ]
    deficit = segments[["quarter", "trust_code", "deficit_flag"]].copy()
    rsp = segments[["quarter", "trust_code", "in_rsp"]].copy()
    for frame, column in ((deficit, "deficit_flag_basis"), (rsp, "in_rsp_basis")):
        frame[column] = segments.get(column, "supplied")
    groups = list(lineage.get("peer_groups") or [g.id for g in PEER_GROUPS])
    left_out = tuple(g.id for g in PEER_GROUPS if g.id not in groups)
    engine_tables = {
        "trusts": trusts,
        "metric_values": _drop_system(tables["metric_values"]),
        "given_scores": given.reset_index(drop=True),
        "deficit_flags": deficit,
        "rsp": rsp,
    }
    published = tables.get("published_rows")
    if published is not None and len(published):
        nof = published[list(_PUBLISHED_COLUMNS)].rename(columns=_PUBLISHED_COLUMNS)
        nof.insert(0, "Quarter", quarter)
        engine_tables |= official.published_layers(nof, groups)
    elif left_out:
        raise WhatIfError(
            f"the {quarter} snapshot was scored without {', '.join(left_out)} trusts and does "
            "not keep the published rows it took in their place",
            f'run `league run --quarter "{quarter}"` again to write a version that keeps them',
        )
    else:
        engine_tables["run_scope"] = pd.DataFrame(
            {"quarter": [quarter] * len(groups), "peer_group": groups}
        )
    snapshot = {name: _drop_system(tables[name]) for name in ("league_table",) if name in tables}
    snapshot["trust_segments"] = segments
    return QuarterInputs(
        quarter=quarter,
        version=version,
        tables=engine_tables,
        lineage=dict(lineage),
        left_out=left_out,
        snapshot=snapshot,
    )


def load_inputs(store: SnapshotStore, quarter: str, version: int | None = None) -> QuarterInputs:
    """The scoring inputs of a quarter's snapshot (the latest version unless ``version``)."""
    names = ("trusts", "metric_values", "given_scores", "trust_segments", "league_table")
    with store.reading():
        info = store.get(quarter, version)
        wanted = [*names, "published_rows"]
        tables = {t: store.read(t, info.quarter, info.version) for t in wanted if t in info.tables}
    return inputs_from_tables(info.quarter, tables, info.lineage, info.version)


def inputs_from_results(results: QuarterResults) -> QuarterInputs:
    """The scoring inputs of a loaded snapshot (the report's :class:`QuarterResults`; it has no
    published rows, so a run that left a peer group out cannot be rescored from it)."""
    return inputs_from_tables(
        results.quarter.label, results.tables, results.info.lineage, results.version
    )


# --------------------------------------------------------------------------------------------
# The methodology tables a what-if reads
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A metric with a value (OF0xxx), as ``assets/methodology/metrics.csv`` describes it."""

    value_id: str
    score_id: str
    label: str
    rule: str
    direction: int  # +1: a higher value is better; -1: a lower one
    target: Decimal | None
    target_op: str | None  # how a value meets the target: lt, le, ge or gt
    pool: str  # "peer_group": ranked within the peer group; else across trust types
    item: str | None  # the averaging item (None: feeds combined finance only)
    peer_groups: frozenset[str]


@cache
def _metrics() -> dict[str, Metric]:
    """The metrics with a value, by value id, in the catalogue's order."""
    cat = catalogue.metric_catalogue()
    return {
        str(r.value_id): Metric(
            value_id=str(r.value_id),
            score_id=str(r.score_id),
            label=str(r.short_name),
            rule=str(r.rule),
            direction=1 if r.direction == "higher" else -1,
            target=None if pd.isna(r.target) else exact(float(r.target)),
            target_op=None if pd.isna(r.target_op) else str(r.target_op),
            pool=str(r.pool),
            item=None if pd.isna(r.item) else str(r.item),
            peer_groups=frozenset(str(r.peer_groups).split("|")),
        )
        for r in cat[cat["value_id"].notna()].itertuples()
    }


@cache
def _band_value_ids() -> frozenset[str]:
    return frozenset(m for m, meta in _metrics().items() if meta.rule == "band")


@cache
def _matrix_score_ids() -> frozenset[str]:
    cat = catalogue.metric_catalogue()
    return frozenset(cat.loc[cat["rule"] == "matrix", "score_id"])


def metric_label(metric_id: str) -> str:
    meta = _metrics().get(metric_id)
    return metric_id if meta is None else meta.label


def _check_metric(metric_id: str, peer_group: str) -> None:
    """Refuse a metric id the trust's peer group is not scored on, or that has no value."""
    cat = catalogue.metric_catalogue()
    meta = _metrics().get(metric_id)
    if meta is not None:
        if peer_group not in meta.peer_groups:
            groups = ", ".join(BY_ID[g].label.lower() for g in sorted(meta.peer_groups))
            raise WhatIfError(
                f"{metric_id} ({metric_label(metric_id)}) is not scored for "
                f"{BY_ID[peer_group].label.lower()}, only for {groups}",
                "choose a metric the trust's peer group is scored on (`league explain` lists "
                "the trust's metrics)",
            )
        return
    by_score = cat[cat["score_id"] == metric_id]
    if len(by_score) and pd.notna(by_score["value_id"].iloc[0]):
        value_id = by_score["value_id"].iloc[0]
        raise WhatIfError(
            f"{metric_id} is the score of {value_id} ({metric_label(value_id)}), not a value",
            f"set the value instead: --set {value_id}=...",
        )
    if len(by_score):
        raise WhatIfError(
            f"{metric_id} ({by_score['short_name'].iloc[0]}) is published as a score only: it "
            "has no value to change",
            "choose a metric with a value (an OF0xxx id)",
        )
    raise WhatIfError(
        f"{metric_id} is not a metric the NOF 2025/26 methodology scores",
        "give a metric value id such as OF0013 (assets/methodology/metrics.csv lists them)",
    )


def _decimal(value: Any, metric_id: str) -> Decimal:
    """A finite decimal from a number or plain decimal text (``25``, ``-0.5``, ``1.2e1``)."""
    from league_pipeline.formats.common import is_plain_number

    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str) and is_plain_number(value.strip()):
        number = Decimal(value.strip())
    else:
        number = Decimal("NaN")
    if not number.is_finite():
        raise WhatIfError(
            f"{metric_id}={value!s} is not a number",
            f"give a plain decimal number, e.g. --set {metric_id}=25.5",
        )
    return number


def _usual_unit(inputs: QuarterInputs, metric_id: str, peer_group: str) -> str:
    values = inputs.tables["metric_values"]
    rows = values[values["metric_id"] == metric_id].merge(
        inputs.trusts[["trust_code", "peer_group"]], on="trust_code"
    )
    same = rows[rows["peer_group"] == peer_group]
    units = (same if len(same) else rows)["unit"].dropna()
    if units.empty:
        raise WhatIfError(
            f"no trust has a value of {metric_id} ({metric_label(metric_id)}) in "
            f"{inputs.quarter}, so its unit is not known",
            "choose a metric the quarter has values for",
        )
    return str(units.value_counts().sort_index(kind="stable").idxmax())


def physical_range(metric_id: str, unit: str) -> tuple[float, float]:
    """The physical range a published value of the metric must lie in (the validation's
    :func:`~league_pipeline.validation.checks.value_ranges`): by metric id, else by unit."""
    from league_pipeline.validation.checks import value_ranges

    ranges = value_ranges()
    return ranges.get(metric_id) or ranges.get(f"unit:{unit}") or (math.nan, math.nan)


def _check_ranges(rows: pd.DataFrame) -> None:
    """Every new value passes the physical range check published values pass (the same
    validation check, ``value_in_physical_range``)."""
    from league_pipeline.validation.checks import value_in_physical_range

    frame = pd.DataFrame(
        {"Metric_ID": rows["metric_id"], "Units": rows["unit"], "Value": rows["value"]}
    )
    ok = value_in_physical_range(frame, metric_pattern=r"^OF0\d{3}$")["Value"]
    for row, passed in zip(rows.itertuples(), ok, strict=True):
        if not passed:
            low, high = physical_range(row.metric_id, row.unit)
            raise WhatIfError(
                f"{row.metric_id}={row.text} is outside the physical range of "
                f"{metric_label(row.metric_id)} ({row.unit}): {_bounds(low, high)}",
                "give a value a published file could hold",
            )


def _bounds(low: float, high: float) -> str:
    if math.isnan(low):
        return "no range is known for it"
    if math.isinf(high):
        return f"at least {low:g}"
    return f"{low:g} to {high:g}"


def _change_rows(
    inputs: QuarterInputs, trust_code: str, changes: Mapping[str, Any]
) -> pd.DataFrame:
    """The checked changes of one trust: metric_id, value (float), text, decimal, unit,
    tiebreak (the trust's published within-type rank, kept as everything else is), trust_code."""
    trust = inputs.trust_row(trust_code)
    if not changes:
        raise WhatIfError("no change given", "name at least one: --set METRIC=VALUE")
    values = inputs.tables["metric_values"]
    own = values[values["trust_code"] == trust_code].set_index("metric_id")
    rows = []
    for metric_id, raw in changes.items():
        metric_id = str(metric_id).strip().upper()
        _check_metric(metric_id, str(trust["peer_group"]))
        number = _decimal(raw, metric_id)
        if metric_id in own.index:
            unit, tiebreak = own.at[metric_id, "unit"], own.at[metric_id, "tiebreak"]
        else:
            unit, tiebreak = _usual_unit(inputs, metric_id, str(trust["peer_group"])), math.nan
        rows.append(
            {
                "trust_code": trust_code,
                "metric_id": metric_id,
                "value": float(number),
                "text": str(raw).strip(),
                "decimal": number,
                "unit": str(unit),
                "tiebreak": float(tiebreak) if pd.notna(tiebreak) else math.nan,
            }
        )
    frame = pd.DataFrame(rows)
    if frame["metric_id"].duplicated().any():
        twice = ", ".join(sorted(set(frame.loc[frame["metric_id"].duplicated(), "metric_id"])))
        raise WhatIfError(f"{twice} is set more than once", "set each metric once")
    _check_ranges(frame)
    return frame


# --------------------------------------------------------------------------------------------
# Scoring scenarios
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One trust's values changed (metric id -> value, already checked)."""

    trust_code: str
    changes: tuple[tuple[str, float, str, float], ...]  # (metric_id, value, unit, tiebreak)

    @property
    def metric_ids(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.changes)


Scopes = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str]]


def _scopes(metric_ids: Iterable[str]) -> Scopes:
    return _scopes_of(tuple(sorted(set(metric_ids))))


@cache
def _scopes_of(metric_ids: tuple[str, ...]) -> Scopes:
    """What changing ``metric_ids`` can move, by the methodology's structure: the values step 1
    must rescore (a band metric brings the other band metrics: combined finance is the matrix
    of both), the score ids those give, their averaging items, and the other score ids in
    those items (the infection item averages three scores)."""
    cat = catalogue.metric_catalogue()
    values = set(metric_ids)
    if values & _band_value_ids():
        values |= _band_value_ids()
    scores = set(cat.loc[cat["value_id"].isin(values), "score_id"])
    if values & _band_value_ids():
        scores |= _matrix_score_ids()
    items = set(cat.loc[cat["score_id"].isin(scores), "item"].dropna())
    co_item = set(cat.loc[cat["item"].isin(items), "score_id"]) - scores
    return frozenset(values), frozenset(scores), frozenset(items), frozenset(co_item)


class WhatIfSession:
    """A quarter scored once as its snapshot was (the baseline), then any number of scenarios,
    each scored by the methodology SQL as the whole quarter with one trust's values changed.

    A batch of scenarios is one pass of the SQL steps over copies of the quarter, one quarter
    label per scenario. Step 1 rescores only the metrics a scenario can move and the averages
    are recomputed only for trusts whose items moved; every other row is the baseline's, which
    the SQL would give again (``whatif_*.sql``; tests/integration/test_whatif.py compares the result
    with a complete rerun).
    """

    def __init__(self, inputs: QuarterInputs) -> None:
        self.inputs = inputs
        self.quarter = inputs.quarter
        self._engine = ScoringSession()
        for name, df in inputs.tables.items():
            self._engine.load_frame(name, df)
        self._engine.run(OUTPUT_TABLES)
        self.before = {name: self._engine.df(name) for name in OUTPUT_TABLES}
        self._engine.con.execute(query_text("whatif_baseline"))

    def __enter__(self) -> WhatIfSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.close()

    def score(
        self, scenarios: Sequence[Scenario], *, every_trust: bool = False, ranks: bool = True
    ) -> dict[str, pd.DataFrame]:
        """Score ``scenarios``; each table gets a ``scenario`` column (the index in
        ``scenarios``). With ``every_trust``: every trust's rows of every layer (the metric
        scores step 1 recomputed, domain scores, averages, cut-points, segments, league table).
        Without: each scenario's trust's ``trust_segments`` row (and its ``league_table`` row
        when ``ranks``) and the metric scores step 1 recomputed for it."""
        parts: dict[str, list[pd.DataFrame]] = {}
        for start in range(0, len(scenarios), BATCH):
            batch = scenarios[start : start + BATCH]
            for name, df in self._score_batch(batch, every_trust, ranks).items():
                df["scenario"] = df["scenario"] + start
                parts.setdefault(name, []).append(df)
        return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}

    def _register(self, name: str, frame: pd.DataFrame) -> None:
        self._engine.con.register(name, frame)

    def _score_batch(
        self, batch: Sequence[Scenario], every_trust: bool, ranks: bool
    ) -> dict[str, pd.DataFrame]:
        labels = [f"{self.quarter} #{i}" for i in range(len(batch))]
        self._register(
            "scenario_list",
            pd.DataFrame(
                {
                    "scenario": range(len(batch)),
                    "quarter": labels,
                    "trust_code": [s.trust_code for s in batch],
                }
            ),
        )
        changes, scope = [], {"values": [], "scores": [], "items": [], "co_item": []}
        for i, s in enumerate(batch):
            for metric_id, value, unit, tiebreak in s.changes:
                changes.append((i, s.trust_code, metric_id, value, unit, tiebreak))
            for key, ids in zip(scope, _scopes(s.metric_ids), strict=True):
                scope[key].extend((i, x) for x in sorted(ids))
        self._register(
            "scenario_changes",
            pd.DataFrame(
                changes,
                columns=["scenario", "trust_code", "metric_id", "value", "unit", "tiebreak"],
            ).astype({"value": "float64", "tiebreak": "float64"}),
        )
        for key, name, column in (
            ("values", "scenario_values", "metric_id"),
            ("scores", "scenario_scores", "score_id"),
            ("items", "scenario_items", "item"),
            ("co_item", "scenario_item_scores", "score_id"),
        ):
            frame = pd.DataFrame(scope[key], columns=["scenario", column])
            self._register(name, frame.astype({"scenario": "int64", column: "str"}))
        options = {"every_trust": [every_trust], "own_trust_only": [not (every_trust or ranks)]}
        self._register("whatif_options", pd.DataFrame(options))
        run, sql = self._engine.run, self._engine.con.execute
        sql(query_text("whatif_scores"))
        run(["metric_scores"])
        sql(query_text("whatif_items"))
        run(["score_items"])
        sql(query_text("whatif_averages"))
        run(["domain_scores", "trust_averages"] if every_trust else ["trust_averages"])
        sql(query_text("whatif_segments"))
        run(["segment_cut_points"])
        sql(query_text("whatif_flags"))
        steps = ["unadjusted_segments", "trust_segments"]
        run([*steps, "league_table"] if every_trust or ranks else steps)
        number = dict(zip(labels, range(len(batch)), strict=True))
        if every_trust:
            names = [
                "scenario_metric_scores",
                "domain_scores",
                "trust_averages",
                "segment_cut_points",
                "trust_segments",
                "league_table",
            ]
            out = {name.removeprefix("scenario_"): self._engine.df(name) for name in names}
        else:
            names = ["trust_segments", "metric_scores", *(["league_table"] if ranks else [])]
            out = {
                name: self._engine.con.execute(query_text(f"whatif_{name}")).df() for name in names
            }
        for df in out.values():
            df["scenario"] = df["quarter"].map(number)
            df["quarter"] = self.quarter
        return out


def _scenario(rows: pd.DataFrame) -> Scenario:
    return Scenario(
        str(rows["trust_code"].iloc[0]),
        tuple(
            (r.metric_id, float(r.value), str(r.unit), float(r.tiebreak)) for r in rows.itertuples()
        ),
    )


# --------------------------------------------------------------------------------------------
# The before and after of each layer
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One figure of the trust before and after (``kind``: value, score, domain, domain
    segment, average, segment, rank or cut-point)."""

    kind: str
    key: str
    label: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return not _same(self.before, self.after)


def _same(a: Any, b: Any) -> bool:
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    return missing_a == missing_b and (missing_a or a == b)


@dataclass
class WhatIf:
    """A trust's results before (the snapshot's inputs rescored) and after its changes."""

    quarter: str
    version: int | None
    trust_code: str
    trust_name: str
    peer_group: str
    changes: pd.DataFrame  # metric_id, label, unit, before (Decimal | None), after (Decimal)
    layers: list[Layer]
    league_before: pd.DataFrame  # every trust's LEAGUE_COLUMNS
    league_after: pd.DataFrame
    after: dict[str, pd.DataFrame] = field(repr=False)  # every layer of the rescored quarter
    notes: list[str] = field(default_factory=list)
    matches_snapshot: bool = True  # "before" equals the snapshot's own figures

    @property
    def other_ranks_changed(self) -> int:
        """How many other trusts' league ranks the changes move."""
        key = ["trust_code"]
        both = self.league_before[[*key, "rank"]].merge(
            self.league_after[[*key, "rank"]], on=key, suffixes=("_before", "_after")
        )
        moved = both["rank_before"] != both["rank_after"]
        return int((moved & (both["trust_code"] != self.trust_code)).sum())

    def layer(self, key: str) -> Layer:
        return next(layer for layer in self.layers if layer.key == key)


LEAGUE_COLUMNS = ["trust_code", "peer_group", *LEAGUE_LAYERS]
SEGMENT_LAYERS = (
    ("average", "average_score", "average score (OF5002)"),
    ("unadjusted_segment", "unadjusted_segment", "segment before the override (OF5003)"),
    ("adjusted_segment", "adjusted_segment", "segment after the financial override (OF5000)"),
    ("final_segment", "final_segment", "final segment (OF5005)"),
    ("rank", "rank", "league rank"),
)


def _notes(inputs: QuarterInputs) -> list[str]:
    if not inputs.partial:
        return []
    left = ", ".join(BY_ID[g].label.lower() for g in inputs.left_out)
    return [
        f"this snapshot was scored without {left}: its cut-points, averages' segments and the "
        "scores ranked across trust types were NHS England's published ones, and stay so here"
    ]


def _snapshot_agrees(inputs: QuarterInputs, before: pd.DataFrame) -> bool:
    """The baseline recomputed now gives the snapshot's own league table (the scoring code
    has not changed what it computes since)."""
    snapshot = inputs.snapshot.get("league_table")
    if snapshot is None:
        return True
    columns = ["trust_code", "average_score", "adjusted_segment", "final_segment", "rank"]
    ours = before[columns].sort_values("trust_code").reset_index(drop=True)
    theirs = snapshot[columns].sort_values("trust_code").reset_index(drop=True)
    return ours.astype(str).equals(theirs.astype(str))


def whatif(
    inputs: QuarterInputs,
    trust_code: str,
    changes: Mapping[str, Any],
    *,
    session: WhatIfSession | None = None,
) -> WhatIf:
    """Rescore the whole quarter with ``changes`` (metric id -> value) made to one trust's
    values and everything else as in the snapshot, and compare every layer of that trust.
    Values are checked as published values are (a metric of the trust's peer group, with a
    value, within its physical range); :class:`WhatIfError` says what is wrong."""
    rows = _change_rows(inputs, trust_code, changes)
    own = session is None
    session = session or WhatIfSession(inputs)
    try:
        after = session.score([_scenario(rows)], every_trust=True)
        before = session.before
    finally:
        if own:
            session.close()
    after = {name: df.drop(columns="scenario") for name, df in after.items()}
    trust = inputs.trust_row(trust_code)
    values = inputs.tables["metric_values"]
    own_values = values[values["trust_code"] == trust_code].set_index("metric_id")["value"]
    change_table = pd.DataFrame(
        {
            "metric_id": rows["metric_id"],
            "label": rows["metric_id"].map(metric_label),
            "unit": rows["unit"],
            "before": [
                exact(own_values[m]) if m in own_values.index and pd.notna(own_values[m]) else None
                for m in rows["metric_id"]
            ],
            "after": rows["decimal"],
        }
    )
    layers = _layers(before, after, trust_code, rows)
    return WhatIf(
        quarter=inputs.quarter,
        version=inputs.version,
        trust_code=trust_code,
        trust_name=str(trust["trust_name"]),
        peer_group=str(trust["peer_group"]),
        changes=change_table,
        layers=layers,
        league_before=before["league_table"][LEAGUE_COLUMNS].reset_index(drop=True),
        league_after=after["league_table"][LEAGUE_COLUMNS].reset_index(drop=True),
        after=after,
        notes=_notes(inputs),
        matches_snapshot=_snapshot_agrees(inputs, before["league_table"]),
    )


def _layers(
    before: Mapping[str, pd.DataFrame],
    after: Mapping[str, pd.DataFrame],
    trust_code: str,
    rows: pd.DataFrame,
) -> list[Layer]:
    layers: list[Layer] = []
    _, score_ids, _, _ = _scopes(rows["metric_id"])
    cat = catalogue.metric_catalogue().set_index("score_id")

    def scores(frame: pd.DataFrame) -> dict[str, float]:
        own = frame[frame["trust_code"] == trust_code]
        return dict(zip(own["score_id"], own["score"], strict=True))

    old, new = scores(before["metric_scores"]), scores(after["metric_scores"])
    for score_id in sorted(score_ids):
        if score_id in old or score_id in new:
            label = f"{cat.at[score_id, 'short_name']} score ({score_id})"
            layers.append(Layer("score", score_id, label, old.get(score_id), new.get(score_id)))

    def domains(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["trust_code"] == trust_code].set_index("domain_id")

    old_d, new_d = domains(before["domain_scores"]), domains(after["domain_scores"])
    for domain_id in old_d.index.union(new_d.index):
        source = new_d if domain_id in new_d.index else old_d
        name = str(source.at[domain_id, "domain"])
        segment_id = str(source.at[domain_id, "domain_segment_id"])
        for kind, column, key, label in (
            ("domain", "score", domain_id, f"{name} ({domain_id})"),
            ("domain segment", "segment", segment_id, f"{name} segment ({segment_id})"),
        ):
            layers.append(
                Layer(
                    kind,
                    key,
                    label,
                    _get(old_d, domain_id, column),
                    _get(new_d, domain_id, column),
                )
            )
    old_t = before["league_table"].set_index("trust_code")
    new_t = after["league_table"].set_index("trust_code")
    for key, column, label in SEGMENT_LAYERS:
        kind = "average" if key == "average" else ("rank" if key == "rank" else "segment")
        layers.append(
            Layer(
                kind, key, label, _get(old_t, trust_code, column), _get(new_t, trust_code, column)
            )
        )
    old_c = before["segment_cut_points"].iloc[0]
    new_c = after["segment_cut_points"].iloc[0]
    for name in ("q25", "q50", "q75"):
        label = f"segment cut-point {name} (all trusts' averages)"
        layers.append(Layer("cut-point", name, label, float(old_c[name]), float(new_c[name])))
    return layers


def _get(frame: pd.DataFrame, key: str, column: str) -> Any:
    if key not in frame.index:
        return None
    value = frame.at[key, column]
    if pd.isna(value):
        return None
    if column in ("segment", "rank") or column.endswith("_segment"):
        return int(value)
    return float(value)


# --------------------------------------------------------------------------------------------
# What would it take: the smallest change of one metric alone that reaches a segment
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricChange:
    """The smallest change of one metric alone (everything else as in the snapshot) that puts
    the trust in the target segment, or why there is none."""

    metric_id: str
    score_id: str
    label: str
    unit: str
    value_before: Decimal | None
    value_after: Decimal | None  # None: no such change
    note: str  # "" when there is one; else NOT_REACHABLE, or why the metric cannot be changed
    passed: int | None  # trusts scored on the metric it would draw level with or pass
    pool_size: int  # trusts scored on the metric (in its ranking pool)
    score_before: float | None = None
    score_after: float | None = None
    average_after: float | None = None
    unadjusted_after: int | None = None
    segment_after: int | None = None  # final segment
    rank_after: int | None = None

    @property
    def reachable(self) -> bool:
        return self.value_after is not None

    @property
    def change(self) -> Decimal | None:
        if self.value_after is None or self.value_before is None:
            return None
        return self.value_after - self.value_before

    @property
    def share_passed(self) -> float:
        """The share of the metric's pool the trust would draw level with or pass."""
        return (self.passed or 0) / max(self.pool_size, 1)


@dataclass
class TargetSearch:
    """Every metric of a trust, each with the smallest change of it alone that reaches
    ``target`` (a segment 1-4, compared with the final segment)."""

    quarter: str
    version: int | None
    trust_code: str
    trust_name: str
    peer_group: str
    target: int
    segment: int  # the trust's final segment now
    average: float
    rank: int
    blocked: str | None  # why no metric can get there (the override, the RSP, ...)
    changes: list[MetricChange]
    notes: list[str] = field(default_factory=list)

    @property
    def improving(self) -> bool:
        """The target is a better segment than the trust's (else a worse one)."""
        return self.target < self.segment

    def reachable(self) -> list[MetricChange]:
        """The changes that reach the target, the most effective first (the smallest share of
        the metric's trusts to draw level with or pass, then the metric id)."""
        found = [c for c in self.changes if c.reachable]
        return sorted(found, key=lambda c: (c.share_passed, c.metric_id))


ROUND_SCENARIOS = 128  # scenarios a round of the search may score, whatever the tasks left


@dataclass
class _Task:
    """The search of one trust and one metric over its candidate values (nearest first)."""

    trust_code: str
    metric_id: str
    unit: str
    tiebreak: float
    value: Decimal  # the trust's value now
    others: list[Decimal]  # the values of the other trusts in the metric's pool
    candidates: list[Decimal]
    start: int  # the first candidate the estimate expects to reach
    expected: bool  # the estimate expects some candidate to reach
    improving: bool
    target: int
    fail: int = -1  # highest index known not to reach (-1: the value now)
    hit: int | None = None  # lowest index known to reach
    started: bool = False
    dropped: bool = False  # the extreme does not reach: not reachable
    rounds: int = 0  # rounds spent narrowing between a candidate that fails and one that reaches

    @property
    def done(self) -> bool:
        return self.dropped or (self.hit is not None and self.hit - self.fail <= 1)

    def ask(self, points: int) -> list[int]:
        """The candidates to score in this round (call once a round). First the estimate and the
        one after it (and the one before, when there is room). While none reaches, candidates
        further and further out, and the furthest; then the neighbours of the two nearest
        known to reach and not to reach (the estimate is mostly one out), and ``points``
        evenly spaced between them (with one point to spare, from the second such round)."""
        last = len(self.candidates) - 1
        if not self.started:  # the estimate tends to fall one short: the cut-points follow
            picks = {self.start, self.start + 1} | ({self.start - 1} if points > 1 else set())
            return sorted(i for i in picks if 0 <= i <= last)
        if self.dropped:
            return []
        if self.hit is None:
            picks = {self.fail + 2**k - 1 for k in range(1, points + 2)} | {last}
            return sorted(i for i in picks if self.fail < i <= last)
        gap = self.hit - self.fail
        if gap <= 1:
            return []
        self.rounds += 1
        picks = {self.hit - 1} | ({self.fail + 1} if self.fail >= 0 else set())
        if self.rounds > 1 or points > 1:  # room, or the neighbours were not enough
            picks |= {self.fail + (gap * k) // (points + 1) for k in range(1, points + 1)}
        return sorted(i for i in picks if self.fail < i < self.hit)

    def record(self, i: int, reached: bool) -> None:
        self.started = True
        if reached:
            self.hit = i if self.hit is None else min(self.hit, i)
        else:
            self.fail = max(self.fail, i)
            if i == len(self.candidates) - 1:
                self.dropped = True

    def passed(self, new: Decimal) -> int:
        """The other trusts the new value draws level with or passes."""
        sign = 1 if new > self.value else -1
        reach = (new - self.value) * sign
        return sum(1 for v in self.others if 0 < (v - self.value) * sign <= reach)


def _direction(metric_id: str) -> int:
    """+1 when a higher value is better, -1 when a lower one is."""
    return _metrics()[metric_id].direction


def _places(numbers: Iterable[Decimal]) -> int:
    places = 0
    for n in numbers:
        exponent = n.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return min(places, 6)


@cache
def _edges(score_id: str) -> tuple[Decimal, ...]:
    bands = catalogue.score_bands()
    rows = bands[bands["score_id"] == score_id]
    return tuple(
        exact(float(e)) for e in [*rows["min_value"].dropna(), *rows["max_value"].dropna()]
    )


@dataclass(frozen=True)
class _Pool:
    """A metric's ranking pool, prepared once for every trust in it: the values at which a
    trust's score can change, sorted (the grid), and the pool's scores by how good its values
    are (for the estimate)."""

    grid: list[Decimal]  # ascending
    keys: list[Decimal]  # value x direction, ascending (worst first)
    best: list[Decimal]  # best (lowest) score among the worst k+1 trusts


def _grid(metric_id: str, unit: str, values: list[Decimal]) -> list[Decimal]:
    """Every value of the metric at which a trust's score can change, within its physical
    range: the trusts' values (for ranked rules) and one step either side of each, the score
    bands' edges and the target (and a step either side), and the ends of the range (one step
    past every value where the range is open). A step is one unit in the last decimal place
    the quarter's values (and the edges and target) are written with."""
    meta = _metrics()[metric_id]
    points: list[Decimal] = list(values) if meta.rule in ("rank", "target_rank", "ucr") else []
    points += _edges(meta.score_id)
    if meta.target is not None:
        points.append(meta.target)
    step = Decimal(1).scaleb(-_places([*values, *points]))
    found = {p + d for p in points for d in (-step, Decimal(0), step)}
    low, high = physical_range(metric_id, unit)
    ends = [*values, *points]
    found.add(exact(low) if math.isfinite(low) else min(ends) - step)
    found.add(exact(high) if math.isfinite(high) else max(ends) + step)
    low_d = None if math.isnan(low) or math.isinf(low) else exact(low)
    high_d = None if math.isnan(high) or math.isinf(high) else exact(high)
    return sorted(
        c for c in found if (low_d is None or low_d <= c) and (high_d is None or c <= high_d)
    )


def _candidates(grid: list[Decimal], before: Decimal, sign: int) -> list[Decimal]:
    """The grid's values on the ``sign`` side of ``before`` (+1: higher), nearest first."""
    if sign > 0:
        return grid[bisect.bisect_right(grid, before) :]
    return grid[: bisect.bisect_left(grid, before)][::-1]


_MEETS = {
    "lt": lambda v, t: v < t,
    "le": lambda v, t: v <= t,
    "ge": lambda v, t: v >= t,
    "gt": lambda v, t: v > t,
}


def _estimate(
    candidates: list[Decimal],
    pool: _Pool,
    needed: Decimal | None,
    meta: Metric,
    improving: bool,
) -> tuple[int, bool]:
    """Where to start looking: the first candidate at which the trust, taking the score of the
    best trust it would draw level with or pass, would bring its metric score to ``needed``
    (the cut-points and everyone else held), and whether any would (no guess for the finance
    metrics, which score through the combined-finance matrix). Only a guess read off the
    snapshot's scores: the engine decides every answer."""
    if needed is None or not pool.keys:  # e.g. finance: no item of its own
        return len(candidates) // 2, False
    worst = pool.best[0]  # the worst trust's score: where a trust behind everyone stands

    def reaches(i: int) -> bool:
        level = bisect.bisect_right(pool.keys, candidates[i] * meta.direction)
        guess = pool.best[level - 1] if level else worst
        met = meta.rule == "target_rank" and meta.target is not None and meta.target_op
        if met and _MEETS[str(meta.target_op)](candidates[i], meta.target):  # scores 1
            guess = min(guess, Decimal(1))
        return guess <= needed if improving else guess > needed

    # the guess only gets better (or worse) further out: the first that reaches, by halving
    low, high = -1, len(candidates) - 1
    if not reaches(high):
        return high, False
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if reaches(mid) else (mid, high)
    return high, True


def _reaches(row: Mapping[str, Any], target: int, improving: bool) -> bool:
    final = int(row["final_segment"])
    return final <= target if improving else final >= target


def _blocked(row: Mapping[str, Any], target: int, inputs: QuarterInputs) -> str | None:
    final = int(row["final_segment"])
    if inputs.partial:
        left = ", ".join(BY_ID[g].label.lower() for g in inputs.left_out)
        return (
            f"its segment is NHS England's published one (this snapshot was scored without "
            f"{left}), so no change computed here can move it"
        )
    if bool(row["in_rsp"]):
        return (
            "it is in the Recovery Support Programme (segment 5): its metric scores do not "
            "decide its segment"
        )
    if final == target:
        return f"it is in segment {target} already"
    if bool(row["deficit_flag"]) and target < 3:
        return (
            "it is in deficit or receives deficit support, so the financial override keeps it "
            "in segment 3 or below whatever its metric scores"
        )
    return None


@dataclass(frozen=True)
class _Baseline:
    """What the search reads from the baseline, looked up once per session."""

    table: pd.DataFrame  # league table by trust code
    cuts: Mapping[str, float]
    # (score id, peer group or "all") -> [(trust code, value, score)] of the trusts scored on it
    pools: Mapping[tuple[str, str], list[tuple[str, Decimal, Decimal]]]
    values: Mapping[str, Mapping[str, tuple[Decimal, str, float]]]  # trust -> metric -> value
    scores: Mapping[str, Mapping[str, Decimal]]  # trust -> score id -> score
    item_sizes: Mapping[str, int]  # averaging item -> scores in it
    _prepared: dict[tuple[str, str, str], _Pool] = field(default_factory=dict)

    @classmethod
    def of(cls, inputs: QuarterInputs, session: WhatIfSession) -> _Baseline:
        scores = session.before["metric_scores"]
        pools: dict[tuple[str, str], list[tuple[str, Decimal, Decimal]]] = {}
        own_scores: dict[str, dict[str, Decimal]] = {}
        for r in scores.itertuples():
            if pd.notna(r.score):
                own_scores.setdefault(r.trust_code, {})[r.score_id] = exact(r.score)
            if pd.notna(r.value) and pd.notna(r.score):
                entry = (r.trust_code, exact(r.value), exact(r.score))
                pools.setdefault((r.score_id, "all"), []).append(entry)
                pools.setdefault((r.score_id, r.peer_group), []).append(entry)
        values: dict[str, dict[str, tuple[Decimal, str, float]]] = {}
        for r in inputs.tables["metric_values"].itertuples():
            if pd.notna(r.value):
                tiebreak = float(r.tiebreak) if pd.notna(r.tiebreak) else math.nan
                values.setdefault(r.trust_code, {})[r.metric_id] = (
                    exact(r.value),
                    str(r.unit),
                    tiebreak,
                )
        return cls(
            table=session.before["league_table"].set_index("trust_code"),
            cuts=session.before["segment_cut_points"].iloc[0].to_dict(),
            pools=pools,
            values=values,
            scores=own_scores,
            item_sizes=catalogue.metric_catalogue().groupby("item")["score_id"].count().to_dict(),
        )

    def pool(self, metric_id: str, peer_group: str) -> list[tuple[str, Decimal, Decimal]]:
        """The trusts scored on the metric in a trust's ranking pool."""
        meta = _metrics()[metric_id]
        key = peer_group if meta.pool == "peer_group" else "all"
        return self.pools.get((meta.score_id, key), [])

    def prepared(self, metric_id: str, peer_group: str, unit: str) -> _Pool:
        """The metric's pool for a trust of ``peer_group`` with values in ``unit``, prepared
        once (:class:`_Pool`)."""
        key = (metric_id, peer_group, unit)
        if key not in self._prepared:
            pool = self.pool(metric_id, peer_group)
            direction = _direction(metric_id)
            ranked = sorted((v * direction, sc) for _, v, sc in pool)
            best: list[Decimal] = []
            for _, sc in ranked:
                best.append(sc if not best else min(best[-1], sc))
            self._prepared[key] = _Pool(
                grid=_grid(metric_id, unit, [v for _, v, _ in pool]),
                keys=[k for k, _ in ranked],
                best=best,
            )
        return self._prepared[key]


def _plan(
    inputs: QuarterInputs,
    base: _Baseline,
    trust_code: str,
    target: int,
    metric_ids: Iterable[str] | None = None,
) -> tuple[dict[str, MetricChange], list[_Task]]:
    """The trust's metrics: a finished :class:`MetricChange` each for those with nothing to
    search (no value this quarter, no candidate), and a search task each for the others."""
    row = base.table.loc[trust_code]
    group = str(row["peer_group"])
    improving = target < int(row["final_segment"])
    names = {1: "q25", 2: "q50", 3: "q75"}
    cut_name = names.get(target) if improving else names.get(target - 1)
    cut = None if cut_name is None else exact(float(base.cuts[cut_name]))
    own_scores = base.scores.get(trust_code, {})
    own = base.values.get(trust_code, {})
    wanted = None if metric_ids is None else set(metric_ids)
    done: dict[str, MetricChange] = {}
    tasks: list[_Task] = []
    for metric_id, meta in _metrics().items():
        if group not in meta.peer_groups:
            continue
        if wanted is not None and metric_id not in wanted:
            continue
        score_id = meta.score_id
        pool = base.pool(metric_id, group)
        others = [(v, sc) for code, v, sc in pool if code != trust_code]
        score = own_scores.get(score_id)
        common = {
            "metric_id": metric_id,
            "score_id": score_id,
            "label": meta.label,
            "pool_size": len(pool),
            "passed": None,
            "value_after": None,
            "score_before": None if score is None else float(score),
        }
        if metric_id not in own:
            done[metric_id] = MetricChange(
                **common, unit="", value_before=None, note="no value this quarter"
            )
            continue
        value, unit, tiebreak = own[metric_id]
        direction = _direction(metric_id)
        prepared = base.prepared(metric_id, group, unit)
        candidates = _candidates(prepared.grid, value, direction if improving else -direction)
        if not candidates:
            done[metric_id] = MetricChange(
                **common, unit=unit, value_before=value, note=NOT_REACHABLE
            )
            continue
        needed = None
        if score is not None and meta.item is not None and cut is not None:
            # the metric score that would bring the average to the cut-point, all else held
            size = int(base.item_sizes.get(meta.item, 1))
            gap = cut - exact(float(row["average_score"]))
            needed = score + gap * int(row["n_items"]) * size
        start, expected = _estimate(candidates, prepared, needed, meta, improving)
        tasks.append(
            _Task(
                trust_code=trust_code,
                metric_id=metric_id,
                unit=unit,
                tiebreak=tiebreak,
                value=value,
                others=[v for v, _ in others],
                candidates=candidates,
                start=start,
                expected=expected,
                improving=improving,
                target=target,
            )
        )
    return done, tasks


def _run(session: WhatIfSession, tasks: list[_Task]) -> None:
    """Search every task to its end, a round at a time; each round scores, in one batch, the
    candidates every unfinished task asks for next (more of them per task when few tasks are
    left, as a round's fixed work dominates then)."""
    while True:
        active = [t for t in tasks if not t.done]
        if not active:
            return
        points = max(1, ROUND_SCENARIOS // len(active) - 1)
        asks = [(t, i) for t in active for i in t.ask(points)]
        scenarios = [
            Scenario(t.trust_code, ((t.metric_id, float(t.candidates[i]), t.unit, t.tiebreak),))
            for t, i in asks
        ]
        rows = session.score(scenarios, ranks=False)["trust_segments"].to_dict(orient="records")
        for (t, i), row in zip(asks, rows, strict=True):
            t.record(i, _reaches(row, t.target, t.improving))


def _answers(
    session: WhatIfSession, base: _Baseline, tasks: list[_Task]
) -> dict[tuple[str, str], MetricChange]:
    """Each task's answer as a :class:`MetricChange`, its figures (with the league rank) from
    one more scoring of the answers."""
    found = [t for t in tasks if t.hit is not None and not t.dropped]
    scored: dict[str, pd.DataFrame] = {}
    if found:
        scored = session.score(
            [
                Scenario(
                    t.trust_code,
                    ((t.metric_id, float(t.candidates[t.hit]), t.unit, t.tiebreak),),  # type: ignore[index]
                )
                for t in found
            ]
        )
    table = scored["league_table"].set_index("scenario") if found else pd.DataFrame()
    new_scores = scored["metric_scores"] if found else pd.DataFrame()
    number = {id(t): k for k, t in enumerate(found)}
    out: dict[tuple[str, str], MetricChange] = {}
    for t in tasks:
        meta = _metrics()[t.metric_id]
        score_id = meta.score_id
        before = base.scores.get(t.trust_code, {}).get(score_id)
        common = {
            "metric_id": t.metric_id,
            "score_id": score_id,
            "label": meta.label,
            "unit": t.unit,
            "value_before": t.value,
            "pool_size": len(t.others) + 1,
            "score_before": None if before is None else float(before),
        }
        if id(t) not in number:
            out[(t.trust_code, t.metric_id)] = MetricChange(
                **common, value_after=None, note=NOT_REACHABLE, passed=None
            )
            continue
        k = number[id(t)]
        new = t.candidates[t.hit]  # type: ignore[index]
        row = table.loc[k]
        mine = new_scores[(new_scores["scenario"] == k) & (new_scores["score_id"] == score_id)]
        out[(t.trust_code, t.metric_id)] = MetricChange(
            **common,
            value_after=new,
            note="",
            passed=t.passed(new),
            score_after=float(mine["score"].iloc[0]) if len(mine) else None,
            average_after=float(row["average_score"]),
            unadjusted_after=int(row["unadjusted_segment"]),
            segment_after=int(row["final_segment"]),
            rank_after=int(row["rank"]),
        )
    return out


def _search(
    inputs: QuarterInputs,
    session: WhatIfSession,
    targets: Mapping[str, int],
    metric_ids: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, TargetSearch]:
    """:class:`TargetSearch` for several trusts at once (their rounds share the batches);
    ``metric_ids`` limits a trust's search to those metrics."""
    base = _Baseline.of(inputs, session)
    searches: dict[str, TargetSearch] = {}
    finished: dict[str, dict[str, MetricChange]] = {}
    tasks: list[_Task] = []
    for trust_code, target in targets.items():
        trust = inputs.trust_row(trust_code)
        row = base.table.loc[trust_code]
        searches[trust_code] = TargetSearch(
            quarter=inputs.quarter,
            version=inputs.version,
            trust_code=trust_code,
            trust_name=str(trust["trust_name"]),
            peer_group=str(trust["peer_group"]),
            target=target,
            segment=int(row["final_segment"]),
            average=float(row["average_score"]),
            rank=int(row["rank"]),
            blocked=_blocked(row, target, inputs),
            changes=[],
            notes=_notes(inputs),
        )
        if searches[trust_code].blocked:
            continue
        wanted = None if metric_ids is None else metric_ids.get(trust_code)
        finished[trust_code], more = _plan(inputs, base, trust_code, target, wanted)
        tasks += more
    _run(session, tasks)
    for (trust_code, metric_id), change in _answers(session, base, tasks).items():
        finished[trust_code][metric_id] = change
    for trust_code, listed in finished.items():
        searches[trust_code].changes = [listed[m] for m in _metrics() if m in listed]
    return searches


def smallest_changes(
    inputs: QuarterInputs,
    trust_code: str,
    target_segment: int,
    *,
    session: WhatIfSession | None = None,
) -> TargetSearch:
    """For each metric the trust is scored on, the smallest change of that metric alone (every
    other value as in the snapshot) at which the whole quarter, rescored by the engine, puts
    the trust in ``target_segment`` (its final segment at or better than it; at or worse when
    the target is worse than where it is), or :data:`NOT_REACHABLE`.

    Scores are steps: a value changes its metric score only where it draws level with or
    passes another trust's value, or crosses a score band's edge or the target. The
    candidates are those values (and one step past each), nearest first, and the engine
    decides each: the answer reaches the target and the candidate before it does not."""
    if target_segment not in SEGMENTS:
        raise WhatIfError(
            f"segment {target_segment} cannot be a target", "give a segment from 1 to 4"
        )
    inputs.trust_row(trust_code)
    own = session is None
    session = session or WhatIfSession(inputs)
    try:
        return _search(inputs, session, {trust_code: target_segment})[trust_code]
    finally:
        if own:
            session.close()


# --------------------------------------------------------------------------------------------
# The report's suggestions: the most effective single-metric changes toward the next segment
# --------------------------------------------------------------------------------------------
CHECKED = WHATIF_CHECKED  # metrics the engine checks per trust for the report, best first
SHOWN = 3  # changes the report shows per trust
NOT_SEARCHED = (
    "What it would take to reach another segment was not worked out for this report (it was "
    "built with LEAGUE_WHATIF_CHECKED=0, or the run's league resource set whatif_checked to "
    "0); `league whatif --target-segment` works it out."
)
_UNITS = {
    "percent": ("{}%", "{} percentage points"),
    "percentage points": ("{} percentage points", "{} percentage points"),
    "mins": ("{} minutes", "{} minutes"),
    "days": ("{} days", "{} days"),
    "out of 10": ("{} out of 10", "{} points"),
}


def format_value(value: Decimal, unit: str, *, difference: bool = False) -> str:
    """A value (or a difference of two) as people read it: ``77.0%``, ``2.5 percentage
    points``, ``25.00 minutes``; counts and rates bare."""
    text = format(value, "f")
    if text.startswith("-0") and value == 0:
        text = text[1:]
    pattern = _UNITS.get(unit, ("{}", "{}"))[1 if difference else 0]
    return pattern.format(text)


@dataclass
class Suggestion:
    """What would take one trust to the next better segment, for its report page."""

    trust_code: str
    segment: int  # its final segment now
    target: int | None  # the next better segment (None: nothing to reach)
    blocked: str | None  # why no single metric can get it there
    changes: list[MetricChange]  # the most effective confirmed changes, best first
    group_size: int

    def sentences(self) -> list[str]:
        """Plain sentences for a trust board: the lead-in, then one per change."""
        if self.target is None and self.blocked:
            return [self.blocked[0].upper() + self.blocked[1:] + "."]
        if self.target is None:
            return [f"It is in segment {self.segment}, the best: there is no segment to reach."]
        if self.blocked:
            return [f"Reaching segment {self.target}: {self.blocked}."]
        if not self.changes:
            return [
                f"No single metric we checked would take it to segment {self.target} on its "
                "own: it would take changes to several."
            ]
        lead = (
            f"To reach segment {self.target} (it is in segment {self.segment}), any one of "
            "these changes on its own would be enough, every other figure staying as it is:"
        )
        return [lead, *(self._sentence(c) for c in self.changes)]

    def _sentence(self, c: MetricChange) -> str:
        change = c.change or Decimal(0)
        way = "up" if change > 0 else "down"
        value_before = c.value_before if c.value_before is not None else Decimal(0)
        value_after = c.value_after if c.value_after is not None else Decimal(0)
        level = (
            f", level with or ahead of {c.passed} more of the {c.pool_size} trusts scored on it"
            if c.passed
            else ""
        )
        return (
            f"{c.label}: {format_value(value_after, c.unit)} instead of "
            f"{format_value(value_before, c.unit)} ({way} "
            f"{format_value(abs(change), c.unit, difference=True)}){level}. Its average score "
            f"would be {c.average_after:.2f}, its segment {c.segment_after} and its rank "
            f"{c.rank_after} of {self.group_size}."
        )


def _share(task: _Task, index: int | None) -> float:
    """The share of the metric's trusts the task's candidate draws level with or passes."""
    return task.passed(task.candidates[index or 0]) / (len(task.others) + 1)


def suggestions(
    inputs: QuarterInputs,
    *,
    session: WhatIfSession | None = None,
    checked: int = CHECKED,
    shown: int = SHOWN,
) -> dict[str, Suggestion]:
    """For every trust, the most effective changes of one metric alone that would take it to
    the next better segment (those drawing level with or passing the smallest share of the
    metric's trusts first). For each trust the engine searches the ``checked`` metrics the
    estimate ranks best, and up to ``shown`` of the changes it confirms are kept: a quarter's
    worth of exact searches in a few batches (``league whatif --target-segment`` searches
    every metric of one trust)."""
    own = session is None
    session = session or WhatIfSession(inputs)
    try:
        base = _Baseline.of(inputs, session)
        sizes = base.table.groupby("peer_group").size()
        out: dict[str, Suggestion] = {}
        tasks: list[_Task] = []
        for trust_code, row in base.table.iterrows():
            segment = int(row["final_segment"])
            target = segment - 1 if segment in (2, 3, 4) else None
            blocked = None if target is None else _blocked(row, target, inputs)
            if segment == 5:
                target, blocked = None, _blocked(row, 4, inputs)
            out[str(trust_code)] = Suggestion(
                trust_code=str(trust_code),
                segment=segment,
                target=target,
                blocked=blocked,
                changes=[],
                group_size=int(sizes[row["peer_group"]]),
            )
            if target is None or blocked:
                continue
            _, planned = _plan(inputs, base, str(trust_code), target)
            likely = [t for t in planned if t.expected]
            likely.sort(key=lambda t: (_share(t, t.start), t.metric_id))
            tasks += likely[:checked]
        _run(session, tasks)
        best: dict[str, list[_Task]] = {}
        for t in tasks:
            if t.hit is not None and not t.dropped:
                best.setdefault(t.trust_code, []).append(t)
        kept = [
            t
            for found in best.values()
            for t in sorted(found, key=lambda t: (_share(t, t.hit), t.metric_id))[:shown]
        ]
        for (trust_code, _), change in _answers(session, base, kept).items():
            out[trust_code].changes.append(change)
        for suggestion in out.values():
            suggestion.changes.sort(key=lambda c: (c.share_passed, c.metric_id))
        return out
    finally:
        if own:
            session.close()


def report_sentences(
    results: QuarterResults, *, checked: int = WHATIF_CHECKED
) -> dict[str, list[str]]:
    """Each trust's "what would it take" sentences for the report's trust page
    (:func:`suggestions`, searching ``checked`` metrics per trust). A snapshot scored without a
    peer group has its segments from the publication, and ``checked`` 0 leaves the search out:
    every trust's page says so instead."""
    from league_pipeline.core.peer_groups import PEER_GROUPS

    codes = [str(c) for c in results.league_table["trust_code"]]
    groups = results.info.lineage.get("peer_groups") or [g.id for g in PEER_GROUPS]
    left_out = [g.label.lower() for g in PEER_GROUPS if g.id not in groups]
    if left_out:
        sentence = (
            f"Its segment is NHS England's published one (this snapshot was scored without "
            f"{', '.join(left_out)}), so what it would take cannot be worked out here."
        )
        return {code: [sentence] for code in codes}
    if checked == 0:
        return {code: [NOT_SEARCHED] for code in codes}
    found = suggestions(inputs_from_results(results), checked=checked)
    return {code: found[code].sentences() for code in codes if code in found}
