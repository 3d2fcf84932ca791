"""The static HTML report of one quarter: one file that opens anywhere, with no network.

Belongs here: gathering a snapshot's league tables, charts, explanations, movement, revisions
and audit into the template context, and rendering ``templates/report.html.j2`` with Jinja2
(charts: :mod:`.charts`; the audit: :mod:`.comparison`). Names are data: the template
autoescapes, and the chart specs' JSON has ``<``, ``>`` and ``&`` escaped
(:func:`_script_json`). A snapshot of the sample data says so in the title, a banner, every
trust page and the footer. The Vega libraries in ``vendor/`` are inlined, and every number in
a chart is also in a table. What the page holds: docs/outputs.md ("The HTML report").
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from league_pipeline.core.atomic import write_bytes
from league_pipeline.core.peer_groups import BY_ID, PEER_GROUPS
from league_pipeline.core.quarters import Quarter
from league_pipeline.core.settings import WHATIF_CHECKED
from league_pipeline.outputs.explain import Explainer, TrustExplanation
from league_pipeline.outputs.movement import movement, movement_summary
from league_pipeline.outputs.report import charts
from league_pipeline.outputs.report.comparison import comparison_context
from league_pipeline.outputs.report.metric_values import metric_rows
from league_pipeline.outputs.results import QuarterResults, load_previous, load_quarter
from league_pipeline.outputs.revisions import Revision, latest_revision
from league_pipeline.outputs.whatif import report_sentences
from league_pipeline.sample import data_origin
from league_pipeline.snapshots.common import PUBLISHED_ROWS
from league_pipeline.snapshots.store import SnapshotStore

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_FILE = "report.html"


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept in a folder; one that cannot be written is logged, not raised
    (the report is made all the same)."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.warning("cannot keep the compiled report template in %s (%s)", self.directory, exc)


def _bytecode_cache(cache_dir: Path | None) -> jinja2.BytecodeCache | None:
    """Jinja's compiled templates kept in ``<cache_dir>/jinja`` (compiling the report's
    template takes longer than rendering it), or None without a usable cache folder."""
    if cache_dir is None:
        return None
    folder = Path(cache_dir) / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only or missing cache: the template is compiled every time
        return None
    return _BytecodeCache(str(folder))


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja's environment, reading ``a.b`` of a plain dict as ``a["b"]`` straight away: the
    same value (Jinja looks for a dict's attribute first, and a dict has no attribute of that
    name), without the AttributeError raised and caught for each of the report's ~90,000
    lookups. A name that is an attribute of dict (``items``, ``get``...) is looked up as Jinja
    does."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@functools.cache
def _environment(cache_dir: Path | None = None) -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        bytecode_cache=_bytecode_cache(cache_dir),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["f2"] = lambda v: "" if _missing(v) else f"{float(v):.2f}"
    env.filters["f3"] = lambda v: "" if _missing(v) else f"{float(v):+.3f}"
    env.filters["num"] = lambda v: "" if _missing(v) else str(int(v))
    return env


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


# characters escaped in embedded JSON: none of them can then open or close a tag, a comment or
# an entity, whatever a trust name holds (``<!--<script>`` put the script element's end out of
# reach), and the JSON means the same. U+2028/2029 end a line in older JavaScript parsers.
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element: ``<``, ``>``
    and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (they occur only inside
    strings, where the escapes mean the same characters)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_ESCAPES)


def _movement_text(row: pd.Series | None) -> dict[str, Any] | None:
    if row is None or row["status"] != "both":
        return None
    change = int(row["rank_change"])
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "=")
    return {
        "arrow": arrow,
        "rank_change": change,
        "why": row["why"],
        "rank_before": int(row["rank_before"]),
        "segment_before": int(row["segment_before"]),
        "segment_after": int(row["segment_after"]),
        "segment_change_reason": row["segment_change_reason"],
        "average_before": float(row["average_score_before"]),
        "average_change": float(row["average_change"]),
        "average_significant": bool(row["average_change_significant"]),
        "rank_significant": bool(row["rank_change_significant"]),
    }


def _published(value: Any) -> int | None:
    """A published segment or rank (None when the publication has none for the trust)."""
    return None if _missing(value) else int(value)


def _league_rows(table: pd.DataFrame, moves: dict[str, dict[str, Any] | None]) -> list[dict]:
    rows = []
    for r in table.sort_values(["rank", "trust_code"]).itertuples():
        published_rank = _published(getattr(r, "published_rank", None))
        published_segment = _published(getattr(r, "published_segment", None))
        rows.append(
            {
                "rank": int(r.rank),
                "rank_range": f"{int(r.rank_lower)} to {int(r.rank_upper)}",
                "code": r.trust_code,
                "name": r.trust_name,
                "subtype": r.trust_subtype,
                "region": r.region,
                "average": float(r.average_score),
                "score_range": f"{r.score_lower:.2f} to {r.score_upper:.2f}",
                "unadjusted": int(r.unadjusted_segment),
                "segment": int(r.adjusted_segment),
                "final": int(r.final_segment),
                "deficit": bool(r.deficit_flag),
                "rsp": bool(r.in_rsp),
                "move": moves.get(r.trust_code),
                "group": r.peer_group,
                # NHS England's published rank and segment, where they differ from ours
                "published_rank": published_rank if published_rank not in (None, r.rank) else None,
                "published_segment": (
                    published_segment
                    if published_segment not in (None, int(r.adjusted_segment))
                    else None
                ),
            }
        )
    return rows


def _trust_page(
    e: TrustExplanation,
    move: dict[str, Any] | None,
    revised: dict[str, Any] | None,
    subtype: str,
    region: str,
    check: dict[str, Any] | None,
    takes: list[str],
    metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "code": e.trust_code,
        "name": e.trust_name,
        "group": e.group_label,
        "subtype": subtype,
        "region": region,
        "e": e,
        "sentences": e.sentences(),
        "metric_rows": e.items,
        "metrics": metrics,  # every metric's value, unit, period, peers and description
        "domains": e.domain_rows,
        "spec": _script_json(
            charts.contributions_spec(
                e.items,
                f"{e.trust_code}: what raises or lowers its average",
                f"Bar chart of how much each of {e.trust_name}'s {len(e.items)} metric scores "
                "raises or lowers its average score; the table below gives every number.",
            )
        ),
        "move": move,
        "revised": revised,
        "check": check,  # its audit: differences from the published figures, and its basis
        "takes": takes,  # what would it take to reach the next segment (outputs.whatif)
    }


def _revision_context(rev: Revision | None) -> dict[str, Any] | None:
    if rev is None:
        return None
    rows = rev.trusts.to_dict(orient="records")
    return {
        "old": rev.old.version,
        "new": rev.new.version,
        "old_created": rev.old.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "sources": rev.sources_changed,
        "summary": rev.summary(),
        "rows": rows,
        "by_trust": {row["trust_code"]: row for row in rows},
    }


def build_report(
    results: QuarterResults,
    *,
    previous: QuarterResults | None = None,
    revised: Revision | None = None,
    versions: list[int] | None = None,
    progress: Callable[[str], None] | None = None,
    explainer: Explainer | None = None,
    moves_frame: pd.DataFrame | None = None,
    cache_dir: Path | None = None,
    published_rows: pd.DataFrame | None = None,
    whatif_checked: int = WHATIF_CHECKED,
) -> str:
    """The report's HTML text for one snapshot (with the previous quarter, if given, for
    movement, and the revision that produced this version, if any). ``explainer`` and
    ``moves_frame`` (the movement against ``previous``) are made here unless the caller
    already has them; ``cache_dir`` keeps the compiled template; ``published_rows`` (the
    snapshot's table of that name) gives the metrics' published wording and periods."""
    say = progress or (lambda _m: None)
    quarter = results.quarter
    table = results.league_table
    explainer = explainer or Explainer(results)
    if moves_frame is None and previous is not None:
        moves_frame = movement(results, previous)
    moves: dict[str, dict[str, Any] | None] = {}
    if moves_frame is not None:
        for _, row in moves_frame.iterrows():
            moves[row["trust_code"]] = _movement_text(row)
    revision_context = _revision_context(revised)
    synthetic_label = data_origin.label(results.info.lineage)
    comparison = comparison_context(results, synthetic=synthetic_label is not None)
    say(f"{quarter.label}: charts")
    groups = []
    for group in results.peer_groups():
        part = table[table["peer_group"] == group.id]
        domains = results.domain_scores[results.domain_scores["peer_group"] == group.id]
        groups.append(
            {
                "id": group.id,
                "label": group.label,
                "count": len(part),
                "rows": _league_rows(part, moves),
                "rank_spec": _script_json(
                    charts.rank_intervals(
                        part, f"{group.label}: league rank and likely range"
                    ).spec()
                ),
                "heat_spec": _script_json(
                    charts.domain_heatmap(part, domains, f"{group.label}: domain scores").spec()
                ),
                "domains": _domain_table(part, domains),
            }
        )
    distribution_spec = _script_json(
        charts.score_distribution(
            results.trust_segments,
            results.cut_points,
            f"Average scores of all trusts, {quarter.label}, with the segment cut-points",
        ).spec()
    )
    say(f"{quarter.label}: what would it take, per trust")
    takes = report_sentences(results, checked=whatif_checked)
    metrics = metric_rows(results, published_rows)
    say(f"{quarter.label}: writing {len(table)} trust pages")
    info = table.set_index("trust_code")
    trust_pages = [
        _trust_page(
            e,
            moves.get(e.trust_code),
            (revision_context or {}).get("by_trust", {}).get(e.trust_code),
            str(info.at[e.trust_code, "trust_subtype"]),
            str(info.at[e.trust_code, "region"]),
            comparison["by_trust"].get(e.trust_code),
            takes.get(e.trust_code, []),
            metrics.get(e.trust_code, []),
        )
        for e in explainer.all()
    ]
    movement_context = None
    if previous is not None and moves_frame is not None:
        regions = dict(zip(table["trust_code"], table["region"], strict=True))
        regions.update(
            (c, r)
            for c, r in zip(
                previous.league_table["trust_code"], previous.league_table["region"], strict=True
            )
            if c not in regions
        )
        order = {"both": 0, "new": 1, "left": 2}  # trusts in both quarters first
        rows = sorted(
            moves_frame.to_dict(orient="records"), key=lambda r: order.get(r["status"], 3)
        )
        for row in rows:
            row["region"] = regions.get(row["trust_code"], "")
        movement_context = {
            "previous": previous.quarter.label,
            "previous_version": previous.version,
            "summary": movement_summary(moves_frame),
            "rows": rows,  # every trust in either quarter, in league order
            "group_labels": {g.id: g.label for g in PEER_GROUPS},
        }
    segment_counts = table.groupby(["peer_group", "adjusted_segment"]).size().unstack(fill_value=0)
    info_ = results.info
    context = {
        "quarter": quarter,
        "version": results.version,
        "versions": versions or [results.version],
        "snapshot_id": info_.snapshot_id,
        "created": info_.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "run_id": info_.run_id or "",
        "code_version": info_.lineage.get("code_version", ""),
        # the label of a snapshot made from `league sample-data`'s files, else None
        "synthetic_label": synthetic_label,
        "methodology_version": info_.lineage.get("methodology_version", ""),
        "inputs": [
            {"kind": kind, "url": rec.get("url", ""), "sha256": rec.get("sha256", "")}
            for kind, rec in sorted(info_.lineage.get("inputs", {}).items())
        ],
        "national_average": results.national_average,
        "cut_points": results.cut_points,
        "cut_points_basis": results.cut_points_basis,
        "comparison": comparison,
        "trust_count": len(table),
        "segment_counts": {
            BY_ID[g].label: {int(s): int(n) for s, n in row.items()}
            for g, row in segment_counts.iterrows()
        },
        "groups": groups,
        "distribution_spec": distribution_spec,
        "movement": movement_context,
        "revision": revision_context,
        "trusts": trust_pages,
        "segment_colours": charts.SEGMENT_COLOURS,
        "regions": sorted(set(table["region"].dropna())),
        "score_bands": _score_bands(results.trust_segments),
        "vega_bundle": charts.vega_bundle(),
    }
    return _environment(cache_dir).get_template("report.html.j2").render(**context)


def _domain_table(table: pd.DataFrame, domains: pd.DataFrame) -> dict[str, Any]:
    """The heat map's numbers as a table: ``domains`` (names, in catalogue order) and one row
    a trust in league order (``label``, ``scores`` in the same order, blank where none)."""
    names = list(domains.sort_values("domain_id")["domain"].drop_duplicates())
    scores = domains.pivot_table(index="trust_code", columns="domain", values="score")
    by_trust = dict(zip(scores.index, scores.to_dict(orient="records"), strict=True))
    rows = []
    for r in table.sort_values(["rank", "trust_code"]).itertuples():
        mine = by_trust.get(r.trust_code)
        rows.append(
            {
                "code": r.trust_code,
                "label": f"{int(r.rank)}. {r.trust_name}",
                "scores": [
                    "" if mine is None or _missing(mine.get(n)) else f"{float(mine[n]):.2f}"
                    for n in names
                ],
            }
        )
    return {"names": names, "rows": rows}


def _score_bands(trust_segments: pd.DataFrame, width: float = 0.25) -> dict[str, Any]:
    """The distribution chart's numbers as a table: trusts per average-score band of
    ``width`` and peer group."""
    groups = [g for g in PEER_GROUPS if g.id in set(trust_segments["peer_group"])]
    band = (trust_segments["average_score"] // width).astype(int)
    counts = trust_segments.assign(band=band).groupby(["band", "peer_group"]).size()
    rows = []
    for b in range(int(band.min()), int(band.max()) + 1):
        rows.append(
            {
                "band": f"{b * width:.2f} to under {(b + 1) * width:.2f}",
                "counts": [int(counts.get((b, g.id), 0)) for g in groups],
            }
        )
    return {"groups": [g.label for g in groups], "rows": rows}


def write_report(
    quarter: str | Quarter,
    out_path: Path,
    version: int | None = None,
    *,
    store: SnapshotStore,
    results: QuarterResults | None = None,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = None,
    whatif_checked: int = WHATIF_CHECKED,
) -> Path:
    """Build the report of a quarter's snapshot (latest unless ``version``) and write it
    (``cache_dir``: the settings' cache folder; ``whatif_checked``: :func:`build_report`)."""
    results = results or load_quarter(quarter, version, store=store)
    published_rows = (
        store.read(PUBLISHED_ROWS, results.quarter, results.version)
        if PUBLISHED_ROWS in results.info.tables
        else None
    )
    html = build_report(
        results,
        previous=load_previous(results.quarter, store=store),
        revised=latest_revision(results.quarter, results.version, store=store, loaded=results),
        versions=[i.version for i in store.list(results.quarter)],
        progress=progress,
        cache_dir=cache_dir,
        published_rows=published_rows,
        whatif_checked=whatif_checked,
    )
    return write_bytes(Path(out_path), html.encode("utf-8"))
