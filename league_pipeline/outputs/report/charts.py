"""The report's charts, as Vega-Lite specifications drawn offline in the page.

Belongs here: one function a chart, each returning its Vega-Lite spec with the data inline,
filled into the chart's template, and :func:`vega_bundle`: the Vega, Vega-Lite and Vega-Embed
builds shipped in ``vendor/`` (from npm, at the versions Altair targets;
``scripts/vendor_vega.py``), inlined in the page so it draws every chart with no network
(docs/outputs.md, "Charts"). The charts are defined with Altair in :mod:`.chart_definitions`,
which serialises each once with placeholders for its data and settings into
``chart_templates.json`` (``scripts/chart_templates.py``): a report fills them without
importing Altair, byte for byte the spec Altair gives (the tests compare them); a chart of a
shape no template has is refused (LookupError) until the templates are written again.
Segment colours are NHS identity colours: 1 (best) green to 4 (worst) red, 5 (RSP) purple, always
with the segment's number beside them. Scores use a colour-blind-safe blue (better) to orange
(worse) diverging scale. Every chart has a description (the SVG's accessible name) and its
numbers in a table (docs/outputs.md, "Charts").
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Chart:
    """One chart of the report: its kind (a chart of :mod:`.chart_definitions`), its data,
    its settings, and the settings Altair checks as it builds a chart (``shape``: numbers it
    will not take as a placeholder, so each value has a template of its own)."""

    kind: str
    frames: dict[str, pd.DataFrame]
    settings: dict[str, Any]
    shape: tuple[tuple[str, Any], ...] = ()

    def spec(self) -> dict[str, Any]:
        """The Vega-Lite spec with the data inline (Altair's consolidated ``datasets``, each
        named by a hash of its values): the chart's template with its placeholders filled in,
        byte for byte Altair's own spec (``chart_definitions.inline_spec``)."""
        names: dict[str, str] = {}
        datasets: dict[str, Any] = {}
        for key, frame in self.frames.items():
            values = _values(frame)
            name = _dataset_name(values)
            names[slot(key)] = name
            datasets.setdefault(name, values)
        settings = {slot(key): value for key, value in self.settings.items()}
        spec = _fill(_template(self.kind, self.shape), {**names, **settings})
        spec["datasets"] = datasets
        return spec


def rank_intervals(table: pd.DataFrame, title: str) -> Chart:
    """Each trust's league rank (dot) and its likely range (bar), coloured by segment."""
    rows = _trust_rows(table)[
        ["order", "label", "segment", "rank", "rank_lower", "rank_upper", "trust_code"]
    ]
    return Chart(
        "rank_intervals",
        {"data": rows},
        {
            "last_rank": max(int(rows["rank_upper"].max()), len(rows)),
            "title": title,
            "description": f"{title}: a dot for each of {len(rows)} trusts' league rank and a "
            "bar for its likely range, coloured by segment. The league table above gives every "
            "number.",
        },
    )


def domain_heatmap(table: pd.DataFrame, domain_scores: pd.DataFrame, title: str) -> Chart:
    """Domain scores per trust (rows in league order), 1 blue to 4 orange, values printed (dark
    on light cells, white on dark ones)."""
    rows = _trust_rows(table)[["trust_code", "order", "label"]]
    data = domain_scores[["trust_code", "domain_id", "domain", "score"]].merge(
        rows, on="trust_code"
    )
    data = data.assign(value=data["score"].round(2))
    return Chart(
        "domain_heatmap",
        {"data": data},
        {
            "order": list(data.sort_values("domain_id")["domain"].drop_duplicates()),
            "title": title,
            "description": f"{title}: a grid of each trust's domain scores, blue (1, best) to "
            "orange (4, worst), with the score printed in each cell. The table below the chart "
            "gives every number.",
        },
    )


def score_distribution(
    trust_segments: pd.DataFrame, cut_points: dict[str, float], title: str
) -> Chart:
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
    return Chart(
        "score_distribution",
        {"scores": scores, "cuts": cuts},
        {
            "title": title,
            "description": f"{title}: a histogram of every trust's average score by peer "
            "group, with a dashed line at each segment cut-point. The table below the chart "
            "gives the counts in bands of 0.25.",
        },
        shape=(("offset", 16 * len(cut_points) + 8),),  # the labels' room above the plot
    )


def contributions_spec(
    items: list[dict[str, Any]], title: str, description: str = ""
) -> dict[str, Any]:
    """The Vega-Lite spec of one trust's 'what raises or lowers its average' bar chart, from
    its items (``label``, ``score``, ``effect``); ``description`` is its accessible name."""
    spec = _fill(_template("contributions", ()), {})  # a copy
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


# -- templates -----------------------------------------------------------------------------------
# Building an Altair chart and serialising it takes about 0.1 s (and importing Altair 0.3-0.5 s);
# a report has seven charts and a small one a trust. Each spec is its chart's template, made by
# chart_definitions and shipped, with the placeholders filled in.

TEMPLATES_FILE = Path(__file__).resolve().parent / "chart_templates.json"
MAX_ROWS = 5000  # Altair's default data transformer refuses more rows


def slot(name: str) -> str:
    """The placeholder for the data or setting ``name`` in a template."""
    return f"\x00slot:{name}\x00"  # no text of a chart looks like this


def template_key(kind: str, shape: tuple[tuple[str, Any], ...]) -> str:
    """The name of the template of chart ``kind`` with the settings ``shape``."""
    return kind + "".join(f";{key}={value!r}" for key, value in shape)


@functools.cache
def _templates() -> dict[str, Any]:
    return json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))["templates"]


def _template(kind: str, shape: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    key = template_key(kind, shape)
    try:
        return _templates()[key]
    except KeyError:
        raise LookupError(
            f"no chart template {key!r} in {TEMPLATES_FILE.name}: add it to "
            "chart_definitions.SHIPPED and run scripts/chart_templates.py"
        ) from None


def _values(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as Altair's default data transformer gives them: JSON values (Python ones),
    missing text and missing or infinite numbers as None. Takes text, whole and real numbers
    and booleans (what the report's charts hold); raises TypeError for other columns."""
    if len(frame) > MAX_ROWS:
        raise ValueError(f"{len(frame):,} rows: Altair takes at most {MAX_ROWS:,} inline")
    columns = []
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        text = isinstance(dtype, pd.StringDtype)
        if text or pd.api.types.is_object_dtype(dtype):
            values = [None if _null(v) else v for v in series.tolist()]
            if not text and any(not isinstance(v, _JSON_SCALARS) for v in values):
                raise TypeError(f"column {name!r} holds values that are not text or numbers")
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind not in "biuf":
            raise TypeError(f"column {name!r} of type {dtype}: not a chart's column type")
        elif dtype.kind == "f":
            values = [None if math.isnan(v) or math.isinf(v) else v for v in series.tolist()]
        else:
            values = series.tolist()
        columns.append(values)
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


_JSON_SCALARS = (type(None), str, bool, int, float)


def _null(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


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
