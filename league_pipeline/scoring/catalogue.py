"""The declarative methodology tables in ``assets/``: metric catalogue, bands, finance matrix.

Belongs here: loading and typing those CSV files. The rules themselves live in the SQL.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from league_pipeline.core.paths import methodology_dir

METHODOLOGY_VERSION = "NOF-2025/26/r1"


@cache
def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(methodology_dir() / name, dtype_backend="numpy_nullable")


def metric_catalogue() -> pd.DataFrame:
    """One row a scored metric: ids, domain, direction, scoring rule, target, pool, item."""
    df = _read("metrics.csv").copy()
    df["count_fallback"] = df["count_fallback"].astype("boolean")
    df["target"] = df["target"].astype("Float64")
    return df


def score_bands() -> pd.DataFrame:
    df = _read("score_bands.csv").copy()
    for col in ("min_inclusive", "max_inclusive"):
        df[col] = df[col].astype("boolean")
    for col in ("min_value", "max_value"):
        df[col] = df[col].astype("Float64")
    return df


def finance_matrix() -> pd.DataFrame:
    return _read("finance_matrix.csv").copy()


def domains() -> pd.DataFrame:
    return _read("domains.csv").copy()


def pools_spanning(peer_groups: set[str]) -> list[str]:
    """Score ids ranked across trust types (pool ``all``) whose pool includes any of
    ``peer_groups``: the pools a run leaving those groups out cannot complete (the SQL's
    ``01_metric_scores.published.sql`` decides the same from ``run_scope``)."""
    cat = metric_catalogue()
    across = cat[cat["pool"].eq("all").fillna(False).astype(bool)]
    return sorted(
        row.score_id
        for row in across.itertuples()
        if peer_groups & set(str(row.peer_groups).split("|"))
    )


def value_ids() -> set[str]:
    """OF0xxx ids the methodology scores."""
    return set(metric_catalogue()["value_id"].dropna())


def given_score_ids() -> set[str]:
    """OF1xxx ids published only as scores (no OF0 value)."""
    cat = metric_catalogue()
    return set(cat.loc[cat["rule"] == "given", "score_id"])
