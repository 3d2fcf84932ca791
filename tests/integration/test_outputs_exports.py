"""Official-format exports of real snapshots: NHS England's league table and trust data layouts,
byte-level layout checks against the published files, and the round trip through the project's
readers and pandera schemas (CSV and Parquet)."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from outputs_support import MHC_KIND, Q1, Q2, build_real_home

from league_pipeline.core.peer_groups import BY_ID
from league_pipeline.formats.nof import (
    NOF_LEAGUE_TABLE_COLUMNS,
    read_nof_league_table,
    read_nof_trust_data,
    split_likely_range,
)
from league_pipeline.ingest.store import SourceStore
from league_pipeline.outputs import exports
from league_pipeline.outputs.results import load_quarter
from league_pipeline.validation.report import validate

# Medians and quartiles NHS England computed from unrounded values: ours (from the published,
# rounded values) differ by one in the second decimal for exactly these.
QUARTILE_ROUNDING = {
    ("OF0082", "Median_value"),
    ("OF0084", "Median_value"),
    ("OF0041", "Lower_quartile"),
    ("OF0085", "Lower_quartile"),
    ("OF0003", "Upper_quartile"),
    ("OF0005", "Upper_quartile"),
    ("OF0057", "Upper_quartile"),
}
WORDING = ["Region", "Trust_type", "Trust_subtype", "Trust_name", "Domain", "Sub_domain"]
WORDING += ["Metric_description", "Reporting_date", "Units"]
KEY = ["Trust_code", "Metric_ID"]


@pytest.fixture(scope="module")
def real(tmp_path_factory, acute_bytes, mh_bytes):
    return build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("real-home"), acute_bytes, mh_bytes
    )


@pytest.fixture(scope="module")
def exported(real, tmp_path_factory):
    out = {}
    for quarter in (Q1, Q2):
        results = load_quarter(quarter, store=real.store)
        folder = tmp_path_factory.mktemp(f"official-{quarter[-2:]}")
        out[quarter] = (
            results,
            folder,
            exports.write_official_exports(results, folder, source_store=real.sources),
        )
    return out


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    equal = (a == b) | (a.isna() & b.isna())
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        equal |= (a - b).abs() < 1e-9
    return equal.fillna(False).astype(bool)


def test_files_have_nhs_england_names_and_both_formats(exported):
    _, folder, export = exported[Q1]
    names = sorted(p.name for p in export.files)
    stems = ["acute", "ambulance", "mental-health-and-community"]
    assert set(names) <= {
        f"nhs-oversight-framework-{s}-trust-{kind}.{ext}"
        for s in stems
        for kind in ("data", "league-table")
        for ext in ("csv", "parquet")
    }
    assert len(names) == 8  # acute and MH & community (no ambulance file in ../shared)
    assert all((folder / n).stat().st_size > 0 for n in names)


def test_acute_q1_trust_data_reproduces_the_published_file_layout(exported, acute_bytes):
    """Same bytes up to the first value: BOM, header, CRLF; then the same rows in the same
    order, the same wording, values passed through, medians and quartiles as published."""
    _, folder, _ = exported[Q1]
    ours = (folder / "nhs-oversight-framework-acute-trust-data.csv").read_bytes()
    assert ours.startswith(b"\xef\xbb\xbfRegion,Trust_type,")
    assert ours.split(b"\r\n")[0] == acute_bytes.split(b"\r\n")[0]
    assert b"\r\n" in ours and ours.count(b"\n") == ours.count(b"\r\n")

    mine = read_nof_trust_data(ours, Q1)
    published = read_nof_trust_data(acute_bytes, Q1)
    assert len(mine) == len(published) == 7265
    pd.testing.assert_frame_equal(mine[KEY], published[KEY])  # same rows, same order
    for column in WORDING:
        assert _same(mine[column], published[column]).all(), column
    inputs = mine["Metric_ID"].str.startswith("OF0")
    for column in ("Value", "Rank"):  # metric values and their published rank pass through
        assert _same(mine.loc[inputs, column], published.loc[inputs, column]).all(), column
    differing = set()
    for column in ("Median_value", "Lower_quartile", "Upper_quartile"):
        gap = (mine[column] - published[column]).abs()
        assert (gap.fillna(0) <= 0.0100001).all(), column
        differing |= {(m, column) for m in mine.loc[gap > 1e-9, "Metric_ID"].unique()}
    assert differing == QUARTILE_ROUNDING


def test_later_quarters_use_the_later_layout(exported, mh_bytes):
    _, folder, export = exported[Q2]
    data = folder / "nhs-oversight-framework-mental-health-and-community-trust-data.csv"
    content = data.read_bytes()
    published_header = mh_bytes.split(b"\n")[0]
    assert content.split(b"\n")[0] == published_header  # Quarter first, no BOM
    assert not content.startswith(b"\xef\xbb\xbf") and b"\r\n" not in content
    assert content.split(b"\n")[1].startswith(b"Q2 2025/26,")
    assert b",%," in content and b",percent," not in content  # units as the later files

    mine = export.trust_data["mental_health_community"]
    published = read_nof_trust_data(mh_bytes)
    published = published[published["Quarter"] == Q2].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[KEY], published[KEY])
    for column in WORDING:
        assert _same(mine[column], published[column]).all(), column


def test_league_table_layout_and_values(exported):
    results, folder, export = exported[Q1]
    content = (folder / "nhs-oversight-framework-acute-trust-league-table.csv").read_bytes()
    lines = content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(NOF_LEAGUE_TABLE_COLUMNS)
    row = re.compile(
        r"^Q1 2025/26,[^,]+,Acute trust,Acute - [A-Za-z-]+,[A-Z0-9]{3},(\"[^\"]+\"|[^,]+),"
        r"[1-4]\.\d{1,2},[1-4]\.\d{1,2} to [1-4]\.\d{1,2},[1-4]\.0,(Yes|No),\d+\.0,\d+ to \d+$"
    )
    body = [line for line in lines[1:] if line]
    assert len(body) == 134
    assert all(row.match(line) for line in body), next(x for x in body if not row.match(x))

    table = export.league_tables["acute"]
    snap = results.league_table.set_index("trust_code").loc[table["Trust_code"]]
    assert list(table["Rank"]) == sorted(table["Rank"])  # sorted by rank
    assert (table["Rank"].to_numpy() == snap["rank"].to_numpy()).all()
    assert (table["Segment"].to_numpy() == snap["adjusted_segment"].to_numpy()).all()
    assert ((table["Average_score"].to_numpy() - snap["average_score"].to_numpy()) <= 0.005).all()
    assert (table["Trust_in_financial_deficit"].to_numpy() == snap["deficit_flag"].to_numpy()).all()
    ranges = split_likely_range(table["Likely_range_of_rank"])
    assert (ranges["lower"].to_numpy() == snap["rank_lower"].to_numpy()).all()
    assert (ranges["upper"].to_numpy() == snap["rank_upper"].to_numpy()).all()
    scores = split_likely_range(table["Likely_range_of_average_score"])
    assert (scores["lower"].to_numpy() == snap["score_lower"].to_numpy()).all()


def test_exports_round_trip_through_readers_schemas_and_parquet(exported):
    checked = 0
    for quarter, (_, folder, export) in exported.items():
        for kind, frames, schema, read in (
            (
                "league_table",
                export.league_tables,
                "nof_league_table",
                read_nof_league_table,
            ),
            ("trust_data", export.trust_data, "nof_trust_data", read_nof_trust_data),
        ):
            for group_id, frame in frames.items():
                stem = exports.file_stem(kind, BY_ID[group_id])
                from_csv = read((folder / f"{stem}.csv").read_bytes(), quarter)
                report = validate(from_csv, schema)
                assert report.passed, report.summary
                assert set(from_csv["Quarter"]) == {quarter}
                from_parquet = pd.read_parquet(folder / f"{stem}.parquet")
                pd.testing.assert_frame_equal(
                    from_parquet, from_csv, check_dtype=False, check_index_type=False
                )
                pd.testing.assert_frame_equal(frame, from_csv)
                checked += 1
    assert checked == 6  # Q1: acute and MH x 2 files; Q2: MH x 2 files


def test_wording_falls_back_to_the_catalogue_without_the_sources(real, tmp_path):
    """A snapshot whose source files are no longer in the store still exports, with the
    catalogue's wording; everything else is the same."""
    results = load_quarter(Q2, store=real.store)
    empty = SourceStore(tmp_path / "no-sources")
    metadata = exports.published_metadata(results, empty)
    assert metadata.empty
    data = exports.official_trust_data(results, metadata)["mental_health_community"]
    assert validate(data, "nof_trust_data").passed
    row = data[(data["Metric_ID"] == "OF0082")].iloc[0]
    assert row["Metric_description"] == "Sickness absence (%)"  # the catalogue's short name
    assert pd.isna(row["Reporting_date"])
    summary = data[data["Metric_ID"] == "OF5000"].iloc[0]
    assert summary["Reporting_date"] == "Q2 2025/26"
    assert results.info.lineage["inputs"][MHC_KIND]["sha256"] not in empty
