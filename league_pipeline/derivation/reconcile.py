"""Reconcile metric values derived from raw statistics with NHS England's official NOF values.

Belongs here: the per-trust comparison (:func:`reconcile`), the match rate per metric
(:func:`match_rates`) and the plain-text/Markdown report (:func:`report_markdown`). A derived
value *matches* when it is within half a unit of the official value's last published decimal
(``assets/methodology/metric_sources.yaml`` decimals), i.e. it rounds to the published figure.
Trusts whose figures differ are listed with the configured explanation, never dropped.

Statuses: ``match``, ``differs``, ``official_only`` (NHS England has a value, the raw release
has no row for the trust), ``derived_only`` (the raw release has the trust, which the official
files list, but NHS England published no value for that metric). Providers the official files
do not list at all (independent sector, walk-in centres, other trust types) are not compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from league_pipeline.derivation.config import MetricSources, metric_peer_groups, metric_sources

RECONCILIATION_COLUMNS = [
    "quarter",
    "metric_id",
    "measure",
    "trust_code",
    "trust_name",
    "peer_group",
    "derived_value",
    "derived_unrounded",
    "official_value",
    "difference",
    "tolerance",
    "status",
    "note",
]
MATCH_RATE_COLUMNS = [
    "quarter",
    "metric_id",
    "measure",
    "compared",
    "matched",
    "differs",
    "official_only",
    "derived_only",
    "match_rate",
    "min_match_rate",
    "passed",
]
STATUSES = ("match", "differs", "official_only", "derived_only")


def reconcile(
    derived: pd.DataFrame,
    official: pd.DataFrame,
    trusts: pd.DataFrame,
    config: MetricSources | None = None,
) -> pd.DataFrame:
    """Derived vs official value per quarter, metric and trust (:data:`RECONCILIATION_COLUMNS`).

    ``derived``: :mod:`league_pipeline.derivation.derive` output. ``official``: quarter, trust_code,
    metric_id, value (the NOF files' OF0xxx rows). ``trusts``: quarter, trust_code, trust_name,
    peer_group (every trust in the quarter's official files).
    """
    config = config or metric_sources()
    by_metric = config.by_metric()
    groups = metric_peer_groups()
    ids = list(by_metric)
    d = derived[derived["metric_id"].isin(ids)][
        ["quarter", "trust_code", "metric_id", "value", "value_unrounded"]
    ].rename(columns={"value": "derived_value", "value_unrounded": "derived_unrounded"})
    o = official[official["metric_id"].isin(ids)][["quarter", "trust_code", "metric_id", "value"]]
    o = o.rename(columns={"value": "official_value"})
    quarters = set(d["quarter"]) & set(trusts["quarter"])  # only quarters with official files
    d = d[d["quarter"].isin(quarters)]
    merged = d.merge(o, on=["quarter", "trust_code", "metric_id"], how="outer")
    roster = trusts[["quarter", "trust_code", "trust_name", "peer_group"]].drop_duplicates(
        ["quarter", "trust_code"]
    )
    merged = merged.merge(roster, on=["quarter", "trust_code"], how="inner")
    applies = pd.Series(
        [
            pg in groups.get(mid, set()) or pd.notna(ov)
            for pg, mid, ov in zip(
                merged["peer_group"], merged["metric_id"], merged["official_value"], strict=True
            )
        ],
        index=merged.index,
        dtype=bool,
    )  # a Series: an empty list would select no columns instead of no rows
    merged = merged[applies].copy()
    if merged.empty:  # nothing to compare (no raw file for the quarter's metrics)
        numeric = {"derived_value", "derived_unrounded", "official_value", "difference"}
        return pd.DataFrame(
            {
                c: pd.Series(dtype="float64" if c in numeric | {"tolerance"} else "str")
                for c in RECONCILIATION_COLUMNS
            }
        )
    merged["measure"] = merged["metric_id"].map(lambda m: by_metric[m].name)
    merged["tolerance"] = merged["metric_id"].map(lambda m: by_metric[m].tolerance)
    merged["difference"] = merged["derived_unrounded"] - merged["official_value"]
    has_d, has_o = merged["derived_value"].notna(), merged["official_value"].notna()
    close = merged["difference"].abs() <= merged["tolerance"]
    merged["status"] = np.select(
        [has_d & has_o & close, has_d & has_o, has_o],
        ["match", "differs", "official_only"],
        default="derived_only",
    )
    merged["note"] = [
        _note(by_metric[m].note, status, diff)
        for m, status, diff in zip(
            merged["metric_id"], merged["status"], merged["difference"], strict=True
        )
    ]
    out = merged[RECONCILIATION_COLUMNS].sort_values(
        ["quarter", "metric_id", "status", "trust_code"], kind="stable"
    )
    return out.reset_index(drop=True)


def _note(configured: str, status: str, difference: float) -> str:
    if status == "differs":
        direction = "official higher" if difference < 0 else "official lower"
        return f"{direction} by {abs(difference):.2f}" + (f"; {configured}" if configured else "")
    if status == "official_only":
        return "the raw release has no row for this trust"
    if status == "derived_only":
        return "NHS England published no value for this trust"
    return ""


def match_rates(reconciliation: pd.DataFrame, config: MetricSources | None = None) -> pd.DataFrame:
    """Per quarter and metric: trusts compared, matched, match rate and whether it is at least
    the configured ``min_match_rate`` (:data:`MATCH_RATE_COLUMNS`)."""
    config = config or metric_sources()
    by_metric = config.by_metric()
    rows = []
    for (quarter, metric_id), g in reconciliation.groupby(["quarter", "metric_id"], sort=True):
        counts = g["status"].value_counts()
        matched, differs = int(counts.get("match", 0)), int(counts.get("differs", 0))
        compared = matched + differs
        rate = matched / compared if compared else float("nan")
        floor = by_metric[metric_id].min_match_rate
        rows.append(
            {
                "quarter": quarter,
                "metric_id": metric_id,
                "measure": by_metric[metric_id].name,
                "compared": compared,
                "matched": matched,
                "differs": differs,
                "official_only": int(counts.get("official_only", 0)),
                "derived_only": int(counts.get("derived_only", 0)),
                "match_rate": rate,
                "min_match_rate": floor,
                "passed": bool(compared == 0 or rate >= floor),
            }
        )
    return pd.DataFrame(rows, columns=MATCH_RATE_COLUMNS)


def report_markdown(reconciliation: pd.DataFrame, rates: pd.DataFrame, max_rows: int = 60) -> str:
    """Match rates, then every trust whose derived value differs (up to ``max_rows``)."""
    if rates.empty:
        return (
            "_No metric could be reconciled: no derived value for a quarter with official files._"
        )
    shown = rates.assign(match_rate=(rates["match_rate"] * 100).round(1))
    lines = ["### Match rate per metric", "", shown.to_markdown(index=False), ""]
    differs = reconciliation[reconciliation["status"] == "differs"]
    if differs.empty:
        lines.append("Every compared trust matches its official value.")
    else:
        cols = ["quarter", "metric_id", "trust_code", "trust_name", "derived_value"]
        cols += ["official_value", "note"]
        lines += [f"### Trusts that differ ({len(differs)})", ""]
        lines.append(differs[cols].head(max_rows).to_markdown(index=False))
        if len(differs) > max_rows:
            lines.append(f"\n... and {len(differs) - max_rows} more (see the reconciliation table)")
    return "\n".join(lines)
