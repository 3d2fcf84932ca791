"""The pandera schemas and ValidationReport, on the real files and on broken variants of them.

Belongs here: that real published data validates clean, that each kind of bad input is caught
and shown as failing rows (or a structural problem), and the report's shape for Dagster.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from league_pipeline.core import paths
from league_pipeline.core.peer_groups import PEER_GROUPS
from league_pipeline.core.quarters import QuarterError
from league_pipeline.formats.flags import (
    DEFICIT_FLAGS_COLUMNS,
    RSP_LIST_COLUMNS,
    read_deficit_flags,
    read_rsp_list,
    write_deficit_flags,
    write_rsp_list,
)
from league_pipeline.formats.nof import (
    NOF_LEAGUE_TABLE_COLUMNS,
    NOF_TRUST_DATA_COLUMNS,
    read_nof_league_table,
    read_nof_trust_data,
    split_quarters,
    write_nof_trust_data,
)
from league_pipeline.formats.ods import ODS_TRUST_COLUMNS, read_ods_trusts
from league_pipeline.validation.report import (
    FAILED_CHECKS_COLUMN,
    ValidationFailed,
    ValidationReport,
    validate,
    validate_or_raise,
)
from league_pipeline.validation.schemas import load_schema, schema_names, schema_version

DERIVED_LEAGUE_FILE = "DERIVED_nof2526_q1_acute_league_table_reconstructed.csv"

SCHEMAS = {
    "nof_trust_data",
    "nof_league_table",
    "ods_trusts",
    "rsp_list",
    "deficit_flags",
    "metric_values",
    "metric_scores",
    "domain_scores",
    "league_table",
    "raw_ambsys",
    "raw_ae_monthly",
    "raw_cwt_provider",
    "raw_rtt",
    "derived_values",
    "reconciliation",
}
OUTPUT_SCHEMAS = {"metric_values", "metric_scores", "domain_scores", "league_table"}
METADATA_KEYS = {
    "num_failures",
    "failing_columns",
    "failing_checks",
    "failing_rows",
    "failure_cases",
    "schema_version",
}


@pytest.fixture(scope="module")
def acute_frame(acute_bytes: bytes) -> pd.DataFrame:
    return read_nof_trust_data(acute_bytes, "2025/26 Q1")


@pytest.fixture
def acute(acute_frame: pd.DataFrame) -> pd.DataFrame:
    """A fresh copy per test, to break."""
    return acute_frame.copy()


@pytest.fixture(scope="module")
def mh(mh_bytes: bytes) -> pd.DataFrame:
    return read_nof_trust_data(mh_bytes)


def _row(df: pd.DataFrame, trust: str, metric: str) -> int:
    index = df.index[(df["Trust_code"] == trust) & (df["Metric_ID"] == metric)]
    assert len(index) == 1
    return int(index[0])


def _assert_failing(report: ValidationReport, rows: list[int], check_text: str) -> None:
    """The report fails, lists exactly ``rows`` and names the check for each of them."""
    assert not report.passed
    assert sorted(report.failing_rows.index.tolist()) == sorted(rows)
    assert report.failing_rows[FAILED_CHECKS_COLUMN].str.contains(check_text, regex=False).all()
    assert any(check_text in c for c in report.failing_checks)
    assert check_text in report.summary
    assert set(report.dagster_metadata()) >= METADATA_KEYS


# --------------------------------------------------------------------------------------------
# The schema files
# --------------------------------------------------------------------------------------------
def test_every_schema_loads_with_a_version() -> None:
    assert set(schema_names()) == SCHEMAS
    for name in SCHEMAS:
        schema = load_schema(name)
        assert isinstance(schema, pa.DataFrameSchema)
        # ods_trusts v2: dates must be exactly YYYYMMDD (yyyymmdd_datetime); nof_trust_data v2:
        # cumulative publications (every quarter of the year to date)
        version = "2" if name in ("ods_trusts", "nof_trust_data") else "1"
        assert schema_version(name) == version, name
        # published/project file formats are fixed; scoring outputs may carry extra columns
        assert schema.strict is (name not in OUTPUT_SCHEMAS), name
        # plain pandera loads the same file (custom checks are registered by the import above)
        plain = pa.DataFrameSchema.from_yaml(paths.schemas_dir() / f"{name}.yaml")
        assert list(plain.columns) == list(schema.columns)
    assert load_schema("nof_trust_data") is load_schema("nof_trust_data")
    with pytest.raises(FileNotFoundError, match="choose one of"):
        load_schema("no_such_schema")


def test_schemas_agree_with_the_shared_constants() -> None:
    groups = {g.id for g in PEER_GROUPS}
    for name in ("metric_values", "metric_scores", "domain_scores", "league_table"):
        raw = yaml.safe_load((paths.schemas_dir() / f"{name}.yaml").read_text())
        assert set(raw["columns"]["peer_group"]["isin"]) == groups, name
    for name in ("nof_trust_data", "nof_league_table"):
        raw = yaml.safe_load((paths.schemas_dir() / f"{name}.yaml").read_text())
        assert set(raw["columns"]["Trust_type"]["isin"]) == {g.trust_type for g in PEER_GROUPS}
    assert list(load_schema("nof_trust_data").columns) == (NOF_TRUST_DATA_COLUMNS)
    assert list(load_schema("nof_league_table").columns) == (NOF_LEAGUE_TABLE_COLUMNS)
    assert list(load_schema("ods_trusts").columns) == ODS_TRUST_COLUMNS
    assert list(load_schema("rsp_list").columns) == RSP_LIST_COLUMNS
    assert list(load_schema("deficit_flags").columns) == (DEFICIT_FLAGS_COLUMNS)


# --------------------------------------------------------------------------------------------
# Real files validate clean
# --------------------------------------------------------------------------------------------
def test_real_acute_q1_validates(acute: pd.DataFrame) -> None:
    report = validate(acute, "nof_trust_data")
    assert report.passed, report.summary
    assert report.row_count == 7265 and report.schema_version == "2"
    assert report.failing_rows.empty and report.failure_cases.empty
    meta = report.dagster_metadata()
    assert set(meta) >= METADATA_KEYS and meta["num_failures"] == 0


def test_real_mh_q1q2_validates_whole_and_split(mh: pd.DataFrame) -> None:
    assert validate(mh, "nof_trust_data").passed
    for label, part in split_quarters(mh).items():
        report = validate(part, "nof_trust_data")
        assert report.passed, (label, report.summary)


def test_real_ods_validates(ods_bytes: bytes) -> None:
    ods = read_ods_trusts(ods_bytes)
    report = validate(ods, "ods_trusts")
    assert report.passed, report.summary


def test_league_tables_built_from_real_data_validate(acute: pd.DataFrame) -> None:
    official = _official_league_table(acute)
    assert validate(official, "nof_league_table").passed
    report = validate(_output_league_table(acute), "league_table")
    assert report.passed, report.summary


def test_output_tables_built_from_real_data_validate(acute: pd.DataFrame) -> None:
    for name, frame in _output_tables(acute).items():
        report = validate(frame, name)
        assert report.passed, (name, report.summary)


def test_project_inputs_built_from_real_data_validate(acute: pd.DataFrame) -> None:
    rsp, deficit = _project_inputs(acute)
    assert validate(read_rsp_list(write_rsp_list(rsp)), "rsp_list").passed
    deficit_back = read_deficit_flags(write_deficit_flags(deficit))
    assert validate(deficit_back, "deficit_flags").passed


def test_derived_league_table_shows_exactly_its_layout_differences(real_data: Path) -> None:
    table = read_nof_league_table((real_data / DERIVED_LEAGUE_FILE).read_bytes())
    report = validate(table, "nof_league_table")
    assert not report.passed
    assert report.failing_rows.empty and report.num_failing_rows == 0
    assert set(report.failing_columns) == {
        "Likely_range_of_average_score",
        "Likely_range_of_rank",
        "Unadjusted_segment_OF5003",
        "Final_segment_incl_RSP_OF5005",
        "In_RSP_OF5007",
    }
    assert "missing column 'Likely_range_of_rank'" in report.summary


# --------------------------------------------------------------------------------------------
# Bad input: each problem shows the offending rows
# --------------------------------------------------------------------------------------------
def test_duplicate_row(acute: pd.DataFrame) -> None:
    bad = pd.concat([acute, acute.iloc[[10]]], ignore_index=True)
    report = validate(bad, "nof_trust_data")
    _assert_failing(report, [10, 7265], "multiple_fields_uniqueness")
    assert report.failing_checks == ["Quarter/Trust_code/Metric_ID multiple_fields_uniqueness"]
    assert report.summary.startswith("nof_trust_data (schema v2) FAILED. 2 of 7,266 rows fail 1")


def test_bad_trust_code(acute: pd.DataFrame) -> None:
    acute.loc[[5, 6], "Trust_code"] = ["r0a", "RXXXXX"]
    report = validate(acute, "nof_trust_data")
    _assert_failing(report, [5, 6], "Trust_code str_matches('^[A-Z0-9]{3,5}$')")
    assert report.failing_columns == ["Trust_code"]
    assert report.failing_rows.loc[5, "Trust_code"] == "r0a"
    assert "(2 rows)" in report.summary


RANGE_CASES = [  # (trust, metric, bad value, the check that must name the row)
    ("R0A", "OF1003", 4.5, "scores (OF1xxx, OF40xx, OF5002) in [1, 4]"),
    ("R0B", "OF4002", 0.5, "scores (OF1xxx, OF40xx, OF5002) in [1, 4]"),
    ("R0D", "OF5002", 4.01, "scores (OF1xxx, OF40xx, OF5002) in [1, 4]"),
    ("R1F", "OF5000", 5.0, "segments (OF41xx, OF5000, OF5003) in {1, 2, 3, 4}"),
    ("R1H", "OF4102", 2.5, "segments (OF41xx, OF5000, OF5003) in {1, 2, 3, 4}"),
    ("R1K", "OF5005", 6.0, "final segment (OF5005) in {1, 2, 3, 4, 5}"),
    ("RA2", "OF5004", 2.0, "flags (OF5004, OF5007) in {0, 1}"),
]


def test_score_out_of_range(acute: pd.DataFrame) -> None:
    row = _row(acute, "R0A", "OF1003")
    acute.loc[row, "Value"] = 4.5
    report = validate(acute, "nof_trust_data")
    _assert_failing(report, [row], "scores (OF1xxx, OF40xx, OF5002) in [1, 4]")
    assert report.failing_columns == ["Value"]
    assert report.failing_checks == ["Value scores (OF1xxx, OF40xx, OF5002) in [1, 4]"]
    assert report.failing_rows.loc[row, "Value"] == 4.5


def test_values_out_of_range_for_their_metric(acute: pd.DataFrame) -> None:
    rows = {}
    for trust, metric, value, check in RANGE_CASES:
        row = _row(acute, trust, metric)
        acute.loc[row, "Value"] = value
        rows[row] = check
    report = validate(acute, "nof_trust_data")
    assert sorted(report.failing_rows.index) == sorted(rows)
    assert report.failing_columns == ["Value"]
    for row, check in rows.items():
        assert report.failing_rows.loc[row, FAILED_CHECKS_COLUMN] == f"Value {check}"
    assert "7 of 7,265 rows fail 4 checks" in report.summary


def test_raw_values_outside_score_range_are_fine(acute: pd.DataFrame) -> None:
    acute.loc[_row(acute, "R0A", "OF0003"), "Value"] = 99.0  # a percentage, not a score
    assert validate(acute, "nof_trust_data").passed


def test_missing_column(acute: pd.DataFrame) -> None:
    report = validate(acute.drop(columns=["Metric_ID"]), "nof_trust_data")
    assert not report.passed
    assert report.failing_rows.empty and report.num_failing_rows == 0
    assert report.failing_columns == ["Metric_ID"]
    assert "missing column 'Metric_ID'" in report.summary
    assert "No individual rows are at fault" in report.summary
    assert "column_in_dataframe" in set(report.failure_cases["check"])
    assert report.dagster_metadata()["failing_rows"] == "(none)"


def test_renamed_column_read_from_bytes(acute_bytes: bytes) -> None:
    renamed = acute_bytes.replace(b",Trust_code,", b",Trust code,", 1)
    df = read_nof_trust_data(renamed, "2025/26 Q1")
    report = validate(df, "nof_trust_data")
    assert not report.passed and report.failing_rows.empty
    assert set(report.failing_columns) == {"Trust_code", "Trust code"}
    assert "missing column 'Trust_code'" in report.summary
    assert "unexpected column 'Trust code'" in report.summary


def test_file_without_the_run_quarter_fails_as_a_whole(mh: pd.DataFrame) -> None:
    q2 = split_quarters(mh)["2025/26 Q2"]
    content = write_nof_trust_data(q2, with_quarter=True)
    df = read_nof_trust_data(content, "2025/26 Q1")  # the run expects Q1
    assert set(df["Quarter"]) == {"2025/26 Q2"}
    report = validate(df, "nof_trust_data")
    assert not report.passed
    assert report.num_failing_rows == 0  # no row is wrong: the file lacks the quarter
    assert "no rows for 2025/26 Q1, the quarter being run" in report.summary
    # explicit argument overrides attrs; without an expectation the file is fine
    assert validate(df, "nof_trust_data", expected_quarter="2025-07").passed
    df.attrs.clear()
    assert validate(df, "nof_trust_data").passed


def test_rows_of_another_financial_year_fail(mh: pd.DataFrame) -> None:
    other = mh.copy()
    other.loc[other["Quarter"] == "2025/26 Q1", "Quarter"] = "2024/25 Q4"
    report = validate(other, "nof_trust_data", expected_quarter="2025/26 Q2")
    assert report.num_failing_rows == 2242  # the relabelled rows
    assert set(report.failing_rows["Quarter"]) == {"2024/25 Q4"}
    assert "isin(2025/26 Q1-Q4) [a publication of 2025/26]" in report.summary


def test_malformed_expected_quarter_is_a_caller_error(acute: pd.DataFrame) -> None:
    with pytest.raises(QuarterError):
        validate(acute, "nof_trust_data", expected_quarter="first quarter")


def test_cumulative_publication_passes_for_each_of_its_quarters(mh: pd.DataFrame) -> None:
    """NHS England's real cumulative file (Q1 and Q2 rows) is valid for a run of either."""
    for quarter in ("2025/26 Q1", "2025/26 Q2"):
        assert validate(mh, "nof_trust_data", expected_quarter=quarter).passed, quarter
    report = validate(mh, "nof_trust_data", expected_quarter="2025/26 Q3")
    assert not report.passed and "no rows for 2025/26 Q3" in report.summary


def test_non_numeric_value_from_bytes_is_a_failing_row(acute_bytes: bytes) -> None:
    bad = acute_bytes.replace(b",percent,4.01,2.4,", b",percent,abc,2.4,", 1)
    df = read_nof_trust_data(bad, "2025/26 Q1")
    report = validate(df, "nof_trust_data")
    _assert_failing(report, [0], "Value coerce_dtype('float64')")
    assert report.failing_rows.loc[0, "Value"] == "abc"
    # pandera's duplicate dtype('float64') case is folded into the coercion failure
    assert report.failing_checks == ["Value coerce_dtype('float64')"]
    assert "dtype('float64')" in set(report.failure_cases["check"])


def test_several_problems_in_one_report(acute: pd.DataFrame) -> None:
    acute.loc[3, "Trust_code"] = "bad"
    acute.loc[4, "Rank"] = 0.0
    acute.loc[8, "Trust_type"] = "Hospital"
    acute.loc[_row(acute, "RP6", "OF5000"), "Value"] = 7.0
    report = validate(acute, "nof_trust_data")
    assert report.num_failing_rows >= 4
    assert {3, 4, 8} <= set(report.failing_rows.index)
    assert {"Trust_code", "Rank", "Trust_type", "Value"} <= set(report.failing_columns)
    assert report.summary.count("row") >= 4
    meta = report.dagster_metadata()
    # each bad cell once: pandera reports a value it cannot convert twice, the report once
    assert meta["num_failures"] == len(report.failing_cells) + report.num_structural >= 4
    assert not report.failing_cells.duplicated(["row", "column"]).any()
    assert meta["failing_rows"].startswith("|") and FAILED_CHECKS_COLUMN in meta["failing_rows"]
    assert meta["failure_cases"].startswith("|")
    assert isinstance(meta["failing_columns"], list) and isinstance(meta["failing_checks"], list)
    assert meta["schema_version"] == "2"


def test_trust_attributes_must_be_consistent(acute: pd.DataFrame) -> None:
    row = _row(acute, "R0A", "OF0003")
    acute.loc[row, "Trust_name"] = "Manchester Univ NHS FT"
    report = validate(acute, "nof_trust_data")
    assert not report.passed
    assert row in report.failing_rows.index
    assert report.failing_columns == ["Trust_name"]
    assert (acute["Trust_code"] == "R0A").sum() == report.num_failing_rows  # the whole group


def test_header_only_file_is_a_table_level_failure(acute_bytes: bytes) -> None:
    header = acute_bytes.split(b"\r\n", 1)[0] + b"\r\n"
    report = validate(read_nof_trust_data(header, "2025/26 Q1"), "nof_trust_data")
    assert not report.passed and report.failing_rows.empty
    assert "has_rows(min_rows=1)" in report.summary


def test_validate_or_raise(acute: pd.DataFrame) -> None:
    assert validate_or_raise(acute, "nof_trust_data").passed
    acute.loc[0, "Metric_ID"] = "XX0003"
    with pytest.raises(ValidationFailed) as info:
        validate_or_raise(acute, "nof_trust_data")
    assert str(info.value) == info.value.report.summary
    assert "Metric_ID str_matches('^OF\\d{4}$')" in str(info.value)


def test_non_unique_index_is_handled(acute: pd.DataFrame) -> None:
    doubled = pd.concat([acute.iloc[:5], acute.iloc[:5]])  # index 0..4 twice
    report = validate(doubled, "nof_trust_data")
    assert report.num_failing_rows == 10  # every row is a duplicate
    assert report.failing_rows.index.tolist() == list(range(10))


# --------------------------------------------------------------------------------------------
# Other sources and outputs
# --------------------------------------------------------------------------------------------
def test_bad_ods_rows(ods_bytes: bytes) -> None:
    ods = read_ods_trusts(ods_bytes)
    closed = ods.index[ods["close_date"].notna()][0]
    ods.loc[closed, "close_date"] = ods.loc[closed, "open_date"] - pd.Timedelta(days=1)
    ods.loc[0, "null_13"] = "shifted"
    ods.loc[1, "postcode"] = "NOT A POSTCODE"
    report = validate(ods, "ods_trusts")
    assert sorted(report.failing_rows.index) == sorted([0, 1, closed])
    assert "close_date is not before open_date" in report.summary
    assert {"null_13", "postcode", "open_date", "close_date"} <= set(report.failing_columns)


def test_bad_ods_date_from_bytes(ods_bytes: bytes) -> None:
    content = ods_bytes.replace(b'"20171001"', b'"20171301"', 1)
    report = validate(read_ods_trusts(content), "ods_trusts")
    assert report.num_failing_rows == 1
    assert report.failing_rows.iloc[0]["ods_code"] == "R0A"
    assert "open_date coerce_dtype('datetime64[ns]')" in report.summary


def test_bad_yes_no_flag_is_a_failing_row(acute: pd.DataFrame) -> None:
    rsp, _ = _project_inputs(acute)
    content = write_rsp_list(rsp).replace(b",No\n", b",Maybe\n", 1)
    report = validate(read_rsp_list(content), "rsp_list")
    assert report.num_failing_rows == 1
    assert report.failing_rows.iloc[0]["In_RSP"] == "Maybe"
    assert "In_RSP yes_no_flag" in report.summary
    assert "In_RSP dtype('bool')" in report.summary  # the column as a whole is text


def test_league_table_rules(acute: pd.DataFrame) -> None:
    table = _output_league_table(acute)
    in_deficit = table.index[table["deficit_flag"] & table["unadjusted_segment"].lt(3)][0]
    table.loc[in_deficit, "adjusted_segment"] = table.loc[in_deficit, "unadjusted_segment"]
    report = validate(table, "league_table")
    assert in_deficit in report.failing_rows.index
    assert any("max(unadjusted_segment, 3)" in c for c in report.failing_checks)

    table = _output_league_table(acute)
    rsp = table.index[table["in_rsp"]][0]
    table.loc[rsp, "final_segment"] = 4
    report = validate(table, "league_table")
    assert report.failing_rows.index.tolist() == [rsp]

    table = _output_league_table(acute)
    table.loc[0, "rank"] = table.loc[0, "rank"] + 1
    table.loc[1, "score_upper"] = table.loc[1, "average_score"] - 0.5
    report = validate(table, "league_table")
    assert {0, 1} <= set(report.failing_rows.index)
    assert "average_score <= score_upper" in report.summary

    table = pd.concat([_output_league_table(acute)] * 2, ignore_index=True)
    report = validate(table, "league_table")
    assert "quarter/trust_code multiple_fields_uniqueness" in report.summary


def test_rank_ties_use_half_away_from_zero_rounding(acute: pd.DataFrame) -> None:
    table = _output_league_table(acute).head(3).copy()
    table[["unadjusted_segment", "adjusted_segment", "final_segment"]] = 3
    table[["deficit_flag", "in_rsp"]] = False
    table["average_score"] = [2.025, 2.03, 2.034]  # all 2.03 to 2 dp (numpy would say 2.02)
    table["rank"] = 1
    table["score_lower"], table["score_upper"] = 1.5, 2.5
    table["rank_lower"], table["rank_upper"] = 1, 3
    assert validate(table, "league_table").passed
    table.loc[0, "rank"] = 2
    assert validate(table, "league_table").failing_rows.index.tolist() == [0]


def test_output_diagnostic_columns_are_allowed_and_checked(acute: pd.DataFrame) -> None:
    domains = _output_tables(acute)["domain_scores"]
    domains["n_items"] = 3
    domains["segment"] = 2
    domains["engine_note"] = "anything"  # not in the schema: allowed (not strict)
    assert validate(domains, "domain_scores").passed
    domains.loc[4, "segment"] = 5
    report = validate(domains, "domain_scores")
    assert report.failing_rows.index.tolist() == [4]
    assert "segment in_range(1, 4)" in report.summary


def test_output_tables_reject_wrong_ids(acute: pd.DataFrame) -> None:
    tables = _output_tables(acute)
    tables["metric_values"].loc[0, "metric_id"] = "OF1003"
    tables["metric_scores"].loc[0, "score"] = 0.0
    tables["domain_scores"].loc[0, "peer_group"] = "acute_trust"
    for name, frame in tables.items():
        report = validate(frame, name)
        assert report.failing_rows.index.tolist() == [0], name


# --------------------------------------------------------------------------------------------
# Builders: project tables derived from the real acute file
# --------------------------------------------------------------------------------------------
def _wide(acute: pd.DataFrame) -> pd.DataFrame:
    wide = acute.pivot(index="Trust_code", columns="Metric_ID", values="Value")
    attrs = acute.drop_duplicates("Trust_code").set_index("Trust_code")
    rank = acute[acute["Metric_ID"] == "OF5000"].set_index("Trust_code")["Rank"]
    wide = wide.join(attrs[["Quarter", "Region", "Trust_type", "Trust_subtype", "Trust_name"]])
    return wide.assign(league_rank=rank).reset_index()


def _official_league_table(acute: pd.DataFrame) -> pd.DataFrame:
    w = _wide(acute)
    avg = w["OF5002"]
    return pd.DataFrame(
        {
            "Quarter": w["Quarter"],
            "Region": w["Region"],
            "Trust_type": w["Trust_type"],
            "Trust_subtype": w["Trust_subtype"],
            "Trust_code": w["Trust_code"],
            "Trust_name": w["Trust_name"],
            "Average_score": avg,
            "Likely_range_of_average_score": [
                f"{round(a - 0.3, 2)} to {round(a + 0.3, 2)}" for a in avg
            ],
            "Segment": w["OF5000"],
            "Trust_in_financial_deficit": w["OF5004"].eq(1),
            "Rank": w["league_rank"],
            "Likely_range_of_rank": [
                f"{max(1, int(r) - 5)} to {int(r) + 5}" for r in w["league_rank"]
            ],
        }
    ).sort_values("Rank", ignore_index=True)


def _output_league_table(acute: pd.DataFrame) -> pd.DataFrame:
    w = _wide(acute)
    rank = w["league_rank"].astype("int64")
    return pd.DataFrame(
        {
            "quarter": w["Quarter"],
            "peer_group": "acute",
            "trust_code": w["Trust_code"],
            "trust_name": w["Trust_name"],
            "region": w["Region"],
            "trust_subtype": w["Trust_subtype"],
            "average_score": w["OF5002"],
            "unadjusted_segment": w["OF5003"].astype("int64"),
            "deficit_flag": w["OF5004"].eq(1),
            "adjusted_segment": w["OF5000"].astype("int64"),
            "in_rsp": w["OF5007"].eq(1),
            "final_segment": w["OF5005"].astype("int64"),
            "rank": rank,
            "score_lower": w["OF5002"] - 0.3,
            "score_upper": w["OF5002"] + 0.3,
            "rank_lower": (rank - 5).clip(lower=1),
            "rank_upper": rank + 5,
        }
    )


def _output_tables(acute: pd.DataFrame) -> dict[str, pd.DataFrame]:
    base = acute.rename(
        columns={"Quarter": "quarter", "Trust_code": "trust_code", "Value": "value"}
    ).assign(peer_group="acute")
    keys = ["quarter", "trust_code", "peer_group"]
    raw = base[base["Metric_ID"].str.match(r"^OF0\d{3}$")]
    scores = base[base["Metric_ID"].str.match(r"^OF1\d{3}$")]
    domains = base[base["Metric_ID"].str.match(r"^OF40\d{2}$")]
    raw_by_key = raw.set_index(["trust_code", raw["Metric_ID"].str[3:]])["value"]
    score_raw = [
        raw_by_key.get((t, m[3:]))
        for t, m in zip(scores["trust_code"], scores["Metric_ID"], strict=True)
    ]
    return {
        "metric_values": raw[[*keys, "Metric_ID", "value"]]
        .rename(columns={"Metric_ID": "metric_id"})
        .reset_index(drop=True),
        "metric_scores": scores[keys]
        .assign(score_id=scores["Metric_ID"], value=score_raw, score=scores["value"])
        .reset_index(drop=True),
        "domain_scores": domains[keys]
        .assign(domain_id=domains["Metric_ID"], score=domains["value"])
        .reset_index(drop=True),
    }


def _project_inputs(acute: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    w = _wide(acute)
    rsp = pd.DataFrame(
        {
            "Quarter": w["Quarter"],
            "Trust_code": w["Trust_code"],
            "Trust_name": w["Trust_name"],
            "In_RSP": w["OF5007"].eq(1),
        }
    )
    deficit = pd.DataFrame(
        {
            "Quarter": w["Quarter"],
            "Trust_code": w["Trust_code"],
            "Trust_name": w["Trust_name"],
            "Planned_surplus_deficit_pct": w["OF0079"],
            "In_deficit_or_receiving_support": w["OF5004"].eq(1),
        }
    )
    return rsp, deficit
