"""The ``league`` command line: the offline main job, readable errors and exit codes."""

from __future__ import annotations

import pytest

from league_pipeline.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("sample-data", "run", "backfill", "status", "table"):
        assert command in out
    assert "LEAGUE_HOME" in out


def test_quarter_before_the_methodology_is_refused(capsys, league_home):
    code, _, err = run(capsys, "run", "--quarter", "2024/25 Q4")
    assert code == 2
    assert err.strip() == (
        "error: 2024/25 Q4 is before 2025/26 Q1, the first quarter of the NHS Oversight "
        "Framework 2025/26 methodology; earlier quarters were not scored this way"
    )


def test_malformed_quarter_says_how_to_write_it(capsys, league_home):
    code, _, err = run(capsys, "table", "--quarter", "Q5", "--peer-group", "acute")
    assert code == 2 and "write it like '2025/26 Q1'" in err


def test_run_without_data_points_to_sample_data(capsys, league_home):
    code, _, err = run(capsys, "run", "--quarter", "2025/26 Q1")
    assert code == 2
    assert "league sample-data" in err and err.count("\n") == 1


def test_table_before_any_run(capsys, league_home):
    code, _, err = run(capsys, "table", "--quarter", "2025/26 Q1", "--peer-group", "ambulance")
    assert code == 2 and "no snapshot for 2025/26 Q1" in err


def test_sample_data_run_status_and_table(capsys, league_home, monkeypatch):
    monkeypatch.setenv("LEAGUE_BOOTSTRAP_REPLICATES", "200")
    code, _, err = run(capsys, "sample-data", "--quarter", "2025/26 Q1")
    assert code == 0 and "wrote 12 files" in err
    code, out, err = run(capsys, "run", "--quarter", "2025/26 Q1")
    assert code == 0, err
    assert "[league] running 2025/26 Q1" in err and "2025/26 Q1: done" in err
    assert "2025/26 Q1          1" in out

    code, out, _ = run(capsys, "table", "--quarter", "2025/26 Q1", "--peer-group", "ambulance")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Ambulance trusts, 2025/26 Q1 (snapshot v1)"
    assert len(lines) == 3 + 10  # title, header, rule, ten ambulance trusts
    assert lines[3].split()[0] == "1"

    code, out, _ = run(capsys, "status", "--lineage", "2025/26 Q1")
    assert code == 0 and '"nof_trust_data_ambulance"' in out and '"sha256"' in out

    # an unknown peer group is one clear line
    code, _, err = run(capsys, "table", "--quarter", "2025/26 Q1", "--peer-group", "dental")
    assert code == 2 and "unknown peer group 'dental'" in err
