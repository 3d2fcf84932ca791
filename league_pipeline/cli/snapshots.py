"""``league status`` and ``league table``: reading the snapshot store.

``status`` lists every snapshot version with the state of its outputs folder (``complete``,
``missing`` or ``incomplete``: :mod:`league_pipeline.outputs.folder`) and the command that
rebuilds the ones not complete. Names from the data are printed through
:func:`.common.terminal_safe`.
"""

from __future__ import annotations

import argparse
import json

from league_pipeline.cli.common import print_data_label, snapshot_store, snapshot_to_read
from league_pipeline.cli.render import (
    MACHINE,
    Report,
    Table,
    add_format_argument,
    data_stream,
    emit,
)

# the snapshot list for people, in 100 columns: the code's commit (``g<commit>[.dirty]``, the
# version's local part), no count of inputs (csv and json have them, and the full code version)
SNAPSHOT_HEADERS = ["quarter", "version", "created (UTC)", "trusts", "run", "code", "data"]
SNAPSHOT_HEADERS += ["outputs"]


def print_snapshots(settings, quarters: list[str] | None = None, fmt: str = "table") -> None:
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.outputs import folder
    from league_pipeline.sample import data_origin

    rows = []
    records = []
    not_complete = []  # (quarter label, version, state) of outputs to rebuild
    synthetic = None  # the lineage of a listed snapshot made from sample data
    for info in snapshot_store(settings).list():
        if quarters and info.quarter not in quarters:
            continue
        is_synthetic = data_origin.is_synthetic_lineage(info.lineage)
        if is_synthetic:
            synthetic = info.lineage
        outputs = folder.version_state(
            parse_quarter(info.quarter), info.version, settings.layout.outputs
        )
        if outputs != folder.COMPLETE:
            not_complete.append((info.quarter, info.version, outputs))
        record = {
            "quarter": info.quarter,
            "version": info.version,
            "created_at": info.created_at,
            "trusts": info.tables.get("league_table", 0),
            "run_id": info.run_id or "",
            "code_version": info.lineage.get("code_version", ""),
            "inputs": len(info.lineage.get("inputs", {})),
            "data": data_origin.SYNTHETIC if is_synthetic else data_origin.PUBLISHED,
            "outputs": outputs,
        }
        records.append(record)
        rows.append(
            [
                *[record[k] for k in ("quarter", "version")],
                info.created_at.strftime("%Y-%m-%d %H:%M"),
                record["trusts"],
                record["run_id"][:8],
                record["code_version"].rpartition("+")[2],
                *[record[k] for k in ("data", "outputs")],
            ]
        )
    if not rows and fmt not in MACHINE:
        print('no snapshots yet: run `league run --quarter "2025/26 Q1"`')
        return
    print_data_label(synthetic, stream=data_stream(fmt))  # any listed made from sample data
    report = Report(data=records)
    report.blocks.append(Table(SNAPSHOT_HEADERS, rows))
    for quarter, version, outputs in not_complete:
        report.blocks.append(
            f"outputs {outputs} for {quarter} v{version}: run "
            f'`league export --quarter "{quarter}" --version {version}` to write them'
        )
    emit(report, fmt)


def cmd_status(args: argparse.Namespace) -> int:
    from league_pipeline.cli.lake import print_damage
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.snapshots.lake import CatalogDamagedError

    store = snapshot_store(args.settings)
    try:  # a missing, emptied or damaged catalog beside data files is not "no snapshots yet"
        store.check_catalog()
    except CatalogDamagedError as exc:
        return print_damage(exc)
    if args.lineage:
        quarter = parse_quarter(args.lineage).label
        print(json.dumps(store.lineage(quarter, args.version), indent=2, default=str))
        return 0
    print_snapshots(args.settings, fmt=args.format)
    return 0


TABLE_HEADERS = ["rank", "code", "trust", "avg", "likely avg", "seg", "final", "deficit"]
TABLE_HEADERS += ["likely rank"]
# the data of `league table --format csv|json`: the snapshot's columns, names in full
TABLE_COLUMNS = [
    "peer_group",
    "rank",
    "trust_code",
    "trust_name",
    "average_score",
    "score_lower",
    "score_upper",
    "unadjusted_segment",
    "adjusted_segment",
    "final_segment",
    "in_rsp",
    "deficit_flag",
    "rank_lower",
    "rank_upper",
]


def cmd_table(args: argparse.Namespace) -> int:
    from league_pipeline.core.peer_groups import peer_group
    from league_pipeline.core.quarters import parse_quarter

    quarter = parse_quarter(args.quarter)
    group = peer_group(args.peer_group)
    store = snapshot_store(args.settings)
    info = snapshot_to_read(store, quarter, args.version)
    version, lineage = info.version, info.lineage
    table = store.read("league_table", quarter.label, version)
    table = table[table["peer_group"] == group.id].sort_values(["rank", "trust_code"])
    rows = [
        [
            r.rank,
            r.trust_code,
            r.trust_name,
            f"{r.average_score:.2f}",
            f"{r.score_lower:.2f} to {r.score_upper:.2f}",
            r.adjusted_segment,
            "5 (RSP)" if r.in_rsp else r.final_segment,
            "Yes" if r.deficit_flag else "No",
            f"{r.rank_lower} to {r.rank_upper}",
        ]
        for r in table.itertuples()
    ]
    print_data_label(lineage, stream=data_stream(args.format))
    report = Report(data=table[[c for c in TABLE_COLUMNS if c in table.columns]])
    report.blocks.append(f"{group.label}, {quarter.label} (snapshot v{version})")
    report.blocks.append(Table(TABLE_HEADERS, rows, fit=("trust",)))
    report.blocks += basis_notes(lineage, table)
    emit(report, args.format)
    return 0


def basis_notes(lineage: dict, table) -> list[str]:
    """What in the table is NHS England's published figure rather than computed (basis), and
    how the computed segments and ranks compare with the published ones."""
    from league_pipeline.core.peer_groups import PEER_GROUPS

    notes = []
    basis = lineage.get("basis", {})
    left_out = [g.id for g in PEER_GROUPS if g.id not in lineage.get("peer_groups", [g.id])]
    if basis.get("unadjusted_segment", {}).get("published"):
        notes.append(
            "basis: segments and the averages ordering them are taken from the publication "
            f"(the run left out {', '.join(left_out)}, which the cut-points span)"
        )
    scores = basis.get("metric_score", {})
    if scores.get("published"):
        total = sum(scores.values())
        notes.append(
            f"basis: {scores['published']} of {total} metric scores are taken from the publication "
            "(pools spanning a group left out, and metrics published only as scores)"
        )
    if "published_rank" in table and table["published_rank"].notna().any():
        differ = table["published_rank"].notna() & table["published_rank"].ne(table["rank"])
        notes.append(
            f"{int(differ.sum())} rank(s) differ from the publication's (`league audit` says why)"
            if differ.any()
            else "every rank agrees with the publication's"
        )
    return notes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="list snapshots, versions and lineage")
    p.add_argument("--lineage", metavar="QUARTER", help="print the lineage of a quarter's snapshot")
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    add_format_argument(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("table", help="print a league table from a snapshot")
    p.add_argument("--quarter", required=True)
    p.add_argument(
        "--peer-group", default="acute", help="acute, mental_health_community, ambulance"
    )
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    add_format_argument(p)
    p.set_defaults(func=cmd_table)
