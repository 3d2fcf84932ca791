"""The report's charts, as Altair (Vega-Lite) specifications drawn offline in the page.

Belongs here: one function a chart, each returning its Vega-Lite spec with the data inline
(the chart is defined with Altair; its spec is a template made once per process and filled
with the data, byte for byte what Altair gives), and :func:`vega_bundle`: the Vega, Vega-Lite
and Vega-Embed builds shipped in ``vendor/`` (from npm, at the versions Altair targets;
``scripts/vendor_vega.py``), inlined in the page so it draws every chart with no network
(docs/outputs.md, "Charts").
Segment colours are NHS identity colours: 1 (best) green to 4 (worst) red, 5 (RSP) purple, always
with the segment's number beside them. Scores use a colour-blind-safe blue (better) to orange
(worse) diverging scale. Every chart has a description (the SVG's accessible name) and its
numbers in a table (docs/outputs.md, "Charts").
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from league_pipeline.core.peer_groups import PEER_GROUPS

SEGMENT_COLOURS = {
    "1": "#007f3b",  # NHS green
    "2": "#78be20",  # NHS light green
    "3": "#ffb81c",  # NHS warm yellow
    "4": "#d5281b",  # NHS red
    "5": "#330072",  # NHS purple: Recovery Support Programme
}
# blue (better) to orange (worse), from ColorBrewer's colour-blind-safe PuOr/RdBu families
RAISES, LOWERS = "#b35806", "#2166ac"
SCORE_SCALE = {"domain": [1, 2.5, 4], "range": [LOWERS, "#f7f7f7", RAISES]}
ROW_STEP = 18  # pixels a trust in the tall charts (room for 11 px numbers)


def _segment_colour(field: str = "segment", title: str = "Segment") -> alt.Color:
    return alt.Color(
        f"{field}:N",
        title=title,
        scale=alt.Scale(domain=list(SEGMENT_COLOURS), range=list(SEGMENT_COLOURS.values())),
    )


def _trust_rows(table: pd.DataFrame) -> pd.DataFrame:
    """League rows in rank order with a unique, readable label (``12. Name (CODE)``)."""
    rows = table.sort_values(["rank", "trust_code"]).reset_index(drop=True)
    return rows.assign(
        order=range(len(rows)),
        label=[
            f"{r.rank}. {r.trust_name} ({r.trust_code})"
            for r in rows[["rank", "trust_name", "trust_code"]].itertuples()
        ],
        segment=rows["adjusted_segment"].astype(int).astype(str),
    )


def _y_trusts() -> alt.Y:
    return alt.Y(
        "label:N",
        sort=alt.EncodingSortField("order", order="ascending"),
        title=None,
        axis=alt.Axis(labelLimit=0, labelFontSize=11),  # full labels, never cut
    )


def _rank_intervals(data, *, last_rank, title, description) -> alt.LayerChart:
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


def rank_intervals(table: pd.DataFrame, title: str, *, template: bool = True) -> dict[str, Any]:
    """Each trust's league rank (dot) and its likely range (bar), coloured by segment."""
    rows = _trust_rows(table)[
        ["order", "label", "segment", "rank", "rank_lower", "rank_upper", "trust_code"]
    ]
    return _spec(
        _rank_intervals,
        {"data": rows},
        {
            "last_rank": max(int(rows["rank_upper"].max()), len(rows)),
            "title": title,
            "description": f"{title}: a dot for each of {len(rows)} trusts' league rank and a "
            "bar for its likely range, coloured by segment. The league table above gives every "
            "number.",
        },
        template=template,
    )


def _domain_heatmap(data, *, order, title, description) -> alt.LayerChart:
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


def domain_heatmap(
    table: pd.DataFrame, domain_scores: pd.DataFrame, title: str, *, template: bool = True
) -> dict[str, Any]:
    """Domain scores per trust (rows in league order), 1 blue to 4 orange, values printed (dark
    on light cells, white on dark ones)."""
    rows = _trust_rows(table)[["trust_code", "order", "label"]]
    data = domain_scores[["trust_code", "domain_id", "domain", "score"]].merge(
        rows, on="trust_code"
    )
    data = data.assign(value=data["score"].round(2))
    return _spec(
        _domain_heatmap,
        {"data": data},
        {
            "order": list(data.sort_values("domain_id")["domain"].drop_duplicates()),
            "title": title,
            "description": f"{title}: a grid of each trust's domain scores, blue (1, best) to "
            "orange (4, worst), with the score printed in each cell. The table below the chart "
            "gives every number.",
        },
        template=template,
    )


def _score_distribution(scores, cuts, *, title, description, offset) -> alt.LayerChart:
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


def score_distribution(
    trust_segments: pd.DataFrame,
    cut_points: dict[str, float],
    title: str,
    *,
    template: bool = True,
) -> dict[str, Any]:
    """Histogram of every trust's average score (stacked by peer group) with the cut-points."""
    labels = {g.id: g.label for g in PEER_GROUPS}
    scores = trust_segments[["peer_group", "average_score"]].assign(
        group=trust_segments["peer_group"].map(labels)
    )
    # one label row a cut-point above the bars (negative pixels: above the plot), each a line
    # above the last, so labels of close cut-points never overlap each other or a bar
    cuts = pd.DataFrame(
        {
            "cut": list(cut_points.values()),
            "line": [-10 - 16 * (len(cut_points) - 1 - i) for i in range(len(cut_points))],
            "text": [
                f"{name.upper()} {value:.2f}: segment {i + 1} | {i + 2}"
                for i, (name, value) in enumerate(cut_points.items())
            ],
        }
    )
    return _spec(
        _score_distribution,
        {"scores": scores, "cuts": cuts},
        {
            "title": title,
            "description": f"{title}: a histogram of every trust's average score by peer "
            "group, with a dashed line at each segment cut-point. The table below the chart "
            "gives the counts in bands of 0.25.",
        },
        shape={"offset": 16 * len(cut_points) + 8},  # a number Altair checks when it is set
        template=template,
    )


@functools.cache
def _contributions_template() -> dict[str, Any]:
    chart = (
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
    return chart.to_dict()


def contributions_spec(
    items: list[dict[str, Any]], title: str, description: str = ""
) -> dict[str, Any]:
    """The Vega-Lite spec of one trust's 'what raises or lowers its average' bar chart, from
    its items (``label``, ``score``, ``effect``); ``description`` is its accessible name."""
    spec = _fill(_contributions_template(), {})  # a copy
    rows = [
        {
            "label": i["label"],
            "score": i["score"],
            "effect": i["effect"],
            "direction": "raises" if i["effect"] > 0 else "lowers",
        }
        for i in items
    ]
    spec["datasets"] = {"contributions": rows}
    spec["title"] = title
    spec["description"] = description or title
    return spec


# -- specs from templates ------------------------------------------------------------------------
# Building an Altair chart and serialising it takes about 0.1 s; a report has seven. Each chart
# kind is therefore serialised once per process with placeholders for its data and its
# variable settings, and each spec is that template with them filled in, byte for byte what
# Altair gives with the data inline (``template=False``: Altair itself, as the tests compare).


def _slot(name: str) -> str:
    return f"\x00slot:{name}\x00"  # no text of a chart looks like this


def _spec(
    build: Callable[..., alt.TopLevelMixin],
    frames: dict[str, pd.DataFrame],
    settings: dict[str, Any],
    *,
    shape: dict[str, Any] | None = None,
    template: bool = True,
) -> dict[str, Any]:
    """The Vega-Lite spec of ``build(*frames, **settings, **shape)`` with the data inline
    (Altair's consolidated ``datasets``, named by a hash of their values), Altair's schema
    check left out (the tests run it). ``shape`` holds the settings Altair checks as it builds
    a chart (numbers it will not take as a placeholder): a template is kept for each value."""
    shape = shape or {}
    if not template:
        return build(*frames.values(), **settings, **shape).to_dict(validate=False)
    spec = _template(build, tuple(frames), tuple(settings), tuple(shape.items()))
    transform = alt.data_transformers.get()  # Altair's own: row limit, then values
    names: dict[str, str] = {}
    datasets: dict[str, Any] = {}
    for key, frame in frames.items():
        values = transform(frame)["values"]
        name = _dataset_name(values)
        names[_slot(key)] = name
        datasets.setdefault(name, values)
    filled = _fill(spec, {**names, **{_slot(k): v for k, v in settings.items()}})
    filled["datasets"] = datasets
    return filled


@functools.cache
def _template(
    build: Callable[..., alt.TopLevelMixin],
    frames: tuple[str, ...],
    settings: tuple[str, ...],
    shape: tuple[tuple[str, Any], ...],
) -> dict[str, Any]:
    chart = build(
        *(alt.NamedData(_slot(key)) for key in frames),
        **{key: _slot(key) for key in settings},
        **dict(shape),
    )
    return chart.to_dict(validate=False)


def _dataset_name(values: list[dict[str, Any]]) -> str:
    """Altair's name for inline data: a hash of its values (``altair.vegalite.v6.api``)."""
    if values == [{}]:
        return "empty"
    text = json.dumps(values, sort_keys=True, default=str)
    return "data-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _fill(node: Any, values: dict[str, Any]) -> Any:
    """A copy of the template ``node`` with each placeholder replaced by its value."""
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str):
        return values.get(node, node)
    return node


# the browser builds the page loads, in order (vendor/README.md: versions, sources, sha256)
VENDOR = Path(__file__).resolve().parent / "vendor"
VEGA_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script, safe to inline in a ``<script>`` element:
    the shipped files in load order, without their source-map comments (a map the page cannot
    find offline) and with ``</script`` escaped."""
    parts = [
        _SOURCE_MAP.sub("", (VENDOR / name).read_text(encoding="utf-8")).rstrip()
        for name in VEGA_FILES
    ]
    return "\n".join(parts).replace("</script", "<\\/script")
