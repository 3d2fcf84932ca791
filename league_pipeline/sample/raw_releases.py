"""Synthetic raw statistics consistent with the generated NOF values (for the sample data).

Belongs here: turning the sample-data generator's drawn metric values into the raw releases
NHS England publishes (AmbSYS workbook, monthly A&E CSVs, CWT-CRS provider workbook, RTT full
CSV extract) such that the derivations in ``assets/sql/derivation`` give back the drawn values,
with the differences the real files have built in (a UTC whose activity NHS England attributes
to an acute trust, non-acute providers, a total row, non-English commissioners, unused parts).
The counts are invented; a month's rows depend only on the seed, the trust and the quarter.
Details: docs/sample-data.md ("Raw releases").
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from league_pipeline.core.quarters import Quarter
from league_pipeline.formats.ae import COUNT_COLUMNS, write_ae_monthly
from league_pipeline.formats.ambsys import write_ambsys_xlsx
from league_pipeline.formats.cwt import write_cwt_provider
from league_pipeline.formats.rtt import EXTRACT_COLUMNS, write_rtt_extract
from league_pipeline.ingest.catalogue import landing_path

UTC_SHARE = 0.15  # acute trusts with an attributed independent UTC (OF0013 "official higher")
UTC_WITHIN_4H = 0.985
TOLERANCE = 4e-5  # |derived share - drawn share|: well inside the 2 dp rounding of a percentage


def _rng(seed: int, *parts: object) -> np.random.Generator:
    keys = [p if isinstance(p, int) else zlib.crc32(str(p).encode("utf-8")) for p in parts]
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"raw"), *keys]))


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split into whole numbers proportional to ``weights`` (largest remainders)."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _split_within(within: int, totals: np.ndarray) -> np.ndarray:
    """``within`` spread over rows holding ``totals``, never more than a row's total."""
    out = np.minimum(_split(within, totals), totals)
    short = within - int(out.sum())
    for i in np.argsort(-(totals - out), kind="stable"):
        if short <= 0:
            break
        add = min(short, int(totals[i] - out[i]))
        out[i] += add
        short -= add
    return out


def _denominator(share: float, start: int) -> tuple[int, int]:
    """A count ``n >= start`` and ``k = round(share * n)`` with ``k / n`` within
    :data:`TOLERANCE` of ``share`` (so the derived percentage rounds to the drawn one)."""
    n = max(int(start), 1)
    for candidate in range(n, n + 20000):
        k = round(share * candidate)
        if abs(k / candidate - share) <= TOLERANCE:
            return candidate, k
    exact = 10000 // math.gcd(round(share * 10000), 10000)
    return exact, round(share * exact)


def _values(frame: pd.DataFrame, metric_id: str) -> dict[str, float]:
    rows = frame[frame["metric_id"] == metric_id]
    return dict(zip(rows["trust_code"], rows["value"].astype(float), strict=True))


# --------------------------------------------------------------------------------------------
# AmbSYS
# --------------------------------------------------------------------------------------------
def ambsys_frame(
    quarter: Quarter, values_of: Callable[[Quarter], pd.DataFrame], roster: pd.DataFrame, seed: int
) -> pd.DataFrame:
    """Provider-month rows (AMBSYS_COLUMNS plus region_name) from April to the quarter's end."""
    people = roster.set_index("trust_code")
    rows = []
    cumulative: dict[str, tuple[float, int]] = {}  # trust -> (incidents so far, conveyed so far)
    for q in range(1, quarter.q + 1):
        current = Quarter(quarter.fy_start, q)
        values = values_of(current)
        cat2, conveyed = _values(values, "OF0017"), _values(values, "OF0028")
        for code in sorted(set(cat2) | set(conveyed)):
            size = _rng(seed, "ambsys-size", code)
            base = (
                2700.0 if people.at[code, "peer_group"] != "ambulance" else size.uniform(4e4, 1.2e5)
            )
            rng = _rng(seed, "ambsys", code, q)
            incidents = np.round(base * rng.uniform(0.94, 1.06, 3)).astype(np.int64)
            c2 = np.round(incidents * rng.uniform(0.42, 0.5, 3)).astype(np.int64)
            c1 = np.round(incidents * rng.uniform(0.07, 0.09, 3)).astype(np.int64)
            seconds = round(cat2.get(code, 30.0) * 60)
            c2_total = np.round(seconds * c2 * rng.uniform(0.93, 1.07, 3)).astype(np.int64)
            c2_total[2] = seconds * int(c2.sum()) - int(c2_total[:2].sum())
            c1_total = np.round(c1 * rng.uniform(420, 560, 3)).astype(np.int64)
            before_incidents, before_conveyed = cumulative.get(code, (0, 0))
            ytd_incidents = before_incidents + int(incidents.sum())
            target = round(conveyed.get(code, 50.0) / 100 * ytd_incidents)
            increment = int(np.clip(target - before_conveyed, 0, incidents.sum()))
            to_ed = _split_within(increment, incidents)
            cumulative[code] = (ytd_incidents, before_conveyed + increment)
            for i, month in enumerate(current.months):
                rows.append(
                    {
                        "quarter": quarter.label,
                        "month": pd.Timestamp(month),
                        "region_code": people.at[code, "national_grouping"],
                        "region_name": people.at[code, "region"],
                        "org_code": code,
                        "org_name": people.at[code, "trust_name"].upper(),
                        "A7": float(incidents[i]),
                        "A8": float(c1[i]),
                        "A10": float(c2[i]),
                        "A24": float(c1_total[i]),
                        "A25": float(round(c1_total[i] / c1[i])),
                        "A26": float(round(c1_total[i] / c1[i] * rng.uniform(1.7, 1.9))),
                        "A30": float(c2_total[i]),
                        "A31": float(round(c2_total[i] / c2[i])),
                        "A32": float(round(c2_total[i] / c2[i] * rng.uniform(1.9, 2.2))),
                        "A53": float(to_ed[i]),
                    }
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# A&E monthly
# --------------------------------------------------------------------------------------------
_ATTENDANCE_SHARES = {
    "att_type1": 0.72,
    "att_type2": 0.03,
    "att_other": 0.22,
    "att_booked_type1": 0.02,
    "att_booked_type2": 0.0,
    "att_booked_other": 0.01,
}
_OVER = {a: "over4" + a[3:] for a in _ATTENDANCE_SHARES}


def _ae_rows(code: str, share: float, n: int, rng: np.random.Generator) -> list[dict]:
    """Three months of one provider: ``n`` attendances, ``share`` of them within 4 hours."""
    within = round(share * n)
    months = _split(n, rng.uniform(0.95, 1.05, 3))
    within_m = _split_within(within, months)
    out = []
    for total, ok in zip(months, within_m, strict=True):
        types = _split(int(total), np.array(list(_ATTENDANCE_SHARES.values())))
        over = _split_within(int(total - ok), types)
        row = dict(zip(_ATTENDANCE_SHARES, types.tolist(), strict=True))
        row |= {_OVER[a]: int(v) for a, v in zip(_ATTENDANCE_SHARES, over, strict=True)}
        admitted = round(types[0] * rng.uniform(0.25, 0.32))
        row |= {
            "dta_4_to_12h": round(admitted * rng.uniform(0.2, 0.35)),
            "dta_over_12h": round(admitted * rng.uniform(0.05, 0.15)),
            "emergency_admissions_type1": admitted,
            "emergency_admissions_type2": round(types[1] * 0.02),
            "emergency_admissions_other": 0,
            "other_emergency_admissions": round(admitted * rng.uniform(0.2, 0.4)),
        }
        out.append(row | {"org_code": code})
    return out


def _type3_rows(code: str, n: int, within: int, rng: np.random.Generator) -> list[dict]:
    """Three months of a provider with type 3 (other A&E department) attendances only."""
    months = _split(n, rng.uniform(0.95, 1.05, 3))
    oks = _split_within(within, months)
    rows = []
    for total, ok in zip(months, oks, strict=True):
        row = {c: 0 for c in COUNT_COLUMNS.values()}
        row |= {"att_other": int(total), "over4_other": int(total - ok), "org_code": code}
        rows.append(row)
    return rows


def ae_frames(
    quarter: Quarter, values: pd.DataFrame, roster: pd.DataFrame, seed: int
) -> dict[date, pd.DataFrame]:
    """The quarter's three monthly provider frames (write_ae_monthly layout)."""
    people = roster.set_index("trust_code")
    four_hours = _values(values, "OF0013")
    by_month: dict[int, list[dict]] = {0: [], 1: [], 2: []}
    names: dict[str, tuple[str, str]] = {}

    def add(code: str, name: str, region: str, rows: list[dict]) -> None:
        names[code] = (name, f"NHS ENGLAND {region.upper()} ")
        for i, row in enumerate(rows):
            by_month[i].append(row)

    for index, code in enumerate(sorted(four_hours)):
        rng = _rng(seed, "ae", code, quarter.slug)
        share = four_hours[code] / 100
        n = int(rng.uniform(25000, 60000))
        region = people.at[code, "region"]
        has_utc = _rng(seed, "ae-utc", code).random() < UTC_SHARE
        if not has_utc:
            add(code, people.at[code, "trust_name"].upper(), region, _ae_rows(code, share, n, rng))
            continue
        utc_n = int(n * rng.uniform(0.05, 0.25))
        utc_within = round(UTC_WITHIN_4H * utc_n)
        own_share = min(max((round(share * (n + utc_n)) - utc_within) / n, 0.05), 0.999)
        utc_code = f"NX{index % 100:02d}U"
        trust_name = people.at[code, "trust_name"].upper()
        add(code, trust_name, region, _ae_rows(code, own_share, n, rng))
        add(utc_code, f"{trust_name} UTC", region, _type3_rows(utc_code, utc_n, utc_within, rng))
    # a few mental health trusts run minor injury units (type 3): published, never compared
    others = roster[roster["peer_group"] == "mental_health_community"].head(4)
    for code, name, region in zip(
        others["trust_code"], others["trust_name"], others["region"], strict=True
    ):
        rng = _rng(seed, "ae", code, quarter.slug)
        n = int(rng.uniform(3000, 8000))
        add(code, name.upper(), region, _type3_rows(code, n, round(n * 0.97), rng))
    out = {}
    for i, month in enumerate(quarter.months):
        frame = pd.DataFrame(by_month[i])
        frame["org_name"] = frame["org_code"].map(lambda c: names[c][0])
        frame["parent_org"] = frame["org_code"].map(lambda c: names[c][1])
        order = _rng(seed, "ae-order", month.isoformat()).permutation(len(frame))
        out[month] = frame.iloc[order].reset_index(drop=True)  # NHS files are not sorted
    return out


# --------------------------------------------------------------------------------------------
# CWT-CRS provider extract
# --------------------------------------------------------------------------------------------
_CWT_ROWS = {
    "28-day FDS": [
        ("URGENT SUSPECTED CANCER", "", "Suspected lower gastrointestinal cancer"),
        ("BREAST SYMPTOMATIC, CANCER NOT SUSPECTED", "", "Exhibited (non-cancer) breast symptoms"),
        ("NATIONAL SCREENING PROGRAMME", "", "Suspected breast cancer"),
    ],
    "62-day Combined": [
        ("Urgent Suspected Cancer", "ALL MODALITIES", "ALL CANCERS"),
        ("Screening", "ALL MODALITIES", "ALL CANCERS"),
    ],
}


def _cwt_quarter_rows(current: Quarter, values: pd.DataFrame, seed: int) -> list[dict]:
    rows: list[dict] = []
    for standard, metric_id, start in (
        ("28-day FDS", "OF0010", (9000, 30000)),
        ("62-day Combined", "OF0011", (400, 1500)),
    ):
        for code, value in sorted(_values(values, metric_id).items()):
            rng = _rng(seed, "cwt", code, standard, current.slug)
            n, within = _denominator(value / 100, int(rng.uniform(*start)))
            cells = _split(n, rng.uniform(0.5, 1.5, 3 * len(_CWT_ROWS[standard])))
            oks = _split_within(within, cells)
            for i, (total, ok) in enumerate(zip(cells, oks, strict=True)):
                month = current.months[i // len(_CWT_ROWS[standard])]
                route, modality, cancer = _CWT_ROWS[standard][i % len(_CWT_ROWS[standard])]
                rows.append(
                    {
                        "month": pd.Timestamp(month),
                        "standard": standard,
                        "org_code": code,
                        "stage_route": route,
                        "treatment_modality": modality or np.nan,
                        "cancer_type": cancer,
                        "total": float(total),
                        "within_standard": float(ok),
                        "breaches": float(total - ok),
                    }
                )
            if standard == "62-day Combined":  # 31-day rows: published, not used by NOF
                for month in current.months:
                    total = int(rng.integers(60, 200))
                    ok = round(total * rng.uniform(0.85, 0.97))
                    rows.append(
                        {
                            "month": pd.Timestamp(month),
                            "standard": "31-day Combined",
                            "org_code": code,
                            "stage_route": "First Treatment",
                            "treatment_modality": "ALL MODALITIES",
                            "cancer_type": "ALL CANCERS",
                            "total": float(total),
                            "within_standard": float(ok),
                            "breaches": float(total - ok),
                        }
                    )
    return rows


def cwt_frame(quarter: Quarter, values: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The extract of the quarter's three months (NHS England's usually runs from April; the
    reader keeps the quarter's months either way, and three months keep the sample small)."""
    return pd.DataFrame(_cwt_quarter_rows(quarter, values, seed))


# --------------------------------------------------------------------------------------------
# RTT full CSV extract
# --------------------------------------------------------------------------------------------
_FUNCTIONS = [("C_110", "Trauma and Orthopaedic Service"), ("X02", "Other - Medical Services")]
_PARTS = [
    ("Part_1B", "Completed Pathways For Non-Admitted Patients", 0.12),
    ("Part_2", "Incomplete Pathways", 1.0),
]


def _band_profile(first: int, last: int, rng: np.random.Generator) -> np.ndarray:
    weeks = np.arange(first, last + 1, dtype=float)
    return np.exp(-(weeks - first) / rng.uniform(8, 20)) + 0.05


def rtt_frame(
    quarter: Quarter, values: pd.DataFrame, roster: pd.DataFrame, seed: int
) -> pd.DataFrame:
    """The full extract of the quarter's last month (EXTRACT_COLUMNS)."""
    people = roster.set_index("trust_code")
    within18, over52 = _values(values, "OF0023"), _values(values, "OF0003")
    month = quarter.months[-1]
    period = f"RTT-{month.strftime('%B')}-{month.year}"
    records: list[list[object]] = []
    for code in sorted(set(within18) | set(over52)):
        rng = _rng(seed, "rtt", code, quarter.slug)
        n = int(rng.uniform(20000, 120000))
        # a trust NOF scores on one of the two metrics only still has its whole waiting list
        w = round(within18.get(code, 60.0) / 100 * n)
        o = round(over52.get(code, 2.0) / 100 * n)
        middle = max(n - w - o, 0)
        bands = np.concatenate(
            [
                _split(w, _band_profile(0, 17, rng)),
                _split(middle, _band_profile(18, 51, rng)),
                _split(o, _band_profile(52, 104, rng)),
            ]
        )
        icb = people.at[code, "high_level_health_geography"] or "QOP"
        provider = (code, people.at[code, "trust_name"].upper(), icb)
        commissioners = [(icb, f"NHS {icb} ICB"), ("QWE", "NHS QWE ICB")]
        for part, description, scale in _PARTS:
            part_bands = bands if part == "Part_2" else np.round(bands * scale).astype(np.int64)
            shares = np.array([0.8, 0.2] if part == "Part_2" else [1.0])
            split = _split_matrix(part_bands, shares)
            for commissioner, comm_bands in zip(commissioners, split, strict=False):
                records.extend(
                    _rtt_rows(period, provider, commissioner, (part, description), comm_bands, rng)
                )
            if part != "Part_2":
                continue
            # a few patients of non-English commissioners, which NOF leaves out
            nonc = np.round(part_bands * 0.004).astype(np.int64)
            records.extend(
                _rtt_rows(
                    period,
                    provider,
                    ("NONC", "NON-ENGLISH COMMISSIONER"),
                    (part, description),
                    nonc,
                    rng,
                )
            )
    return pd.DataFrame(records, columns=EXTRACT_COLUMNS)


def _split_matrix(bands: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each band split across ``weights`` by largest remainders: a (len(weights), len(bands))
    matrix of whole numbers whose columns add up to ``bands``."""
    bands = np.asarray(bands, dtype=np.int64)
    weights = np.asarray(weights, dtype=float)
    exact = bands[None, :] * (weights / weights.sum())[:, None]
    base = np.floor(exact).astype(np.int64)
    rest = bands - base.sum(axis=0)
    order = np.argsort(np.argsort(-(exact - base), axis=0, kind="stable"), axis=0)
    return base + (order < rest[None, :])


def _rtt_rows(
    period: str,
    provider: tuple[str, str, str],
    commissioner: tuple[str, str],
    part: tuple[str, str],
    bands: np.ndarray,
    rng: np.random.Generator,
) -> list[list[object]]:
    """One provider x commissioner x part: a row per treatment function, then C_999."""
    code, name, parent = provider
    functions = _split_matrix(bands, rng.uniform(0.5, 1.5, len(_FUNCTIONS)))
    unknown = rng.integers(0, 3, len(_FUNCTIONS)) if part[0] == "Part_2" else [0] * len(_FUNCTIONS)
    identity = [period, parent, f"NHS {parent} INTEGRATED CARE BOARD", code, name]
    commissioner_cols = [commissioner[0][:3], commissioner[1], commissioner[0], commissioner[1]]
    rows = []
    for (function, function_name), counts, unknown_n in zip(
        [*_FUNCTIONS, ("C_999", "Total")],
        [*functions, bands],
        [*(int(u) for u in unknown), int(sum(unknown))],
        strict=True,
    ):
        total = int(counts.sum())
        rows.append(
            [
                *identity,
                *commissioner_cols,
                *part,
                function,
                function_name,
                *counts.tolist(),
                total,
                unknown_n,
                total + unknown_n,
            ]
        )
    return rows


# --------------------------------------------------------------------------------------------
# All files of a quarter
# --------------------------------------------------------------------------------------------
def raw_files(
    quarter: Quarter,
    values_of: Callable[[Quarter], pd.DataFrame],
    roster: pd.DataFrame,
    seed: int,
) -> Mapping[str, bytes]:
    """Landing path -> bytes for every raw release of ``quarter``.

    ``values_of(q)`` gives the drawn metric values (trust_code, metric_id, value) of quarter
    ``q`` of the same financial year; ``roster`` the trusts (trust_code, trust_name, region,
    national_grouping, high_level_health_geography, peer_group).
    """
    values = values_of(quarter)
    files: dict[str, bytes] = {
        landing_path("ambsys", quarter): write_ambsys_xlsx(
            ambsys_frame(quarter, values_of, roster, seed)
        )
    }
    for slot, (month, frame) in enumerate(ae_frames(quarter, values, roster, seed).items(), 1):
        files[landing_path(f"ae_monthly_m{slot}", quarter)] = write_ae_monthly(frame, month)
    files[landing_path("cwt_crs_provider", quarter)] = write_cwt_provider(
        cwt_frame(quarter, values, seed)
    )
    files[landing_path("rtt_full_extract", quarter)] = write_rtt_extract(
        rtt_frame(quarter, values, roster, seed)
    )
    return files
