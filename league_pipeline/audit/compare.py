"""The audit: every recomputed figure beside NHS England's published one, with the reason for
each disagreement.

Belongs here: building the audit rows of each scoring layer from the engine's tables and the
published layers (:func:`league_pipeline.scoring.official.published_layers`), summarising them,
and the helpers that re-run the engine from a published layer (the layered checks of the test
suite). One row per trust, layer and item; ``basis`` says whether the figure was computed or
taken from the publication, and a disagreement's ``reason`` is one of :data:`REASONS`. The rows
and their columns: docs/outputs.md ("The audit table").
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from league_pipeline.scoring import catalogue, official
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring

SCORE_TOLERANCE = 0.0051  # published scores have 2 dp
LAYERS = (
    "metric_score",
    "domain_score",
    "domain_segment",
    "average_score",
    "unadjusted_segment",
    "adjusted_segment",
    "final_segment",
    "deficit_flag",
    "in_rsp",
    "rank",
)
NUMERIC_LAYERS = {"metric_score", "domain_score", "average_score"}
CROSS_TYPE_TIE = "rounded cross-type tie"
POOL_INCOMPLETE = "pool incomplete"
INHERITED = "inherits an upstream difference"
UNEXPLAINED = "unexplained"
REASONS = (CROSS_TYPE_TIE, POOL_INCOMPLETE, INHERITED, UNEXPLAINED)
COLUMNS = [
    "quarter",
    "peer_group",
    "trust_code",
    "layer",
    "item",
    "ours",
    "published",
    "basis",
    "agrees",
    "reason",
]
# the summary layer -> (its column in the engine's tables and the published summary, the item)
SUMMARY_LAYERS = {
    "average_score": ("average_score", "OF5002"),
    "unadjusted_segment": ("unadjusted_segment", "OF5003"),
    "adjusted_segment": ("adjusted_segment", "OF5000"),
    "final_segment": ("final_segment", "OF5005"),
    "deficit_flag": ("deficit_flag", "OF5004"),
    "in_rsp": ("in_rsp", "OF5007"),
    "rank": ("rank", "OF5000 Rank"),
}


# -- building the rows --------------------------------------------------------------------------


def _rows(
    layer: str,
    ours: pd.DataFrame,
    published: pd.DataFrame,
    key: list[str],
    basis: pd.Series | str = "computed",
) -> pd.DataFrame:
    """Join ``ours`` (key + ours) and ``published`` (key + published) where NHS England
    published the figure, and decide agreement (numbers within the 2 dp rounding)."""
    merged = ours.merge(published, on=key, how="right")
    merged = merged.dropna(subset=["published"])
    if isinstance(basis, str):
        merged["basis"] = basis
    merged["basis"] = merged["basis"].fillna("computed")
    if layer in NUMERIC_LAYERS:
        agrees = (merged["ours"].astype(float) - merged["published"].astype(float)).abs()
        merged["agrees"] = agrees.le(SCORE_TOLERANCE)
    else:
        merged["agrees"] = merged["ours"].astype(float).eq(merged["published"].astype(float))
    merged["layer"] = layer
    merged["reason"] = ""
    return merged


def _finish(frame: pd.DataFrame, trusts: pd.DataFrame) -> pd.DataFrame:
    groups = trusts[["quarter", "trust_code", "peer_group"]].drop_duplicates()
    if "peer_group" not in frame:
        frame = frame.merge(groups, on=["quarter", "trust_code"], how="left")
    frame["ours"] = frame["ours"].astype(float)
    frame["published"] = frame["published"].astype(float)
    frame["agrees"] = frame["agrees"].astype(bool)
    return frame[COLUMNS].sort_values(["quarter", "peer_group", "trust_code", "layer", "item"])


def _pool_gaps(trusts: pd.DataFrame) -> set[tuple[str, str]]:
    """(quarter, score_id) whose ranking pool spans a peer group with no trust in ``trusts``."""
    from league_pipeline.core.peer_groups import PEER_GROUPS

    every = {g.id for g in PEER_GROUPS}
    return {
        (quarter, score_id)
        for quarter, have in trusts.groupby("quarter")["peer_group"].agg(set).items()
        for score_id in catalogue.pools_spanning(every - have)
    }


def _all_groups_present(trusts: pd.DataFrame) -> dict[str, bool]:
    from league_pipeline.core.peer_groups import PEER_GROUPS

    every = {g.id for g in PEER_GROUPS}
    return {q: every <= set(g) for q, g in trusts.groupby("quarter")["peer_group"]}


def metric_score_rows(
    metric_scores: pd.DataFrame, published_scores: pd.DataFrame, trusts: pd.DataFrame
) -> pd.DataFrame:
    """Metric scores (OF1xxx) against the published ones, with the reason for each miss."""
    key = ["quarter", "trust_code", "score_id"]
    ours = metric_scores[[*key, "score"]].rename(columns={"score": "ours"})
    if "basis" in metric_scores:
        ours["basis"] = metric_scores["basis"].to_numpy()
    published = published_scores[[*key, "score"]].rename(columns={"score": "published"})
    known = published.merge(trusts[["quarter", "trust_code"]], on=["quarter", "trust_code"])
    rows = _rows("metric_score", ours, known, key, basis=ours.get("basis", "computed"))
    rows = rows.rename(columns={"score_id": "item"})
    rows = _metric_reasons(rows, metric_scores, trusts)
    return _finish(rows, trusts)


def _metric_reasons(
    rows: pd.DataFrame, metric_scores: pd.DataFrame, trusts: pd.DataFrame
) -> pd.DataFrame:
    bad = ~rows["agrees"]
    if not bad.any():
        return rows
    gaps = _pool_gaps(trusts)
    cols = ["quarter", "score_id", "rank_group", "value", "peer_group"]
    cross: set[tuple] = set()
    if set(cols) <= set(metric_scores.columns):  # scores given without values have no ties
        ranked = metric_scores.dropna(subset=["value"])[[*cols, "trust_code"]]
        tie_key = ["quarter", "score_id", "rank_group", "value"]
        types = ranked.groupby(tie_key)["peer_group"].nunique().rename("types").reset_index()
        tied = ranked.merge(types, on=tie_key)
        cross = set(
            tied.loc[tied["types"] > 1, ["quarter", "trust_code", "score_id"]].itertuples(
                index=False, name=None
            )
        )
    reasons = []
    for row in rows.itertuples():
        if row.agrees:
            reasons.append("")
        elif (row.quarter, row.item) in gaps:
            reasons.append(POOL_INCOMPLETE)
        elif (row.quarter, row.trust_code, row.item) in cross:
            reasons.append(CROSS_TYPE_TIE)
        else:
            reasons.append(UNEXPLAINED)
    rows["reason"] = reasons
    return rows


def _upstream_misses(upstream: pd.DataFrame, layers: Iterable[str]) -> set[tuple[str, str]]:
    """(quarter, trust_code) with a disagreement in any of ``layers`` of ``upstream``."""
    bad = upstream[upstream["layer"].isin(list(layers)) & ~upstream["agrees"]]
    return set(zip(bad["quarter"], bad["trust_code"], strict=True))


def _domain_of_scores(upstream: pd.DataFrame) -> set[tuple[str, str, str]]:
    """(quarter, trust_code, domain_id) whose metric scores disagree somewhere."""
    cat = catalogue.metric_catalogue()[["score_id", "domain_id"]]
    bad = upstream[(upstream["layer"] == "metric_score") & ~upstream["agrees"]]
    bad = bad.merge(cat, left_on="item", right_on="score_id")
    return set(zip(bad["quarter"], bad["trust_code"], bad["domain_id"], strict=True))


def _reason(row, inherited: bool, pool_gap: bool = False) -> str:
    if row.agrees:
        return ""
    if inherited:
        return INHERITED
    if pool_gap:
        return POOL_INCOMPLETE
    return UNEXPLAINED


def domain_rows(
    domain_scores: pd.DataFrame,
    published_domains: pd.DataFrame,
    trusts: pd.DataFrame,
    upstream: pd.DataFrame,
) -> pd.DataFrame:
    """Domain scores (OF40xx) and domain segments (OF41xx) against the published ones."""
    key = ["quarter", "trust_code", "domain_id"]
    scores = domain_scores[[*key, "score"]].rename(columns={"score": "ours"})
    pub_scores = published_domains[[*key, "score"]].rename(columns={"score": "published"})
    score_rows = _rows("domain_score", scores, pub_scores, key)
    segments = domain_scores[[*key, "segment"]].rename(columns={"segment": "ours"})
    segments["basis"] = (
        domain_scores["segment_basis"].to_numpy()
        if "segment_basis" in domain_scores
        else "computed"
    )
    pub_segments = published_domains[[*key, "segment"]].rename(columns={"segment": "published"})
    segment_rows = _rows("domain_segment", segments, pub_segments, key, segments["basis"])
    misses = _domain_of_scores(upstream)
    score_rows["reason"] = [
        _reason(r, (r.quarter, r.trust_code, r.domain_id) in misses)
        for r in score_rows.itertuples()
    ]
    complete = _all_groups_present(trusts)
    bad_scores = set(
        score_rows.loc[~score_rows["agrees"], ["quarter", "trust_code", "domain_id"]].itertuples(
            index=False, name=None
        )
    )
    segment_rows["reason"] = [
        _reason(
            r,
            (r.quarter, r.trust_code, r.domain_id) in bad_scores,
            not complete.get(r.quarter, False),
        )
        for r in segment_rows.itertuples()
    ]
    segment_map = dict(
        zip(
            catalogue.domains()["domain_id"],
            catalogue.domains()["domain_segment_id"],
            strict=True,
        )
    )
    segment_rows["domain_id"] = segment_rows["domain_id"].map(segment_map)
    rows = pd.concat([score_rows, segment_rows], ignore_index=True)
    return _finish(rows.rename(columns={"domain_id": "item"}), trusts)


def summary_rows(
    league_table: pd.DataFrame,
    published_summary: pd.DataFrame,
    trusts: pd.DataFrame,
    upstream: pd.DataFrame,
    averages: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The average (OF5002), segments (OF5003, OF5000, OF5005), flags (OF5004, OF5007) and the
    league rank against the published ones.

    ``averages`` (quarter, trust_code, average_score) is the computed average when the league
    table ranks on the published one (the run could not compute the cut-points)."""
    key = ["quarter", "trust_code"]
    complete = _all_groups_present(trusts)
    frames = []
    ours_all = league_table.copy()
    if averages is not None:  # the computed average, whatever the table ranked on
        ours_all = ours_all.drop(columns=["average_score", "average_score_basis"], errors="ignore")
        ours_all = ours_all.merge(averages[[*key, "average_score"]], on=key, how="left")
    for layer, (column, item) in SUMMARY_LAYERS.items():
        if column not in published_summary or column not in ours_all:
            continue
        ours = ours_all[[*key, column]].rename(columns={column: "ours"})
        basis_col = f"{column}_basis"
        ours["basis"] = ours_all[basis_col].to_numpy() if basis_col in ours_all else "computed"
        pub = published_summary[[*key, column]].rename(columns={column: "published"})
        rows = _rows(layer, ours, pub, key, ours["basis"])
        rows["item"] = item
        frames.append(rows)
    rows = pd.concat(frames, ignore_index=True)
    rows["basis"] = rows["basis"].fillna("computed")
    return _finish(_summary_reasons(rows, upstream, complete, trusts), trusts)


def _summary_reasons(
    rows: pd.DataFrame, upstream: pd.DataFrame, complete: dict[str, bool], trusts: pd.DataFrame
) -> pd.DataFrame:
    every = pd.concat([upstream, rows], ignore_index=True)

    def bad(layer: str) -> set[tuple[str, str]]:
        sub = every[(every["layer"] == layer) & ~every["agrees"]]
        return set(zip(sub["quarter"], sub["trust_code"], strict=True))

    items = _upstream_misses(upstream, ["metric_score"])
    average = bad("average_score")
    unadjusted = bad("unadjusted_segment")
    deficit, rsp = bad("deficit_flag"), bad("in_rsp")
    adjusted = bad("adjusted_segment")
    final = bad("final_segment")
    groups = trusts[["quarter", "trust_code", "peer_group"]].drop_duplicates()
    group_of = {(q, t): g for q, t, g in groups.itertuples(index=False, name=None)}
    # a rank depends on every trust of the table: any upstream miss in the group is inherited
    rounded_average_miss = set()
    avg_rows = every[every["layer"] == "average_score"]
    for r in avg_rows.itertuples():
        if pd.notna(r.ours) and round(r.ours + 1e-9, 2) != round(r.published + 1e-9, 2):
            rounded_average_miss.add((r.quarter, r.trust_code))
    tainted_groups = {
        (q, group_of.get((q, t))) for q, t in adjusted | rounded_average_miss | unadjusted
    }
    inherited = {
        "average_score": items,
        "unadjusted_segment": average,
        "adjusted_segment": unadjusted | deficit,
        "final_segment": adjusted | rsp,
        "deficit_flag": set(),
        "in_rsp": set(),
    }
    reasons = []
    for r in rows.itertuples():
        pair = (r.quarter, r.trust_code)
        if r.layer == "rank":
            upstream_miss = (r.quarter, group_of.get(pair)) in tainted_groups or pair in final
        else:
            upstream_miss = pair in inherited[r.layer]
        gap = r.layer == "unadjusted_segment" and not complete.get(r.quarter, False)
        reasons.append(_reason(r, upstream_miss, gap))
    rows["reason"] = reasons
    return rows


def audit_rows(result: ScoringResult, nof: pd.DataFrame) -> pd.DataFrame:
    """Every layer of ``result`` against the published layers of ``nof`` (a whole audit)."""
    published = official.published_layers(nof, [])
    trusts = official.trusts_from_nof(nof)
    metric = metric_score_rows(result.metric_scores, published["published_scores"], trusts)
    domain = domain_rows(result.domain_scores, published["published_domains"], trusts, metric)
    summary = summary_rows(
        result.league_table,
        published["published_summary"],
        trusts,
        metric,
        averages=result.trust_averages,
    )
    return pd.concat([metric, domain, summary], ignore_index=True)


# -- summaries ----------------------------------------------------------------------------------


def layer_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per quarter and layer: compared, published-basis, computed, computed agreeing, and the
    disagreements by reason."""
    out = []
    for (quarter, layer), g in rows.groupby(["quarter", "layer"], sort=False):
        computed = g[g["basis"] == "computed"]
        entry = {
            "quarter": quarter,
            "layer": layer,
            "compared": len(g),
            "published_basis": int((g["basis"] != "computed").sum()),
            "computed": len(computed),
            "computed_agreeing": int(computed["agrees"].sum()),
        }
        for reason in REASONS:
            entry[reason] = int((g["reason"] == reason).sum())
        out.append(entry)
    frame = pd.DataFrame(out)
    if frame.empty:
        return frame
    frame["layer"] = pd.Categorical(frame["layer"], LAYERS, ordered=True)
    return frame.sort_values(["quarter", "layer"]).reset_index(drop=True)


def rate_line(rows: pd.DataFrame, layer: str) -> str:
    """``layer: a/b computed agree (p%), c published`` over every quarter of ``rows``."""
    g = rows[rows["layer"] == layer]
    computed = g[g["basis"] == "computed"]
    agreeing = int(computed["agrees"].sum())
    pct = 100 * agreeing / len(computed) if len(computed) else 100.0
    published = len(g) - len(computed)
    return (
        f"{layer}: {agreeing}/{len(computed)} computed agree ({pct:.1f}%), "
        f"{published} taken from the publication"
    )


# -- re-running the engine from a published layer (layered checks) ----------------------------


def published_metric_scores(nof: pd.DataFrame) -> pd.DataFrame:
    """NHS England's OF1xxx scores in the engine's metric_scores shape."""
    trusts = official.trusts_from_nof(nof)[["quarter", "trust_code", "peer_group"]]
    scores = official.published_scores(nof).dropna(subset=["score"])
    return scores.merge(trusts, on=["quarter", "trust_code"])


def published_unadjusted_segments(nof: pd.DataFrame) -> pd.DataFrame:
    s = official.summary_from_nof(nof)
    trusts = official.trusts_from_nof(nof)[["quarter", "trust_code", "peer_group"]]
    out = s[["quarter", "trust_code", "average_score", "unadjusted_segment"]].merge(
        trusts, on=["quarter", "trust_code"]
    )
    out["unadjusted_segment"] = out["unadjusted_segment"].astype(int)
    out["n_items"] = 0
    return out


def published_trust_averages(nof: pd.DataFrame) -> pd.DataFrame:
    seg = published_unadjusted_segments(nof)
    return seg[["quarter", "trust_code", "peer_group", "average_score", "n_items"]]


def in_pairs(df: pd.DataFrame, columns: tuple[str, str], pairs: set[tuple]) -> pd.Series:
    """Boolean mask: the row's (columns[0], columns[1]) value pair is one of ``pairs``."""
    keys = zip(df[columns[0]], df[columns[1]], strict=True)
    return pd.Series([k in pairs for k in keys], index=df.index, dtype=bool)


def rescore_from(inputs: ScoringInputs, **provided: pd.DataFrame) -> ScoringResult:
    return run_scoring(inputs, provided=provided)
