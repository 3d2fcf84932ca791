"""Fidelity: compare the pipeline's layers with NHS England's published trust-data files.

Belongs here: the layer-by-layer comparison (metric scores, domain scores, average score,
segments, override, segment 5, league rank) and match rates. Each layer can be checked from the
pipeline's own previous layer ("end to end") or from NHS England's published previous layer
("layered"), which isolates the rule under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from league_pipeline.scoring import official
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring

SCORE_TOLERANCE = 0.0051  # published scores have 2 dp


@dataclass
class LayerComparison:
    layer: str
    rows: pd.DataFrame  # quarter, trust_code, [item], ours, published, match

    @property
    def matched(self) -> int:
        return int(self.rows["match"].sum())

    @property
    def total(self) -> int:
        return len(self.rows)

    def mismatches(self, *key: str) -> set[tuple]:
        cols = ["quarter", "trust_code", *key]
        return set(self.rows.loc[~self.rows["match"], cols].itertuples(index=False, name=None))

    def rate_line(self) -> str:
        by_q = self.rows.groupby("quarter")["match"].agg(["sum", "size"])
        parts = [f"{q}: {int(r['sum'])}/{int(r['size'])}" for q, r in by_q.iterrows()]
        pct = 100 * self.matched / self.total if self.total else 100.0
        return f"{self.layer}: {self.matched}/{self.total} ({pct:.1f}%) [{'; '.join(parts)}]"


def _compare(layer: str, merged: pd.DataFrame, numeric: bool) -> LayerComparison:
    if numeric:
        merged["match"] = (merged["ours"] - merged["published"]).abs() <= SCORE_TOLERANCE
    else:
        merged["match"] = merged["ours"] == merged["published"]
    return LayerComparison(layer, merged.reset_index(drop=True))


def compare_metric_scores(result: ScoringResult, nof: pd.DataFrame) -> LayerComparison:
    published = official.published_scores(nof).dropna(subset=["score"])
    merged = result.metric_scores.merge(
        published, on=["quarter", "trust_code", "score_id"], how="outer", suffixes=("", "_pub")
    ).rename(columns={"score": "ours", "score_pub": "published"})
    return _compare("metric scores (OF1xxx)", merged, numeric=True)


def compare_domain_scores(result: ScoringResult, nof: pd.DataFrame) -> LayerComparison:
    published = official.published_domains(nof)
    published = published[published["metric_id"].str.startswith("OF40")].rename(
        columns={"metric_id": "domain_id", "value": "published"}
    )
    merged = result.domain_scores.merge(
        published, on=["quarter", "trust_code", "domain_id"], how="outer"
    ).rename(columns={"score": "ours"})
    return _compare("domain scores (OF4000-4005)", merged, numeric=True)


def compare_domain_segments(result: ScoringResult, nof: pd.DataFrame) -> LayerComparison:
    published = official.published_domains(nof)
    published = published[published["metric_id"].str.startswith("OF41")].rename(
        columns={"metric_id": "domain_segment_id", "value": "published"}
    )
    merged = result.domain_scores.merge(
        published, on=["quarter", "trust_code", "domain_segment_id"], how="outer"
    ).rename(columns={"segment": "ours"})
    return _compare("domain segments (OF4100-4105)", merged, numeric=False)


def compare_summary(result: ScoringResult, nof: pd.DataFrame) -> dict[str, LayerComparison]:
    """OF5002, OF5003, OF5004, OF5000, OF5007, OF5005 and the league rank (OF5000 Rank)."""
    published = official.summary_from_nof(nof)
    ours = result.league_table.copy()
    ours["deficit_flag"] = ours["deficit_flag"].astype(int)
    ours["in_rsp"] = ours["in_rsp"].astype(int)
    merged = ours.merge(published, on=["quarter", "trust_code"], how="outer", suffixes=("", "_pub"))
    layers = {
        "average_score": ("average metric score (OF5002)", True),
        "unadjusted_segment": ("unadjusted segment (OF5003)", False),
        "deficit_flag": ("financial override flag (OF5004)", False),
        "adjusted_segment": ("adjusted segment (OF5000)", False),
        "in_rsp": ("Recovery Support Programme (OF5007)", False),
        "final_segment": ("final segment (OF5005)", False),
        "rank": ("league rank", False),
    }
    out = {}
    for column, (layer, numeric) in layers.items():
        if f"{column}_pub" not in merged:
            continue
        rows = merged[["quarter", "trust_code", "peer_group", column, f"{column}_pub"]].rename(
            columns={column: "ours", f"{column}_pub": "published"}
        )
        rows = rows.dropna(subset=["published"])
        out[column] = _compare(layer, rows, numeric=numeric)
    return out


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


def hybrid_metric_scores(
    result: ScoringResult, nof: pd.DataFrame, from_published: set[tuple[str, str]]
) -> pd.DataFrame:
    """Our metric scores, except (quarter, score_id) pairs taken from NHS England's file."""
    ours = result.metric_scores[["quarter", "trust_code", "peer_group", "score_id", "score"]]
    published = published_metric_scores(nof)
    keep = ~in_pairs(ours, ("quarter", "score_id"), from_published)
    take = in_pairs(published, ("quarter", "score_id"), from_published)
    return pd.concat([ours[keep], published[take]], ignore_index=True)


def rescore_from(inputs: ScoringInputs, **provided: pd.DataFrame) -> ScoringResult:
    return run_scoring(inputs, provided=provided)
