"""The report's charts defined with Altair, and the templates made from them.

Belongs here: one Altair chart a kind (its data as arguments, a ``DataFrame`` or a named
placeholder, and its settings), :func:`template` (the chart serialised with placeholders for
its data and settings), :func:`inline_spec` (Altair's spec of a :class:`.charts.Chart` with
its data inline, what its filled template must equal) and :func:`write_templates`, which
writes the templates the report fills (``chart_templates.json``;
``scripts/chart_templates.py``). The report does not import this module (nor Altair):
:mod:`.charts` fills the shipped templates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from league_pipeline.outputs.report.charts import (
    LOWERS,
    RAISES,
    ROW_STEP,
    SCORE_SCALE,
    SEGMENT_COLOURS,
    TEMPLATES_FILE,
    Chart,
    slot,
    template_key,
)


def _segment_colour(field: str = "segment", title: str = "Segment") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(SEGMENT_COLOURS), range=list(SEGMENT_COLOURS.values())),
    )


def _y_trusts() -> alt.Y:
    return alt.Y(
        "label:N",
        sort=alt.EncodingSortField("order", order="ascending"),
        title=None,
        axis=alt.Axis(labelLimit=0, labelFontSize=11),  # full labels, never cut
    )


def rank_intervals(data, *, last_rank, title, description) -> alt.LayerChart:
    """Each trust's league rank (dot) and its likely range (bar), coloured by segment."""
    base = alt.Chart(data).encode(y=_y_trusts(), color=_segment_colour())
    scale = alt.Scale(domain=[1, last_rank], nice=False)
    bars = base.mark_rule(strokeWidth=4, opacity=0.45).encode(
        x=alt.X("rank_lower:Q", scale=scale, title="League rank (1 = best) and its likely range"),
        x2="rank_upper:Q",
    )
    dots = base.mark_point(filled=True, size=36, opacity=1).encode(x="rank:Q")
    return (bars + dots).properties(
        width=380, height=alt.Step(ROW_STEP), title=title, description=description
    )


def domain_heatmap(data, *, order, title, description) -> alt.LayerChart:
    """Domain scores per trust (rows in league order), 1 blue to 4 orange, values printed (dark
    on light cells, white on dark ones)."""
    base = alt.Chart(data).encode(
        x=alt.X(
            "domain:N",
            sort=order,
            title=None,
            axis=alt.Axis(orient="top", labelAngle=-30, labelLimit=0),  # full labels
        ),
        y=_y_trusts(),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=0.5).encode(
        color=alt.Color(
            "score:Q",
            title="Domain score",
            scale=alt.Scale(**SCORE_SCALE),
            legend=alt.Legend(title="Domain score (1 best, 4 worst)", orient="top"),
        )
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("value:Q", format=".2f"),
        color=alt.condition(
            (alt.datum.score < 1.6) | (alt.datum.score > 3.4),
            alt.value("#ffffff"),
            alt.value("#212b32"),
        ),
    )
    return (cells + text).properties(
        width=alt.Step(80),
        height=alt.Step(ROW_STEP),
        title=title,
        description=description,
    )


def score_distribution(scores, cuts, *, title, description, offset) -> alt.LayerChart:
    """Histogram of every trust's average score (stacked by peer group) with the cut-points,
    their labels ``offset`` pixels above the plot."""
    bars = (
        alt.Chart(scores)
        .mark_bar(opacity=0.85)
        .encode(
            x=alt.X(
                "average_score:Q",
                bin=alt.Bin(step=0.05),
                title="Average metric score (1 = best, 4 = worst)",
            ),
            y=alt.Y("count():Q", title="Trusts", stack=True),
            color=alt.Color("group:N", title="Peer group"),
        )
    )
    rules = (
        alt.Chart(cuts)
        .mark_rule(color="#212b32", strokeDash=[4, 3])
        .encode(x="cut:Q", y=alt.Y("line:Q", scale=None, axis=None), y2=alt.value(260))
    )
    notes = (
        alt.Chart(cuts)
        .mark_text(align="left", dx=4, fontSize=11, baseline="middle", color="#212b32")
        .encode(x="cut:Q", y=alt.Y("line:Q", scale=None, axis=None), text="text:N")
    )
    return (bars + rules + notes).properties(
        width=760,
        height=260,
        title=alt.TitleParams(title, offset=offset),
        description=description,
    )


def contributions() -> alt.Chart:
    """One trust's 'what raises or lowers its average' bars, its data named ``contributions``
    (each row's ``label``, ``score``, ``effect`` and ``direction``)."""
    return (
        alt.Chart(alt.NamedData("contributions"))
        .mark_bar()
        .encode(
            y=alt.Y(
                "label:N",
                sort=alt.EncodingSortField("effect", order="descending"),
                title=None,
                axis=alt.Axis(labelLimit=0),
            ),
            x=alt.X("effect:Q", title="Effect on the average score (+ raises = worse)"),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["raises", "lowers"], range=[RAISES, LOWERS]),
                title=None,
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Metric"),
                alt.Tooltip("score:Q", format=".2f", title="Score"),
                alt.Tooltip("effect:Q", format="+.3f", title="Effect"),
            ],
        )
        .properties(width=420, height=alt.Step(18))
    )


# kind -> (the chart, the names of its data, the names of its settings)
CHARTS: dict[str, tuple[Callable[..., alt.TopLevelMixin], tuple[str, ...], tuple[str, ...]]] = {
    "rank_intervals": (rank_intervals, ("data",), ("last_rank", "title", "description")),
    "domain_heatmap": (domain_heatmap, ("data",), ("order", "title", "description")),
    "score_distribution": (score_distribution, ("scores", "cuts"), ("title", "description")),
    "contributions": (contributions, (), ()),
}
# the templates shipped: each kind, with its shape (the report's three cut-points)
SHIPPED = [
    ("rank_intervals", {}),
    ("domain_heatmap", {}),
    ("score_distribution", {"offset": 16 * 3 + 8}),
    ("contributions", {}),
]


def template(kind: str, shape: dict[str, Any]) -> dict[str, Any]:
    """The chart ``kind`` serialised with a placeholder (:func:`.charts.slot`) for each of its
    data and settings, and the settings ``shape`` as they are."""
    build, frames, settings = CHARTS[kind]
    chart = build(
        *(alt.NamedData(slot(name)) for name in frames),
        **{name: slot(name) for name in settings},
        **shape,
    )
    return chart.to_dict(validate=False)  # the tests check the filled specs


def inline_spec(chart: Chart) -> dict[str, Any]:
    """Altair's spec of ``chart`` with its data inline (schema check left out): what
    :meth:`.charts.Chart.spec` gives from the template."""
    build, _frames, _settings = CHARTS[chart.kind]
    return build(*chart.frames.values(), **chart.settings, **dict(chart.shape)).to_dict(
        validate=False
    )


def values(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as Altair's default data transformer gives them (row limit, then values)."""
    return alt.data_transformers.get()(frame)["values"]


def templates() -> dict[str, Any]:
    """The content of ``chart_templates.json``: Altair's version and every shipped template."""
    return {
        "altair": alt.__version__,
        "templates": {
            template_key(kind, tuple(shape.items())): template(kind, shape)
            for kind, shape in SHIPPED
        },
    }


def write_templates(path: Path = TEMPLATES_FILE) -> Path:
    """Write :func:`templates` to ``path`` (JSON, keys in Altair's order)."""
    text = json.dumps(templates(), indent=1, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path
