"""``--format table|csv|json|markdown`` on every reading command, on snapshots of NHS England's
real files: the CSV and JSON parse back to the rows the table shows (names in full), and the
default table fits 100 columns without cutting a word."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from outputs_support import Q1, Q2, build_real_home, revise_acute_q1, snapshot_tables

from league_pipeline.audit.compare import audit_rows
from league_pipeline.cli import main
from league_pipeline.cli.render import FORMATS, WIDTH
from league_pipeline.core.settings import Settings
from league_pipeline.scoring import official
from league_pipeline.scoring.engine import run_scoring

LONG_NAME = "Kestrelmere University Hospitals NHS Foundation Trust of Coventry and Warwickshire"
CODE_VERSION = "0.1.1.dev133+g5bc28ad02.dirty"  # as long as a checkout's with changes


@pytest.fixture(scope="module")
def home(tmp_path_factory, acute_bytes, mh_bytes):
    """Q1 v1, Q2 v1, Q1 v2 (with the audit's rows) and Q1 v3 (one value revised); in v2 and
    v3 one trust has a long name."""
    real = build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("formats-home"), acute_bytes, mh_bytes
    )
    info = real.store.latest(Q1)
    published = pd.concat([real.acute, real.mhc[real.mhc["Quarter"] == Q1]], ignore_index=True)
    first = published["Trust_code"].eq(published["Trust_code"].iloc[0])
    published.loc[first, "Trust_name"] = LONG_NAME
    tables = snapshot_tables(published)
    tables["audit"] = audit_rows(run_scoring(official.inputs_from_nof(published)), published)
    real.store.write(Q1, tables, {**info.lineage, "code_version": CODE_VERSION}, run_id="test")
    real.acute.loc[real.acute["Trust_code"].eq(published["Trust_code"].iloc[0]), "Trust_name"] = (
        LONG_NAME
    )
    revise_acute_q1(real, "RTE", "OF0061", 7.5)
    return real


@pytest.fixture
def cli(home, capsys):
    settings = Settings.for_home(home.home)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), settings=settings)
        out, err = capsys.readouterr()
        return code, out, err

    return run


COMMANDS = {
    "table": ("table", "--quarter", Q1),
    "status": ("status",),
    "explain": ("explain", "RX1", "--quarter", Q1),
    "movement": ("movement", "--quarter", Q2),
    "audit": ("audit", "--quarter", Q1, "--version", "2"),
    "revisions": ("revisions", "--quarter", Q1, "--all"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_in_each_format(cli, command):
    outputs = {}
    for fmt in FORMATS:
        code, out, _ = cli(*COMMANDS[command], "--format", fmt)
        assert code == 0, (command, fmt)
        outputs[fmt] = out
    # the default is the table, at most 100 columns wide
    code, out, _ = cli(*COMMANDS[command])
    assert code == 0 and out == outputs["table"]
    assert max(len(line) for line in out.splitlines()) <= WIDTH, out
    data = json.loads(outputs["json"])
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    if command == "explain":
        assert data["trust_code"] == "RX1" and data["items"]
        assert [r["item"] for r in rows] == [i["item"] for i in data["items"]]
        return
    assert isinstance(data, list) and len(data) == len(rows) > 0
    assert list(rows[0]) == list(data[0])  # the same columns, in the same order
    for record, row in zip(data, rows, strict=True):
        for key, value in record.items():
            expected = (
                ""
                if value is None
                else ("true" if value else "false")
                if isinstance(value, bool)
                else str(value)
            )
            assert row[key] == expected, (command, key)
    assert "|" in outputs["markdown"] and "---" in outputs["markdown"]


def test_table_rows_match_the_data_and_names_are_whole(cli, home):
    code, out, _ = cli("table", "--quarter", Q1, "--format", "json")
    data = json.loads(out)
    assert code == 0 and LONG_NAME in [r["trust_name"] for r in data]
    assert all(isinstance(r["average_score"], float | int) for r in data)
    assert all(len(repr(r["average_score"])) < 18 for r in data)  # no float noise
    code, markdown, _ = cli("table", "--quarter", Q1, "--format", "markdown")
    assert LONG_NAME in markdown  # in full, on one line
    assert markdown.count("\n| ") == len(data) + 1  # a row per trust and the header
    code, table, _ = cli("table", "--quarter", Q1)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert LONG_NAME not in table  # abbreviated on a word boundary, one line a trust
    rows = [line for line in lines if line[:4].strip().isdigit()]
    assert [line.split()[1] for line in rows] == [r["trust_code"] for r in data]
    long_row = next(line for line in rows if line.split()[1] == data_code(data))
    name = long_row.split(None, 2)[2].split("…")[0]
    assert LONG_NAME.startswith(name) and LONG_NAME[len(name)] == " ", long_row


def data_code(data) -> str:
    return next(r["trust_code"] for r in data if r["trust_name"] == LONG_NAME)


def test_audit_csv_reads_back_with_booleans(cli):
    code, out, _ = cli("audit", "--quarter", Q1, "--version", "2", "--format", "csv")
    assert code == 0 and not out.startswith("***")
    frame = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert set(frame["agrees"]) <= {True, False}


def test_explain_json_flag_is_the_json_format(cli):
    _, by_flag, _ = cli("explain", "RX1", "--quarter", Q1, "--json")
    _, by_format, _ = cli("explain", "RX1", "--quarter", Q1, "--format", "json")
    assert json.loads(by_flag) == json.loads(by_format)


def test_status_table_shows_the_commit_and_the_data_the_full_code_version(cli):
    _, out, _ = cli("status", "--format", "json")
    assert CODE_VERSION in [r["code_version"] for r in json.loads(out)]
    _, table, _ = cli("status")
    assert " g5bc28ad02.dirty " in table and CODE_VERSION not in table


def test_movement_shows_segment_changes_and_significant_moves_by_default(cli):
    # (a significant rank move within a segment: tests/unit/test_render.py; NHS England's
    # Q1 -> Q2 has none)
    _, everything, _ = cli("movement", "--quarter", Q2, "--all", "--format", "json")
    _, notable, _ = cli("movement", "--quarter", Q2, "--format", "json")
    every, shown = json.loads(everything), json.loads(notable)
    expected = [
        r
        for r in every
        if r["segment_change_reason"]
        or r["rank_change_significant"]
        or r["average_change_significant"]
        or r["status"] != "both"
    ]
    assert shown == expected and 0 < len(shown) < len(every)
    _, table, _ = cli("movement", "--quarter", Q2)
    rows = [line.split() for line in table.splitlines() if line.startswith(("acute", "mental"))]
    assert [(r[0], r[1]) for r in rows] == [(r["peer_group"], r["trust_code"]) for r in shown]
