"""Choose each trust's metric value among official, derived and carried values.

Belongs here: applying the precedence rule of ``assets/methodology/metric_sources.yaml`` to the
candidate values of a quarter and recording where each chosen value came from (``source``:
``official``, ``derived`` or ``carried``; ``source_quarter``: the quarter whose file it came
from). Which trust x metric cells exist at all (the coverage) is decided by the official
files, so a raw release never adds a trust NHS England does not score on a metric; the rule
for official and provisional quarters: docs/raw-statistics.md ("Precedence").
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.derivation.config import MetricSources, metric_peer_groups, metric_sources

VALUE_COLUMNS = ["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"]
SOURCE_COLUMNS = [*VALUE_COLUMNS, "source", "source_quarter"]


def derived_candidates(derived: pd.DataFrame) -> pd.DataFrame:
    """Derived rows that reproduce a NOF metric, in the metric-value layout (value rounded as
    NHS England publishes it; no within-type rank to break ties)."""
    rows = derived[derived["metric_id"].notna() & derived["value"].notna()]
    out = rows[["quarter", "trust_code", "metric_id", "value", "unit"]].copy()
    out["tiebreak"] = float("nan")
    return out


def _tag(df: pd.DataFrame, source: str, source_quarter: pd.Series | str) -> pd.DataFrame:
    out = df[VALUE_COLUMNS].copy()
    out["source"] = source
    out["source_quarter"] = source_quarter
    return out


def _ranked(candidates: dict[str, pd.DataFrame], mode: str, config: MetricSources) -> pd.DataFrame:
    """Every candidate with its position in its metric's precedence order (absent: dropped)."""
    frames = []
    for source, df in candidates.items():
        if df.empty:
            continue
        order = {m: config.order(m, mode) for m in df["metric_id"].unique()}
        rank = {
            m: sources.index(source) if source in sources else -1 for m, sources in order.items()
        }
        position = df["metric_id"].map(rank)
        frames.append(df.assign(_position=position)[position.ge(0)])
    if not frames:
        return pd.DataFrame(columns=[*SOURCE_COLUMNS, "_position"])
    return pd.concat(frames, ignore_index=True)


def _first(ranked: pd.DataFrame) -> pd.DataFrame:
    chosen = ranked.sort_values(
        ["quarter", "trust_code", "metric_id", "_position"], kind="stable"
    ).drop_duplicates(["quarter", "trust_code", "metric_id"], keep="first")
    return (
        chosen[SOURCE_COLUMNS]
        .sort_values(["quarter", "metric_id", "trust_code"], kind="stable")
        .reset_index(drop=True)
    )


def official_values(
    official: pd.DataFrame,
    derived: pd.DataFrame,
    trusts: pd.DataFrame,
    config: MetricSources | None = None,
) -> pd.DataFrame:
    """Metric values of a published quarter: official and derived candidates, the first in
    each metric's ``official`` precedence winning (:data:`SOURCE_COLUMNS`)."""
    config = config or metric_sources()
    groups = metric_peer_groups()
    peer = trusts.drop_duplicates(["quarter", "trust_code"]).set_index(["quarter", "trust_code"])[
        "peer_group"
    ]
    d = derived_candidates(derived)
    key = pd.MultiIndex.from_frame(d[["quarter", "trust_code"]])
    d_peer = pd.Series(peer.reindex(key).to_numpy(), index=d.index)
    in_scope = pd.Series(  # a Series: an empty list would select no columns, not no rows
        [
            isinstance(pg, str) and pg in groups.get(mid, set())
            for pg, mid in zip(d_peer, d["metric_id"], strict=True)
        ],
        index=d.index,
        dtype=bool,
    )
    candidates = {
        "official": _tag(official, "official", official["quarter"]),
        "derived": _tag(d[in_scope], "derived", d.loc[in_scope, "quarter"]),
    }
    return _first(_ranked(candidates, "official", config))


def provisional_values(
    quarter_label: str,
    derived: pd.DataFrame,
    carried: pd.DataFrame,
    carried_from: str,
    config: MetricSources | None = None,
) -> pd.DataFrame:
    """Metric values of a quarter without official files: derived and carried candidates, the
    first in each metric's ``provisional`` precedence winning, on the latest official file's
    coverage (``carried``: that file's metric values, quarter ``carried_from``)."""
    config = config or metric_sources()
    coverage = carried[["trust_code", "metric_id"]].drop_duplicates()
    d = derived_candidates(derived[derived["quarter"] == quarter_label])
    d = d.merge(coverage, on=["trust_code", "metric_id"], how="inner")
    c = carried.assign(quarter=quarter_label)
    candidates = {
        "derived": _tag(d, "derived", quarter_label),
        "carried": _tag(c, "carried", carried_from),
    }
    return _first(_ranked(candidates, "provisional", config))
