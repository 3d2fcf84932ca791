"""The ``league`` command line: the offline main job, readable errors and exit codes, and the
synthetic-data label on everything made from ``league sample-data``'s files (and on nothing
else)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from league_pipeline.cli import main
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.sample import data_origin
from league_pipeline.sample.generator import write_sample_landing

LABEL_LINE = "*** synthetic sample data, not NHS England's figures ***"


def run(capsys, settings, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=settings)
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


def test_quarter_before_the_methodology_is_refused(capsys, settings):
    code, _, err = run(capsys, settings, "run", "--quarter", "2024/25 Q4")
    assert code == 2
    assert err.splitlines() == [
        "error: 2024/25 Q4 is before 2025/26 Q1, the first quarter of the NHS Oversight "
        "Framework 2025/26 methodology; earlier quarters were not scored this way",
        "fix: give a quarter from 2025/26 Q1 to 2025/26 Q4, e.g. '2025/26 Q1'",
    ]


def test_malformed_quarter_says_how_to_write_it(capsys, settings):
    code, _, err = run(capsys, settings, "table", "--quarter", "Q5", "--peer-group", "acute")
    assert code == 2 and "write it like '2025/26 Q1'" in err


def test_run_without_data_points_to_sample_data(capsys, settings):
    code, _, err = run(capsys, settings, "run", "--quarter", "2025/26 Q1")
    assert code == 2
    error, fix = err.splitlines()
    assert error.startswith("error: no source files for 2025/26 Q1")
    assert fix.startswith("fix: run `league sample-data`")


def test_table_before_any_run(capsys, settings):
    code, _, err = run(
        capsys, settings, "table", "--quarter", "2025/26 Q1", "--peer-group", "ambulance"
    )
    assert code == 2 and "no snapshot for 2025/26 Q1" in err


def test_sample_data_run_status_and_table(capsys, league_home, settings):
    settings = replace(settings, bootstrap_replicates=200, whatif_checked=0)
    code, _, err = run(capsys, settings, "sample-data", "--quarter", "2025/26 Q1")
    assert code == 0 and "wrote 12 files" in err
    code, out, err = run(capsys, settings, "run", "--quarter", "2025/26 Q1")
    assert code == 0, err
    assert "[league] running 2025/26 Q1" in err and "2025/26 Q1: done" in err
    assert "2025/26 Q1  1  " in out  # the snapshot list: quarter, version 1

    assert "synthetic" in out.splitlines()[-1]  # the data column of the snapshot list

    code, out, _ = run(
        capsys, settings, "table", "--quarter", "2025/26 Q1", "--peer-group", "ambulance"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == LABEL_LINE
    assert lines[1] == "Ambulance trusts, 2025/26 Q1 (snapshot v1)"
    # label, title, header, rule, ten ambulance trusts, then what is taken from the publication
    # (the basis line wrapped on words to fit 100 columns)
    assert len(lines) >= 4 + 10 + 2 and max(len(line) for line in lines) <= 100
    assert lines[4].split()[0] == "1"
    assert all(line.split()[1].startswith("ZU") for line in lines[4:14])  # fictional trusts
    basis = " ".join(lines[14:-1])
    assert basis.startswith("basis: ") and "metrics published only as scores" in basis
    assert lines[-1] == "every rank agrees with the publication's"

    code, out, _ = run(capsys, settings, "status", "--lineage", "2025/26 Q1")
    assert code == 0 and '"nof_trust_data_ambulance"' in out and '"sha256"' in out
    lineage = json.loads(out)
    assert lineage["data"] == "synthetic"
    assert all(rec["synthetic"] for rec in lineage["inputs"].values() if not rec.get("absent"))

    for command in (["status"], ["explain", "ZU001", "--quarter", "2025/26 Q1"]):
        code, out, _ = run(capsys, settings, *command)
        assert code == 0 and out.splitlines()[0] == LABEL_LINE, command
    code, out, _ = run(capsys, settings, "explain", "ZA001", "--quarter", "2025/26 Q1", "--json")
    assert json.loads(out)["data"] == "synthetic"

    # the outputs the run wrote: synthetic- file names, a notice, the report's banner
    folder = league_home / "outputs" / "2025-26-q1" / "v1"
    names = sorted(p.name for p in (folder / "official").iterdir())
    assert len(names) == 12 and all(
        n.startswith("synthetic-nhs-oversight-framework-") for n in names
    )
    assert (
        (folder / "SYNTHETIC-DATA.txt")
        .read_text()
        .startswith("Synthetic sample data, not NHS England's figures.")
    )
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "<title>[SYNTHETIC] NHS Oversight Framework" in html
    assert (
        'class="synthetic-banner"' in html
        and '<meta name="league-data" content="synthetic">' in html
    )

    # an unknown peer group is one clear line
    code, _, err = run(
        capsys, settings, "table", "--quarter", "2025/26 Q1", "--peer-group", "dental"
    )
    assert code == 2 and "unknown peer group 'dental'" in err


def test_files_not_listed_in_the_manifest_carry_no_label(capsys, league_home, settings):
    """Files in the published formats that `league sample-data` did not list (here: generated,
    then the manifest removed, as if they were NHS England's) are published data: no label on
    the table, the lineage or the outputs."""
    settings = replace(settings, bootstrap_replicates=200, whatif_checked=0)
    landing = league_home / "landing"
    write_sample_landing(landing, [parse_quarter("2025/26 Q1")])
    (landing / data_origin.MANIFEST_FILE).unlink()
    code, out, err = run(capsys, settings, "run", "--quarter", "2025/26 Q1")
    assert code == 0, err
    assert "synthetic" not in out

    code, out, _ = run(
        capsys, settings, "table", "--quarter", "2025/26 Q1", "--peer-group", "ambulance"
    )
    assert code == 0 and out.splitlines()[0] == "Ambulance trusts, 2025/26 Q1 (snapshot v1)"
    assert "synthetic" not in out
    code, out, _ = run(capsys, settings, "status", "--lineage", "2025/26 Q1")
    lineage = json.loads(out)
    assert lineage["data"] == "published"
    assert not any(rec.get("synthetic") for rec in lineage["inputs"].values())

    folder = league_home / "outputs" / "2025-26-q1" / "v1"
    names = sorted(p.name for p in (folder / "official").iterdir())
    assert len(names) == 12 and all(n.startswith("nhs-oversight-framework-") for n in names)
    assert not (folder / "SYNTHETIC-DATA.txt").exists()
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "[SYNTHETIC]" not in html and 'class="synthetic-banner"' not in html
    assert '<meta name="league-data" content="published">' in html
    assert "synthetic sample data" not in html.lower()
