"""``league audit``: the snapshot's recomputed figures beside NHS England's published ones."""

from __future__ import annotations

import argparse
import sys

from league_pipeline.cli.common import (
    CliError,
    print_data_label,
    snapshot_store,
    snapshot_to_read,
)
from league_pipeline.cli.render import Report, Table, add_format_argument, data_stream, emit


def _number(value: float) -> str:
    """A figure as text: whole numbers without decimals, others to 4 dp (no float noise)."""
    if value != value:  # NaN: not computed
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0")


def cmd_audit(args: argparse.Namespace) -> int:
    from league_pipeline.audit.compare import COLUMNS, UNEXPLAINED, layer_summary
    from league_pipeline.core.quarters import parse_quarter

    quarter = parse_quarter(args.quarter)
    store = snapshot_store(args.settings)
    info = snapshot_to_read(store, quarter, args.version)
    version = info.version
    if "audit" not in info.tables:
        raise CliError(
            f"{quarter.label} v{version} was built before the audit existed: re-run the quarter "
            f'(`league run --quarter "{quarter}"`) to add a version that has it'
        )
    rows = store.read("audit", quarter.label, version)[COLUMNS]
    unexplained = int((rows["reason"] == UNEXPLAINED).sum())
    # the label on stdout above the table; on stderr when stdout is CSV or JSON
    lineage = store.get(quarter.label, version).lineage
    print_data_label(lineage, stream=data_stream(args.format))
    # synthetic sample data are nobody's published figures: never say NHS England's
    source = "the publication's" if lineage.get("data") == "synthetic" else "NHS England's"
    emit(_report(rows, quarter.label, version, layer_summary(rows), source), args.format)
    if args.strict and unexplained:
        print(
            f"error: {unexplained} disagreement(s) with the published figures have no known "
            "reason (--strict)",
            file=sys.stderr,
        )
        print("fix: see `league audit` for each one and its layer", file=sys.stderr)
        return 1
    return 0


def _report(rows, label: str, version: int, summary, source: str) -> Report:
    """The per-layer summary and the disagreements for people; every row as data."""
    report = Report(data=rows)
    report.blocks.append(f"Audit of {label} (snapshot v{version}): recomputed vs {source} figures")
    table = [
        [
            r.layer,
            r.compared,
            r.published_basis,
            f"{r.computed_agreeing}/{r.computed}",
            f"{100 * r.computed_agreeing / r.computed:.1f}%" if r.computed else "-",
            r.compared - r.published_basis - r.computed_agreeing,
        ]
        for r in summary.itertuples()
    ]
    headers = ["layer", "compared", "from publication", "computed agree", "rate", "differ"]
    report.blocks.append(Table(headers, table))
    bad = rows[~rows["agrees"]]
    if bad.empty:
        report.blocks += ["", f"Every compared figure agrees with {source}."]
        return report
    report.blocks += ["", f"{len(bad)} disagreement(s):"]
    shown = [
        [
            r.peer_group,
            r.trust_code,
            r.layer,
            r.item,
            _number(r.ours),
            _number(r.published),
            r.reason,
        ]
        for r in bad.itertuples()
    ]
    headers = ["peer group", "trust", "layer", "item", "ours", "published", "reason"]
    report.blocks.append(Table(headers, shown, fit=("reason", "item", "peer group")))
    return report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="compare a snapshot's recomputed figures with NHS England's published ones",
        description=(
            "Every layer the pipeline recomputes (metric scores, domain scores and segments, "
            "average, segments, flags, rank) beside NHS England's published figure, with the "
            "basis (computed, or taken from the publication) and the reason for each "
            "disagreement."
        ),
    )
    p.add_argument("--quarter", required=True, help='e.g. "2025/26 Q1"')
    p.add_argument("--version", type=int, help="snapshot version (default: latest)")
    add_format_argument(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any disagreement has the reason 'unexplained'",
    )
    p.set_defaults(func=cmd_audit)
