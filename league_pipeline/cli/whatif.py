"""``league whatif``: what would it take — a trust rescored with some of its values changed.

Belongs here: the command-line face of :mod:`league_pipeline.outputs.whatif`: reading the
arguments, then printing the before and after of each layer, or the smallest change of each
metric alone that reaches a segment. Problems the user can fix are one ``error:`` line and a
``fix:`` line. No Dagster.
"""

from __future__ import annotations

import argparse

from league_pipeline.cli.common import (
    CliError,
    print_data_label,
    snapshot_store,
    terminal_safe,
    terminal_safe_rows,
)

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


def _value(value, unit: str) -> str:
    from league_pipeline.outputs.whatif import format_value

    return "(none)" if value is None else format_value(value, unit)


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
    if changes:
        _print_whatif(inputs, trust, changes)
        if args.target_segment is None:
            return 0
        inputs = inputs.changed(trust, changes)
        print()
    with WhatIfSession(inputs) as session:
        _print_search(inputs, trust, args.target_segment, session, from_changes=bool(changes))
    return 0


def _print_whatif(inputs, trust: str, changes: dict[str, str]) -> None:
    from tabulate import tabulate

    from league_pipeline.outputs.whatif import whatif

    result = whatif(inputs, trust, changes)
    print_data_label(inputs.lineage)
    version = f" (snapshot v{result.version})" if result.version else ""
    print(
        f"{terminal_safe(result.trust_name)} ({terminal_safe(result.trust_code)}), "
        f"{result.quarter}{version}: what if"
    )
    for row in result.changes.itertuples():
        print(
            f"  {row.metric_id} {row.label}: {_value(row.after, row.unit)} instead of "
            f"{_value(row.before, row.unit)}"
        )
    print("the whole quarter rescored with these values, everything else as in the snapshot")
    for note in result.notes:
        print(f"note: {note}")
    if not result.matches_snapshot:
        print(
            "note: rescoring the snapshot's own inputs today does not give its published "
            "figures (the scoring code changed since): 'before' is today's rescoring"
        )
    rows = []
    for layer in result.layers:
        places = 4 if layer.kind in ("average", "cut-point") else 2
        mark = "*" if layer.changed else ""
        rows.append(
            [
                layer.label,
                _number(layer.before, places),
                _number(layer.after, places),
                mark,
            ]
        )
    print()
    print(
        tabulate(
            terminal_safe_rows(rows),
            headers=["", "before", "after", "changed"],
            disable_numparse=True,
        )
    )
    group_size = int((result.league_after["peer_group"] == result.peer_group).sum())
    print(
        f"(rank among {group_size} {result.peer_group.replace('_', ' ')} trusts; "
        f"{result.other_ranks_changed} other trusts' ranks change)"
    )


def _print_search(inputs, trust: str, target: int, session, *, from_changes: bool) -> None:
    from tabulate import tabulate

    from league_pipeline.outputs.whatif import NOT_REACHABLE, smallest_changes

    search = smallest_changes(inputs, trust, target, session=session)
    if not from_changes:
        print_data_label(inputs.lineage)
    start = " (with the changes above)" if from_changes else ""
    print(
        f"{terminal_safe(search.trust_name)} ({terminal_safe(search.trust_code)}), "
        f"{search.quarter}: segment {search.segment}{start}, average {search.average:.4f}, "
        f"rank {search.rank}"
    )
    for note in search.notes:
        print(f"note: {note}")
    if search.blocked:
        print(f"segment {target} cannot be reached by changing metric values: {search.blocked}")
        return
    print(
        f"the smallest change of each metric alone that puts it in segment {target}, every "
        "other value as in the snapshot (the whole quarter rescored for each):"
    )
    rows = []
    for c in search.changes:
        if c.reachable:
            rows.append(
                [
                    c.metric_id,
                    c.label,
                    _value(c.value_before, c.unit),
                    _value(c.value_after, c.unit),
                    f"{c.passed} of {c.pool_size}",
                    _number(c.score_before),
                    _number(c.score_after),
                    f"{c.average_after:.4f}",
                    str(c.segment_after),
                    str(c.rank_after),
                ]
            )
        else:
            rows.append(
                [
                    c.metric_id,
                    c.label,
                    _value(c.value_before, c.unit),
                    c.note or NOT_REACHABLE,
                    "",
                    _number(c.score_before),
                    "",
                    "",
                    "",
                    "",
                ]
            )
    print(
        tabulate(
            terminal_safe_rows(rows),
            headers=[
                "metric",
                "",
                "now",
                "needed",
                "trusts passed" if search.improving else "trusts passing it",
                "score",
                "new score",
                "average",
                "segment",
                "rank",
            ],
            disable_numparse=True,
        )
    )
    reachable = search.reachable()
    if reachable:
        best = reachable[0]
        where = "level with or ahead of" if search.improving else "level with or behind"
        print(
            f"most effective: {best.metric_id} {best.label}, {where} {best.passed} more of "
            f"the {best.pool_size} trusts scored on it"
        )
    else:
        print(f"no single metric alone puts it in segment {target}")


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
    p.set_defaults(func=cmd_whatif)
