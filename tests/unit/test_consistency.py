"""Cross-source consistency checks (league_pipeline.validation.consistency) on NHS England's real
files and on deliberately broken copies: unknown trust codes, missing trusts, trusts in the
wrong file, closed trusts, and a file placed under another quarter."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from league_pipeline.core.quarters import Quarter
from league_pipeline.formats.nof import read_nof_trust_data, split_quarters
from league_pipeline.formats.ods import read_ods_trusts
from league_pipeline.validation.consistency import (
    PROBLEM_COLUMNS,
    ConsistencyReport,
    reporting_period,
    reporting_quarters,
    trust_consistency,
)

Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
ACUTE, MHC = "nof_trust_data_acute", "nof_trust_data_mental_health_community"


@pytest.fixture(scope="module")
def acute(real_data: Path) -> pd.DataFrame:
    content = (real_data / "nof2526_q1_acute_trust_data.csv").read_bytes()
    return read_nof_trust_data(content, Q1.label)


@pytest.fixture(scope="module")
def mh_by_quarter(real_data: Path) -> dict[str, pd.DataFrame]:
    content = (real_data / "nof2526_q1q2_mh_community_trust_data.csv").read_bytes()
    return split_quarters(read_nof_trust_data(content))


@pytest.fixture(scope="module")
def ods(real_data: Path) -> pd.DataFrame:
    return read_ods_trusts((real_data / "ods_etr_nhs_trusts_2025-11.csv").read_bytes())


def flags_from_nof(nof: pd.DataFrame, metric_id: str, column: str) -> pd.DataFrame:
    """The project's flag file built from a NOF file's published flag rows (OF5004, OF5007)."""
    rows = nof.loc[nof["Metric_ID"] == metric_id]
    return pd.DataFrame(
        {
            "Quarter": rows["Quarter"],
            "Trust_code": rows["Trust_code"],
            "Trust_name": rows["Trust_name"],
            column: rows["Value"].eq(1),
        }
    ).reset_index(drop=True)


@pytest.fixture(scope="module")
def q1_inputs(acute, mh_by_quarter, ods) -> dict:
    nof = {ACUTE: acute, MHC: mh_by_quarter[Q1.label]}
    both = pd.concat(nof.values(), ignore_index=True)
    return {
        "quarter": Q1,
        "nof": nof,
        "ods": ods,
        "rsp": flags_from_nof(both, "OF5007", "In_RSP").query("In_RSP"),
        "deficit_flags": flags_from_nof(both, "OF5004", "In_deficit_or_receiving_support"),
    }


def run(inputs: dict, **changes) -> ConsistencyReport:
    report = trust_consistency(**(inputs | changes))
    assert list(report.failing_rows.columns) == PROBLEM_COLUMNS
    return report


def problems(report: ConsistencyReport) -> set[tuple[str, str, str]]:
    rows = report.failing_rows
    return set(zip(rows["source"], rows["Trust_code"], rows["problem"], strict=True))


def test_real_q1_files_are_consistent(q1_inputs) -> None:
    report = run(q1_inputs)
    assert report.passed, report.failing_rows
    assert report.summary.startswith("trust consistency 2025/26 Q1: 195 scored trusts agree")
    # the care trusts the real MH file scores are not in ODS's etr extract, and are exempt
    assert {"TAD", "TAH", "TAJ"} <= set(q1_inputs["nof"][MHC]["Trust_code"])
    assert not {"TAD", "TAH", "TAJ"} & set(q1_inputs["ods"]["ods_code"])
    assert report.dagster_metadata()["failing_rows"] == "(none)"


def test_unknown_trust_code_in_a_nof_file(q1_inputs) -> None:
    nof = dict(q1_inputs["nof"])
    nof[ACUTE] = nof[ACUTE].replace({"Trust_code": {"RTX": "RTQ9"}})  # a typo in every row
    report = run(q1_inputs, nof=nof)
    assert not report.passed
    assert problems(report) == {
        (ACUTE, "RTQ9", "not in the ODS trust list (etr)"),
        (
            "deficit_flags",
            "RTQ9",
            f"no row for this trust scored in {ACUTE} (every scored trust needs Yes or No)",
        ),
        (
            "deficit_flags",
            "RTX",
            "in no NOF trust data file (an unknown code, or a trust missing from its NOF file)",
        ),
    }
    assert "FAILED: 3 problems" in report.summary and "fix the trust codes" in report.summary
    assert "RTQ9" in report.dagster_metadata()["failing_rows"]


def test_unknown_trust_codes_in_the_flag_files(q1_inputs) -> None:
    extra = pd.DataFrame({"Quarter": [Q1.label], "Trust_code": ["RZZ01"], "Trust_name": ["Nobody"]})
    rsp = pd.concat([q1_inputs["rsp"], extra.assign(In_RSP=True)], ignore_index=True)
    flags = pd.concat(
        [
            q1_inputs["deficit_flags"],
            extra.assign(Trust_code="RZZ02", In_deficit_or_receiving_support=False),
        ],
        ignore_index=True,
    )
    report = run(q1_inputs, rsp=rsp, deficit_flags=flags)
    assert {(s, c) for s, c, _ in problems(report)} == {
        ("rsp_list", "RZZ01"),
        ("deficit_flags", "RZZ02"),
    }


def test_missing_trusts(q1_inputs) -> None:
    nof = dict(q1_inputs["nof"])
    nof[ACUTE] = nof[ACUTE][nof[ACUTE]["Trust_code"] != "RTX"]  # dropped from its NOF file
    flags = q1_inputs["deficit_flags"]
    flags = flags[flags["Trust_code"] != "RRK"]  # dropped from the deficit flags
    ods = q1_inputs["ods"]
    ods = ods[ods["ods_code"] != "RJ1"]  # dropped from the ODS list
    report = run(q1_inputs, nof=nof, deficit_flags=flags, ods=ods)
    assert {(s, c) for s, c, _ in problems(report)} == {
        ("deficit_flags", "RTX"),  # flagged, but scored nowhere
        ("deficit_flags", "RRK"),  # scored, but no flag
        (ACUTE, "RJ1"),  # scored, but unknown to ODS
    }


def test_trust_in_the_wrong_file_or_in_two_files(q1_inputs) -> None:
    nof = dict(q1_inputs["nof"])
    moved = nof[ACUTE][nof[ACUTE]["Trust_code"] == "RTX"]
    nof[MHC] = pd.concat([nof[MHC], moved], ignore_index=True)
    report = run(q1_inputs, nof=nof)
    assert problems(report) == {
        (MHC, "RTX", "Trust_type 'Acute trust' in the mental_health_community file"),
        (MHC, "RTX", f"also in {ACUTE}"),
        (ACUTE, "RTX", f"also in {MHC}"),
    }


def test_trust_closed_before_or_opened_after_the_quarter(q1_inputs) -> None:
    ods = q1_inputs["ods"].copy()
    ods.loc[ods["ods_code"] == "RTX", "close_date"] = pd.Timestamp("2025-03-31")
    ods.loc[ods["ods_code"] == "RRK", "open_date"] = pd.Timestamp("2025-07-01")
    ods.loc[ods["ods_code"] == "RJ1", "close_date"] = pd.Timestamp("2025-04-01")  # still open
    report = run(q1_inputs, ods=ods)
    assert problems(report) == {
        (ACUTE, "RTX", "closed in ODS on 2025-03-31, before 2025/26 Q1"),
        (ACUTE, "RRK", "opened in ODS on 2025-07-01, after 2025/26 Q1"),
    }


def test_unknown_nof_kind_is_a_caller_error(q1_inputs) -> None:
    with pytest.raises(ValueError, match="unknown NOF source kinds"):
        run(q1_inputs, nof={"nof_trust_data_dental": q1_inputs["nof"][ACUTE]})


def test_reporting_quarters_parse_only_the_quarter_form() -> None:
    parsed = reporting_quarters(
        pd.Series(["Q1 2025/26", "Q4 2024-25", "Jun-25", "Q1 2025", "Q2 2025/27", None])
    )
    assert parsed.tolist() == [Q1, None, None, None, None, None]


def test_reporting_period_of_real_files(acute, mh_by_quarter) -> None:
    assert reporting_period(Q1, acute).passed
    for label, part in mh_by_quarter.items():
        report = reporting_period(label, part, MHC)
        assert report.passed, report.summary

    # the Q1 acute file (no Quarter column) processed as Q2: its Reporting_date gives it away
    report = reporting_period(Q2, acute, ACUTE)
    assert not report.passed
    assert report.summary.startswith(
        f"reporting period 2025/26 Q2 FAILED: {ACUTE}'s newest quarterly reporting date is "
        "Q1 2025/26"
    )
    assert report.num_failing_rows == (acute["Reporting_date"] == "Q1 2025/26").sum()
    assert set(report.failing_rows["problem"]) == {
        "reporting period Q1 2025/26 is older than 2025/26 Q2"
    }
    # and a Q2 file processed as Q1 is newer than it
    newer = reporting_period(Q1, mh_by_quarter[Q2.label], MHC)
    assert not newer.passed
    assert "is newer than 2025/26 Q1" in newer.failing_rows["problem"].iloc[0]


def test_reporting_period_without_quarterly_dates_passes(acute) -> None:
    monthly = acute.assign(Reporting_date="Jun-25")
    report = reporting_period(Q2, monthly)
    assert report.passed and "no 'Qn YYYY/YY' reporting dates" in report.summary
    assert reporting_period(Q2, acute.drop(columns=["Reporting_date"])).passed


def test_check_refuses_a_staging_file_that_is_not_the_extract(league_home: Path) -> None:
    """The Dagster check reads the staged extracts; anything else is a one-line error."""
    from league_pipeline.core.staging import Staging
    from league_pipeline.defs.consistency import _extract

    staging = Staging(league_home / "staging")
    engine_input = pd.DataFrame({"quarter": [Q1.label], "trust_code": ["RTX"], "x": [True]})
    staging.write_table("deficit_flags", Q1.key, engine_input)
    with pytest.raises(ValueError, match="is not the validated extract") as info:
        _extract(staging, "deficit_flags", Q1.key)
    assert "\n" not in str(info.value) and "re-materialise sources/deficit_flags" in str(info.value)


def test_a_run_that_leaves_out_a_peer_group_does_not_blame_its_rsp_and_flag_rows(q1_inputs):
    # `league run --peer-groups mental_health_community`: the acute file is not read, so the RSP
    # list's and deficit flags' acute trusts are in no file read; those lists name no peer group
    only_mhc = {MHC: q1_inputs["nof"][MHC]}
    acute_rows = ~q1_inputs["deficit_flags"]["Trust_code"].isin(only_mhc[MHC]["Trust_code"])
    assert acute_rows.sum() == 134

    blamed = run(q1_inputs, nof=only_mhc)  # without saying so: every acute row is a problem
    assert not blamed.passed and blamed.num_failing_rows >= 134

    report = run(q1_inputs, nof=only_mhc, left_out=[ACUTE])
    assert report.passed, report.failing_rows
    unchecked = (
        acute_rows.sum() + (~q1_inputs["rsp"]["Trust_code"].isin(only_mhc[MHC]["Trust_code"])).sum()
    )
    assert report.summary.endswith(
        f"{unchecked:,} RSP or deficit-flag rows of trusts open in ODS but in no NOF file read "
        "not checked further: the run leaves out acute."
    )
    # the files it does read are checked as before: a mental health trust missing its flag
    flags = q1_inputs["deficit_flags"]
    code = only_mhc[MHC]["Trust_code"].iloc[0]
    failed = run(
        q1_inputs, nof=only_mhc, left_out=[ACUTE], deficit_flags=flags[flags["Trust_code"] != code]
    )
    assert (
        "deficit_flags",
        code,
        f"no row for this trust scored in {MHC} (every scored trust needs Yes or No)",
    ) in problems(failed)
    # what ODS can tell still counts: an unknown code, or a trust closed before the quarter,
    # is in no peer group's file
    rsp = q1_inputs["rsp"]
    bogus = pd.concat(
        [rsp, rsp.iloc[[0]].assign(Trust_code="ZZ999", Trust_name="No such trust")],
        ignore_index=True,
    )
    ods = q1_inputs["ods"].copy()
    acute_code = q1_inputs["nof"][ACUTE]["Trust_code"].iloc[0]
    ods.loc[ods["ods_code"] == acute_code, "close_date"] = "2024-03-31"
    caught = run(q1_inputs, nof=only_mhc, left_out=[ACUTE], rsp=bogus, ods=ods)
    assert not caught.passed
    found = problems(caught)
    assert ("rsp_list", "ZZ999", "in no NOF file read and not in ODS (etr)") in found
    assert (
        "deficit_flags",
        acute_code,
        "closed in ODS on 2024-03-31, before 2025/26 Q1",
    ) in found
    assert "FAILED" in caught.summary and "not checked further" in caught.summary
    # rows checked: the bogus row, and the closed trust's deficit-flag row (checked now)
    assert len(found) == 2 and caught.rows_checked == report.rows_checked + 2
    with pytest.raises(ValueError, match="both read and left out"):
        run(q1_inputs, left_out=[ACUTE])
