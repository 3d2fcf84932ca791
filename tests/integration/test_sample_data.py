"""The synthetic landing folder generator (league_pipeline.sample.generator).

Belongs here: determinism, the file set and trust counts, the published layout (parsed by the
readers, valid against the schema, headers identical to NHS England's real files), cumulative
files as NHS England publishes them (Q1's own layout and MH file name; later files holding every
quarter to date), self-consistency (re-scoring a generated file's values with the engine gives
back its own segments, average scores and league ranks), the fictional roster (no real trust
code anywhere in the folder) and the manifest that marks the files as synthetic. The raw
releases the generator also writes are checked against the generated NOF values in
tests/integration/test_raw_pipeline.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from league_pipeline.core.quarters import Quarter
from league_pipeline.formats.flags import read_deficit_flags, read_rsp_list
from league_pipeline.formats.nof import read_nof_trust_data
from league_pipeline.formats.ods import read_ods_trusts
from league_pipeline.sample import data_origin
from league_pipeline.sample.generator import (
    LandingNotOursError,
    generate_quarter,
    load_profiles,
    load_roster,
    round_half_up,
    write_sample_landing,
)
from league_pipeline.scoring.engine import run_scoring
from league_pipeline.scoring.official import inputs_from_nof
from league_pipeline.validation.report import validate

Q1 = Quarter(2025, 1)
Q2 = Quarter(2025, 2)
Q3 = Quarter(2025, 3)
GROUP_FILES = {
    "Acute trust": "nhs-oversight-framework-acute-trust-data.csv",
    "Mental health and community trust": (
        "nhs-oversight-framework-mental-health-and-community-trust-data.csv"
    ),
    "Ambulance trust": "nhs-oversight-framework-ambulance-trust-data.csv",
}
MH_Q1_FILE = "nhs-oversight-framework-non-acute-hospital-trust-data.csv"  # the Sept 2025 name
OTHER_FILES = ["etr.csv", "recovery-support-programme.csv", "financial-deficit-flags.csv"]


def raw_files(quarter: Quarter) -> list[str]:
    """The raw releases of a quarter, in the order the generator writes them."""
    months = [m.strftime("%Y-%m") for m in quarter.months]
    return [
        "raw/ambsys-time-series.xlsx",
        *(f"raw/ae-monthly-{m}.csv" for m in months),
        "raw/cwt-crs-provider-extract.xlsx",
        f"raw/rtt-full-extract-{months[-1]}.csv",
    ]


EXPECTED_TRUSTS = {
    "Acute trust": 134,
    "Mental health and community trust": 61,
    "Ambulance trust": 10,
}


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Q1 and Q2 written once for the module (default seed)."""
    root = tmp_path_factory.mktemp("landing")
    write_sample_landing(root, [Q1, Q2])
    return root


def group_files(quarter: Quarter) -> dict[str, str]:
    """Trust type -> the file name the quarter's publication uses."""
    names = dict(GROUP_FILES)
    if quarter == Q1:
        names["Mental health and community trust"] = MH_Q1_FILE
    return names


def _publication(landing: Path, quarter: Quarter) -> dict[str, pd.DataFrame]:
    """Every row of the quarter's files (later files hold every quarter to date)."""
    return {
        trust_type: read_nof_trust_data((landing / quarter.slug / name).read_bytes(), quarter.label)
        for trust_type, name in group_files(quarter).items()
    }


def _trust_data(landing: Path, quarter: Quarter) -> dict[str, pd.DataFrame]:
    """The quarter's own rows of its files."""
    out = {}
    for trust_type, df in _publication(landing, quarter).items():
        rows = df[df["Quarter"] == quarter.label].reset_index(drop=True)
        rows.attrs = dict(df.attrs)
        out[trust_type] = rows
    return out


def _first_line(content: bytes) -> bytes:
    return content.split(b"\n", 1)[0]


def test_same_seed_gives_byte_identical_files(landing: Path, tmp_path: Path) -> None:
    again = write_sample_landing(tmp_path, [Q1])
    assert [p.relative_to(tmp_path).as_posix() for p in again] == [
        f"{Q1.slug}/{name}" for name in [*group_files(Q1).values(), *OTHER_FILES, *raw_files(Q1)]
    ]
    for path in again:
        original = landing / path.relative_to(tmp_path)
        assert path.read_bytes() == original.read_bytes(), f"{path.name} differs between runs"


def test_another_seed_gives_other_values(landing: Path) -> None:
    other = generate_quarter(Q1, seed=7).files()
    acute = f"{Q1.slug}/{GROUP_FILES['Acute trust']}"
    assert other[acute] != (landing / acute).read_bytes()
    assert _first_line(other[acute]) == _first_line((landing / acute).read_bytes())


def test_file_set_and_trust_counts(landing: Path) -> None:
    for quarter in (Q1, Q2):
        folder = landing / quarter.slug
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        expected = [*group_files(quarter).values(), *OTHER_FILES, *raw_files(quarter)]
        assert names == sorted(expected)
    frames = _trust_data(landing, Q1)
    for trust_type, df in frames.items():
        assert set(df["Trust_type"]) == {trust_type}
        assert df["Trust_code"].nunique() == EXPECTED_TRUSTS[trust_type]
    roster = load_roster()
    assert len(roster) == 205
    ods = read_ods_trusts((landing / Q1.slug / "etr.csv").read_bytes())
    assert list(ods["ods_code"]) == list(roster["trust_code"])
    rsp = read_rsp_list((landing / Q1.slug / "recovery-support-programme.csv").read_bytes())
    flags = read_deficit_flags((landing / Q1.slug / "financial-deficit-flags.csv").read_bytes())
    assert len(rsp) == len(flags) == 205
    assert set(rsp["Quarter"]) == set(flags["Quarter"]) == {Q1.label}
    members = rsp.loc[rsp["In_RSP"], "Trust_code"]
    by_type = roster.set_index("trust_code").loc[members, "trust_type"].value_counts()
    assert by_type.to_dict() == {
        "Acute trust": 14,
        "Mental health and community trust": 3,
        "Ambulance trust": 1,
    }
    # RSP trusts are flagged (receiving support); most flags follow the plan rule
    flagged = flags.set_index("Trust_code")["In_deficit_or_receiving_support"]
    assert flagged.loc[members].all()


def test_files_parse_and_validate(landing: Path) -> None:
    for quarter in (Q1, Q2):
        for trust_type, df in _trust_data(landing, quarter).items():
            report = validate(df, "nof_trust_data")
            assert report.passed, f"{quarter} {trust_type}: {report.summary}"


def test_layout_follows_the_published_files(landing: Path) -> None:
    q1 = (landing / Q1.slug / GROUP_FILES["Acute trust"]).read_bytes()
    q2 = (landing / Q2.slug / group_files(Q2)["Mental health and community trust"]).read_bytes()
    assert b"\r\n" in q1[:400] and q1.startswith(b"\xef\xbb\xbf")
    assert b",percent," in q1 and b",%," not in q1
    assert b"\r\nQ2 2025/26," in q2 and b",%," in q2 and b",percent," not in q2
    df = _trust_data(landing, Q1)["Acute trust"]
    # rows grouped by metric, then trust code, as NHS England orders them
    key = df[["Metric_ID", "Trust_code"]]
    assert key.equals(key.sort_values(["Metric_ID", "Trust_code"], kind="stable"))
    assert not df.duplicated(["Metric_ID", "Trust_code"]).any()
    # value rows: per-type quartiles and a competition rank, best first
    rtt = df[df["Metric_ID"] == "OF0023"]  # higher is better
    assert rtt["Median_value"].nunique() == 1
    assert rtt["Median_value"].iloc[0] == pytest.approx(rtt["Value"].median(), abs=0.005)
    expected = (-rtt["Value"]).rank(method="min")
    assert (rtt["Rank"] == expected).all()
    # score rows carry the value row's rank; given scores and segments carry none
    scores = df[df["Metric_ID"] == "OF1023"].set_index("Trust_code")["Rank"]
    assert scores.equals(rtt.set_index("Trust_code")["Rank"].rename(scores.name))
    assert df.loc[df["Metric_ID"].isin(["OF1046", "OF4100", "OF5003"]), "Rank"].isna().all()
    # the real coverage: one acute trust alone publishes ambulance metrics (its stand-in here)
    profiles = load_profiles().set_index(["peer_group", "metric_id"])
    stand_in = profiles.at[("acute", "OF0017"), "only_trusts"]
    assert re.fullmatch(r"ZA\d{3}", stand_in)
    assert set(df.loc[df["Metric_ID"] == "OF0017", "Trust_code"]) == {stand_in}
    assert df.loc[df["Metric_ID"] == "OF0010", "Trust_code"].nunique() == 118


def test_headers_are_identical_to_the_real_files(landing: Path, real_data: Path) -> None:
    real_acute = (real_data / "nof2526_q1_acute_trust_data.csv").read_bytes()
    ours = (landing / Q1.slug / GROUP_FILES["Acute trust"]).read_bytes()
    assert _first_line(ours) == _first_line(real_acute)  # BOM and CRLF included
    # the stored real MH file was saved without BOM and with LF: compare the header text
    real_mh = (real_data / "nof2526_q1q2_mh_community_trust_data.csv").read_bytes()
    ours_mh = (landing / Q2.slug / GROUP_FILES["Mental health and community trust"]).read_bytes()
    decode = lambda b: _first_line(b).decode("utf-8-sig").rstrip("\r")  # noqa: E731
    assert decode(ours_mh) == decode(real_mh)


def test_values_move_between_quarters_and_annual_values_hold(landing: Path) -> None:
    q1, q2 = (_trust_data(landing, q)["Acute trust"] for q in (Q1, Q2))

    def values(df: pd.DataFrame, metric_id: str) -> pd.Series:
        return df[df["Metric_ID"] == metric_id].set_index("Trust_code")["Value"]

    assert (values(q1, "OF0023") != values(q2, "OF0023")).mean() > 0.3  # monthly: moves
    assert values(q1, "OF0079").equals(values(q2, "OF0079"))  # annual plan: holds
    seg1, seg2 = values(q1, "OF5000"), values(q2, "OF5000")
    assert 0 < (seg1 != seg2).sum() < len(seg1) / 2


@pytest.mark.parametrize("quarter", [Q1, Q2], ids=str)
def test_rescoring_the_published_values_reproduces_the_file(
    landing: Path, quarter: Quarter
) -> None:
    df = pd.concat(_trust_data(landing, quarter).values(), ignore_index=True)
    result = run_scoring(inputs_from_nof(df))  # the ordinary (multi-threaded) engine
    league = result.league_table.set_index("trust_code")

    def published(metric_id: str, column: str = "Value") -> pd.Series:
        rows = df[df["Metric_ID"] == metric_id].set_index("Trust_code")[column]
        return rows.sort_index()

    codes = published("OF5000").index
    assert len(codes) == 205
    np.testing.assert_array_equal(
        league.loc[codes, "adjusted_segment"].to_numpy(float), published("OF5000").to_numpy()
    )
    np.testing.assert_array_equal(
        league.loc[codes, "unadjusted_segment"].to_numpy(float), published("OF5003").to_numpy()
    )
    np.testing.assert_array_equal(
        round_half_up(league.loc[codes, "average_score"].to_numpy(float)),
        published("OF5002").to_numpy(),
    )
    np.testing.assert_array_equal(
        league.loc[codes, "rank"].to_numpy(float), published("OF5000", "Rank").to_numpy()
    )
    # every published metric score too
    scores = result.metric_scores.set_index(["score_id", "trust_code"])["score"]
    rows = df[df["Metric_ID"].str.match(r"^OF1\d{3}$")]
    keys = pd.MultiIndex.from_frame(rows[["Metric_ID", "Trust_code"]])
    np.testing.assert_array_equal(
        round_half_up(scores.reindex(keys).to_numpy(float)), rows["Value"].to_numpy()
    )


# --------------------------------------------------------------------------------------------
# Cumulative publications, as NHS England's
# --------------------------------------------------------------------------------------------
def test_first_publication_has_the_sept_2025_layout_and_names(landing: Path) -> None:
    folder = landing / Q1.slug
    assert not (folder / GROUP_FILES["Mental health and community trust"]).exists()
    for name in group_files(Q1).values():
        header = _first_line((folder / name).read_bytes()).decode("utf-8-sig")
        assert not header.startswith("Quarter,")
    mh = (folder / MH_Q1_FILE).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(mh)))
    assert {r["Trust_type"] for r in rows} == {"Non-acute hospital trust"}
    assert {r["Reporting_date"] for r in rows if r["Metric_ID"] in ("OF5005", "OF5007")} == {""}
    assert "North East" in {r["Region"] for r in rows}


def test_later_publications_hold_every_quarter_to_date(landing: Path) -> None:
    q1 = _publication(landing, Q1)
    q2 = _publication(landing, Q2)
    for trust_type, df in q2.items():
        assert list(dict.fromkeys(df["Quarter"])) == [Q1.label, Q2.label]  # oldest first
        assert set(df["Trust_type"]) == {trust_type}
        again = df[df["Quarter"] == Q1.label].reset_index(drop=True)
        first = q1[trust_type]
        # the Q1 rows are the first publication's, in the later spelling and layout
        columns = ["Trust_code", "Metric_ID", "Value", "Median_value", "Rank", "Trust_name"]
        pd.testing.assert_frame_equal(again[columns], first[columns])
        assert "North East" not in set(again["Region"])
        dated = again[again["Metric_ID"].isin(["OF5005", "OF5007"])]
        assert set(dated["Reporting_date"]) == {"Q1 2025/26"}
        assert validate(again, "nof_trust_data", expected_quarter=Q1.label).passed


def test_a_later_file_repeats_the_earlier_quarters_whatever_was_generated(
    landing: Path, tmp_path: Path
) -> None:
    """Q3 alone gives the same Q3 file as a folder written quarter by quarter: Q1-Q3 rows."""
    write_sample_landing(tmp_path, [Q3])
    acute = read_nof_trust_data(
        (tmp_path / Q3.slug / GROUP_FILES["Acute trust"]).read_bytes(), Q3.label
    )
    assert list(dict.fromkeys(acute["Quarter"])) == [Q1.label, Q2.label, Q3.label]
    q2_rows = acute[acute["Quarter"] == Q2.label].reset_index(drop=True)
    ours = _trust_data(landing, Q2)["Acute trust"]
    pd.testing.assert_frame_equal(q2_rows, ours, check_like=False, check_exact=True)
    assert not (tmp_path / Q1.slug).exists()


# --------------------------------------------------------------------------------------------
# Fictional trusts and the synthetic label
# --------------------------------------------------------------------------------------------
def _real_ods_codes(real_data: Path) -> set[str]:
    ods = read_ods_trusts((real_data / "ods_etr_nhs_trusts_2025-11.csv").read_bytes())
    return set(ods["ods_code"])


def test_the_roster_is_fictional(real_data: Path) -> None:
    roster = load_roster()
    assert roster["trust_code"].str.fullmatch(r"Z[AMU]\d{3}").all()
    assert not set(roster["trust_code"]) & _real_ods_codes(real_data)
    real_names = set(
        read_ods_trusts((real_data / "ods_etr_nhs_trusts_2025-11.csv").read_bytes())["name"]
    )
    assert not set(roster["trust_name"].str.upper()) & real_names
    assert roster["postcode"].str.startswith("ZZ").all()
    assert roster["contact_telephone_number"].str.startswith("01632 960").all()
    # realistic structure: the real files' counts per peer group, subtype and region
    by_subtype = roster.groupby("trust_subtype").size().to_dict()
    assert by_subtype["Acute - Teaching"] == 49 and by_subtype["Care Trust"] == 2
    assert roster.groupby("region").size().to_dict()["London"] == 32


def _cells(path: Path) -> set[str]:
    """Every cell of a generated CSV or XLSX file, as text."""
    if path.suffix == ".xlsx":
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine="calamine")
        return {str(v).strip() for df in sheets.values() for v in df.to_numpy().ravel()}
    text = path.read_bytes().decode("utf-8-sig")
    return {cell.strip() for row in csv.reader(io.StringIO(text)) for cell in row}


def test_no_real_trust_code_in_the_landing_folder(landing: Path, real_data: Path) -> None:
    real = _real_ods_codes(real_data)
    seen: set[str] = set()
    for path in sorted(landing.rglob("*")):
        if path.is_file() and path.suffix in (".csv", ".xlsx"):
            cells = _cells(path)
            assert not cells & real, f"{path.relative_to(landing)}: {sorted(cells & real)}"
            seen |= cells
    assert set(load_roster()["trust_code"]) <= seen


def test_the_manifest_lists_every_generated_file(landing: Path) -> None:
    manifest = json.loads((landing / data_origin.MANIFEST_FILE).read_text())
    assert manifest["data"] == "synthetic" and manifest["seed"] == 2025
    files = {p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {data_origin.MANIFEST_FILE}
    for relative, sha in manifest["files"].items():
        assert data_origin.sha256_of((landing / relative).read_bytes()) == sha
        assert data_origin.is_synthetic(landing, sha)
    assert not data_origin.is_synthetic(landing, data_origin.sha256_of(b"a real file"))


def test_a_corrupt_or_missing_manifest_means_not_synthetic(tmp_path: Path, caplog) -> None:
    sha = data_origin.sha256_of(b"x")
    assert data_origin.synthetic_files(tmp_path) == {}  # no manifest: silently none
    (tmp_path / data_origin.MANIFEST_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="league_pipeline.sample.data_origin"):
        assert not data_origin.is_synthetic(tmp_path, sha)
    assert "ignoring the sample-data manifest" in caplog.text
    (tmp_path / data_origin.MANIFEST_FILE).write_text(json.dumps({"files": {"a": sha}}))
    assert not data_origin.is_synthetic(tmp_path, sha)  # no "data: synthetic"
    (tmp_path / data_origin.MANIFEST_FILE).write_text(
        json.dumps({"data": "synthetic", "files": {"a": sha}})
    )
    assert data_origin.is_synthetic(tmp_path, sha)


def test_sample_data_does_not_overwrite_files_it_did_not_write(tmp_path: Path) -> None:
    acute = tmp_path / Q1.slug / GROUP_FILES["Acute trust"]
    acute.parent.mkdir(parents=True)
    acute.write_bytes(b"someone's own file")
    with pytest.raises(LandingNotOursError) as exc:
        write_sample_landing(tmp_path, [Q1])
    assert exc.value.files == [f"{Q1.slug}/{GROUP_FILES['Acute trust']}"]
    assert acute.read_bytes() == b"someone's own file"
    assert "--force" in str(exc.value)

    write_sample_landing(tmp_path, [Q1], force=True)
    write_sample_landing(tmp_path, [Q1])  # its own, unchanged files: rewritten freely
    flags = tmp_path / Q1.slug / "financial-deficit-flags.csv"
    flags.write_bytes(flags.read_bytes() + b"\r\n")  # edited since
    with pytest.raises(LandingNotOursError) as exc:
        write_sample_landing(tmp_path, [Q1])
    assert exc.value.files == [f"{Q1.slug}/financial-deficit-flags.csv"]


def test_the_other_name_of_a_file_is_replaced(tmp_path: Path) -> None:
    """A landing folder holds one name of the MH file: writing Q1 (its Q1 name) removes a
    generated copy under the later name; someone else's copy there stops it."""
    later_name = tmp_path / Q1.slug / GROUP_FILES["Mental health and community trust"]
    later_name.parent.mkdir(parents=True)
    later_name.write_bytes(b"not ours")
    with pytest.raises(LandingNotOursError):
        write_sample_landing(tmp_path, [Q1])
    write_sample_landing(tmp_path, [Q1], force=True)
    assert not later_name.exists() and (tmp_path / Q1.slug / MH_Q1_FILE).exists()
