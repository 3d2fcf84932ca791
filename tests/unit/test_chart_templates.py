"""The report's chart templates (outputs/report/chart_templates.json) are what the Altair charts
of chart_definitions.py give, and a filled template is byte for byte Altair's own spec of the
chart with its data inline, for every type of column the charts hold."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from league_pipeline.outputs.report import chart_definitions, charts


def test_the_shipped_templates_are_the_charts():
    shipped = charts.TEMPLATES_FILE.read_text(encoding="utf-8")
    fresh = json.dumps(chart_definitions.templates(), indent=1, ensure_ascii=False) + "\n"
    assert shipped == fresh, "run scripts/chart_templates.py and commit the file"


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "peer_group": pd.Series(["acute", "acute", "ambulance"], dtype="str"),
            "trust_code": pd.Series(["ZA001", "ZA002", "ZU001"], dtype="str"),
            "trust_name": pd.Series(["A <Trust> & co", "Ä trust", "U trust"], dtype="str"),
            "rank": np.array([1, 2, 1], dtype="int64"),
            "rank_lower": np.array([1, 1, 1], dtype="int64"),
            "rank_upper": np.array([2, 4, 1], dtype="int64"),
            "adjusted_segment": np.array([1, 3, 2], dtype="int32"),
            "average_score": [1.5, 2.75, 2.0],
        }
    )


def _domains() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trust_code": pd.Series(["ZA001", "ZA001", "ZA002"], dtype="str"),
            "domain_id": pd.Series(["OF4000", "OF4002", "OF4000"], dtype="str"),
            "domain": pd.Series(
                ["Access to services", "Patient safety", "Access to services"], dtype="str"
            ),
            "score": [1.234, np.nan, np.inf],
        }
    )


def test_filled_templates_are_altairs_specs():
    table, domains = _table(), _domains()
    segments = table.assign(group=table["peer_group"].map({"acute": "Acute", "ambulance": None}))
    cuts = {"q25": 1.8, "q50": 2.2, "q75": 2.6}
    for chart in (
        charts.rank_intervals(table, "Ranks <b>"),
        charts.domain_heatmap(table, domains, "Domains"),
        charts.score_distribution(segments, cuts, "Scores"),
    ):
        spec = chart.spec()
        altairs = chart_definitions.inline_spec(chart)
        assert json.dumps(spec, ensure_ascii=False) == json.dumps(altairs, ensure_ascii=False)
        alt.LayerChart.from_dict(spec, validate=True)


def test_a_chart_without_a_template_says_how_to_make_one():
    chart = charts.score_distribution(_table(), {"q25": 1.8}, "One cut-point")
    with pytest.raises(LookupError, match=r"scripts/chart_templates\.py"):
        chart.spec()


def test_values_are_altairs_values():
    frame = pd.DataFrame(
        {
            "text": pd.Series(["a", None], dtype="str"),
            "n": np.array([1, 2], dtype="int32"),
            "x": [np.nan, -np.inf],
            "flag": [True, False],
            "mixed": [None, "x"],
        }
    )
    assert charts._values(frame) == chart_definitions.values(frame)


def test_columns_of_other_types_are_refused():
    for column in (pd.to_datetime(["2025-06-30"]), pd.Series([1], dtype="Int64")):
        with pytest.raises(TypeError):
            charts._values(pd.DataFrame({"c": column}))


def test_a_trust_chart_is_valid_vega_lite():
    items = [{"label": "OF0001 metric", "score": 2.0, "effect": 0.1}]
    spec = charts.contributions_spec(items, "ZA001: what raises or lowers its average")
    alt.Chart.from_dict(spec, validate=True)
    assert spec["datasets"]["contributions"][0]["direction"] == "raises"
