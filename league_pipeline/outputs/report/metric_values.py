"""The metric values behind each trust's scores, for its page in the report.

Belongs here: one row a metric a trust is scored on: its value and unit, the reporting period,
the peer group's median and quartiles of the value, the metric's score, and its description
(the publication's wording when the snapshot keeps its rows, else the reference catalogue's,
``assets/reference/metric_profiles.csv``). Nothing here renders HTML.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from league_pipeline.core.peer_groups import PEER_GROUPS
from league_pipeline.outputs.results import QuarterResults
from league_pipeline.sample.generator import load_profiles
from league_pipeline.scoring import catalogue

UNITS = {  # a unit as a board member reads it after a number
    "percent": "%",
    "percentage points": "pp",
    "mins": "minutes",
    "out of 10": "out of 10",
    "count": "",
    "days": "days",
}
DIRECTION = {"lower": "lower is better", "higher": "higher is better"}
RULES_WITHOUT_VALUE = {"given", "matrix"}  # scores published as scores, or combined from two


def _number(value: Any, unit: str = "") -> str:
    """A value as the publication writes it: 2 decimals (a count: whole when it is whole)."""
    if value is None or pd.isna(value):
        return ""
    value = float(value)
    return f"{value:,.0f}" if unit == "count" and value.is_integer() else f"{value:,.2f}"


def _by_peer_group(published_rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """The snapshot's published rows with lower-case column names and each row's peer group
    (from its source file), or None when the snapshot keeps none."""
    if published_rows is None or published_rows.empty:
        return None
    kinds = {g.source_kind: g.id for g in PEER_GROUPS}
    rows = published_rows.rename(columns=str.lower)
    return rows.assign(peer_group=rows["source_kind"].map(kinds))


def _wording(results: QuarterResults, rows: pd.DataFrame | None) -> pd.DataFrame:
    """(metric id, peer group) -> description and reporting period: the publication's rows of
    the quarter where the snapshot keeps them, else the reference catalogue's."""
    q = results.quarter.q
    profiles = load_profiles()
    wording = profiles.rename(columns={f"reporting_date_q{q}": "period"})[
        ["metric_id", "peer_group", "metric_description", "units", "period"]
    ]
    if rows is None:
        return wording
    published = rows.drop_duplicates(["metric_id", "peer_group"])[
        ["metric_id", "peer_group", "metric_description", "reporting_date"]
    ].rename(columns={"reporting_date": "period"})
    merged = wording.merge(
        published, on=["metric_id", "peer_group"], how="outer", suffixes=("_ref", "")
    )
    for column in ("metric_description", "period"):
        merged[column] = merged[column].fillna(merged[f"{column}_ref"])
    return merged[["metric_id", "peer_group", "metric_description", "units", "period"]]


QUARTILES = ("lower_quartile", "median", "upper_quartile")
# the publication's column -> ours
_PUBLISHED = {
    "lower_quartile": "lower_quartile",
    "median_value": "median",
    "upper_quartile": "upper_quartile",
}


def _published_quartiles(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """(metric id, peer group) -> the peer quartiles and median NHS England printed beside
    each value (``published_<name>``), from :func:`_by_peer_group`'s rows; None without them.
    Recomputing them from the 2-decimal values can differ by 0.01 from the publication."""
    if rows is None or not set(_PUBLISHED) <= set(rows.columns):
        return None
    numbers = {c: rows[c].astype("float64") for c in _PUBLISHED}  # numbers, as validated
    figures = pd.DataFrame(
        {"metric_id": rows["metric_id"], "peer_group": rows["peer_group"], **numbers}
    )
    first = figures.groupby(["metric_id", "peer_group"], dropna=True).first().reset_index()
    return first.rename(columns={c: f"published_{name}" for c, name in _PUBLISHED.items()})


def metric_rows(
    results: QuarterResults, published_rows: pd.DataFrame | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Trust code -> its metrics in catalogue order: ``label``, ``description``,
    ``direction``, ``value``, ``unit``, ``period``, ``lower_quartile``, ``median``,
    ``upper_quartile`` (the peer group's values), ``score``, ``score_only`` and ``no_value``
    (why a metric shows no value)."""
    cat = catalogue.metric_catalogue().reset_index(drop=True)
    cat = cat.assign(order=range(len(cat)))
    scores = results.metric_scores[["trust_code", "peer_group", "score_id", "value", "score"]]
    rows = scores.merge(
        cat[["score_id", "value_id", "short_name", "direction", "rule", "order"]], on="score_id"
    )
    rows["metric_id"] = rows["value_id"].fillna(rows["score_id"])
    units = results.metric_values[["trust_code", "metric_id", "unit"]].drop_duplicates(
        ["trust_code", "metric_id"]
    )
    rows = rows.merge(units, on=["trust_code", "metric_id"], how="left")
    has_value = ~rows["rule"].isin(RULES_WITHOUT_VALUE) & rows["value"].notna()
    peers = (
        rows[has_value]
        .groupby(["peer_group", "score_id"])["value"]
        .quantile([0.25, 0.5, 0.75])
        .unstack()
        .rename(columns={0.25: "lower_quartile", 0.5: "median", 0.75: "upper_quartile"})
        .reset_index()
    )
    rows = rows.merge(peers, on=["peer_group", "score_id"], how="left")
    by_group = _by_peer_group(published_rows)  # read once for the quartiles and the wording
    published = _published_quartiles(by_group)
    if published is not None:  # NHS England's own figures where the snapshot keeps them
        rows = rows.merge(published, on=["metric_id", "peer_group"], how="left")
        for column in QUARTILES:
            rows[column] = rows[f"published_{column}"].combine_first(rows[column])
    rows = rows.merge(_wording(results, by_group), on=["metric_id", "peer_group"], how="left")
    rows = rows.sort_values(["trust_code", "order"], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows.itertuples(index=False):
        valued = r.rule not in RULES_WITHOUT_VALUE and not pd.isna(r.value)
        unit = r.unit if isinstance(r.unit, str) else (r.units if isinstance(r.units, str) else "")
        out.setdefault(r.trust_code, []).append(
            {
                "id": r.metric_id,
                "label": r.short_name,
                "description": (
                    r.metric_description.strip() if isinstance(r.metric_description, str) else ""
                ),
                "direction": DIRECTION.get(r.direction, ""),
                "value": _number(r.value, unit) if valued else "",
                "unit": UNITS.get(unit, unit) if valued else "",
                "period": r.period if isinstance(r.period, str) else "",
                "lower_quartile": _number(r.lower_quartile, unit) if valued else "",
                "median": _number(r.median, unit) if valued else "",
                "upper_quartile": _number(r.upper_quartile, unit) if valued else "",
                "score": float(r.score),
                "score_only": not valued,
                # why a metric has no value beside its score
                "no_value": (
                    "combined from the two finance metrics"
                    if r.rule == "matrix"
                    else "published as a score"
                ),
            }
        )
    return out
