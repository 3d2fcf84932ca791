"""``league lake``: the snapshot catalog's safety net (check, backup, restore, orphans).

Belongs here: the argument handling and the printing of the lake maintenance commands. The
work is :class:`league_pipeline.snapshots.store.SnapshotStore` (``check``, ``backup``, ``restore``,
``remove_orphan_files``). An unusable catalog is one ``error:`` line and one ``fix:`` line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from league_pipeline.cli.common import CliError, snapshot_store


def print_damage(exc) -> int:
    """The ``error:`` and ``fix:`` lines of a
    :class:`~league_pipeline.snapshots.lake.CatalogDamagedError`."""
    print(f"error: {exc.problem}", file=sys.stderr)
    print(f"fix: {exc.fix}", file=sys.stderr)
    return 1


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "time unknown"


def _ids(infos, limit: int = 12) -> str:
    ids = [i.snapshot_id for i in infos]
    shown = ", ".join(ids[:limit])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > limit else "") if ids else "none"


def cmd_check(args: argparse.Namespace) -> int:
    from league_pipeline.snapshots.lake import CatalogDamagedError

    store = snapshot_store(args.settings)
    try:
        report = store.check()
    except CatalogDamagedError as exc:
        return print_damage(exc)
    quarters = sorted({i.quarter for i in report.snapshots})
    print(f"catalog: {report.catalog}")
    print(
        f"snapshots: {len(report.snapshots)} ({', '.join(quarters) or 'none'}); data files: "
        f"{report.data_files}"
    )
    for note in report.notes:
        print(note)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.healthy:
        print("lake check: healthy")
        return 0
    print(f"lake check: {len(report.problems)} problem(s)")
    return 1


def cmd_backup(args: argparse.Namespace) -> int:
    from league_pipeline.snapshots.lake import CatalogDamagedError, LakeError

    store = snapshot_store(args.settings)
    try:
        taken = store.backup()
    except CatalogDamagedError as exc:
        return print_damage(exc)
    except LakeError as exc:
        raise CliError(str(exc)) from None
    print(
        f"backed up the catalog to {taken.path} ({len(taken.snapshots)} snapshot(s), read back "
        f"and verified; the newest {store.backups_kept} backups are kept)"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from league_pipeline.snapshots.lake import CatalogDamagedError, LakeError

    store = snapshot_store(args.settings)
    try:
        result = store.restore(args.backup, force=args.force)
    except CatalogDamagedError as exc:
        return print_damage(exc)
    except LakeError as exc:
        raise CliError(str(exc)) from None
    for skipped in result.skipped:
        print(f"skipped backup {skipped.path.name}: {skipped.problem}")
    backup = result.backup
    print(
        f"restored {result.catalog} from backup {backup.path} (taken {_when(backup.taken_at)}; "
        "read back and verified)"
    )
    print(f"snapshots restored ({len(backup.snapshots)}): {_ids(backup.snapshots)}")
    if result.kept_aside:
        print(f"the previous catalog is kept as {', '.join(map(str, result.kept_aside))}")
    if result.not_restored:
        print(
            "not in this backup, though handed out before: "
            f"{', '.join(result.not_restored)} (their numbers are not reused)"
        )
    print("next: `league lake check`")
    return 0


def cmd_remove_orphans(args: argparse.Namespace) -> int:
    from league_pipeline.snapshots.lake import CatalogDamagedError

    store = snapshot_store(args.settings)
    try:
        report = store.check()
    except CatalogDamagedError as exc:
        return print_damage(exc)

    def key(path: Path | str) -> Path | str:  # a file on disk, or a URL on object storage
        return path.resolve() if isinstance(path, Path) else path

    backed = {key(f.path) for b in store.backups() for f in b.files}
    held = [p for p in report.orphans if key(p) in backed]
    if held and not args.force:
        raise CliError(
            f"{len(held)} of the {len(report.orphans)} orphaned data file(s) belong to snapshots "
            f"a catalog backup holds (e.g. {held[0]}): the catalog lost them — run `league lake "
            "restore --force` to bring them back, or add --force to delete them anyway"
        )
    removed = store.remove_orphan_files(dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(removed)} orphaned data file(s)")
    for path in removed:
        print(f"  {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lake",
        help="check, back up or restore the snapshot catalog",
        description="The snapshot catalog's safety net. The catalog (DuckLake, SQLite by "
        "default) is backed up after every snapshot; these commands check it against the data "
        "files and bring back the newest good backup.",
    )
    lake_sub = p.add_subparsers(dest="lake_command", required=True, metavar="ACTION")
    c = lake_sub.add_parser(
        "check",
        help="verify the catalog against the data files (exit 1 when it is not healthy)",
    )
    c.set_defaults(func=cmd_check)
    c = lake_sub.add_parser("backup", help="take a verified backup of the catalog now")
    c.set_defaults(func=cmd_backup)
    c = lake_sub.add_parser(
        "restore",
        help="bring back the newest good catalog backup (the broken catalog is kept aside)",
    )
    c.add_argument("--backup", type=Path, help="restore this backup file instead")
    c.add_argument(
        "--force", action="store_true", help="replace the catalog even when it is healthy"
    )
    c.set_defaults(func=cmd_restore)
    c = lake_sub.add_parser(
        "remove-orphans", help="delete data files no snapshot references (left by killed writes)"
    )
    c.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    c.add_argument(
        "--force",
        action="store_true",
        help="also delete orphans that a catalog backup still references",
    )
    c.set_defaults(func=cmd_remove_orphans)
