"""``league export``, ``report``, ``explain``, ``movement`` and ``revisions``: readable outputs.

Belongs here: the command-line face of :mod:`league_pipeline.outputs`. Each command reads a
quarter's snapshot (the latest version unless ``--version``), calls the library and prints or
writes the result; problems the user can fix are one line with the fix.

Every name or text from the data is printed through :func:`.common.terminal_safe` (control
characters shown escaped), and every CSV written goes through
:func:`league_pipeline.outputs.exports.frame_csv` (no cell runs as a formula).
``export`` and ``report`` to the default folder rebuild the version's whole outputs folder (all
or nothing) when it is missing or incomplete, as ``league status`` reports it.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

from league_pipeline.cli.common import (
    CliError,
    print_data_label,
    progress,
    snapshot_store,
    source_store,
    terminal_safe,
)
from league_pipeline.cli.render import Report, Table, add_format_argument, data_stream, emit


@contextmanager
def _user_errors():
    """Turn the outputs' 'not there' errors into one-line CLI errors."""
    from league_pipeline.outputs.explain import UnknownTrustError
    from league_pipeline.outputs.results import NoSnapshotError
    from league_pipeline.outputs.revisions import NoRevisionError
    from league_pipeline.snapshots.store import SnapshotNotFoundError

    try:
        yield
    except (NoSnapshotError, UnknownTrustError, NoRevisionError, SnapshotNotFoundError) as exc:
        raise CliError(str(exc).strip("'\"")) from exc


def _quarter(text: str):
    from league_pipeline.core.quarters import parse_quarter

    return parse_quarter(text)


def _rebuilt(results, store, settings):
    """When the version's outputs folder is missing or incomplete, write all of it (all or
    nothing, :func:`league_pipeline.outputs.publish.publish`) and return what was written;
    None when it is complete (the command then rewrites only its own files)."""
    from league_pipeline.outputs import folder

    root = settings.layout.outputs
    found = folder.version_state(results.quarter, results.version, root)
    if found == folder.COMPLETE:
        return None
    from league_pipeline.outputs.publish import publish

    progress(
        f"{results.quarter.label} v{results.version}: outputs {found}, writing all of them "
        "(official files, snapshot Parquet, insights, report)"
    )
    return publish(
        results.quarter,
        results.version,
        store=store,
        source_store=source_store(settings),
        root=root,
        cache_dir=settings.cache_dir,
        progress=progress,
        whatif_checked=settings.whatif_checked,
    )


def cmd_export(args: argparse.Namespace) -> int:
    from league_pipeline.outputs import quarter_output_dir
    from league_pipeline.outputs.exports import write_official_exports
    from league_pipeline.outputs.results import load_quarter

    settings = args.settings
    store = snapshot_store(settings)
    with _user_errors():
        results = load_quarter(_quarter(args.quarter), args.version, store=store)
    folder = args.out or (
        quarter_output_dir(results.quarter, results.version, settings.layout.outputs) / "official"
    )
    rebuilt = None if args.out else _rebuilt(results, store, settings)
    if rebuilt is not None:
        files = list(rebuilt.official.files)
    else:
        written = write_official_exports(
            results, folder, source_store=source_store(settings), progress=progress
        )
        files = list(written.files)
    if args.snapshot_parquet:
        files += store.export_parquet(results.quarter, results.version, folder / "snapshot")
    print_data_label(results.info.lineage)
    print(
        f"{results.quarter.label} (snapshot v{results.version}): {len(files)} files in "
        f"{terminal_safe(str(folder))}"
    )
    for path in files:
        print(f"  {terminal_safe(str(path.relative_to(folder)))}")
    if rebuilt is not None:
        print(
            f"(the version's other outputs were rebuilt too: {terminal_safe(str(rebuilt.folder))})"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from league_pipeline.outputs import quarter_output_dir
    from league_pipeline.outputs.report import REPORT_FILE, write_report
    from league_pipeline.outputs.results import load_quarter

    settings = args.settings
    store = snapshot_store(settings)
    with _user_errors():
        results = load_quarter(_quarter(args.quarter), args.version, store=store)
    rebuilt = None if args.out else _rebuilt(results, store, settings)
    if rebuilt is not None:
        path = rebuilt.report
    else:
        root = settings.layout.outputs
        out = args.out or quarter_output_dir(results.quarter, results.version, root) / REPORT_FILE
        path = write_report(
            results.quarter,
            out,
            store=store,
            results=results,
            progress=progress,
            cache_dir=settings.cache_dir,
            whatif_checked=settings.whatif_checked,
        )
    print_data_label(results.info.lineage)
    print(
        f"{terminal_safe(str(path))} ({path.stat().st_size / 1e6:.1f} MB): open it in any "
        "browser, no network needed"
    )
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from league_pipeline.outputs.explain import explain_trust
    from league_pipeline.outputs.results import load_quarter
    from league_pipeline.sample import data_origin

    with _user_errors():
        results = load_quarter(
            _quarter(args.quarter), args.version, store=snapshot_store(args.settings)
        )
        explanation = explain_trust(results, args.trust)
    fmt = "json" if args.json else args.format
    record = explanation.to_dict()
    if fmt == "json" and data_origin.is_synthetic_lineage(results.info.lineage):
        record = {"data": data_origin.SYNTHETIC, "label": data_origin.SYNTHETIC_LABEL, **record}
    e = explanation
    if fmt != "json":
        print_data_label(results.info.lineage, stream=data_stream(fmt))
    report = Report(data=record if fmt == "json" else e.items)
    report.blocks.append(
        f"{e.trust_name} ({e.trust_code}), {e.quarter.label} (snapshot v{e.version})"
    )
    report.blocks += [f"- {sentence}" for sentence in e.sentences()]
    rows = [
        [
            i["label"],
            i["domain"],
            f"{i['score']:.2f}",
            f"{i['peer_median']:.2f}",
            f"{i['effect']:+.3f}",
        ]
        for i in e.items
    ]
    report.blocks.append("")
    headers = ["metric", "domain", "score", "peer median", "effect"]
    report.blocks.append(Table(headers, rows, fit=("metric", "domain")))
    emit(report, fmt)
    return 0


def cmd_movement(args: argparse.Namespace) -> int:
    from league_pipeline.core.peer_groups import peer_group
    from league_pipeline.core.quarters import FIRST_QUARTER
    from league_pipeline.outputs.exports import frame_csv
    from league_pipeline.outputs.movement import movement, movement_summary, notable, short_why
    from league_pipeline.outputs.results import load_previous, load_quarter

    quarter = _quarter(args.quarter)
    store = snapshot_store(args.settings)
    with _user_errors():
        current = load_quarter(quarter, store=store)
        previous = load_previous(quarter, store=store)
    if previous is None:
        reason = (
            "it is the first quarter of the 2025/26 framework"
            if quarter == FIRST_QUARTER
            else f"{quarter.previous().label} has no snapshot: run it first"
        )
        raise CliError(f"no earlier quarter to compare {quarter.label} with: {reason}")
    moves = movement(current, previous)
    if args.peer_group:
        moves = moves[moves["peer_group"] == peer_group(args.peer_group).id]
    if args.csv:
        args.csv.write_bytes(frame_csv(moves))
        progress(f"wrote {len(moves)} rows to {args.csv}")
    summary = movement_summary(moves)
    print_data_label(current.info.lineage, previous.info.lineage, stream=data_stream(args.format))
    shown = moves if args.all else notable(moves)
    report = Report(data=shown)
    report.blocks.append(
        f"{previous.quarter.label} (v{previous.version}) -> {current.quarter.label} "
        f"(v{current.version}): {summary['trusts_compared']} trusts compared, "
        f"{summary['segment_changed']} changed segment "
        f"({summary['segment_changed_financial_override']} financial override, "
        f"{summary['segment_changed_significant_score_change']} significant score change, "
        f"{summary['segment_changed_not_significant']} not significant); "
        f"{summary['segment_changed_cut_points_moved']} moved by the cut-points; "
        f"{summary['significant_rank_change']} significant rank changes"
    )
    if shown.empty:
        report.blocks.append("no segment changes and no significant changes")
        emit(report, args.format)
        return 0

    def arrow(before, after) -> str:
        return f"{'' if before is None else before} -> {'' if after is None else after}"

    rows = [
        [
            r.peer_group,
            r.trust_code,
            r.trust_name,
            arrow(_int(r.segment_before), _int(r.segment_after)),
            short_why(r._asdict()),
            arrow(_int(r.rank_before), _int(r.rank_after))
            + ("*" if r.rank_change_significant else ""),
            arrow(_f2(r.average_score_before), _f2(r.average_score_after))
            + ("*" if r.average_change_significant else ""),
        ]
        for r in shown.itertuples()
    ]
    headers = ["group", "code", "trust", "segment", "why", "rank", "average"]
    report.blocks.append(Table(headers, rows, fit=("trust", "why", "group")))
    report.blocks.append(
        "why: what moved the trust: its own average, the cut-points, the financial override, "
        "its RSP status, its peer group's membership or other trusts (`league explain` and "
        "the report say it in sentences). * and (significant): the likely ranges of the two "
        "quarters do not overlap."
    )
    emit(report, args.format)
    return 0


def _int(value) -> int | None:
    import pandas as pd

    return None if pd.isna(value) else int(value)


def _f2(value) -> str | None:
    import pandas as pd

    return None if pd.isna(value) else f"{value:.2f}"


def cmd_revisions(args: argparse.Namespace) -> int:
    from league_pipeline.outputs.exports import frame_csv
    from league_pipeline.outputs.revisions import revision

    quarter = _quarter(args.quarter)
    with _user_errors():
        rev = revision(quarter, args.old, args.new, store=snapshot_store(args.settings))
    summary = rev.summary()
    sources = ", ".join(summary["sources_changed"]) or "none"
    print_data_label(rev.new.lineage, rev.old.lineage, stream=data_stream(args.format))
    report = Report()
    report.blocks.append(
        f"{quarter.label}: v{rev.old.version} ({rev.old.created_at:%Y-%m-%d %H:%M} UTC) -> "
        f"v{rev.new.version} ({rev.new.created_at:%Y-%m-%d %H:%M} UTC); revised sources: "
        f"{sources}; {summary['trusts_changed']} trusts changed ({summary['values_changed']} "
        f"values, {summary['scores_changed']} scores, {summary['segments_changed']} segments, "
        f"{summary['ranks_changed']} ranks)"
    )
    if args.csv:
        args.csv.write_bytes(frame_csv(rev.trusts))
        progress(f"wrote {len(rev.trusts)} rows to {args.csv}")
    trusts = rev.trusts
    if not args.all:
        shown = trusts["values_changed"].astype(bool)
        trusts = trusts[shown | trusts["segment_changed"].astype(bool) | trusts["rank_changed"]]
    report.data = trusts
    if not rev.has_changes:
        report.blocks.append("no trust's values, scores, segments or rank changed")
        emit(report, args.format)
        return 0
    rows = [
        [
            r.trust_code,
            r.trust_name,
            r.change,
            r.values_changed,
            _short(r.scores_changed),
            f"{_f2(r.average_score_old)} -> {_f2(r.average_score_new)}",
            f"{_int(r.adjusted_segment_old)} -> {_int(r.adjusted_segment_new)}",
            f"{_int(r.rank_old)} -> {_int(r.rank_new)}",
        ]
        for r in trusts.itertuples()
    ]
    hidden = len(rev.trusts) - len(rows)
    headers = ["code", "trust", "change", "values", "scores", "average", "segment", "rank"]
    report.blocks.append(Table(headers, rows, fit=("trust", "scores")))
    if hidden:
        report.blocks.append(
            f"({hidden} more trusts changed only in scores ranked against the revised values; "
            "--all shows them)"
        )
    emit(report, args.format)
    return 0


def _short(ids: str, limit: int = 3) -> str:
    parts = [p for p in ids.split(",") if p]
    return ",".join(parts[:limit]) + (f" +{len(parts) - limit}" if len(parts) > limit else "")


def register(sub: argparse._SubParsersAction) -> None:
    def common(p: argparse.ArgumentParser, *, version: bool = True) -> None:
        p.add_argument("--quarter", required=True, help='e.g. "2025/26 Q1"')
        if version:
            p.add_argument("--version", type=int, help="snapshot version (default: latest)")

    p = sub.add_parser(
        "export", help="write NHS England's league table and trust data CSVs (+ Parquet)"
    )
    common(p)
    p.add_argument(
        "--out", type=Path, help="folder (default: $LEAGUE_HOME/outputs/<q>/v<N>/official)"
    )
    p.add_argument(
        "--snapshot-parquet", action="store_true", help="also every snapshot table as Parquet"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", help="write the static HTML report of a quarter")
    common(p)
    p.add_argument(
        "--out", type=Path, help="file (default: $LEAGUE_HOME/outputs/<q>/v<N>/report.html)"
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("explain", help="why a trust got its score, segment and rank")
    p.add_argument("trust", help="trust code, e.g. ZA001 (sample data) or RX7")
    common(p)
    p.add_argument("--json", action="store_true", help="the same as --format json")
    add_format_argument(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("movement", help="changes since the previous quarter, with significance")
    common(p, version=False)
    p.add_argument("--peer-group", help="acute, mental_health_community or ambulance")
    p.add_argument("--all", action="store_true", help="every trust, not only the changes")
    p.add_argument("--csv", type=Path, help="also write the full table to this CSV file")
    add_format_argument(p)
    p.set_defaults(func=cmd_movement)

    p = sub.add_parser("revisions", help="what changed between two versions of a quarter")
    common(p, version=False)
    p.add_argument("--from", dest="old", type=int, help="older version (default: the one before)")
    p.add_argument("--to", dest="new", type=int, help="newer version (default: latest)")
    p.add_argument("--all", action="store_true", help="list every changed trust")
    p.add_argument("--csv", type=Path, help="also write the per-trust table to this CSV file")
    add_format_argument(p)
    p.set_defaults(func=cmd_revisions)
