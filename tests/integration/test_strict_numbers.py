"""Numbers are taken exactly as published or refused with their row: plain ASCII decimals only,
finite, within each metric's physical range; no stage turns a bad value into a silent drop."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from league_pipeline.formats.common import is_plain_number
from league_pipeline.formats.nof import read_nof_trust_data, write_nof_trust_data
from league_pipeline.scoring import official
from league_pipeline.validation.report import validate

METRICS = ("OF0003", "OF1003")  # every acute trust's rows of two metrics: whole rank pools
VALUE_ROW = 7  # an OF0003 row (a percentage), 0-based


@pytest.fixture(scope="module")
def sample(acute_bytes: bytes) -> pd.DataFrame:
    df = read_nof_trust_data(acute_bytes, "2025/26 Q1")
    df = df[df["Metric_ID"].isin(METRICS)].reset_index(drop=True)
    assert df.loc[VALUE_ROW, "Units"] == "percent" and df.loc[VALUE_ROW, "Metric_ID"] == "OF0003"
    assert validate(df, "nof_trust_data").passed
    return df


def _with_value(sample: pd.DataFrame, text: str) -> pd.DataFrame:
    """The sample written in the published layout with one Value cell as ``text``, read back."""
    frame = sample.copy()
    frame["Value"] = frame["Value"].astype(object)
    frame.loc[VALUE_ROW, "Value"] = text
    content = write_nof_trust_data(frame, with_quarter=False)
    return read_nof_trust_data(content, "2025/26 Q1")


def _failing_row(report) -> set[int]:
    return set(report.failing_rows.index)


@pytest.mark.parametrize(
    "text",
    ["1_000", "١٢", "１２", "1,000", "nan", "NaN", "inf", "-inf", "Infinity", "0x10", "1e999"],
)
def test_text_that_is_not_a_plain_number_is_refused_with_its_row(sample, text) -> None:
    df = _with_value(sample, text)
    report = validate(df, "nof_trust_data")
    assert not report.passed
    assert _failing_row(report) == {VALUE_ROW}
    assert "Value coerce_dtype('float64')" in report.summary


@pytest.mark.parametrize("value", ["1e308", "-50", "100.01", "-0.01"])
def test_a_percentage_outside_0_to_100_is_refused_with_its_row(sample, value) -> None:
    report = validate(_with_value(sample, value), "nof_trust_data")
    assert not report.passed and _failing_row(report) == {VALUE_ROW}
    assert "physical range" in report.summary


def test_ranks_are_whole_numbers_within_the_pool(sample) -> None:
    for bad in (0.0, 1.5, 10_000.0, math.inf):
        frame = sample.copy()
        frame.loc[VALUE_ROW, "Rank"] = bad
        report = validate(frame, "nof_trust_data")
        assert not report.passed and _failing_row(report) == {VALUE_ROW}, bad


def test_infinite_floats_are_refused(sample) -> None:
    frame = sample.copy()
    frame.loc[VALUE_ROW, "Value"] = math.inf
    report = validate(frame, "nof_trust_data")
    assert not report.passed and _failing_row(report) == {VALUE_ROW}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_any_accepted_value_round_trips_exactly(sample, value: float) -> None:
    df = _with_value(sample, repr(value))
    assert validate(df, "nof_trust_data").passed
    assert df.loc[VALUE_ROW, "Value"] == value  # the same double, bit for bit


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=',"'),
        min_size=1,
        max_size=8,
    ).filter(lambda t: t.strip())
)
def test_any_rejected_text_names_its_row(sample, text: str) -> None:
    """(Control characters make the file binary or break its lines: refused as a whole file,
    tested in test_readers.py.)"""
    text = text.strip()
    df = _with_value(sample, text)
    report = validate(df, "nof_trust_data")
    plain = is_plain_number(text)
    if plain and 0 <= float(text) <= 100:
        assert report.passed
    else:
        assert not report.passed and VALUE_ROW in _failing_row(report)


def test_official_values_never_become_silent_nans(sample) -> None:
    """The scoring inputs take the validated numbers as they are: a text cell is an error,
    never a dropped row."""
    frame = sample.copy()
    frame["Value"] = frame["Value"].astype(object)
    frame.loc[VALUE_ROW, "Value"] = "1_000"
    with pytest.raises(ValueError):
        official.metric_values_from_nof(frame)
    values = official.metric_values_from_nof(sample)
    expected = sample["Metric_ID"].isin(official.catalogue.value_ids()) & sample["Value"].notna()
    assert len(values) == int(expected.sum())


def test_row_count_reconciliation_finds_lost_and_invented_values(sample) -> None:
    from league_pipeline.scoring import inputs

    values = official.metric_values_from_nof(sample).assign(source="official")
    assert inputs.unaccounted_values(sample, values).empty
    dropped = values.iloc[1:]
    lost = inputs.unaccounted_values(sample, dropped)
    assert lost[["trust_code", "problem"]].values.tolist() == [
        [values.iloc[0]["trust_code"], "published value lost"]
    ]
    invented = pd.concat(
        [
            values,
            values.iloc[[0]].assign(trust_code="ZZZ99"),
            values.iloc[[0]].assign(trust_code="ZZZ98", source="derived"),
        ],
        ignore_index=True,
    )
    found = inputs.unaccounted_values(sample, invented)
    # a raw derivation may add a value NHS England did not publish; nothing else may
    assert found[["trust_code", "problem"]].values.tolist() == [
        ["ZZZ99", "value from no published row or derivation"]
    ]
