"""``league whatif`` against a full rerun of the pipeline, and the command's output and errors.

The pipeline (Dagster, the embedded default's 2025/26 Q1) runs once; an ambulance trust's
Category 2 mean response (OF0017) and conveyance to ED (OF0028) are changed in its landing NOF
file, written back in the published layout, and the pipeline runs again in a fresh home. The
what-if's every layer equals the rerun's snapshot: the trust's metric, domain and average
scores, segments and rank, every trust's average, segments and rank, and the cut-points.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest

from league_pipeline.cli import main
from league_pipeline.cli.common import snapshot_store
from league_pipeline.cli.render import FORMATS, WIDTH
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.definitions import ALL_ASSETS, run_resources
from league_pipeline.formats.nof import read_nof_trust_data, write_nof_trust_data
from league_pipeline.outputs.results import LEAGUE_LAYERS
from league_pipeline.outputs.whatif import load_inputs, whatif
from league_pipeline.sample.generator import write_sample_landing

Q1 = parse_quarter("2025/26 Q1")
AMBULANCE_FILE = f"{Q1.slug}/nhs-oversight-framework-ambulance-trust-data.csv"
CHANGES = {"OF0017": "41.5", "OF0028": "74.4"}  # slower and more conveyances: worse
LABEL_LINE = "*** synthetic sample data, not NHS England's figures ***"


def _pipeline(settings: Settings) -> None:
    """Fetch, validate, score and snapshot Q1 (every asset the snapshot needs; no outputs)."""
    snapshot = dg.AssetKey(["snapshots", "quarterly_snapshot"])
    result = dg.materialize(
        ALL_ASSETS,
        selection=dg.AssetSelection.assets(snapshot).upstream(),
        partition_key=Q1.key,
        resources=run_resources(settings),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success


def _snapshot(settings: Settings, table: str) -> pd.DataFrame:
    return snapshot_store(settings).read(table, Q1.label)


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> dict:
    """The first run's settings, the trust whose values change, the what-if, and the rerun's
    settings."""
    root = tmp_path_factory.mktemp("whatif")
    landing = root / "landing"
    write_sample_landing(landing, [Q1])
    first = Settings.for_home(
        root / "first", landing_dir=landing, bootstrap_replicates=50, whatif_checked=0
    )
    _pipeline(first)

    inputs = load_inputs(snapshot_store(first), Q1.label)
    league = inputs.snapshot["league_table"]
    ambulance = league[league["peer_group"] == "ambulance"].sort_values("average_score")
    trust = str(ambulance["trust_code"].iloc[0])  # the best ambulance trust
    result = whatif(inputs, trust, CHANGES)

    changed = root / "landing-changed"
    shutil.copytree(landing, changed)
    path = changed / AMBULANCE_FILE
    rows = read_nof_trust_data(path.read_bytes(), Q1.label)
    for metric, value in CHANGES.items():
        cell = (rows["Trust_code"] == trust) & (rows["Metric_ID"] == metric)
        assert cell.sum() == 1
        rows.loc[cell, "Value"] = float(value)
    path.write_bytes(write_nof_trust_data(rows, with_quarter=False))  # the Q1 layout
    rerun = Settings.for_home(
        root / "rerun", landing_dir=changed, bootstrap_replicates=50, whatif_checked=0
    )
    _pipeline(rerun)
    return {"first": first, "trust": trust, "result": result, "rerun": rerun}


def test_the_whatif_is_the_rerun(homes):
    trust, result, rerun = homes["trust"], homes["result"], homes["rerun"]
    values = _snapshot(rerun, "metric_values")
    own = values[values["trust_code"] == trust].set_index("metric_id")["value"]
    assert {m: Decimal(repr(float(own[m]))) for m in CHANGES} == {
        m: Decimal(v) for m, v in CHANGES.items()
    }

    # every trust's average, segments and rank
    theirs = _snapshot(rerun, "league_table").set_index("trust_code")[LEAGUE_LAYERS].sort_index()
    ours = result.after["league_table"].set_index("trust_code")[LEAGUE_LAYERS].sort_index()
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, check_exact=True)
    # the cut-points, every trust's domain scores and segments, the changed metrics' scores
    cuts = _snapshot(rerun, "segment_cut_points").iloc[0]
    for name in ("q25", "q50", "q75"):
        assert result.layer(name).after == cuts[name]
    key = ["trust_code", "domain_id"]
    domains = _snapshot(rerun, "domain_scores").sort_values(key).reset_index(drop=True)
    ours = result.after["domain_scores"].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        ours[["trust_code", "domain_id", "score", "segment"]],
        domains[["trust_code", "domain_id", "score", "segment"]],
        check_dtype=False,
        check_exact=True,
    )
    key = ["trust_code", "score_id"]
    scores = _snapshot(rerun, "metric_scores")
    scores = scores[scores["score_id"].isin(["OF1017", "OF1028"])].sort_values(key)
    ours = result.after["metric_scores"]
    ours = ours[ours["score_id"].isin(["OF1017", "OF1028"])].sort_values(key)
    assert ours["score"].tolist() == scores["score"].tolist() and len(ours) >= 2 * 10

    # the trust's layers, before (the first run) and after (the rerun)
    first = _snapshot(homes["first"], "league_table").set_index("trust_code").loc[trust]
    second = theirs.loc[trust]
    for key, column in (("average", "average_score"), ("final_segment", "final_segment")):
        assert result.layer(key).before == first[column]
        assert result.layer(key).after == second[column]
    assert (
        result.layer("rank").before == first["rank"]
        and result.layer("rank").after == second["rank"]
    )
    assert result.layer("final_segment").changed and result.layer("rank").changed
    assert result.other_ranks_changed >= 1


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------
def run(capsys, settings, *argv: str) -> tuple[int, str, str]:
    code = main(["whatif", *argv], settings=settings)
    out, err = capsys.readouterr()
    return code, out, err


def test_whatif_prints_every_layer_before_and_after(capsys, homes):
    first, trust, result = homes["first"], homes["trust"], homes["result"]
    sets = [arg for m, v in CHANGES.items() for arg in ("--set", f"{m}={v}")]
    code, out, err = run(capsys, first, trust, "--quarter", Q1.label, *sets)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == LABEL_LINE
    assert max(len(line) for line in lines) <= WIDTH  # the title wrapped on a word boundary
    first = next(i for i, line in enumerate(lines) if line.startswith("  OF0017"))
    title = " ".join(lines[1:first])
    assert title == f"{result.trust_name} ({trust}), 2025/26 Q1 (snapshot v1): what if"
    assert lines[first].startswith(
        "  OF0017 Category 2 mean response (minutes): 41.5 minutes instead of"
    )
    assert lines[first + 1].startswith("  OF0028 Ambulance conveyance to ED (%): 74.4% instead of")
    final = result.layer("final_segment")
    row = next(line for line in lines if line.startswith("final segment (OF5005)"))
    assert row.split()[-3:] == [str(final.before), str(final.after), "*"]
    average = result.layer("average")
    row = next(line for line in lines if line.startswith("average score (OF5002)"))
    assert row.split()[-3:] == [f"{average.before:.4f}", f"{average.after:.4f}", "*"]
    assert lines[-1] == (
        f"(rank among 10 ambulance trusts; {result.other_ranks_changed} other trusts' ranks change)"
    )


def test_whatif_target_segment_lists_every_metric(capsys, homes):
    first, trust, result = homes["first"], homes["trust"], homes["result"]
    before = result.layer("final_segment").before
    target = before + 1  # the best ambulance trust: what would drop it a segment
    code, out, err = run(
        capsys, first, trust, "--quarter", Q1.label, "--target-segment", str(target)
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == LABEL_LINE
    assert max(len(line) for line in lines) <= WIDTH
    header = next(i for i, line in enumerate(lines) if line.startswith("metric "))
    above = " ".join(lines[1:header])  # the trust's line and the table's, wrapped
    assert f"segment {before}, average" in above
    assert f"puts it in segment {target}" in above
    assert lines[header].split()[3] == "passing"  # a worse target: trusts that would pass it
    rows = [line for line in lines[header + 2 :] if line.startswith("OF0")]
    listed = {line.split()[0] for line in rows}
    assert {"OF0017", "OF0028", "OF0061", "OF0079", "OF0082", "OF0084", "OF0086"} <= listed
    assert lines[header + 2 + len(rows)].startswith(("most effective: ", "no single metric"))


def test_whatif_combines_changes_and_a_target(capsys, homes):
    first, trust = homes["first"], homes["trust"]
    code, out, err = run(
        capsys, first, trust, "--quarter", Q1.label, "--set", "OF0017=41.5", "--target-segment", "1"
    )
    assert code == 0, err
    assert "what if" in out and "(with the changes above)" in out
    assert out.count(LABEL_LINE) == 1


def _as_csv(value) -> str:
    """A JSON value as the CSV format writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_whatif_in_each_format(capsys, homes):
    """--format table|csv|json|markdown through the reading commands' renderer: the layers
    and the search's metrics, the same rows in csv and json, the label on stderr for csv."""
    first, trust, result = homes["first"], homes["trust"], homes["result"]
    sets = [arg for m, v in CHANGES.items() for arg in ("--set", f"{m}={v}")]
    argv = [trust, "--quarter", Q1.label, *sets, "--target-segment", "1"]
    outputs, errors = {}, {}
    for fmt in FORMATS:
        code, outputs[fmt], errors[fmt] = run(capsys, first, *argv, "--format", fmt)
        assert code == 0, (fmt, errors[fmt])
    code, out, _ = run(capsys, first, *argv)
    assert code == 0 and out == outputs["table"]  # the table is the default
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert "what if" in out and "(with the changes above)" in out

    data = json.loads(outputs["json"])
    assert data["data"] == "synthetic" and LABEL_LINE.strip("* ") in data["label"]
    assert (data["trust_code"], data["quarter"], data["version"]) == (trust, Q1.label, 1)
    layers = data["whatif"]["layers"]
    assert [(r["kind"], r["key"]) for r in layers[:2]] == [("value", "OF0017"), ("value", "OF0028")]
    assert [r["key"] for r in layers[2:]] == [layer.key for layer in result.layers]
    for row, layer in zip(layers[2:], result.layers, strict=True):
        assert (row["label"], row["changed"]) == (layer.label, layer.changed)
        for ours, theirs in ((row["before"], layer.before), (row["after"], layer.after)):
            assert ours == pytest.approx(theirs, rel=1e-14)
    assert data["whatif"]["other_ranks_changed"] == result.other_ranks_changed
    assert data["whatif"]["peer_group_size"] == 10
    search = data["target_segment"]
    assert search["target"] == 1 and search["from_changes"] is True
    metrics = search["metrics"]
    assert {"OF0017", "OF0028", "OF0061"} <= {m["metric_id"] for m in metrics}
    assert all(m["reachable"] == (m["value_after"] is not None) for m in metrics)

    # csv: one row a layer and a metric, the same values as json; the label on stderr
    assert LABEL_LINE in errors["csv"] and LABEL_LINE not in outputs["csv"]
    assert LABEL_LINE not in outputs["json"]
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    context = {"quarter": Q1.label, "version": 1, "trust_code": trust}
    expected = [{**context, "part": "whatif", **r} for r in layers]
    expected += [{**context, "part": "target_segment", **m} for m in metrics]
    assert len(rows) == len(expected)
    for row, record in zip(rows, expected, strict=True):
        for key, value in record.items():
            assert row[key] == _as_csv(value), key

    # markdown: the same lines, the tables as pipe tables with every name in full
    markdown = outputs["markdown"].splitlines()
    assert f"{result.trust_name} ({trust}), 2025/26 Q1 (snapshot v1): what if" in markdown
    assert any(line.startswith("| metric ") for line in markdown)
    table_rows = [line for line in markdown if line.startswith("| OF0")]
    assert len(table_rows) == len(metrics)
    assert all(f"| {m['label']} " in row for m, row in zip(metrics, table_rows, strict=True))


@pytest.mark.parametrize(
    ("argv", "error", "fix"),
    [
        (
            ["--set", "OF0017=2000"],
            "error: OF0017=2000 is outside the physical range of Category 2 mean response "
            "(minutes) (mins): 0 to 1440",
            "fix: give a value a published file could hold",
        ),
        (
            ["--set", "OF0013=80"],
            "error: OF0013 (A&E 4-hour performance (%)) is not scored for ambulance trusts, "
            "only for acute trusts",
            "fix: choose a metric the trust's peer group is scored on (`league explain` lists "
            "the trust's metrics)",
        ),
        (
            ["--set", "OF0017=fast"],
            "error: OF0017=fast is not a number",
            "fix: give a plain decimal number, e.g. --set OF0017=25.5",
        ),
        (
            ["--set", "OF0017"],
            "error: --set OF0017: expected METRIC=VALUE",
            "fix: write it like --set OF0013=78.5",
        ),
        (
            ["--set", "OF0017=30", "--set", "of0017=31"],
            "error: --set OF0017 is given twice",
            "fix: set each metric once",
        ),
        (
            [],
            "error: nothing to work out",
            "fix: give --set METRIC=VALUE (one or more) and/or --target-segment N (see league "
            "whatif --help)",
        ),
    ],
)
def test_whatif_errors(capsys, homes, argv, error, fix):
    code, out, err = run(capsys, homes["first"], homes["trust"], "--quarter", Q1.label, *argv)
    assert code == 2 and out == ""
    assert err.splitlines() == [error, fix]


def test_whatif_errors_for_the_trust_and_quarter(capsys, homes):
    code, out, err = run(
        capsys, homes["first"], "ZZ999", "--quarter", Q1.label, "--set", "OF0017=30"
    )
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: ZZ999 is not a trust in the 2025/26 Q1 snapshot",
        'fix: give a trust code from `league table --quarter "2025/26 Q1"`',
    ]
    code, out, err = run(
        capsys, homes["first"], homes["trust"], "--quarter", "2025/26 Q2", "--set", "OF0017=30"
    )
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: there is no snapshot of 2025/26 Q2",
        'fix: run `league run --quarter "2025/26 Q2"` first',
    ]


def test_whatif_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["whatif", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--set OF0017=25 --set OF0028=50" in out and "--target-segment" in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "league whatif" in capsys.readouterr().out
