"""What the outputs step skips for speed gives the same outputs: the metrics' wording taken
from the snapshot's published rows rather than the source files parsed again, and chart specs
filled into templates and not checked against the Vega-Lite schema in every report (compared
with Altair's own and checked here instead)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import pytest
from outputs_support import ACUTE_KIND, MHC_KIND, Q1, build_real_home

from league_pipeline.outputs import exports
from league_pipeline.outputs.report import chart_definitions, charts
from league_pipeline.outputs.results import load_quarter


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    return build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )


def _published_rows(real) -> pd.DataFrame:
    """Q1's NOF rows as a snapshot keeps them (``published_rows``: the staged rows of each NOF
    file, lower-case columns, with their source kind)."""
    parts = [
        (real.acute, ACUTE_KIND),
        (real.mhc[real.mhc["Quarter"] == Q1], MHC_KIND),
    ]
    return pd.concat(
        [
            frame.drop(columns=["Quarter"]).rename(columns=str.lower).assign(source_kind=kind)
            for frame, kind in parts
        ],
        ignore_index=True,
    )


def test_wording_from_the_published_rows_is_the_source_files_wording(real):
    results = load_quarter(Q1, store=real.store)
    from_files = exports.published_metadata(results, real.sources)
    from_rows = exports.published_metadata(results, real.sources, _published_rows(real))
    assert len(from_files) > 0
    pd.testing.assert_frame_equal(from_rows, from_files)


def test_exports_from_the_published_rows_are_byte_for_byte_the_same(real, tmp_path):
    results = load_quarter(Q1, store=real.store)
    by_files = exports.write_official_exports(results, tmp_path / "a", source_store=real.sources)
    by_rows = exports.write_official_exports(
        results, tmp_path / "b", source_store=real.sources, published_rows=_published_rows(real)
    )
    names = sorted(p.name for p in by_files.files)
    assert names == sorted(p.name for p in by_rows.files)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_every_report_chart_is_altairs_own_spec_and_valid_vega_lite(real):
    """A chart's spec is its template filled with its data: the same as Altair's serialisation
    of the chart with the data inline, and valid Vega-Lite (Altair's schema check, left out of
    the report, runs here)."""
    results = load_quarter(Q1, store=real.store)
    table = results.league_table
    made = [charts.score_distribution(results.trust_segments, results.cut_points, "scores")]
    for group in results.peer_groups():
        part = table[table["peer_group"] == group.id]
        domains = results.domain_scores[results.domain_scores["peer_group"] == group.id]
        made.append(charts.rank_intervals(part, group.label))
        made.append(charts.domain_heatmap(part, domains, group.label))
    # a trust with no score in one domain: a blank cell, null in the data
    part = table[table["peer_group"] == "acute"]
    gap = results.domain_scores[results.domain_scores["peer_group"] == "acute"].copy()
    gap.loc[gap.index[0], "score"] = float("nan")
    made.append(charts.domain_heatmap(part, gap, "with a gap"))
    for chart in made:
        spec = chart.spec()
        assert json.dumps(spec) == json.dumps(chart_definitions.inline_spec(chart))
        alt.LayerChart.from_dict(spec, validate=True)
    # the per-trust chart is a template filled with each trust's items
    items = [{"label": "OF0001 metric", "score": 2.0, "effect": 0.1}]
    spec = charts.contributions_spec(items, "ZA001: what raises or lowers its average")
    alt.Chart.from_dict(spec, validate=True)
