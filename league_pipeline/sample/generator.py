"""Deterministic generator of the embedded default landing folder (synthetic but realistic data).

Belongs here: drawing synthetic metric values for an invented trust roster from the reference
profiles (``assets/reference/``, built by ``scripts/build_roster.py``), scoring them with the
real scoring engine, and writing every landing file of a quarter in its published layout
(cumulative NOF trust data files, ODS, RSP list, deficit flags, and the raw releases of
:mod:`league_pipeline.sample.raw_releases`) through the :mod:`league_pipeline.formats` writers,
with the manifest that marks them as generated (:mod:`league_pipeline.sample.data_origin`).
Nothing here reads real data, and the same seed gives byte-identical files. The files, the
model and the determinism: docs/sample-data.md.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from league_pipeline.core.paths import assets_dir
from league_pipeline.core.peer_groups import ACUTE, AMBULANCE, MHC, PEER_GROUPS, PeerGroup
from league_pipeline.core.quarters import Quarter, all_quarters
from league_pipeline.formats.common import nhs_quarter_text
from league_pipeline.formats.flags import write_deficit_flags, write_rsp_list
from league_pipeline.formats.nof import NOF_TRUST_DATA_COLUMNS, write_nof_trust_data
from league_pipeline.formats.ods import ODS_TRUST_COLUMNS, write_ods_trusts
from league_pipeline.ingest.catalogue import landing_path, landing_paths
from league_pipeline.sample import data_origin
from league_pipeline.sample.raw_releases import raw_files
from league_pipeline.scoring.catalogue import metric_catalogue
from league_pipeline.scoring.engine import ScoringInputs, ScoringResult, run_scoring

log = logging.getLogger("league_pipeline.sample.generator")

DEFAULT_SEED = 2025
FINANCIAL_YEAR = 2025  # the profiles describe 2025/26 (reporting dates per quarter)
RHO = 0.16  # share of a metric's latent variance explained by the trust's overall quality
QUALITY_DRIFT = 0.15  # AR(1) step of the overall quality each quarter
COVERAGE_NOISE = 0.5  # weight of the metric-specific part of a trust's missing propensity
COUNT_SHARES = (0.35, 0.30, 0.20, 0.15)  # invented: infection counts 0/1/2/3 for count trusts
RSP_SIZE = {ACUTE.id: 14, MHC.id: 3, AMBULANCE.id: 1}
RSP_EXIT = 0.10  # chance a member leaves the programme at a quarter
RSP_REFILL = 0.50  # chance each vacancy is filled at a quarter
Q1_REGION_ALIASES = {"North East and Yorkshire": "North East"}  # Sept 2025 spelling
# the first (Sept 2025) publication's mental health & community file name and Trust_type
Q1_MHC_FILE = "nhs-oversight-framework-non-acute-hospital-trust-data.csv"
Q1_MHC_TRUST_TYPE = "Non-acute hospital trust"
UNDATED_IN_Q1 = ("OF5005", "OF5007")  # blank Reporting_date in the Sept 2025 files
NATIONAL_GROUPING = {
    "London": "Y56",
    "South West": "Y58",
    "South East": "Y59",
    "Midlands": "Y60",
    "East": "Y61",
    "North West": "Y62",
    "North East and Yorkshire": "Y63",
}
QUANTILE_POINTS = np.linspace(0.0, 1.0, 21)
WHOLE_SECOND_METRICS = {"OF0017"}  # AmbSYS means are whole seconds, published in minutes
_erf = np.vectorize(math.erf, otypes=[float])


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------
def reference_dir() -> Path:
    return assets_dir() / "reference"


@cache
def _read_reference(name: str) -> pd.DataFrame:
    return pd.read_csv(reference_dir() / name, dtype=str, keep_default_na=False)


def load_roster() -> pd.DataFrame:
    """The trusts the generator publishes (``assets/reference/trusts.csv``, all text) with
    their ``peer_group`` id."""
    df = _read_reference("trusts.csv").copy()
    group_of = {g.trust_type: g.id for g in PEER_GROUPS}
    df["peer_group"] = df["trust_type"].map(group_of)
    if df["peer_group"].isna().any():
        raise ValueError("trusts.csv holds a trust_type that is not a NOF peer group")
    return df


def load_profiles() -> pd.DataFrame:
    """Per metric and peer group: texts, dates and distribution (``metric_profiles.csv``)."""
    return _read_reference("metric_profiles.csv").copy()


def _float(text: str, default: float = 0.0) -> float:
    return float(text) if text not in ("", None) else default


def _floats(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split("|")])


# --------------------------------------------------------------------------------------------
# Random streams
# --------------------------------------------------------------------------------------------
def _key(part: str | int) -> int:
    return part if isinstance(part, int) else zlib.crc32(part.encode("utf-8"))


def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator keyed by ``seed`` and names: independent of call order and of other keys."""
    return np.random.default_rng(np.random.SeedSequence([seed, *(_key(p) for p in parts)]))


def _quarter_key(fy_start: int, q: int) -> int:
    return fy_start * 10 + q


def _phi(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


class _Latents:
    """Latent positions of every trust of a peer group, per metric, as of a quarter."""

    def __init__(self, seed: int, quarter: Quarter, sizes: dict[str, int]) -> None:
        self.seed = seed
        self.quarter = quarter
        self.sizes = sizes
        # the overall quality of each trust in Q1, Q2, ... up to the quarter
        self.quality = {g: self._quality(g, n) for g, n in sizes.items()}

    def _quality(self, group: str, n: int) -> list[np.ndarray]:
        quality = [_rng(self.seed, "quality", group).standard_normal(n)]
        for q in range(2, self.quarter.q + 1):
            step = _rng(self.seed, "quality", group, _quarter_key(FINANCIAL_YEAR, q))
            quality.append(
                quality[-1] * math.sqrt(1 - QUALITY_DRIFT**2)
                + QUALITY_DRIFT * step.standard_normal(n)
            )
        return quality

    def current_quality(self, group: str) -> np.ndarray:
        return self.quality[group][-1]

    def position(
        self, group: str, metric_id: str, dates: Sequence[str], drift: float
    ) -> np.ndarray:
        """Standard-normal latent position (higher = better) of each trust of ``group``.

        Frozen while the metric's reporting period stays the same (a plan or a staff survey
        published again is the same value), moving when it changes.
        """
        n = self.sizes[group]
        noise = _rng(self.seed, "latent", group, metric_id).standard_normal(n)
        as_of = 1  # the quarter whose quality the value reflects
        for q in range(2, self.quarter.q + 1):
            if dates[q - 1] != dates[q - 2]:  # the reporting period moved: the value moves
                step = _rng(self.seed, "latent", group, metric_id, _quarter_key(FINANCIAL_YEAR, q))
                noise = noise * math.sqrt(1 - drift**2) + drift * step.standard_normal(n)
                as_of = q
        return math.sqrt(RHO) * self.quality[group][as_of - 1] + math.sqrt(1 - RHO) * noise


# --------------------------------------------------------------------------------------------
# Drawing one quarter's inputs
# --------------------------------------------------------------------------------------------
def _dates(profile: pd.Series) -> list[str]:
    return [profile[f"reporting_date_q{i}"] for i in (1, 2, 3, 4)]


def _coverage(profile: pd.Series, members: pd.DataFrame, seed: int) -> np.ndarray:
    """Which trusts of the peer group publish the metric (fixed for the whole year).

    Trusts lacking a metric are those with the highest "missing propensity": a per-trust draw
    shared by every metric plus a smaller metric-specific one, so that, as in the real files,
    the same few trusts (e.g. specialist hospitals without an ED) lack several metrics.
    """
    codes = members["trust_code"].to_numpy()
    if profile["only_trusts"]:
        return np.isin(codes, profile["only_trusts"].split("|"))
    group, metric_id = profile["peer_group"], profile["metric_id"]
    propensity = _rng(seed, "coverage", group).random(len(codes)) + COVERAGE_NOISE * _rng(
        seed, "coverage", group, metric_id
    ).random(len(codes))
    has = np.ones(len(codes), dtype=bool)

    def drop(idx: np.ndarray, n_missing: int) -> None:
        worst = idx[np.argsort(-propensity[idx], kind="stable")]
        has[worst[:n_missing]] = False

    if profile["missing_by_subtype"]:
        subtypes = members["trust_subtype"].to_numpy()
        for item in profile["missing_by_subtype"].split(";"):
            subtype, share = item.rsplit(":", 1)
            idx = np.flatnonzero(subtypes == subtype)
            drop(idx, min(len(idx), round(float(share) * len(idx))))
    else:
        drop(np.arange(len(codes)), round(_float(profile["share_missing"]) * len(codes)))
    return has


def _categories(good: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """1-based category of each latent CDF value: category 1 for the best ``shares[0]``..."""
    bad = 1.0 - good
    bounds = np.cumsum(shares)[:-1]
    return 1 + np.searchsorted(bounds, bad, side="right")


def _rounded(values: np.ndarray, decimals: int) -> np.ndarray:
    return np.round(values, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass
class _Draws:
    metric_values: pd.DataFrame  # trust_code, peer_group, metric_id, value, unit
    given_scores: pd.DataFrame  # trust_code, peer_group, score_id, score


@cache
def _draw_metrics(quarter: Quarter, seed: int) -> _Draws:
    """The quarter's drawn values (cached: the raw files of later quarters need earlier
    quarters' draws; callers must not modify the frames)."""
    return _draw_metrics_uncached(quarter, seed)


def _draw_metrics_uncached(quarter: Quarter, seed: int) -> _Draws:
    roster = load_roster()
    profiles = load_profiles()
    directions = metric_catalogue().set_index("value_id")["direction"].dropna().to_dict()
    sizes = roster.groupby("peer_group").size().to_dict()
    latents = _Latents(seed, quarter, sizes)
    values, given = [], []
    for _, profile in profiles[profiles["kind"] != "derived"].iterrows():
        group, metric_id = profile["peer_group"], profile["metric_id"]
        members = roster[roster["peer_group"] == group]
        dates = _dates(profile)
        good = _phi(latents.position(group, metric_id, dates, _float(profile["drift"])))
        has = _coverage(profile, members, seed)
        codes = members["trust_code"].to_numpy()
        if profile["kind"] == "given_score":
            scores = _categories(good, _floats(profile["score_shares"])).astype(float)
            given.append(
                pd.DataFrame(
                    {
                        "trust_code": codes[has],
                        "peer_group": group,
                        "score_id": metric_id,
                        "score": scores[has],
                    }
                )
            )
            continue
        position = good if directions[metric_id] == "higher" else 1.0 - good
        drawn = np.interp(position, QUANTILE_POINTS, _floats(profile["quantiles"]))
        if metric_id in WHOLE_SECOND_METRICS:  # minutes from a whole number of seconds
            drawn = np.round(drawn * 60) / 60
        value = _rounded(drawn, int(profile["decimals"]))
        unit = np.full(len(codes), profile["units"], dtype=object)
        n_count = int(_float(profile["count_unit_trusts"]))
        if n_count:
            # a few specialist trusts publish a count of cases instead of a rate
            candidates = np.flatnonzero(has & (members["trust_subtype"] == "Acute - Specialist"))
            rng = _rng(seed, "count-unit", group, metric_id)
            chosen = rng.permutation(candidates)[:n_count]
            counts = _categories(good[chosen], COUNT_SHARES) - 1
            value[chosen] = counts.astype(float)
            unit[chosen] = "count"
        values.append(
            pd.DataFrame(
                {
                    "trust_code": codes[has],
                    "peer_group": group,
                    "metric_id": metric_id,
                    "value": value[has],
                    "unit": unit[has],
                }
            )
        )
    return _Draws(pd.concat(values, ignore_index=True), pd.concat(given, ignore_index=True))


def _deficit_flags(metric_values: pd.DataFrame, seed: int) -> pd.DataFrame:
    """OF5004 before RSP: planned deficit, or breakeven plan and behind plan, plus exceptions."""
    wide = metric_values[metric_values["metric_id"].isin(["OF0079", "OF0081"])].pivot(
        index=["peer_group", "trust_code"], columns="metric_id", values="value"
    )
    plan, ytd = wide["OF0079"], wide["OF0081"]
    flag = (plan < 0) | ((plan == 0) & (ytd < 0))
    # exceptions (fixed for the year: the plan does not change between quarters)
    for group, plan_sign, new_flag in (
        (ACUTE.id, 1, True),  # surplus plan, flagged: receiving deficit support
        (MHC.id, 1, True),
        (MHC.id, -1, False),  # deficit plan, not flagged
    ):
        in_group = plan.index.get_level_values("peer_group") == group
        candidates = sorted(plan.index[in_group & (np.sign(plan) == plan_sign).to_numpy()])
        if candidates:
            rng = _rng(seed, "deficit-exception", group, "surplus" if plan_sign > 0 else "deficit")
            flag.loc[candidates[int(rng.integers(len(candidates)))]] = new_flag
    out = pd.DataFrame({"plan": plan, "deficit_flag": flag.astype(bool)}).reset_index()
    return out


def _rsp_members(quarter: Quarter, seed: int) -> set[str]:
    """The Recovery Support Programme of the quarter: the weakest trusts, changing slowly."""
    roster = load_roster()
    sizes = roster.groupby("peer_group").size().to_dict()
    members: set[str] = set()
    for group, target in RSP_SIZE.items():
        codes = roster.loc[roster["peer_group"] == group, "trust_code"].to_numpy()
        quality = _Latents(seed, Quarter(FINANCIAL_YEAR, 1), sizes).current_quality(group)
        noise = _rng(seed, "rsp", group).standard_normal(len(codes))
        order = list(codes[np.argsort(quality + 0.5 * noise, kind="stable")])
        current = order[:target]
        for q in range(2, quarter.q + 1):
            rng = _rng(seed, "rsp", group, _quarter_key(FINANCIAL_YEAR, q))
            current = [c for c in current if rng.random() >= RSP_EXIT]
            waiting = [c for c in order if c not in current]
            for _ in range(target - len(current)):
                if rng.random() < RSP_REFILL and waiting:
                    current.append(waiting.pop(0))
        members |= set(current)
    return members


# --------------------------------------------------------------------------------------------
# Robustness: no published result may hinge on floating-point summation order
# --------------------------------------------------------------------------------------------
def round_half_up(values: np.ndarray | float, decimals: int = 2) -> np.ndarray:
    """Round as the engine decides its published figures: the exact decimal each stored double
    stands for (its shortest repr: the engine computes exact decimals and stores the nearest
    double, so 2.425 is stored as 2.42499999999999982... and means 2.425), half up. NaN stays
    NaN. Rounding the double itself would give 2.42 where the engine ranks on 2.43."""
    quantum = Decimal(1).scaleb(-decimals)

    def one(value: float) -> float:
        if value != value:
            return value
        return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)) + 0.0

    return np.array([one(v) for v in np.atleast_1d(np.asarray(values, dtype=float))])


# --------------------------------------------------------------------------------------------
# Publishing: the long trust data file of a peer group
# --------------------------------------------------------------------------------------------
TRUST_DATA_COLUMNS = NOF_TRUST_DATA_COLUMNS  # the published layout, as the readers define it


def _competition_rank(badness: np.ndarray) -> np.ndarray:
    """Best (lowest badness) = 1; ties share the lowest rank."""
    return pd.Series(badness).rank(method="min").to_numpy(float)


class _Rows:
    """Column-wise accumulator of published rows (faster than concatenating DataFrames)."""

    def __init__(self, group: PeerGroup, quarter: Quarter) -> None:
        profiles = load_profiles()
        rows = profiles[profiles["peer_group"] == group.id]
        self.profiles = {row["metric_id"]: row for _, row in rows.iterrows()}
        self.quarter = quarter
        self.columns: dict[str, list[np.ndarray]] = {c: [] for c in TRUST_DATA_COLUMNS}

    def add(
        self,
        metric_id: str,
        codes: np.ndarray,
        values: np.ndarray,
        *,
        text_id: str | None = None,
        units: np.ndarray | str | None = None,
        rank: np.ndarray | None = None,
        quartiles: tuple[float, float, float] | None = None,
    ) -> None:
        profile = self.profiles[text_id or metric_id]
        if str(self.quarter.q) not in profile["published_quarters"].split("|"):
            return
        n = len(codes)

        def fill(value: object) -> np.ndarray:
            return np.full(n, value, dtype=object)

        date = profile[f"reporting_date_q{self.quarter.q}"]
        unit = units if units is not None else self.profiles.get(metric_id, profile)["units"]
        cols = self.columns
        cols["Trust_code"].append(np.asarray(codes, dtype=object))
        cols["Metric_ID"].append(fill(metric_id))
        cols["Domain"].append(fill(profile["domain"]))
        cols["Sub_domain"].append(fill(profile["sub_domain"]))
        cols["Metric_description"].append(fill(profile["metric_description"]))
        cols["Reporting_date"].append(fill(date if date else np.nan))
        cols["Units"].append(
            np.asarray(unit, dtype=object) if not isinstance(unit, str) else fill(unit)
        )
        cols["Value"].append(np.asarray(values, dtype=float))
        for col, value in zip(
            ("Median_value", "Lower_quartile", "Upper_quartile"),
            quartiles or (np.nan, np.nan, np.nan),
            strict=True,
        ):
            cols[col].append(np.full(n, value, dtype=float))
        cols["Rank"].append(np.full(n, np.nan) if rank is None else np.asarray(rank, dtype=float))

    def frame(self, group: PeerGroup) -> pd.DataFrame:
        data = {c: np.concatenate(v) for c, v in self.columns.items() if v}
        out = pd.DataFrame(data)
        roster = load_roster().set_index("trust_code")
        out["Quarter"] = self.quarter.label
        out["Region"] = out["Trust_code"].map(roster["region"])
        out["Trust_type"] = group.trust_type
        out["Trust_subtype"] = out["Trust_code"].map(roster["trust_subtype"])
        out["Trust_name"] = out["Trust_code"].map(roster["trust_name"])
        out = out.sort_values(["Metric_ID", "Trust_code"], kind="stable")
        return out[TRUST_DATA_COLUMNS].reset_index(drop=True)


def _publish_group(
    group: PeerGroup, quarter: Quarter, draws: _Draws, result: ScoringResult
) -> pd.DataFrame:
    """The normalised trust data frame (``read_nof_trust_data`` layout) of one peer group."""
    rows = _Rows(group, quarter)
    directions = metric_catalogue().set_index("value_id")["direction"].dropna().to_dict()
    values = draws.metric_values[draws.metric_values["peer_group"] == group.id]
    scores = result.metric_scores[result.metric_scores["peer_group"] == group.id]
    score_of = scores.set_index(["score_id", "trust_code"])["score"]
    for metric_id, metric_rows in values.groupby("metric_id", sort=True):
        codes = metric_rows["trust_code"].to_numpy()
        value = metric_rows["value"].to_numpy(float)
        rank = _competition_rank(value if directions[metric_id] == "lower" else -value)
        median, lower, upper = _rounded(np.quantile(value, [0.5, 0.25, 0.75]), 2)
        rows.add(
            metric_id,
            codes,
            value,
            units=metric_rows["unit"].to_numpy(),
            rank=rank,
            quartiles=(median, lower, upper),
        )
        score_id = "OF1" + metric_id[3:]
        keys = pd.MultiIndex.from_arrays([np.full(len(codes), score_id), codes])
        score = round_half_up(score_of.reindex(keys).to_numpy(float))
        rows.add(score_id, codes, score, text_id=metric_id, units="score", rank=rank)
    given = draws.given_scores[draws.given_scores["peer_group"] == group.id]
    for score_id, given_rows in given.groupby("score_id", sort=True):
        rows.add(score_id, given_rows["trust_code"].to_numpy(), given_rows["score"].to_numpy())
    combined = scores[scores["score_id"] == "OF1080"]
    rows.add("OF1080", combined["trust_code"].to_numpy(), combined["score"].to_numpy())
    domains = result.domain_scores[result.domain_scores["peer_group"] == group.id]
    for (domain_id, segment_id), domain_rows in domains.groupby(
        ["domain_id", "domain_segment_id"], sort=True
    ):
        codes = domain_rows["trust_code"].to_numpy()
        score = round_half_up(domain_rows["score"].to_numpy(float))
        rows.add(str(domain_id), codes, score, rank=_competition_rank(score))
        rows.add(str(segment_id), codes, domain_rows["segment"].to_numpy(float))
    league = result.league_table[result.league_table["peer_group"] == group.id]
    codes = league["trust_code"].to_numpy()
    average = round_half_up(league["average_score"].to_numpy(float))
    rows.add("OF5000", codes, league["adjusted_segment"].to_numpy(float), rank=league["rank"])
    rows.add("OF5002", codes, average, rank=_competition_rank(average))
    rows.add("OF5003", codes, league["unadjusted_segment"].to_numpy(float))
    rows.add("OF5004", codes, league["deficit_flag"].to_numpy(float))
    rows.add("OF5005", codes, league["final_segment"].to_numpy(float))
    rows.add("OF5007", codes, league["in_rsp"].to_numpy(float))
    return rows.frame(group)


# --------------------------------------------------------------------------------------------
# Publishing: what each quarter's file holds (cumulative) and how the first one is laid out
# --------------------------------------------------------------------------------------------
def _first_publication(group: PeerGroup, rows: pd.DataFrame) -> pd.DataFrame:
    """Q1's own rows as the Sept 2025 files wrote them: region ``North East``, OF5005/OF5007
    undated, and the mental health & community group called "Non-acute hospital trust" (the
    Quarter column and the ``percent`` spelling are the writer's, ``with_quarter=False``)."""
    out = rows.copy()
    out["Region"] = out["Region"].replace(Q1_REGION_ALIASES)
    out.loc[out["Metric_ID"].isin(UNDATED_IN_Q1), "Reporting_date"] = np.nan
    if group is MHC:
        out["Trust_type"] = Q1_MHC_TRUST_TYPE
    return out


def _cumulative_publication(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """A later publication: every quarter's rows to date, oldest first, OF5005/OF5007 dated
    with their quarter (as the real cumulative MH file dates them)."""
    out = pd.concat(parts, ignore_index=True)
    undated = out["Metric_ID"].isin(UNDATED_IN_Q1) & out["Reporting_date"].isna()
    out.loc[undated, "Reporting_date"] = out.loc[undated, "Quarter"].map(nhs_quarter_text)
    return out


def trust_data_landing_path(group: PeerGroup, quarter: Quarter) -> str:
    """Where the quarter's trust data file of ``group`` lands: its published name (the mental
    health & community file of Q1 under the Q1 name)."""
    kind = group.source_kind
    if group is MHC and quarter.q == 1:
        names = [p for p in landing_paths(kind, quarter) if p.endswith(Q1_MHC_FILE)]
        if not names:
            raise ValueError(f"assets/sources.yaml does not list {Q1_MHC_FILE} for {kind}")
        return names[0]
    return landing_path(kind, quarter)


def _ods_frame() -> pd.DataFrame:
    """The roster as an ODS ``etr`` extract (names in capitals, as ODS writes them)."""
    roster = load_roster()
    out = pd.DataFrame("", index=roster.index, columns=ODS_TRUST_COLUMNS)
    out["ods_code"] = roster["trust_code"]
    out["name"] = roster["trust_name"].str.upper()
    for col in ODS_TRUST_COLUMNS:
        if col in roster.columns and col not in ("ods_code", "name"):
            out[col] = roster[col]
    blank = out["national_grouping"] == ""
    out.loc[blank, "national_grouping"] = roster.loc[blank, "region"].map(NATIONAL_GROUPING)
    out["amended_record_indicator"] = "1"
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
@dataclass
class SampleQuarter:
    """Everything generated for one quarter, as DataFrames (before writing)."""

    quarter: Quarter
    trust_data: dict[str, pd.DataFrame]  # peer group id -> the quarter's own rows (normalised)
    ods: pd.DataFrame
    rsp: pd.DataFrame
    deficit_flags: pd.DataFrame
    scoring: ScoringResult
    raw: dict[str, bytes] = field(default_factory=dict)  # landing path -> raw release bytes
    # peer group id -> the rows the quarter's file holds: every quarter of the year to date
    publication: dict[str, pd.DataFrame] = field(default_factory=dict)

    def files(self) -> dict[str, bytes]:
        """Landing path (inside the landing folder) -> file bytes, in a fixed order."""
        q = self.quarter
        out = {
            trust_data_landing_path(group, q): write_nof_trust_data(
                self.publication.get(group.id, self.trust_data[group.id]), with_quarter=q.q != 1
            )
            for group in PEER_GROUPS
        }
        out[landing_path("ods_trusts", q)] = write_ods_trusts(self.ods)
        out[landing_path("rsp_list", q)] = write_rsp_list(self.rsp)
        out[landing_path("deficit_flags", q)] = write_deficit_flags(self.deficit_flags)
        out.update(self.raw)
        return out


def generate_quarter(quarter: Quarter, seed: int = DEFAULT_SEED) -> SampleQuarter:
    """Draw, score and lay out one quarter of synthetic landing data."""
    if quarter.fy_start != FINANCIAL_YEAR:
        raise ValueError(
            f"sample data covers {FINANCIAL_YEAR}/{(FINANCIAL_YEAR + 1) % 100:02d} only, "
            f"not {quarter.label}"
        )
    roster = load_roster()
    draws = _draw_metrics(quarter, seed)
    flags = _deficit_flags(draws.metric_values, seed)
    in_rsp = roster["trust_code"].isin(_rsp_members(quarter, seed))
    flags = roster[["trust_code"]].merge(flags, on="trust_code", how="left")
    flags["deficit_flag"] = flags["deficit_flag"].fillna(False).astype(bool) | in_rsp.to_numpy()

    label = quarter.label
    inputs = ScoringInputs(
        trusts=roster.assign(quarter=label)[
            ["quarter", "trust_code", "trust_name", "region", "peer_group", "trust_subtype"]
        ],
        metric_values=draws.metric_values.assign(quarter=label, tiebreak=np.nan),
        given_scores=draws.given_scores.assign(quarter=label),
        deficit_flags=flags.assign(quarter=label)[["quarter", "trust_code", "deficit_flag"]],
        rsp=pd.DataFrame(
            {"quarter": label, "trust_code": roster["trust_code"], "in_rsp": in_rsp.to_numpy()}
        ),
    )
    result = run_scoring(inputs)
    trust_data = {g.id: _publish_group(g, quarter, draws, result) for g in PEER_GROUPS}
    _QUARTER_ROWS[(quarter, seed)] = trust_data
    publication = {g.id: _publication(g, quarter, seed, trust_data[g.id]) for g in PEER_GROUPS}
    rsp = pd.DataFrame(
        {
            "Quarter": label,
            "Trust_code": roster["trust_code"],
            "Trust_name": roster["trust_name"],
            "In_RSP": in_rsp.to_numpy(),
        }
    )
    deficit = pd.DataFrame(
        {
            "Quarter": label,
            "Trust_code": roster["trust_code"],
            "Trust_name": roster["trust_name"],
            "Planned_surplus_deficit_pct": flags["plan"].to_numpy(float),
            "In_deficit_or_receiving_support": flags["deficit_flag"].to_numpy(),
        }
    )
    raw = raw_files(quarter, lambda q: _draw_metrics(q, seed).metric_values, _raw_roster(), seed)
    return SampleQuarter(
        quarter, trust_data, _ods_frame(), rsp, deficit, result, dict(raw), publication
    )


# the published rows of each quarter generated so far ((quarter, seed) -> peer group -> rows):
# a later quarter's cumulative file repeats them (read-only; a quarter's rows never change)
_QUARTER_ROWS: dict[tuple[Quarter, int], dict[str, pd.DataFrame]] = {}


def _quarter_rows(quarter: Quarter, seed: int) -> dict[str, pd.DataFrame]:
    if (quarter, seed) not in _QUARTER_ROWS:
        generate_quarter(quarter, seed)
    return _QUARTER_ROWS[(quarter, seed)]


def _publication(group: PeerGroup, quarter: Quarter, seed: int, own: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``group``'s file published for ``quarter``."""
    if quarter.q == 1:
        return _first_publication(group, own)
    earlier = [
        _quarter_rows(Quarter(quarter.fy_start, q), seed)[group.id] for q in range(1, quarter.q)
    ]
    return _cumulative_publication([*earlier, own])


def _raw_roster() -> pd.DataFrame:
    """The roster with the region code every trust has (AmbSYS ``Reg``) and its ICB."""
    roster = load_roster().copy()
    blank = roster["national_grouping"] == ""
    roster.loc[blank, "national_grouping"] = roster.loc[blank, "region"].map(NATIONAL_GROUPING)
    return roster


class LandingNotOursError(RuntimeError):
    """The landing folder holds files the generator did not write, or that changed since it
    wrote them: writing the sample data would overwrite them."""

    def __init__(self, landing_dir: Path, files: list[str]) -> None:
        self.landing_dir = Path(landing_dir)
        self.files = files
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        super().__init__(
            f"{landing_dir} holds {len(files)} file(s) that `league sample-data` did not write "
            f"or that changed since ({shown}); writing the sample data would overwrite them. "
            "Use another folder (--landing), or --force to overwrite them"
        )


def write_sample_landing(
    landing_dir: Path,
    quarters: list[Quarter] | None = None,
    seed: int = DEFAULT_SEED,
    *,
    force: bool = False,
) -> list[Path]:
    """Write the synthetic landing files of ``quarters`` (default: all of 2025/26) under
    ``landing_dir`` and return their paths. Same seed -> byte-identical files.

    The manifest ``<landing_dir>/.league-sample.json`` lists every generated file by SHA-256
    (earlier entries whose file is unchanged are kept), so that runs on these files are labelled
    synthetic. Files already there that the manifest does not list as they are now (someone
    else's, or generated and edited since) are not overwritten: :class:`LandingNotOursError`
    lists them, unless ``force``.
    """
    from league_pipeline import __version__

    landing_dir = Path(landing_dir)
    quarters = list(quarters) if quarters is not None else all_quarters()
    samples = [generate_quarter(quarter, seed) for quarter in quarters]
    contents = {rel: data for sample in samples for rel, data in sample.files().items()}
    # the other published names of the files written (the MH file's Q1 and later names): the
    # landing folder must hold one of them only, so they are replaced too
    others = sorted(
        {
            alias
            for quarter in quarters
            for group in PEER_GROUPS
            for alias in landing_paths(group.source_kind, quarter)
            if alias not in contents
        }
    )
    if not force:
        clashes = data_origin.foreign_files(landing_dir, [*contents, *others])
        if clashes:
            raise LandingNotOursError(landing_dir, clashes)
    for alias in others:
        (landing_dir / alias).unlink(missing_ok=True)
    listed = {
        rel: sha
        for rel, sha in data_origin.synthetic_files(landing_dir).items()
        if rel not in contents
        and rel not in others
        and (landing_dir / rel).is_file()
        and data_origin.sha256_of((landing_dir / rel).read_bytes()) == sha
    }
    written: list[Path] = []
    for relative, content in contents.items():
        path = landing_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
        listed[relative] = data_origin.sha256_of(content)
    data_origin.write_manifest(landing_dir, listed, seed=seed, version=__version__)
    for sample in samples:
        counts = {g: df["Trust_code"].nunique() for g, df in sample.trust_data.items()}
        log.info("sample data %s: %s trusts -> %s", sample.quarter.label, counts, landing_dir)
    return written
