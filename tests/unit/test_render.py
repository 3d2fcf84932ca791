"""The shared renderer of the reading commands (league_pipeline/cli/render.py) and the rows
``league movement`` shows by default (league_pipeline/outputs/movement.py ``notable``)."""

from __future__ import annotations

import csv
import decimal
import io
import json

import numpy as np
import pandas as pd

from league_pipeline.cli.render import (
    WIDTH,
    Report,
    Table,
    abbreviate,
    csv_text,
    exact,
    fitted_table,
    markdown_table,
    render,
)
from league_pipeline.outputs.movement import notable

LONG = "Kestrelmere University Hospitals NHS Foundation Trust"


def test_exact_numbers_without_float_noise():
    assert exact(0.1 + 0.2) == 0.3 and json.dumps(exact(0.1 + 0.2)) == "0.3"
    assert exact(np.float64(2.0)) == 2 and isinstance(exact(np.float64(2.0)), int)
    assert exact(np.int64(7)) == 7 and exact(np.bool_(True)) is True
    assert exact(decimal.Decimal("1.2345")) == 1.2345
    assert exact(float("nan")) is None and exact(pd.NA) is None and exact(None) is None


def test_table_fits_the_width_abbreviating_on_word_boundaries():
    rows = [
        [i, f"R{i:02d}", f"{LONG} {i}", "significant score change", "1.23 -> 1.45*"]
        for i in range(3)
    ]
    table = Table(["rank", "code", "trust", "why", "average"], rows, fit=("trust", "why"))
    wide = fitted_table(table, width=200)
    assert LONG in wide  # nothing to abbreviate when it fits
    for width in (WIDTH, 60):
        lines = fitted_table(table, width=width).splitlines()
        assert max(len(line) for line in lines) <= width
        assert len(lines) == 2 + len(rows)  # one line a row
        for line, row in zip(lines[2:], rows, strict=True):
            name = line[line.index(row[1]) + len(row[1]) :].strip().split("…")[0]
            assert name and row[2].startswith(name) and (row[2] + " ")[len(name)] == " "
    # a cell is never shorter than its first word, even when the table cannot fit
    text = fitted_table(table, width=10)
    assert "Kestrelmere…" in text and "significant…" in text


def test_abbreviate_keeps_whole_words():
    assert abbreviate(LONG, 100) == LONG
    assert abbreviate(LONG, 30) == "Kestrelmere University…"
    assert abbreviate(LONG, 0) == "Kestrelmere…"
    assert abbreviate("mental_health_community", 5) == "mental_health_community"


def test_long_lines_wrap_in_the_table_format_only():
    line = " ".join(["word"] * 40) + "; a clause; " + "x" * 120
    report = Report(blocks=[line, Table(["a"], [[LONG]], fit=("a",))])
    table = render(report, "table")
    assert max(len(x) for x in table.splitlines() if "xxx" not in x) <= WIDTH
    assert "x" * 120 in table.splitlines()  # a word longer than the line stays whole
    assert line in render(report, "markdown")


def test_markdown_escapes_pipes_and_keeps_names_whole():
    text = markdown_table(Table(["name", "n"], [["A | B", 1], [LONG, 2]]))
    assert "A \\| B" in text and LONG in text
    assert text.splitlines()[1].startswith("|-")


def test_csv_neutralises_formulas_and_matches_the_json():
    frame = pd.DataFrame(
        {"name": ["=HYPERLINK(1)", "ok"], "value": [0.1 + 0.2, np.nan], "flag": [True, False]}
    )
    text = render(Report(data=frame), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0] == {"name": "'=HYPERLINK(1)", "value": "0.3", "flag": "true"}
    assert rows[1] == {"name": "ok", "value": "", "flag": "false"}
    data = json.loads(render(Report(data=frame), "json"))
    assert data == [
        {"name": "=HYPERLINK(1)", "value": 0.3, "flag": True},
        {"name": "ok", "value": None, "flag": False},
    ]
    assert csv_text([{"a": -1.5}]) == "a\n-1.5\n"  # a negative number is not a formula


def test_table_text_is_terminal_safe():
    text = render(Report(blocks=["\x1b[2J title", Table(["n"], [["\x1b]0;x\x07"]])]), "table")
    assert "\x1b" not in text and "\\x1b" in text


def _moves(**columns) -> pd.DataFrame:
    base = {
        "trust_code": ["A", "B", "C", "D", "E"],
        "status": ["both", "both", "both", "both", "new"],
        "segment_change_reason": ["", "not significant", "", "", ""],
        "segment_change": [0, 1, 0, 0, pd.NA],
        "average_change_significant": [False, False, False, True, False],
        "rank_change_significant": [True, False, False, False, False],
    }
    return pd.DataFrame({**base, **columns})


def test_movement_shows_significant_rank_moves_within_a_segment():
    shown = notable(_moves())
    # A: a significant rank move in the same segment; B: a segment change; D: a significant
    # average move; E: new. C (nothing significant) is left to --all
    assert list(shown["trust_code"]) == ["A", "B", "D", "E"]


def test_csv_and_json_on_a_terminal_are_safe_and_json_stays_exact():
    name = "\x1b[2J Trust \u202e\x7f \U000e0001"
    frame = pd.DataFrame({"trust_name": [name], "n": [1]})
    text = render(Report(data=frame), "json")
    assert all(c not in text for c in ("\x1b", "\u202e", "\x7f", "\U000e0001"))
    assert json.loads(text) == [{"trust_name": name, "n": 1}]  # escapes, not a changed name
    rows = list(csv.DictReader(io.StringIO(render(Report(data=frame), "csv"))))
    assert rows == [{"trust_name": "\\x1b[2J Trust \\u202e\\x7f \\U000e0001", "n": "1"}]


def test_plain_table_columns():
    text = render(Report(blocks=[Table(["a", "long header"], [["xyz", 1], ["", None]])]), "table")
    assert text.splitlines() == ["a    long header", "---  -----------", "xyz  1", ""]
