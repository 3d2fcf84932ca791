"""Raw NHS statistics on NHS England's real files: readers, schemas, derivations, and the
reconciliation with the official NOF 2025/26 Q1 values.

Belongs here: AmbSYS (XLSX and CSV forms), monthly A&E CSVs (TOTAL row, the September 2024
stray columns, revised files), the CWT-CRS provider extract, and the match rates against the
official acute file. RTT has no real file in ../shared: see tests/unit/test_raw_rtt.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from league_pipeline.core.quarters import Quarter
from league_pipeline.derivation.derive import derive
from league_pipeline.derivation.reconcile import match_rates, reconcile, report_markdown
from league_pipeline.formats.ae import read_ae_monthly, write_ae_monthly
from league_pipeline.formats.ambsys import read_ambsys, write_ambsys_csv
from league_pipeline.formats.common import ReaderError
from league_pipeline.formats.cwt import read_cwt_provider
from league_pipeline.formats.nof import read_nof_trust_data, split_quarters
from league_pipeline.scoring import inputs
from league_pipeline.validation.report import validate

Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
AMBSYS = "ambsys_time_series_to_2025-08.xlsx"
CWT = "cwt_crs_provider_extract_2025-04_to_2025-07.xlsx"
AMBULANCE_TRUSTS = {"RX9", "RRU", "RYA", "RX6", "RX7", "RYC", "RYD", "RYE", "RYF", "RX8"}


def _ae(real_data: Path, month: date, quarter: Quarter = Q1, slot: date | None = None):
    content = (real_data / f"ae_monthly_{month:%Y-%m}.csv").read_bytes()
    return read_ae_monthly(content, quarter, slot or month)


@pytest.fixture(scope="module")
def ambsys_bytes(real_data: Path) -> bytes:
    return (real_data / AMBSYS).read_bytes()


@pytest.fixture(scope="module")
def ambsys_q1(ambsys_bytes: bytes) -> pd.DataFrame:
    return read_ambsys(ambsys_bytes, Q1)


@pytest.fixture(scope="module")
def cwt_q1(real_data: Path) -> pd.DataFrame:
    return read_cwt_provider((real_data / CWT).read_bytes(), Q1)


@pytest.fixture(scope="module")
def extracts(real_data: Path, ambsys_q1, cwt_q1) -> dict[str, list[pd.DataFrame]]:
    out = {"ambsys": [ambsys_q1], "cwt_crs_provider": [cwt_q1]}
    for slot, month in enumerate(Q1.months, start=1):
        out[f"ae_monthly_m{slot}"] = [_ae(real_data, month)]
    return out


@pytest.fixture(scope="module")
def derived(extracts) -> pd.DataFrame:
    return derive(extracts, [Q1])


@pytest.fixture(scope="module")
def official(real_data: Path) -> dict[str, pd.DataFrame]:
    acute = read_nof_trust_data(
        (real_data / "nof2526_q1_acute_trust_data.csv").read_bytes(), Q1.label
    )
    mh_all = read_nof_trust_data(
        (real_data / "nof2526_q1q2_mh_community_trust_data.csv").read_bytes()
    )
    return inputs.nof_inputs([acute, split_quarters(mh_all)[Q1.label]])


@pytest.fixture(scope="module")
def reconciled(derived, official) -> pd.DataFrame:
    return reconcile(derived, official["metric_values"], official["trusts"])


def _value(derived: pd.DataFrame, trust: str, measure: str) -> float:
    row = derived[(derived["trust_code"] == trust) & (derived["measure"] == measure)]
    assert len(row) == 1, f"{trust} {measure}"
    return float(row["value"].iloc[0])


# -- AmbSYS -------------------------------------------------------------------------------------
def test_ambsys_workbook_keeps_the_provider_months_of_the_quarter(ambsys_q1) -> None:
    assert set(ambsys_q1["org_code"]) == AMBULANCE_TRUSTS | {"R1F"}  # no England/region rows
    assert sorted(ambsys_q1["month"].dt.month.unique()) == [4, 5, 6]
    r1f = ambsys_q1[ambsys_q1["org_code"] == "R1F"]
    assert r1f["A30"].sum() == 6_032_538 and r1f["A10"].sum() == 3_968  # methodology section 7
    assert validate(ambsys_q1, "raw_ambsys", expected_quarter=Q1.label).passed


def test_ambsys_csv_form_reads_the_same(ambsys_q1) -> None:
    csv = write_ambsys_csv(ambsys_q1)
    assert csv.startswith(b"Year,Month,Region,Org Code,Org Name,A7,")
    again = read_ambsys(csv, Q1)
    pd.testing.assert_frame_equal(
        again.drop(columns="org_name"), ambsys_q1.drop(columns="org_name")
    )
    # "." is the CSV's missing marker: it becomes NaN, it does not fail the file
    dotted = csv.replace(b",1515\r\n", b",.\r\n", 1)
    assert read_ambsys(dotted, Q1)["A53"].isna().sum() == 1


def test_ambsys_blocks_a_quarter_the_release_does_not_cover(ambsys_bytes) -> None:
    q2 = read_ambsys(ambsys_bytes, Q2)  # the workbook stops at August 2025
    report = validate(q2, "raw_ambsys", expected_quarter=Q2.label)
    assert not report.passed
    assert "every month of the financial year" in report.summary


def test_ambsys_derivations_match_the_official_values(derived, official) -> None:
    # Isle of Wight, the acute trust with an ambulance service: OF0017 and OF0028 as published
    assert _value(derived, "R1F", "cat2_mean") == 25.33
    assert _value(derived, "R1F", "conveyance_to_ed") == 56.1
    published = official["metric_values"].set_index(["trust_code", "metric_id"])["value"]
    assert published[("R1F", "OF0017")] == 25.33 and published[("R1F", "OF0028")] == 56.1
    # the other ambulance services (methodology section 6, derived from AmbSYS)
    assert _value(derived, "RX6", "cat2_mean") == 20.53
    assert _value(derived, "RYF", "cat2_mean") == 36.15
    assert _value(derived, "RX9", "conveyance_to_ed") == 46.0
    # Category 1 mean and the Category 2 90th centile are derived too (no NOF metric)
    cat1 = derived[derived["measure"] == "cat1_mean"]
    assert set(cat1["trust_code"]) == AMBULANCE_TRUSTS | {"R1F"}
    assert cat1["metric_id"].isna().all()
    p90 = derived[derived["measure"] == "cat2_p90"].set_index("trust_code")["value"]
    mean = derived[derived["measure"] == "cat2_mean"].set_index("trust_code")["value"]
    assert (p90 > mean).all()


# -- A&E -----------------------------------------------------------------------------------------
def test_ae_total_row_is_checked_not_counted(real_data: Path) -> None:
    april = _ae(real_data, date(2025, 4, 1))
    assert (april["row_type"] == "total").sum() == 1
    assert validate(april, "raw_ae_monthly", expected_quarter=Q1.label).passed
    # a provider count edited (or a truncated file) no longer adds up to the published total
    broken = april.copy()
    broken.loc[0, "att_type1"] += 100
    report = validate(broken, "raw_ae_monthly", expected_quarter=Q1.label)
    assert not report.passed and "add up to the TOTAL row" in report.summary


def test_ae_september_2024_stray_columns(real_data: Path) -> None:
    sept = read_ae_monthly(
        (real_data / "ae_monthly_2024-09.csv").read_bytes(), Quarter(2024, 2), date(2024, 9, 1)
    )
    assert sept.shape[1] == 26  # the six blank trailing columns (one headed "a") are dropped
    assert sept.loc[sept["row_type"] == "total", "org_code"].tolist() == ["TOTAL"]
    assert validate(sept, "raw_ae_monthly", expected_quarter="2024/25 Q2").passed
    # a stray column that holds data is kept, so validation names it
    text = (real_data / "ae_monthly_2025-04.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    extra = "\n".join([lines[0] + ",note", *(line + ",x" for line in lines[1:])])
    df = read_ae_monthly(extra.encode(), Q1, date(2025, 4, 1))
    report = validate(df, "raw_ae_monthly", expected_quarter=Q1.label)
    assert not report.passed and "unexpected column 'note'" in report.summary


def test_ae_file_in_the_wrong_month_slot_fails(real_data: Path) -> None:
    may_in_april_slot = _ae(real_data, date(2025, 5, 1), slot=date(2025, 4, 1))
    report = validate(may_in_april_slot, "raw_ae_monthly", expected_quarter=Q1.label)
    assert not report.passed and "month the file was fetched for" in report.summary


def test_ae_revised_file_changes_the_derived_value(real_data: Path, extracts) -> None:
    june = extracts["ae_monthly_m3"][0]
    providers = june[june["row_type"] == "provider"].copy()
    # NHS England's revised June file: Royal Berkshire (RHW) reports 500 fewer breaches
    providers.loc[providers["org_code"] == "RHW", "over4_type1"] -= 500
    revised = read_ae_monthly(write_ae_monthly(providers, date(2025, 6, 1)), Q1, date(2025, 6, 1))
    # the total is recomputed
    assert validate(revised, "raw_ae_monthly", expected_quarter=Q1.label).passed
    before = derive({k: v for k, v in extracts.items() if k.startswith("ae")}, [Q1])
    after = derive(
        {
            **{k: extracts[k] for k in ("ae_monthly_m1", "ae_monthly_m2")},
            "ae_monthly_m3": [revised],
        },
        [Q1],
    )
    rhw_before, rhw_after = (_value(d, "RHW", "ae_4_hours") for d in (before, after))
    assert rhw_after > rhw_before
    others = before["trust_code"] != "RHW"
    assert before[others]["value"].tolist() == after[after["trust_code"] != "RHW"]["value"].tolist()


def test_ae_four_hours_matches_where_the_trust_is_the_whole_story(reconciled) -> None:
    ae = reconciled[reconciled["metric_id"] == "OF0013"]
    counts = ae["status"].value_counts().to_dict()
    assert counts == {"match": 73, "differs": 50, "derived_only": 1}
    differs = ae[ae["status"] == "differs"]
    # every difference is NHS England's figure being higher (other providers' activity
    # attributed to the trust), and each is reported with that explanation
    assert (differs["official_value"] > differs["derived_value"]).all()
    assert differs["note"].str.contains("attributes other providers").all()
    assert "RA7" in set(differs["trust_code"])  # Bristol and Weston: 68.7 vs 75.9


# -- Cancer waiting times --------------------------------------------------------------------
def test_cwt_reader_keeps_the_quarter_months(cwt_q1) -> None:
    assert sorted(cwt_q1["month"].dt.month.unique()) == [4, 5, 6]  # July dropped
    assert set(cwt_q1["standard"]) == {"28-day FDS", "31-day Combined", "62-day Combined"}
    assert validate(cwt_q1, "raw_cwt_provider", expected_quarter=Q1.label).passed
    # route labels are kept as published, mixed case included
    assert {"URGENT SUSPECTED CANCER", "Urgent Suspected Cancer"} <= set(cwt_q1["stage_route"])


def test_cwt_matches_all_118_trusts_within_0_005(reconciled, derived, official) -> None:
    for metric_id in ("OF0010", "OF0011"):
        rows = reconciled[reconciled["metric_id"] == metric_id]
        compared = rows[rows["status"].isin(["match", "differs"])]
        assert len(compared) == 118
        assert (compared["status"] == "match").all()
        assert (compared["derived_unrounded"] - compared["official_value"]).abs().max() <= 0.005
        # the rounded value is exactly the published one
        assert (compared["derived_value"] == compared["official_value"]).all()


def test_cwt_blocks_a_quarter_the_extract_does_not_cover(real_data: Path) -> None:
    q2 = read_cwt_provider((real_data / CWT).read_bytes(), Q2)  # only July of Jul-Sep
    report = validate(q2, "raw_cwt_provider", expected_quarter=Q2.label)
    assert not report.passed and "every month of the quarter" in report.summary


def test_cwt_reader_refuses_a_csv(real_data: Path) -> None:
    with pytest.raises(ReaderError, match="not an XLSX workbook"):
        read_cwt_provider((real_data / "ae_monthly_2025-04.csv").read_bytes(), Q1)


# -- Reconciliation report ---------------------------------------------------------------------
def test_match_rates_and_report(reconciled, fidelity_report) -> None:
    rates = match_rates(reconciled).set_index("metric_id")
    assert rates.loc["OF0010", "match_rate"] == 1.0 and rates.loc["OF0011", "match_rate"] == 1.0
    assert rates.loc["OF0017", "matched"] == 1 and rates.loc["OF0028", "matched"] == 1
    assert rates.loc["OF0013", "matched"] == 73 and rates.loc["OF0013", "compared"] == 123
    assert rates["passed"].all()  # OF0013's floor (0.5) allows for the attributed activity
    report = report_markdown(reconciled, match_rates(reconciled))
    assert "### Trusts that differ (50)" in report
    for metric_id, r in rates.iterrows():
        if r["compared"]:
            fidelity_report.append(
                f"raw derivation {metric_id} ({r['measure']}), Q1 2025/26: "
                f"{r['matched']}/{r['compared']} trusts match the official value"
            )
