"""``league whatif``: what would it take — a trust rescored with some of its values changed.

Belongs here: the command-line face of :mod:`league_pipeline.outputs.whatif`: reading the
arguments, then showing the before and after of each layer, or the smallest change of each
metric alone that reaches a segment, in the formats of :mod:`.render`. Problems the user can
fix are one ``error:`` line and a ``fix:`` line. No Dagster.
"""

from __future__ import annotations

import argparse

from league_pipeline.cli.common import CliError, print_data_label, snapshot_store
from league_pipeline.cli.render import Report, Table, add_format_argument, data_stream, emit

EXAMPLES = """\
examples:
  league whatif ZU001 --quarter "2025/26 Q1" --set OF0017=25 --set OF0028=50
      the whole quarter rescored with the ambulance trust's Category 2 mean response at 25
      minutes and its conveyance to ED at 50%, everything else as in the snapshot
  league whatif ZA010 --quarter "2025/26 Q1" --target-segment 1
      for each metric alone, the smallest change that would put ZA010 in segment 1
  league whatif ZA010 --quarter "2025/26 Q1" --set OF0013=70 --target-segment 1
      the same, starting from A&E 4-hour performance at 70%

Every what-if reruns the quarter's scoring SQL over the snapshot's inputs with the values
changed: metric scores, domain scores, averages, the segment cut-points (quartiles of all
trusts' averages) and every league rank are recomputed, exactly as a rerun of the pipeline with
those values would. Values must lie in the metric's physical range (a percentage 0-100, ...).
"""


def _changes(pairs: list[str]) -> dict[str, str]:
    """``METRIC=VALUE`` arguments as {metric: value text} (the library checks the values)."""
    changes: dict[str, str] = {}
    for pair in pairs:
        metric, sep, value = pair.partition("=")
        metric = metric.strip().upper()
        if not sep or not metric or not value.strip():
            raise CliError(f"--set {pair}: expected METRIC=VALUE — write it like --set OF0013=78.5")
        if metric in changes:
            raise CliError(f"--set {metric} is given twice — set each metric once")
        changes[metric] = value.strip()
    return changes


def _number(value, places: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{places}f}"


def _value(value, unit: str, *, short: bool = False) -> str:
    """A metric value with its unit; ``short``: percentage points as ``pp`` (in a table
    column, where ``-0.84 percentage points`` would leave little room for the names)."""
    from league_pipeline.outputs.whatif import format_value

    if value is None:
        return "(none)"
    if short and unit == "percentage points":
        return f"{format_value(value, '')} pp"
    return format_value(value, unit)


def cmd_whatif(args: argparse.Namespace) -> int:
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.outputs.whatif import WhatIfSession, load_inputs
    from league_pipeline.snapshots.store import SnapshotNotFoundError

    changes = _changes(args.changes)
    if not changes and args.target_segment is None:
        raise CliError(
            "nothing to work out — give --set METRIC=VALUE (one or more) and/or "
            "--target-segment N (see league whatif --help)"
        )
    quarter = parse_quarter(args.quarter)
    store = snapshot_store(args.settings)
    try:
        inputs = load_inputs(store, quarter.label, args.version)
    except SnapshotNotFoundError as exc:
        raise CliError(
            f'{str(exc).strip(chr(39))} — run `league run --quarter "{quarter.label}"` first'
        ) from exc
    trust = args.trust.strip().upper()
    result = search = None
    if changes:
        from league_pipeline.outputs.whatif import whatif

        result = whatif(inputs, trust, changes)
        if args.target_segment is not None:
            inputs = inputs.changed(trust, changes)
    if args.target_segment is not None:
        from league_pipeline.outputs.whatif import smallest_changes

        with WhatIfSession(inputs) as session:
            search = smallest_changes(inputs, trust, args.target_segment, session=session)
    if args.format != "json":  # JSON carries the label in its object
        print_data_label(inputs.lineage, stream=data_stream(args.format))
    emit(_report(inputs.lineage, result, search, args.format), args.format)
    return 0


def _report(lineage: dict, result, search, fmt: str) -> Report:
    """The what-if's layers and the search's metrics: lines and tables for people; for
    programs one JSON object (with the synthetic-data label, as ``explain``'s), or one CSV row
    a changed value, a layer and a metric (``part``: whatif or target_segment)."""
    from league_pipeline.sample import data_origin

    first = result or search
    layers = _layer_rows(result) if result is not None else []
    metrics = _metric_rows(search) if search is not None else []
    if fmt == "json":
        record = {
            "quarter": first.quarter,
            "version": first.version,
            "trust_code": first.trust_code,
            "trust_name": first.trust_name,
            "peer_group": first.peer_group,
            "whatif": None if result is None else _whatif_record(result, layers),
            "target_segment": None
            if search is None
            else _search_record(search, metrics, from_changes=result is not None),
        }
        if data_origin.is_synthetic_lineage(lineage):
            record = {"data": data_origin.SYNTHETIC, "label": data_origin.SYNTHETIC_LABEL, **record}
        return Report(data=record)
    context = {
        "quarter": first.quarter,
        "version": first.version,
        "trust_code": first.trust_code,
        "trust_name": first.trust_name,
    }
    rows = [{**context, "part": "whatif", **r} for r in layers]
    rows += [{**context, "part": "target_segment", **r} for r in metrics]
    report = Report(data=rows)
    if result is not None:
        report.blocks += _whatif_blocks(result)
    if search is not None:
        if result is not None:
            report.blocks.append("")
        report.blocks += _search_blocks(search, from_changes=result is not None)
    return report


# -- the what-if: every layer before and after ------------------------------------------------


def _layer_rows(result) -> list[dict]:
    """The changed values (kind ``value``, with their unit), then every layer of the trust."""
    rows = [
        {
            "kind": "value",
            "key": c.metric_id,
            "label": c.label,
            "unit": c.unit,
            "before": c.before,
            "after": c.after,
            "changed": c.before is None or c.before != c.after,
        }
        for c in result.changes.itertuples()
    ]
    rows += [
        {
            "kind": layer.kind,
            "key": layer.key,
            "label": layer.label,
            "unit": None,
            "before": layer.before,
            "after": layer.after,
            "changed": layer.changed,
        }
        for layer in result.layers
    ]
    return rows


def _group_size(result) -> int:
    return int((result.league_after["peer_group"] == result.peer_group).sum())


def _whatif_record(result, layers: list[dict]) -> dict:
    return {
        "layers": layers,
        "peer_group_size": _group_size(result),
        "other_ranks_changed": result.other_ranks_changed,
        "matches_snapshot": result.matches_snapshot,
        "notes": list(result.notes),
    }


def _whatif_blocks(result) -> list:
    version = f" (snapshot v{result.version})" if result.version else ""
    blocks: list = [
        f"{result.trust_name} ({result.trust_code}), {result.quarter}{version}: what if"
    ]
    blocks += [
        f"  {row.metric_id} {row.label}: {_value(row.after, row.unit)} instead of "
        f"{_value(row.before, row.unit)}"
        for row in result.changes.itertuples()
    ]
    blocks.append(
        "the whole quarter rescored with these values, everything else as in the snapshot"
    )
    blocks += [f"note: {note}" for note in result.notes]
    if not result.matches_snapshot:
        blocks.append(
            "note: rescoring the snapshot's own inputs today does not give its published "
            "figures (the scoring code changed since): 'before' is today's rescoring"
        )
    rows = [
        [
            layer.label,
            _number(layer.before, _places(layer.kind)),
            _number(layer.after, _places(layer.kind)),
            "*" if layer.changed else "",
        ]
        for layer in result.layers
    ]
    blocks += ["", Table(["", "before", "after", "changed"], rows, fit=("",))]
    blocks.append(
        f"(rank among {_group_size(result)} {result.peer_group.replace('_', ' ')} trusts; "
        f"{result.other_ranks_changed} other trusts' ranks change)"
    )
    return blocks


def _places(kind: str) -> int:
    return 4 if kind in ("average", "cut-point") else 2


# -- the search: the smallest change of each metric alone that reaches a segment --------------


def _metric_rows(search) -> list[dict]:
    return [
        {
            "metric_id": c.metric_id,
            "score_id": c.score_id,
            "label": c.label,
            "unit": c.unit,
            "value_before": c.value_before,
            "value_after": c.value_after,
            "reachable": c.reachable,
            "note": c.note or None,
            "passed": c.passed,
            "pool_size": c.pool_size,
            "score_before": c.score_before,
            "score_after": c.score_after,
            "average_after": c.average_after,
            "segment_after": c.segment_after,
            "rank_after": c.rank_after,
        }
        for c in search.changes
    ]


def _search_record(search, metrics: list[dict], *, from_changes: bool) -> dict:
    reachable = search.reachable()
    return {
        "target": search.target,
        "from_changes": from_changes,
        "segment": search.segment,
        "average": search.average,
        "rank": search.rank,
        "improving": search.improving,
        "blocked": search.blocked,
        "metrics": metrics,  # none when blocked
        "most_effective": reachable[0].metric_id if reachable else None,
        "notes": list(search.notes),
    }


def _needed(change, not_reachable: str) -> str:
    """The value the metric would need, or in a word or two why there is none."""
    if change.reachable:
        return _value(change.value_after, change.unit, short=True)
    if change.value_before is None:
        return "no value"
    return "not reachable" if change.note == not_reachable else change.note


def _search_blocks(search, *, from_changes: bool) -> list:
    from league_pipeline.outputs.whatif import NOT_REACHABLE

    target = search.target
    start = " (with the changes above)" if from_changes else ""
    blocks: list = [
        f"{search.trust_name} ({search.trust_code}), {search.quarter}: segment "
        f"{search.segment}{start}, average {search.average:.4f}, rank {search.rank}"
    ]
    blocks += [f"note: {note}" for note in search.notes]
    if search.blocked:
        blocks.append(
            f"segment {target} cannot be reached by changing metric values: {search.blocked}"
        )
        return blocks
    blocks.append(
        f"the smallest change of each metric alone that puts it in segment {target}, every "
        "other value as in the snapshot (the whole quarter rescored for each):"
    )
    rows = [
        [
            c.metric_id,
            c.label,
            _value(c.value_before, c.unit, short=True),
            _needed(c, NOT_REACHABLE),
            f"{c.passed} of {c.pool_size}" if c.reachable else "",
            "" if c.average_after is None else f"{c.average_after:.4f}",
            _number(c.segment_after),
            _number(c.rank_after),
        ]
        for c in search.changes
    ]
    # the search's results after the change; short headers, as `league table`'s, so that the
    # metric's name keeps most of a 100-column line (csv and json have every column in full)
    passed = "passed" if search.improving else "passing"
    headers = ["metric", "", "now", "needed", passed, "avg", "seg", "rank"]
    blocks.append(Table(headers, rows, fit=("",)))
    reachable = search.reachable()
    if reachable:
        best = reachable[0]
        where = "level with or ahead of" if search.improving else "level with or behind"
        blocks.append(
            f"most effective: {best.metric_id} {best.label}, {where} {best.passed} more of "
            f"the {best.pool_size} trusts scored on it"
        )
    else:
        blocks.append(f"no single metric alone puts it in segment {target}")
    return blocks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "whatif",
        help="what would it take: a trust rescored with some of its values changed",
        description="What would it take: rescore a quarter with some of one trust's metric "
        "values changed and everything else held, and print the before and after of every "
        "layer; or find, for each metric alone, the smallest change that reaches a segment.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trust", help="trust code, e.g. ZA001 (sample data) or RX7")
    p.add_argument("--quarter", required=True, help='e.g. "2025/26 Q1"')
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    p.add_argument(
        "--set",
        dest="changes",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="a metric value to change, by its OF0xxx id (repeat for several)",
    )
    p.add_argument(
        "--target-segment",
        type=int,
        choices=[1, 2, 3, 4],
        help="find the smallest single-metric changes that put the trust in this segment",
    )
    add_format_argument(p)
    p.set_defaults(func=cmd_whatif)
