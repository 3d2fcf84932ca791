"""Scoring inputs from the validated source extracts (the pipeline's normal path).

Belongs here: turning parsed extracts (NOF trust-data files, deficit flags, RSP list) into the
engine's input tables, with quarters written the pipeline's way (``2025/26 Q1``), and recording
where each metric value came from (:func:`with_sources`, the precedence of
:mod:`league_pipeline.derivation.precedence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from league_pipeline.core.quarters import parse_quarter
from league_pipeline.scoring import official

YES = {"yes", "y", "true", "1"}


def _label(series: pd.Series) -> pd.Series:
    return series.map(lambda q: parse_quarter(str(q), check_methodology=False).label)


def nof_frame(extracts: list[pd.DataFrame]) -> pd.DataFrame:
    """NOF trust-data extracts as one frame, quarters written the pipeline's way."""
    df = pd.concat(extracts, ignore_index=True)
    df["Quarter"] = _label(df["Quarter"])
    return df


def nof_inputs(extracts: list[pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """trusts, metric_values and given_scores from NOF trust-data extracts (any peer groups)."""
    df = nof_frame(extracts)
    return {
        "trusts": official.trusts_from_nof(df),
        "metric_values": official.metric_values_from_nof(df),
        "given_scores": official.given_scores_from_nof(df),
    }


def with_sources(
    official: pd.DataFrame, derived: pd.DataFrame, trusts: pd.DataFrame
) -> pd.DataFrame:
    """The quarter's metric values with where each came from (``source``, ``source_quarter``),
    after the official-quarter precedence of ``assets/methodology/metric_sources.yaml`` (by
    default NHS England's values as published; raw derivations fill in only where configured),
    plus the raw derivation of the same cell (``derived_value``, NaN where there is none)."""
    from league_pipeline.derivation import precedence

    chosen = precedence.official_values(official, derived, trusts)
    reference = precedence.derived_candidates(derived)
    reference = reference[["quarter", "trust_code", "metric_id", "value"]].rename(
        columns={"value": "derived_value"}
    )
    return chosen.merge(reference, on=["quarter", "trust_code", "metric_id"], how="left")


def _flag(df: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "quarter": _label(df["Quarter"]),
            "trust_code": df["Trust_code"],
            name: df[column].astype(str).str.strip().str.lower().isin(YES),
        }
    )


def deficit_flags_input(extract: pd.DataFrame) -> pd.DataFrame:
    return _flag(extract, "In_deficit_or_receiving_support", "deficit_flag")


def rsp_input(extract: pd.DataFrame) -> pd.DataFrame:
    return _flag(extract, "In_RSP", "in_rsp")


# --------------------------------------------------------------------------------------------
# The financial override flag and RSP membership of a published quarter
# --------------------------------------------------------------------------------------------
FLAG_COLUMNS = {"deficit_flag": "OF5004", "in_rsp": "OF5007"}


@dataclass
class ResolvedFlag:
    """One flag for every trust of the run, where it came from, and what did not add up."""

    values: pd.DataFrame  # quarter, trust_code, <flag>, <flag>_basis (published | supplied)
    disagreements: pd.DataFrame  # quarter, trust_code, flag, publication, landing_file
    missing: pd.DataFrame  # quarter, trust_code: neither the publication nor a file has it
    notes: list[str]


def published_flags(nof: pd.DataFrame) -> pd.DataFrame:
    """OF5004 and RSP membership per trust and quarter as published (NaN where not published).

    RSP membership is OF5007; a publication without OF5007 but with the final segment OF5005
    gives it as OF5005 = 5 (segment 5 is exactly the Recovery Support Programme)."""
    summary = official.summary_from_nof(nof)
    out = summary[["quarter", "trust_code"]].copy()
    for column in ("deficit_flag", "in_rsp", "final_segment"):
        out[column] = summary[column] if column in summary else float("nan")
    from_final = out["final_segment"].map(lambda v: v == 5 if pd.notna(v) else float("nan"))
    out["in_rsp"] = out["in_rsp"].where(out["in_rsp"].notna(), from_final)
    return out.drop(columns="final_segment")


def resolve_flag(
    name: str,
    trusts: pd.DataFrame,
    published: pd.DataFrame,
    supplied: pd.DataFrame | None,
    *,
    default: bool | None = None,
) -> ResolvedFlag:
    """``name`` (``deficit_flag`` or ``in_rsp``) for every trust of ``trusts``: NHS England's
    published value where there is one (basis ``published``), else the landing file's
    (``supplied``), else ``default`` when given. A supplied value that contradicts the
    publication is a disagreement; a trust with neither (and no default) is missing."""
    key = ["quarter", "trust_code"]
    frame = trusts[key].drop_duplicates().merge(published[[*key, name]], on=key, how="left")
    frame = frame.rename(columns={name: "publication"})
    if supplied is not None and len(supplied):
        frame = frame.merge(
            supplied[[*key, name]].rename(columns={name: "landing_file"}), on=key, how="left"
        )
    else:
        frame["landing_file"] = pd.NA
    has_pub = frame["publication"].notna()
    has_file = frame["landing_file"].notna()
    both = has_pub & has_file
    differ = pd.Series(
        [
            bool(b) and bool(float(p)) != bool(f)
            for b, p, f in zip(both, frame["publication"], frame["landing_file"], strict=True)
        ],
        index=frame.index,
        dtype=bool,
    )
    notes: list[str] = []
    values = frame[key].copy()
    values[name] = frame["publication"].where(has_pub, frame["landing_file"])
    values[f"{name}_basis"] = ["published" if p else "supplied" for p in has_pub]
    unknown = values[name].isna()
    if unknown.any() and default is not None:
        notes.append(
            f"{int(unknown.sum())} trust(s) have no {FLAG_COLUMNS[name]} in the publication and "
            f"no landing file: {name} = {default} for them"
        )
        values.loc[unknown, name] = default
        unknown = values[name].isna()
    missing = values.loc[unknown, key].reset_index(drop=True)
    values = values[~unknown].reset_index(drop=True)
    values[name] = values[name].astype(bool)
    disagreements = frame.loc[differ, [*key, "publication", "landing_file"]].assign(flag=name)
    return ResolvedFlag(values, disagreements.reset_index(drop=True), missing, notes)


def unaccounted_values(nof: pd.DataFrame, metric_values: pd.DataFrame) -> pd.DataFrame:
    """The published metric values (catalogued OF0xxx rows with a Value) that did not reach
    the scoring input, and scoring-input values that came from no published row and no raw
    derivation: both must be empty, or a stage lost or invented a row."""
    key = ["quarter", "trust_code", "metric_id"]
    published = official.metric_values_from_nof(nof)[key].drop_duplicates()
    used = metric_values[[*key, "source"]]
    lost = published.merge(used, on=key, how="left", indicator=True)
    lost = lost.loc[lost["_merge"] == "left_only", key].assign(problem="published value lost")
    extra = used.merge(published, on=key, how="left", indicator=True)
    extra = extra.loc[(extra["_merge"] == "left_only") & (extra["source"] != "derived"), key]
    extra = extra.assign(problem="value from no published row or derivation")
    return pd.concat([lost, extra], ignore_index=True)
