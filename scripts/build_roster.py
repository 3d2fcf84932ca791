"""Build the synthetic generator's reference data from the real published files.

Belongs here: turning NHS England's published NOF files and the ODS ``etr`` extract (read-only,
in ``../shared/data/real``; never copied into this repository) into the two reference tables
that :mod:`league_pipeline.sample.generator` draws its synthetic landing folder from:

``assets/reference/trusts.csv`` (the roster: FICTIONAL trusts)
    One row per trust in the three league tables, as many per peer group, subtype and region as
    the real files have: 134 acute trusts (the Q1 2025/26 acute file), 61 mental health &
    community trusts (the MH file, subtype as in its latest quarter) and 10 ambulance trusts (ODS;
    NHS England region set here). Every trust is invented (:func:`fictional_roster`) so that
    nothing generated can be read as a statement about a real organisation:

    * codes ``ZA001``... (acute), ``ZM001``... (mental health & community), ``ZU001``...
      (ambulance), numbered in a fixed shuffled order; no ODS trust code starts with ``Z``;
    * names built from invented place names (a stem and an ending, e.g. "Kestrelmere"), kept only
      when they share no word with any real trust's name or address in ODS, in the patterns of
      the subtype ("... University Hospitals", "... Partnership", "... Ambulance Service"),
      "NHS Foundation Trust" or "NHS Trust" as the real trust in that slot;
    * invented addresses: the place as the town, postcode ``ZZ<n> <n><L><L>`` (no such postcode
      area), a telephone number from Ofcom's drama range (01632 960xxx), a made-up open date;
      region-level codes stay real (national grouping, and an ICB and GOR letter drawn among
      those of the region's real trusts).

    Regions are NHS England's seven, with the Q1 acute file's ``North East`` written ``North
    East and Yorkshire`` as in the later files. The same inputs always give the same roster
    (:data:`FICTIONAL_SEED`).

``assets/reference/metric_profiles.csv`` (what to draw, and how to publish it)
    One row per metric and peer group: published ``Domain`` / ``Sub-domain`` /
    ``Metric_description`` / units (exactly as NHS England writes them, ``%`` read as
    ``percent``), ``Reporting_date`` for each quarter, and a distribution:

    * ``kind=value`` (OF0xxx): ``quantiles`` = 21 knots (0%, 5%, ... 100%) of the real Q1 values
      of that peer group, drawn by inverse CDF (flat runs of knots reproduce point masses such
      as breakeven plans); ``median``/``lower_quartile``/``upper_quartile`` are the published
      columns; ``decimals`` is the published rounding; ``share_missing`` the share of the peer
      group without a value (``missing_by_subtype``: that share per subtype, ``subtype:share``
      joined by ``;``), or all but ``only_trusts``; ``count_unit_trusts`` trusts publish
      infection counts instead of rates.
    * ``kind=given_score`` (OF1035/1046/1067/1069, published only as scores):
      ``score_shares`` = shares of scores 1|2|3|4.
    * ``kind=derived`` (OF1080, OF40xx, OF41xx, OF50xx): texts only; the generator computes
      them with the scoring engine. ``published_quarters`` lists the quarters a row appears in
      (OF5005/OF5007 appear only in Q1-Q2 of the real MH file).

    ``basis`` says where the distribution comes from: ``real`` (Q1 2025/26 published values),
    ``borrowed`` (one or two real trusts publish it, e.g. one acute trust's ambulance metrics:
    the distribution of the peer group that normally carries the metric; ``only_trusts`` names
    their fictional stand-ins) or ``invented`` (every ambulance row: no
    ambulance NOF file was found, see methodology doc section 3.3). Reporting dates for Q3-Q4
    (and Q2 where the real MH file has no such metric) are extrapolated from the Q1-Q2 pattern.

Run from the repository root (the defaults assume ``/work/main`` next to ``/work/shared``)::

    python scripts/build_roster.py [--real-dir ../shared/data/real] \
        [--out assets/reference]
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from league_pipeline.core.paths import assets_dir
from league_pipeline.core.peer_groups import ACUTE, AMBULANCE, MHC, PeerGroup
from league_pipeline.scoring.catalogue import metric_catalogue

log = logging.getLogger("build_roster")

ACUTE_FILE = "nof2526_q1_acute_trust_data.csv"
MHC_FILE = "nof2526_q1q2_mh_community_trust_data.csv"
ODS_FILE = "ods_etr_nhs_trusts_2025-11.csv"
MHC_PROFILE_QUARTER = "Q1 2025/26"  # the MH file holds Q1-Q2; profiles use Q1 like acute

# The ten ambulance trusts and their NHS England region (names come from ODS).
AMBULANCE_REGIONS = {
    "RX9": "Midlands",  # East Midlands
    "RRU": "London",
    "RYA": "Midlands",  # West Midlands
    "RX6": "North East and Yorkshire",  # North East
    "RX7": "North West",
    "RYC": "East",  # East of England
    "RYD": "South East",  # South East Coast
    "RYE": "South East",  # South Central
    "RYF": "South West",  # South Western
    "RX8": "North East and Yorkshire",  # Yorkshire
}
REGION_ALIASES = {"North East": "North East and Yorkshire"}

ROSTER_COLUMNS = [
    "trust_code",
    "trust_name",
    "region",
    "trust_type",
    "trust_subtype",
    "postcode",
    "national_grouping",
    "high_level_health_geography",
    "address_line_1",
    "address_line_2",
    "address_line_3",
    "address_line_4",
    "address_line_5",
    "open_date",
    "contact_telephone_number",
    "gor_code",
]
# 0-based positions of the roster's ODS columns in the headerless etr extract
ODS_POSITIONS = {
    "national_grouping": 2,
    "high_level_health_geography": 3,
    "address_line_1": 4,
    "address_line_2": 5,
    "address_line_3": 6,
    "address_line_4": 7,
    "address_line_5": 8,
    "postcode": 9,
    "open_date": 10,
    "contact_telephone_number": 17,
    "gor_code": 23,
}

PROFILE_COLUMNS = [
    "metric_id",
    "peer_group",
    "kind",
    "domain",
    "sub_domain",
    "metric_description",
    "units",
    "decimals",
    "share_missing",
    "missing_by_subtype",
    "only_trusts",
    "count_unit_trusts",
    "min",
    "lower_quartile",
    "median",
    "upper_quartile",
    "max",
    "quantiles",
    "score_shares",
    "drift",
    "reporting_date_q1",
    "reporting_date_q2",
    "reporting_date_q3",
    "reporting_date_q4",
    "published_quarters",
    "basis",
    "comment",
]
QUANTILE_POINTS = np.linspace(0.0, 1.0, 21)
DEFAULT_DRIFT = 0.35  # AR(1) step of a trust's latent position when the reporting period moves


def _quarterly(fmt: str) -> tuple[str, str, str, str]:
    return tuple(fmt.format(q=q) for q in (1, 2, 3, 4))  # type: ignore[return-value]


# Reporting_date per quarter. Q1 is checked against the real acute and MH files and Q2 against
# the real MH file where it has the metric; the rest follows the visible pattern (extrapolated).
_MONTH_END = ("Jun-25", "Sep-25", "Dec-25", "Mar-26")
_ROLLING_12 = ("Jul 24 - Jun 25", "Oct 24 - Sep 25", "Jan 25 - Dec 25", "Apr 25 - Mar 26")
_QUARTER = _quarterly("Q{q} 2025/26")
_CQC_SAFE = tuple(
    f"Latest published if awarded post {month} 2023"
    for month in ("August", "September", "October", "November")
)
REPORTING_DATES: dict[str, tuple[str, ...]] = {
    "OF0003": _MONTH_END,
    "OF0005": _MONTH_END,
    "OF0010": _QUARTER,
    "OF0011": _QUARTER,
    "OF0013": _quarterly("Q{q} 2025"),
    "OF0014": _QUARTER,
    "OF0016": _QUARTER,
    "OF0017": _quarterly("Q{q} 2025"),
    "OF0020": _ROLLING_12,
    "OF0023": _MONTH_END,
    "OF0025": _MONTH_END,
    "OF0028": ("Year to date 25/26",) * 4,
    "OF0041": (
        "Jun 24 - Jun 25 vs Jun 23 - Jun 24",
        "Oct 24 - Sep 25 vs Oct 23 - Sep 24",
        "Jan 25 - Dec 25 vs Jan 24 - Dec 24",
        "Apr 25 - Mar 26 vs Apr 24 - Mar 25",
    ),
    "OF0048": _ROLLING_12,
    "OF0057": _QUARTER,
    "OF0061": ("2024", "2024", "2024", "2025"),
    "OF0063": _QUARTER,
    "OF0079": ("2025/26",) * 4,
    "OF0081": tuple(f"Month {m} 2025" for m in (3, 6, 9, 12)),
    "OF0082": ("Q4 2024-25", "Q1 2025/26", "Q2 2025/26", "Q3 2025/26"),
    "OF0084": ("2024", "2024", "2024", "2025"),
    "OF0085": ("To M12 2024/25 vs 2023/24",) * 4,
    "OF0086": ("2023/24", "2024/25", "2024/25", "2024/25"),
    "OF0088": _ROLLING_12,
    "OF0106": _MONTH_END,
    "OF1035": ("2024", "2024", "2025", "2025"),
    "OF1046": ("Apr 24 - Mar 25", "Jul 24 - Jun 25", "Oct 24 - Sep 25", "Jan 25 - Dec 25"),
    "OF1067": _CQC_SAFE,
    "OF1069": ("2023", "2023", "2024", "2024"),
    # derived rows: the publication quarter; OF5005/OF5007 have a blank date in the Sept 2025
    # (Q1) acute file and appear only in Q1-Q2 of the real MH file
    "OF5005": ("", "Q2 2025/26", "", ""),
    "OF5007": ("", "Q2 2025/26", "", ""),
}
DERIVED_IDS = [
    "OF1080",
    "OF4000",
    "OF4002",
    "OF4003",
    "OF4004",
    "OF4005",
    "OF4100",
    "OF4102",
    "OF4103",
    "OF4104",
    "OF4105",
    "OF5000",
    "OF5002",
    "OF5003",
    "OF5004",
    "OF5005",
    "OF5007",
]
ONLY_Q1_Q2 = {"OF5005", "OF5007"}
# Metrics the real MH file publishes for Q2 (their Q2 reporting date is real, not extrapolated)
MHC_Q2_IDS = {
    "OF0005",
    "OF0016",
    "OF0041",
    "OF0057",
    "OF0061",
    "OF0063",
    "OF0079",
    "OF0081",
    "OF0082",
    "OF0084",
    "OF0086",
    "OF1035",
    "OF1067",
}

# Invented ambulance distributions (no ambulance NOF data file was found): min, lower quartile,
# median, upper quartile, max, decimals, and the reasoning.
INVENTED_AMBULANCE: dict[str, tuple[float, float, float, float, float, int, str]] = {
    "OF0017": (
        20.5,
        26.0,
        29.0,
        32.0,
        36.0,
        2,
        "invented: Category 2 mean minutes ~20-36 around the 30-minute target (AmbSYS-like)",
    ),
    "OF0028": (
        45.0,
        48.5,
        51.0,
        53.5,
        56.0,
        1,
        "invented: share of incidents conveyed to ED ~45-56% (R1F published 56.1)",
    ),
    "OF0061": (
        5.45,
        5.70,
        5.85,
        6.00,
        6.30,
        2,
        "invented: ambulance staff survey scores sit below acute (SWASFT Q3 extract 5.76)",
    ),
    "OF0079": (
        -1.5,
        0.0,
        0.0,
        0.0,
        0.6,
        2,
        "invented: most ambulance trusts plan breakeven, a few small deficits/surpluses",
    ),
    "OF0081": (
        -1.2,
        -0.1,
        0.0,
        0.1,
        0.8,
        2,
        "invented: year-to-date variance close to plan (SWASFT Q3 extract +0.13)",
    ),
    "OF0082": (
        5.6,
        6.4,
        7.0,
        7.5,
        8.4,
        2,
        "invented: ambulance sickness absence runs above acute and MH (~6-8%)",
    ),
    "OF0084": (
        5.50,
        5.80,
        5.95,
        6.15,
        6.50,
        2,
        "invented: engagement below acute (SWASFT Q3 extract 5.73)",
    ),
    "OF0086": (
        88.0,
        95.0,
        100.0,
        104.0,
        113.0,
        2,
        "invented: relative cost index around 100, pooled with MH/community (median ~105)",
    ),
}
INVENTED_AMBULANCE_GIVEN = {
    # score_id: (share_missing, shares of 1|2|3|4, comment)
    "OF1067": (
        0.7,
        (0.0, 0.34, 0.66, 0.0),
        "invented: a few ambulance trusts with a recent CQC safe rating",
    ),
}
# Rate metrics that some (specialist) trusts publish as a count of cases instead
COUNT_FALLBACK_IDS = {"OF0048", "OF0088"}
# Acute metrics carried by a single trust: draw from the group that normally carries them.
BORROW_FROM = {"OF0016": MHC, "OF0063": MHC, "OF0017": AMBULANCE, "OF0028": AMBULANCE}


def default_real_dir() -> Path:
    """``../shared/data/real`` next to the repository (``/work/shared/data/real``)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def default_out_dir() -> Path:
    return assets_dir() / "reference"


# --------------------------------------------------------------------------------------------
# Reading the real files
# --------------------------------------------------------------------------------------------
def _read_nof(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    df["Value"] = pd.to_numeric(df["Value"].replace("", np.nan))
    for col in ("Median_value", "Lower_quartile", "Upper_quartile"):
        df[col] = pd.to_numeric(df[col].replace("", np.nan))
    df["Units"] = df["Units"].replace({"%": "percent"})
    return df


def read_real(real_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The real acute (Q1), MH (Q1-Q2) and ODS etr files, read-only."""
    acute = _read_nof(real_dir / ACUTE_FILE)
    mhc = _read_nof(real_dir / MHC_FILE)
    ods = pd.read_csv(real_dir / ODS_FILE, header=None, dtype=str, keep_default_na=False)
    return acute, mhc, ods


# --------------------------------------------------------------------------------------------
# Roster
# --------------------------------------------------------------------------------------------
def official_case(name: str) -> str:
    """ODS capitals -> the official spelling: ``NHS`` kept, ``and``/``of``/``the`` lower."""
    words = []
    for i, word in enumerate(name.split()):
        if word == "NHS":
            words.append(word)
        elif i > 0 and word.lower() in {"and", "of", "the", "for"}:
            words.append(word.lower())
        else:
            words.append(word.capitalize())
    return " ".join(words)


def build_roster(acute: pd.DataFrame, mhc: pd.DataFrame, ods: pd.DataFrame) -> pd.DataFrame:
    cols = ["Trust_code", "Trust_name", "Region", "Trust_subtype"]
    acute_trusts = acute[cols].drop_duplicates("Trust_code").assign(trust_type=ACUTE.trust_type)
    latest = mhc["Quarter"].max()
    mhc_trusts = (
        mhc.loc[mhc["Quarter"] == latest, cols]
        .drop_duplicates("Trust_code")
        .assign(trust_type=MHC.trust_type)
    )
    ods_by_code = ods.set_index(0)
    amb_rows = []
    for code, region in AMBULANCE_REGIONS.items():
        if code not in ods_by_code.index:
            raise ValueError(f"ambulance trust {code} is not in the ODS etr file")
        amb_rows.append(
            {
                "Trust_code": code,
                "Trust_name": official_case(ods_by_code.loc[code, 1]),
                "Region": region,
                "Trust_subtype": "Ambulance",
                "trust_type": AMBULANCE.trust_type,
            }
        )
    roster = pd.concat(
        [acute_trusts, mhc_trusts, pd.DataFrame(amb_rows)], ignore_index=True
    ).rename(
        columns={
            "Trust_code": "trust_code",
            "Trust_name": "trust_name",
            "Region": "region",
            "Trust_subtype": "trust_subtype",
        }
    )
    roster["region"] = roster["region"].replace(REGION_ALIASES)
    for col, pos in ODS_POSITIONS.items():
        roster[col] = roster["trust_code"].map(ods_by_code[pos]).fillna("")
    return _sorted(roster)


# --------------------------------------------------------------------------------------------
# Fictional roster: the trusts the generator publishes are invented
# --------------------------------------------------------------------------------------------
FICTIONAL_SEED = 20250926  # any fixed number: the same inputs give the same fictional roster
# Codes: "Z", a letter for the peer group and a number. No ODS trust code starts with "Z", so no
# generated code can be taken for a real trust (the test suite checks against the ODS file).
CODE_PREFIX = {ACUTE.trust_type: "ZA", MHC.trust_type: "ZM", AMBULANCE.trust_type: "ZU"}
# Invented place names: a stem and an ending, keeping only those that share no word with any
# real trust's name or address in the ODS file (see _place_names).
PLACE_STEMS = [
    "Amber", "Bramble", "Brock", "Cinder", "Corrin", "Dapple", "Drayle", "Elver", "Fallow",
    "Fenny", "Garnet", "Gorse", "Hollin", "Ivel", "Juniper", "Kestrel", "Larch", "Linnet",
    "Marram", "Merlin", "Nettle", "Ochre", "Osier", "Pebble", "Plover", "Quill", "Rowan",
    "Saffron", "Sedge", "Sorrel", "Tansy", "Teasel", "Thistle", "Umber", "Vetch", "Wren",
    "Yarrow", "Bittern", "Curlew", "Dunlin", "Godwit", "Merrow", "Sable", "Tamber", "Orrin",
]  # fmt: skip
PLACE_ENDINGS = [
    "mere", "ford", "wick", "dale", "ham", "ton", "by", "stow", "field", "haven", "moor",
    "worth", "holm", "thorpe", "well", "stead", "hurst", "wold",
]  # fmt: skip
# real places the stems and endings happen to spell (no NHS trust is named after them)
EXCLUDED_PLACES = {"Cinderford", "Fallowfield", "Nettleham"}
MAX_PER_STEM = 9  # variety: no stem names more than this many places
# Name patterns per subtype ({p}, {q}: invented places); " NHS Foundation Trust" or " NHS Trust"
# is added as the real trust in that slot has it, so the mix of the two stays realistic.
NAME_PATTERNS = {
    "Acute - Teaching": [
        "{p} University Hospitals",
        "{p} Teaching Hospitals",
        "University Hospitals of {p}",
        "{p} and {q} University Hospitals",
    ],
    "Acute - Large": ["{p} Hospitals", "{p} and {q} Hospitals", "{p} and {q}", "{p} Healthcare"],
    "Acute - Medium": ["{p} Hospitals", "{p} and {q} Hospitals", "{p} and {q}", "{p} Healthcare"],
    "Acute - Small": [
        "{p} Hospital",
        "{p} Hospitals",
        "{p} and {q} Hospitals",
        "{p} General Hospital",
    ],
    "Acute - Multi-Service": ["{p} Healthcare", "{p} Health and Care", "{p} Integrated Care"],
    "Acute - Specialist": [  # taken in turn, not drawn
        "{p} Children's Hospital",
        "{p} Heart and Lung Hospital",
        "{p} Orthopaedic Hospital",
        "{p} Eye Hospital",
        "The {p} Cancer Centre",
        "{p} Women's Hospital",
        "The {p} Neurosciences Centre",
        "{p} Women's and Children's",
    ],
    "Mental Health and Learning Disability": [
        "{p} Partnership",
        "{p} Mental Health",
        "{p} and {q} Mental Health",
        "{p} Health and Care",
        "{p} and {q} Partnership",
    ],
    "Community": ["{p} Community Health", "{p} Community Healthcare", "{p} Community Services"],
    "Care Trust": ["{p} District Care", "{p} Health and Social Care"],
    "Ambulance": ["{p} and {q} Ambulance Service", "{p} Ambulance Service"],
}
STREETS = [
    "HOSPITAL ROAD",
    "INFIRMARY LANE",
    "MILL LANE",
    "CHURCH STREET",
    "STATION ROAD",
    "PARK AVENUE",
    "QUEENS WAY",
    "HIGH STREET",
]
FIRST_LINES = {
    ACUTE.trust_type: "{P} GENERAL HOSPITAL",
    MHC.trust_type: "{P} HOUSE",
    AMBULANCE.trust_type: "AMBULANCE HEADQUARTERS",
}
# Ofcom keeps 01632 960000-960999 for drama: numbers that reach nobody
DRAMA_TELEPHONE = "01632 960{n:03d}"


def _fictional_rng(*parts: str) -> np.random.Generator:
    keys = [FICTIONAL_SEED, *(int.from_bytes(p.encode("utf-8")[:8], "big") for p in parts)]
    return np.random.default_rng(np.random.SeedSequence(keys))


def _real_words(ods: pd.DataFrame) -> set[str]:
    """Every word (4+ letters) of the real trusts' names and addresses in the ODS file."""
    words: set[str] = set()
    for pos in (1, 4, 5, 6, 7, 8):
        for text in ods[pos].astype(str):
            words |= {w for w in re.split(r"[^a-z]+", text.lower()) if len(w) >= 4}
    return words


def _place_names(ods: pd.DataFrame) -> list[tuple[str, str]]:
    """Distinct invented place names in a fixed shuffled order. A name is dropped when
    it contains a real word of 5+ letters, when its stem is part of a real word, or when it is
    a real word itself (so no "Ashford", "Calder..." or "Bury...")."""
    real = _real_words(ods)
    candidates = []
    for stem in PLACE_STEMS:
        if any(stem.lower() in word or word in stem.lower() for word in real):
            continue
        for ending in PLACE_ENDINGS:
            name = stem + ending
            low = name.lower()
            if (
                name in EXCLUDED_PLACES
                or low in real
                or any(len(w) >= 5 and w in low for w in real)
            ):
                continue
            candidates.append((stem, name))
    order = _fictional_rng("places").permutation(len(candidates))
    used: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for i in order:
        stem, name = candidates[i]
        if used.get(stem, 0) < MAX_PER_STEM:
            used[stem] = used.get(stem, 0) + 1
            out.append((stem, name))
    return out  # (stem, place name)


def _stem_of(place: str) -> str:
    return next(stem for stem in PLACE_STEMS if place.startswith(stem))


def _region_choices(roster: pd.DataFrame, column: str) -> dict[str, list[str]]:
    """Per region, the values ``column`` takes among the real trusts (blanks left out)."""
    present = roster[roster[column] != ""]
    return {region: sorted(group[column]) for region, group in present.groupby("region", sort=True)}


def fictional_roster(real: pd.DataFrame, ods: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The roster the generator publishes: as many trusts per peer group, subtype and region as
    ``real`` (the roster of the real files), each with an invented name, a ``Z`` code and an
    invented address (postcode ``ZZ..``, a drama telephone number). Regions, subtypes, and
    region-level codes (national grouping, ICB, government office region) stay realistic; the
    ICB and GOR code are drawn among those of the region. Returns the roster and the map from
    each real code to its fictional stand-in (for the metric profiles' ``only_trusts``)."""
    real_codes = set(ods[0])
    slots = []  # (real row, fictional code), grouped by peer group in a shuffled order
    for trust_type, prefix in CODE_PREFIX.items():
        members = real[real["trust_type"] == trust_type].reset_index(drop=True)
        order = _fictional_rng("codes", trust_type).permutation(len(members))
        for number, i in enumerate(order, start=1):
            slots.append((members.iloc[i], f"{prefix}{number:03d}"))
    available = _place_names(ods)
    places = list(reversed(available))  # taken from the end

    def take(other_than: str = "") -> str:
        """The next place whose stem is not ``other_than`` (no "Wrenford and Wrenmoor")."""
        for i in range(len(places) - 1, -1, -1):
            stem, name = places[i]
            if stem != other_than:
                del places[i]
                return name
        raise ValueError(f"only {len(available)} invented place names: add stems")

    icbs = _region_choices(real, "high_level_health_geography")
    gors = _region_choices(real, "gor_code")
    groupings = _region_choices(real, "national_grouping")
    specialist_turn = 0
    rows, mapping = [], {}
    for n, (row, code) in enumerate(slots):
        if code in real_codes:
            raise ValueError(f"fictional code {code} is a real ODS trust code")
        rng = _fictional_rng("trust", code)
        subtype = row["trust_subtype"]
        patterns = NAME_PATTERNS[subtype]
        if subtype == "Acute - Specialist":
            pattern = patterns[specialist_turn % len(patterns)]
            specialist_turn += 1
        else:
            pattern = patterns[int(rng.integers(len(patterns)))]
        p = take()
        q = take(other_than=_stem_of(p)) if "{q}" in pattern else ""
        foundation = "Foundation Trust" in row["trust_name"]
        name = pattern.format(p=p, q=q) + (" NHS Foundation Trust" if foundation else " NHS Trust")
        region = row["region"]
        year = int(rng.integers(1991, 2024))
        rows.append(
            {
                "trust_code": code,
                "trust_name": name,
                "region": region,
                "trust_type": row["trust_type"],
                "trust_subtype": subtype,
                "postcode": (
                    f"ZZ{int(rng.integers(1, 100))} {int(rng.integers(0, 10))}"
                    + "".join(rng.choice(list("ABDEFGHJLNPQRSTUWXYZ"), 2))
                ),
                "national_grouping": groupings[region][0],
                "high_level_health_geography": str(rng.choice(icbs[region])),
                "address_line_1": FIRST_LINES[row["trust_type"]].format(P=p.upper()),
                "address_line_2": STREETS[int(rng.integers(len(STREETS)))],
                "address_line_3": "",
                "address_line_4": p.upper(),
                "address_line_5": "",
                "open_date": f"{year}{'04' if rng.random() < 0.5 else '10'}01",
                "contact_telephone_number": DRAMA_TELEPHONE.format(n=n),
                "gor_code": str(rng.choice(gors[region])),
            }
        )
        mapping[row["trust_code"]] = code
    roster = pd.DataFrame(rows, columns=ROSTER_COLUMNS)
    if roster["trust_name"].duplicated().any() or roster["postcode"].duplicated().any():
        raise ValueError("the fictional roster repeats a name or a postcode: change FICTIONAL_SEED")
    return _sorted(roster), mapping


def _sorted(roster: pd.DataFrame) -> pd.DataFrame:
    order = {ACUTE.trust_type: 0, MHC.trust_type: 1, AMBULANCE.trust_type: 2}
    roster = roster.sort_values(
        ["trust_type", "trust_code"], key=lambda s: s.map(order) if s.name == "trust_type" else s
    )
    return roster[ROSTER_COLUMNS].reset_index(drop=True)


def with_fictional_codes(profiles: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The profiles with real trust codes (``only_trusts``) replaced by their stand-ins."""
    out = profiles.copy()
    out["only_trusts"] = out["only_trusts"].map(
        lambda text: "|".join(sorted(mapping[c] for c in text.split("|"))) if text else text
    )
    return out


# --------------------------------------------------------------------------------------------
# Metric profiles
# --------------------------------------------------------------------------------------------
def _num(value: float) -> str:
    """A compact decimal for the CSV (4 dp at most, no exponent, no ``-0``)."""
    text = f"{round(float(value), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _decimals(values: pd.Series) -> int:
    for d in range(5):
        scaled = values.to_numpy(float) * 10**d
        if np.allclose(scaled, np.round(scaled), atol=1e-6):
            return d
    return 4


def _texts(acute: pd.DataFrame, mhc: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Metric_ID -> the published Domain / Sub-domain / description / units (acute first)."""
    both = pd.concat([acute, mhc.drop(columns="Quarter")], ignore_index=True)
    first = both.drop_duplicates("Metric_ID").set_index("Metric_ID")
    return {
        mid: {
            "domain": row["Domain"],
            "sub_domain": row["Sub-domain"],
            "metric_description": row["Metric_description"],
            "units": row["Units"],
        }
        for mid, row in first.iterrows()
    }


def _check_reporting_dates(acute: pd.DataFrame, mhc: pd.DataFrame) -> None:
    """The Q1 (and MH Q2) dates in :data:`REPORTING_DATES` must match the real files."""
    checks = [
        (acute, 0),
        (mhc[mhc["Quarter"] == "Q1 2025/26"], 0),
        (mhc[mhc["Quarter"] == "Q2 2025/26"], 1),
    ]
    for df, index in checks:
        published = df.drop_duplicates("Metric_ID").set_index("Metric_ID")["Reporting_date"]
        for mid, date in published.items():
            expected = _reporting_dates(str(mid))[index]
            if index == 0 and mid in ONLY_Q1_Q2 and "Quarter" in df.columns:
                continue  # the MH file dates Q1 OF5005/OF5007; the Sept 2025 file leaves it blank
            if expected != date:
                raise ValueError(f"{mid}: reporting date {expected!r} != published {date!r}")


def _reporting_dates(metric_id: str) -> tuple[str, ...]:
    if metric_id in REPORTING_DATES:
        return REPORTING_DATES[metric_id]
    value_id = "OF0" + metric_id[3:]
    if metric_id.startswith("OF1") and value_id in REPORTING_DATES:
        return REPORTING_DATES[value_id]
    return _QUARTER  # OF1080, OF40xx, OF41xx, OF5000-OF5004


def _missing_by_subtype(
    roster: pd.DataFrame, group: PeerGroup, have: set[str]
) -> tuple[float, str]:
    """Overall share of the peer group without the metric, and that share per subtype."""
    members = roster[roster["trust_type"] == group.trust_type]
    missing = members[~members["trust_code"].isin(have)]
    if missing.empty:
        return 0.0, ""
    share = len(missing) / len(members)
    per_subtype = (
        missing.groupby("trust_subtype").size() / members.groupby("trust_subtype").size()
    ).dropna()
    text = ";".join(f"{subtype}:{_num(value)}" for subtype, value in per_subtype.items() if value)
    return share, text


def _base_row(
    metric_id: str, group: PeerGroup, kind: str, texts: dict[str, dict[str, str]]
) -> dict[str, object]:
    dates = _reporting_dates(metric_id)
    row: dict[str, object] = dict.fromkeys(PROFILE_COLUMNS, "")
    row |= {
        "metric_id": metric_id,
        "peer_group": group.id,
        "kind": kind,
        **texts[metric_id],
        "drift": _num(DEFAULT_DRIFT) if kind != "derived" else "",
        "published_quarters": "1|2" if metric_id in ONLY_Q1_Q2 else "1|2|3|4",
    }
    for i, date in enumerate(dates, start=1):
        row[f"reporting_date_q{i}"] = date
    if kind != "derived" and len(set(dates)) > 1:
        real_q2 = group is MHC and metric_id in MHC_Q2_IDS
        row["comment"] = f"Q{3 if real_q2 else 2}-Q4 reporting dates extrapolated"
    return row


def _distribution(values: pd.Series, published: pd.Series | None) -> dict[str, object]:
    q = np.quantile(values.to_numpy(float), QUANTILE_POINTS)
    if published is not None and published.notna().all():
        med, lq, uq = published.to_numpy(float)
    else:
        lq, med, uq = np.quantile(values.to_numpy(float), [0.25, 0.5, 0.75])
    return {
        "min": _num(values.min()),
        "lower_quartile": _num(lq),
        "median": _num(med),
        "upper_quartile": _num(uq),
        "max": _num(values.max()),
        "quantiles": "|".join(_num(v) for v in q),
        "decimals": _decimals(values),
    }


def _invented_distribution(spec: tuple[float, float, float, float, float, int, str]) -> dict:
    lo, lq, med, uq, hi, decimals, _ = spec
    knots = np.interp(QUANTILE_POINTS, [0, 0.25, 0.5, 0.75, 1], [lo, lq, med, uq, hi])
    return {
        "min": _num(lo),
        "lower_quartile": _num(lq),
        "median": _num(med),
        "upper_quartile": _num(uq),
        "max": _num(hi),
        "quantiles": "|".join(_num(v) for v in knots),
        "decimals": decimals,
    }


def _shares(scores: pd.Series) -> str:
    counts = scores.round().astype(int).value_counts()
    total = counts.sum()
    return "|".join(_num(counts.get(s, 0) / total) for s in (1, 2, 3, 4))


def build_profiles(roster: pd.DataFrame, acute: pd.DataFrame, mhc: pd.DataFrame) -> pd.DataFrame:
    _check_reporting_dates(acute, mhc)
    texts = _texts(acute, mhc)
    real = {ACUTE.id: acute, MHC.id: mhc[mhc["Quarter"] == MHC_PROFILE_QUARTER]}
    catalogue = metric_catalogue()
    rows: list[dict[str, object]] = []
    distributions: dict[tuple[str, str], dict[str, object]] = {}

    for spec_id, spec in INVENTED_AMBULANCE.items():
        distributions[(AMBULANCE.id, spec_id)] = _invented_distribution(spec)

    for group in (MHC, ACUTE, AMBULANCE):  # MH before acute: acute borrows MH distributions
        for _, metric in catalogue.iterrows():
            if group.id not in str(metric["peer_groups"]).split("|"):
                continue
            rule = metric["rule"]
            if rule == "matrix":
                continue
            kind = "given_score" if rule == "given" else "value"
            metric_id = metric["score_id"] if kind == "given_score" else metric["value_id"]
            row = _base_row(metric_id, group, kind, texts)
            if group is AMBULANCE:
                row |= _ambulance_profile(metric_id, kind, distributions)
            else:
                rows_real = real[group.id][real[group.id]["Metric_ID"] == metric_id]
                row |= _real_profile(metric_id, kind, group, rows_real, roster, distributions)
            note = str(row.pop("_note", ""))
            row["comment"] = "; ".join(c for c in (note, str(row["comment"])) if c)
            rows.append(row)
        for derived_id in DERIVED_IDS:
            row = _base_row(derived_id, group, "derived", texts)
            row["basis"] = "computed by the scoring engine"
            rows.append(row)
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    group_order = {ACUTE.id: 0, MHC.id: 1, AMBULANCE.id: 2}
    kind_order = {"value": 0, "given_score": 1, "derived": 2}
    out["_g"] = out["peer_group"].map(group_order)
    out["_k"] = out["kind"].map(kind_order)
    out = out.sort_values(["_g", "_k", "metric_id"]).drop(columns=["_g", "_k"])
    return out.reset_index(drop=True)


def _real_profile(
    metric_id: str,
    kind: str,
    group: PeerGroup,
    rows: pd.DataFrame,
    roster: pd.DataFrame,
    distributions: dict[tuple[str, str], dict[str, object]],
) -> dict[str, object]:
    if rows.empty:
        raise ValueError(f"{metric_id}: no real {group.id} rows to profile")
    have = set(rows["Trust_code"])
    share, by_subtype = _missing_by_subtype(roster, group, have)
    out: dict[str, object] = {"share_missing": _num(share), "missing_by_subtype": by_subtype}
    few = len(rows) <= 2
    if few:
        out["only_trusts"] = "|".join(sorted(have))
        out["missing_by_subtype"] = ""
    if kind == "given_score":
        out |= {"score_shares": _shares(rows["Value"]), "basis": "real", "decimals": 0}
        out["_note"] = f"score shares from the {len(rows)} Q1 2025/26 published scores"
        return out
    fallback = COUNT_FALLBACK_IDS & {metric_id}
    counts = rows[(rows["Units"] == "count") & bool(fallback)]
    values = rows.loc[~rows.index.isin(counts.index), "Value"]
    if metric_id in BORROW_FROM and len(rows) < 5:
        source = BORROW_FROM[metric_id]
        out |= distributions[(source.id, metric_id)]
        out["basis"] = "borrowed"
        out["_note"] = (
            f"only {len(have)} of the {group.label.lower()} "
            f"publish{'es' if len(have) == 1 else ''} this: "
            f"distribution of {source.label.lower()}"
        )
    else:
        published = rows[["Median_value", "Lower_quartile", "Upper_quartile"]].iloc[0]
        dist = _distribution(values, published)
        distributions[(group.id, metric_id)] = dist
        out |= dist
        out["basis"] = "real"
        out["_note"] = f"distribution of the {len(values)} Q1 2025/26 published values"
    if len(counts):
        out["count_unit_trusts"] = str(len(counts))
        out["_note"] += f"; {len(counts)} specialist trusts publish a count (0-3) instead of a rate"
    return out


def _ambulance_profile(
    metric_id: str, kind: str, distributions: dict[tuple[str, str], dict[str, object]]
) -> dict[str, object]:
    if kind == "given_score":
        share, shares, comment = INVENTED_AMBULANCE_GIVEN[metric_id]
        return {
            "share_missing": _num(share),
            "score_shares": "|".join(_num(s) for s in shares),
            "decimals": 0,
            "basis": "invented",
            "_note": comment,
        }
    spec = INVENTED_AMBULANCE[metric_id]
    return {
        "share_missing": "0",
        **distributions[(AMBULANCE.id, metric_id)],
        "basis": "invented",
        "_note": spec[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-dir", type=Path, default=default_real_dir())
    parser.add_argument("--out", type=Path, default=default_out_dir())
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    acute, mhc, ods = read_real(args.real_dir)
    real_roster = build_roster(acute, mhc, ods)
    profiles = build_profiles(real_roster, acute, mhc)
    roster, stand_ins = fictional_roster(real_roster, ods)
    profiles = with_fictional_codes(profiles, stand_ins)
    args.out.mkdir(parents=True, exist_ok=True)
    roster.to_csv(args.out / "trusts.csv", index=False, lineterminator="\n")
    profiles.to_csv(args.out / "metric_profiles.csv", index=False, lineterminator="\n")
    counts = roster.groupby("trust_type", sort=False).size().to_dict()
    log.info("wrote %s: %s", args.out / "trusts.csv", counts)
    log.info("wrote %s: %d rows", args.out / "metric_profiles.csv", len(profiles))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
