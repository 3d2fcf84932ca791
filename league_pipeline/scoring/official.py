"""Turn an official NOF trust-data file (long format) into scoring inputs and published layers.

Belongs here: the mapping between NHS England's Metric_ID rows and the pipeline's tables. Used by
the assets (official values are the primary input) and by the fidelity tests (the published
OF1xxx/OF4xxx/OF5xxx rows are the oracle).
"""

from __future__ import annotations

import pandas as pd

from league_pipeline.core.peer_groups import BY_TRUST_TYPE
from league_pipeline.scoring import catalogue
from league_pipeline.scoring.engine import ScoringInputs

SUMMARY_IDS = {
    "OF5000": "adjusted_segment",
    "OF5002": "average_score",
    "OF5003": "unadjusted_segment",
    "OF5004": "deficit_flag",
    "OF5005": "final_segment",
    "OF5007": "in_rsp",
}


def _base(df: pd.DataFrame) -> pd.DataFrame:
    out = df.rename(
        columns={
            "Quarter": "quarter",
            "Trust_code": "trust_code",
            "Metric_ID": "metric_id",
            "Value": "value",
            "Units": "unit",
            "Rank": "tiebreak",
        }
    )
    # validated extracts hold numbers only: anything else is an error, never a silent NaN
    out["value"] = pd.to_numeric(out["value"]).astype("float64")
    out["tiebreak"] = pd.to_numeric(out["tiebreak"]).astype("float64")
    return out


def trusts_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    """One row a trust and quarter: name, region, peer group, subtype."""
    cols = ["Quarter", "Trust_code", "Trust_name", "Region", "Trust_type", "Trust_subtype"]
    trusts = df[cols].drop_duplicates(["Quarter", "Trust_code"]).copy()
    trusts["peer_group"] = trusts["Trust_type"].map(lambda t: BY_TRUST_TYPE[t].id)
    return trusts.rename(
        columns={
            "Quarter": "quarter",
            "Trust_code": "trust_code",
            "Trust_name": "trust_name",
            "Region": "region",
            "Trust_subtype": "trust_subtype",
        }
    ).drop(columns="Trust_type")


def metric_values_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    base = _base(df)
    keep = base["metric_id"].isin(catalogue.value_ids()) & base["value"].notna()
    return base.loc[keep, ["quarter", "trust_code", "metric_id", "value", "unit", "tiebreak"]]


def given_scores_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    base = _base(df)
    keep = base["metric_id"].isin(catalogue.given_score_ids()) & base["value"].notna()
    out = base.loc[keep, ["quarter", "trust_code", "metric_id", "value"]]
    return out.rename(columns={"metric_id": "score_id", "value": "score"})


def summary_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    """Published OF5xxx summary rows, wide: one row a trust and quarter (plus the OF5000 Rank)."""
    base = _base(df)
    rows = base[base["metric_id"].isin(SUMMARY_IDS)]
    wide = rows.pivot_table(
        index=["quarter", "trust_code"], columns="metric_id", values="value", aggfunc="first"
    ).rename(columns=SUMMARY_IDS)
    ranks = rows[rows["metric_id"] == "OF5000"].set_index(["quarter", "trust_code"])["tiebreak"]
    wide["rank"] = ranks
    return wide.reset_index()


def deficit_flags_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    s = summary_from_nof(df)
    return pd.DataFrame(
        {
            "quarter": s["quarter"],
            "trust_code": s["trust_code"],
            "deficit_flag": s["deficit_flag"] == 1,
            "deficit_flag_basis": "published",
        }
    )


def rsp_from_nof(df: pd.DataFrame) -> pd.DataFrame:
    s = summary_from_nof(df)
    in_rsp = s["in_rsp"] == 1 if "in_rsp" in s else False
    return pd.DataFrame(
        {
            "quarter": s["quarter"],
            "trust_code": s["trust_code"],
            "in_rsp": in_rsp,
            "in_rsp_basis": "published",
        }
    )


def inputs_from_nof(df: pd.DataFrame) -> ScoringInputs:
    """Scoring inputs taken entirely from official trust-data files (values, flags, RSP)."""
    return ScoringInputs(
        trusts=trusts_from_nof(df),
        metric_values=metric_values_from_nof(df),
        given_scores=given_scores_from_nof(df),
        deficit_flags=deficit_flags_from_nof(df),
        rsp=rsp_from_nof(df),
    )


def published_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Published OF1xxx metric scores (long): quarter, trust_code, score_id, score."""
    base = _base(df)
    rows = base[base["metric_id"].str.startswith("OF1")]
    return rows[["quarter", "trust_code", "metric_id", "value"]].rename(
        columns={"metric_id": "score_id", "value": "score"}
    )


def published_domains(df: pd.DataFrame) -> pd.DataFrame:
    base = _base(df)
    rows = base[base["metric_id"].str.match(r"^OF4[01]0\d$")]
    return rows[["quarter", "trust_code", "metric_id", "value"]]


# --------------------------------------------------------------------------------------------
# NHS England's published layers as scoring-engine inputs
# --------------------------------------------------------------------------------------------
SUMMARY_COLUMNS = [
    "average_score",
    "unadjusted_segment",
    "adjusted_segment",
    "final_segment",
    "deficit_flag",
    "in_rsp",
    "rank",
]


def published_domain_layer(df: pd.DataFrame) -> pd.DataFrame:
    """Published domain scores (OF40xx) and domain segments (OF41xx), one row a trust and
    domain: quarter, trust_code, domain_id, score, segment (NaN where not published)."""
    rows = published_domains(df)
    domains = catalogue.domains()[["domain_id", "domain_segment_id"]]
    scores = rows.merge(domains, left_on="metric_id", right_on="domain_id")
    segments = rows.merge(domains, left_on="metric_id", right_on="domain_segment_id")
    key = ["quarter", "trust_code", "domain_id"]
    out = (
        scores[[*key, "value"]]
        .rename(columns={"value": "score"})
        .merge(segments[[*key, "value"]].rename(columns={"value": "segment"}), on=key, how="outer")
    )
    return out.reset_index(drop=True)


def published_layers(df: pd.DataFrame, peer_groups: list[str]) -> dict[str, pd.DataFrame]:
    """The engine's ``run_scope`` (the quarter's peer groups in the run) and NHS England's
    published layers of ``df``: metric scores, domain scores and segments, and the summary
    (average, segments, flags, league rank). The SQL takes a published value only where the
    run cannot compute it, and the audit compares every computed value with them."""
    quarters = sorted(set(df["Quarter"]))
    scope = pd.DataFrame(
        [(q, g) for q in quarters for g in peer_groups], columns=["quarter", "peer_group"]
    )
    summary = summary_from_nof(df)
    for column in SUMMARY_COLUMNS:
        if column not in summary:
            summary[column] = float("nan")
    return {
        "run_scope": scope,
        "published_scores": published_scores(df).dropna(subset=["score"]).reset_index(drop=True),
        "published_domains": published_domain_layer(df),
        "published_summary": summary[["quarter", "trust_code", *SUMMARY_COLUMNS]],
    }
