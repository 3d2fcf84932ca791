"""The check of a lake's catalog against its data files, and removing orphaned files.

Belongs here: :class:`LakeReport` and :func:`check` (referenced files missing or of another
size, orphaned files told apart, versions 1..n per quarter without reuse, each table's rows
per snapshot against the manifest, the state of the backups), and :func:`remove_orphan_files`.
See docs/snapshots.md and docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from league_pipeline.snapshots import lake, reader
from league_pipeline.snapshots.backups import CatalogFile, backups, catalog_files, file_intact
from league_pipeline.snapshots.base import StoreBase
from league_pipeline.snapshots.common import (
    IDENTIFIER,
    MANIFEST_TABLE,
    SnapshotInfo,
    metadata_sql,
    retrying,
    sql,
    table_ref,
    to_quarter,
)


@dataclass
class LakeReport:
    """What :func:`check` found. Healthy when there are no problems; warnings are worth
    knowing but lose nothing."""

    catalog: str
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    data_files: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    orphans: list[Path | str] = field(default_factory=list)  # URLs on object storage

    @property
    def healthy(self) -> bool:
        return not self.problems


def _scheduled_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """File names DuckLake has scheduled for deletion (not orphans)."""
    rows = con.execute(metadata_sql(con, "scheduled_files")).fetchall()
    return {Path(str(row[0])).name for row in rows}


def check(store: StoreBase) -> LakeReport:
    """Compare the catalog with the data files (see :class:`LakeReport`).

    Raises :class:`~league_pipeline.snapshots.lake.CatalogDamagedError` when the catalog
    cannot be used at all. Takes the write lock: a running writer's files are not orphans yet.
    """
    report = LakeReport(store.catalog_label())
    store.check_catalog()
    if store.spec.kind == "sqlite" and not store.spec.exists():
        report.notes.append("no lake yet: no catalog and no data files")
        return report
    with store.writer_lock():
        try:
            with lake.attached(store.spec, read_only=True) as con:
                con.execute("BEGIN TRANSACTION")
                infos = reader.manifest(con, None, None)
                files = catalog_files(con, store.spec)
                scheduled = _scheduled_names(con)
                con.execute("COMMIT")
                # counted one statement each (a failed one would abort a transaction), and
                # not through a file that is missing or changed (reported as such); the
                # write lock keeps the lake as it was read above
                stored = lake.stored_objects(store.spec) if store.spec.storage else None
                broken = {f.table for f in files if not file_intact(f, stored)}
                rows = _row_counts(con, infos, broken)
        except duckdb.Error as exc:
            store.reraise_damage(exc)
            if lake.is_missing_catalog(exc):
                report.notes.append("no lake yet: the catalog holds no lake, no data files")
                return report
            raise
        on_disk = sorted(lake.data_files(store.spec)) if stored is None else sorted(stored)
    report.snapshots = infos
    report.data_files = len(on_disk)
    if stored is None:
        _check_files(store, report, files, on_disk, scheduled)
    else:
        _check_objects(report, files, stored, scheduled)
    _check_versions(store, report, infos)
    _check_rows(report, infos, rows)
    _check_backups(store, report, infos)
    return report


def _row_counts(
    con: duckdb.DuckDBPyConnection, infos: list[SnapshotInfo], broken: set[str | None]
) -> dict[str, dict[tuple[str, int], int] | str]:
    """table -> (quarter, version) -> rows, or why the table could not be read. Tables
    with a missing or changed file (``broken``, reported as such) are left out."""
    listed = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()
    names = {row[0] for row in listed} - {MANIFEST_TABLE}
    names |= {name for info in infos for name in info.tables}
    out: dict[str, dict[tuple[str, int], int] | str] = {}
    for name in sorted(names - broken):
        if not IDENTIFIER.match(name):
            out[name] = "not a table name the store writes"
            continue
        try:
            counted = con.execute(sql("row_counts").replace("{table}", table_ref(name)))
            out[name] = {(q, int(v)): int(n) for q, v, n in counted.fetchall()}
        except duckdb.Error as exc:
            out[name] = str(exc).splitlines()[0]
    return out


def _check_files(
    store: StoreBase,
    report: LakeReport,
    files: list[CatalogFile],
    on_disk: list[Path],
    scheduled: set[str],
) -> None:
    referenced = {f.path.resolve(strict=False): f for f in files}
    for f in files:
        if not f.path.is_file():
            report.problems.append(
                f"missing data file: {f.path} (table {f.table}) is referenced by the "
                "catalog but not on disk; restore it from a copy of the lake folder"
            )
            continue
        if f.size is None:
            continue
        size = f.path.stat().st_size
        if size != f.size:
            report.problems.append(
                f"changed data file: {f.path} (table {f.table}) has {size} bytes, the catalog "
                f"recorded {f.size}; restore it from a copy of the lake folder"
            )
    orphans = [
        path for path in on_disk if path.resolve() not in referenced and path.name not in scheduled
    ]
    report.orphans = orphans
    if not orphans:
        return
    in_backups: dict[Path, str] = {}
    for checked in backups(store):
        names = {f.path.resolve(strict=False) for f in checked.files}
        for path in orphans:
            if path.resolve() in names:
                in_backups.setdefault(path, checked.path.name)
    lost = [p for p in orphans if p in in_backups]
    loose = [p for p in orphans if p not in in_backups]
    if lost:
        newest = in_backups[lost[0]]
        report.problems.append(
            f"{len(lost)} data file(s) belong to snapshots a backup holds ({newest}) but the "
            f"catalog does not, e.g. {lost[0]}: the catalog lost snapshots; run `league lake "
            f"restore --force --backup {newest}` to bring back that backup"
        )
    if loose:
        report.problems.append(
            f"{len(loose)} orphaned data file(s) no snapshot references, e.g. {loose[0]}: "
            "left by an interrupted write (or by snapshots lost with no backup); "
            "`league lake remove-orphans` deletes them"
        )


def _check_objects(
    report: LakeReport, files: list[CatalogFile], stored: dict[str, int], scheduled: set[str]
) -> None:
    """The file checks of a lake whose data files are on object storage (``stored``: URL ->
    size), as :func:`_check_files` does on disk. Orphans are not looked up in catalog backups
    (a SQLite catalog's backups name the same URLs: restore one with `league lake restore`)."""
    for f in files:
        size = stored.get(str(f.path))
        if size is None:
            report.problems.append(
                f"missing data file: {f.path} (table {f.table}) is referenced by the catalog but "
                "not in the object storage; restore it from the bucket's versions or a copy"
            )
        elif f.size is not None and size != f.size:
            report.problems.append(
                f"changed data file: {f.path} (table {f.table}) has {size} bytes, the catalog "
                f"recorded {f.size}; restore it from the bucket's versions or a copy"
            )
    referenced = {str(f.path) for f in files}
    report.orphans = [
        url
        for url in sorted(stored)
        if url not in referenced and url.rsplit("/", 1)[-1] not in scheduled
    ]
    if report.orphans:
        report.problems.append(
            f"{len(report.orphans)} orphaned data file(s) no snapshot references, e.g. "
            f"{report.orphans[0]}: left by an interrupted write (or by snapshots lost with the "
            "catalog); `league lake remove-orphans` deletes them"
        )


def _check_versions(store: StoreBase, report: LakeReport, infos: list[SnapshotInfo]) -> None:
    by_quarter: dict[str, list[int]] = {}
    for info in infos:
        by_quarter.setdefault(info.quarter, []).append(info.version)
        q = to_quarter(info.quarter)
        if info.snapshot_id != f"{q.slug}/v{info.version}":
            report.problems.append(
                f"snapshot id {info.snapshot_id} does not match {info.quarter} v{info.version}"
            )
    recorded = store.recorded_versions()
    for label, versions in sorted(by_quarter.items()):
        seen = sorted(versions)
        twice = sorted({v for v in seen if seen.count(v) > 1})
        if twice:
            report.problems.append(
                f"{label}: version(s) {', '.join(map(str, twice))} published more than once"
            )
        gaps = sorted(set(range(1, max(seen) + 1)) - set(seen))
        if gaps:
            report.warnings.append(
                f"{label}: no version {', '.join(map(str, gaps))} in the catalog (versions "
                f"{', '.join(map(str, sorted(set(seen))))}): numbers handed out before are "
                "never reused, so a snapshot the catalog lost leaves a gap"
            )
    for label in sorted(set(recorded) | set(by_quarter)):
        q = to_quarter(label)
        top = max(by_quarter.get(label, [0]))
        issued = max([recorded.get(label, 0), *store.output_versions(q)])
        if issued > top:
            report.warnings.append(
                f"{label}: version {issued} was handed out before (versions.json or "
                f"{store.outputs_root / q.slug}), the catalog's newest is "
                f"{top or 'none'}: the next run takes v{issued + 1}"
            )


def _check_rows(
    report: LakeReport,
    infos: list[SnapshotInfo],
    rows: dict[str, dict[tuple[str, int], int] | str],
) -> None:
    listed = {(i.quarter, i.version) for i in infos}
    for table, counts in sorted(rows.items()):
        if isinstance(counts, str):
            report.problems.append(f"table {table} cannot be read: {counts}")
    for info in infos:
        for table, expected in info.tables.items():
            if table not in rows or isinstance(rows[table], str):
                continue  # reported above, or through its missing or changed file
            counts = rows[table]
            found = (counts or {}).get((info.quarter, info.version), 0)
            if found != expected:
                report.problems.append(
                    f"{info.snapshot_id}: table {table} has {found} rows, the manifest "
                    f"says {expected}"
                )
    for table, counts in sorted(rows.items()):
        if isinstance(counts, str):
            continue
        for (quarter, version), n in sorted(counts.items()):
            if (quarter, version) not in listed:
                report.problems.append(
                    f"table {table} holds {n} rows of {quarter} v{version}, which no "
                    "snapshot in the manifest lists"
                )


def _check_backups(store: StoreBase, report: LakeReport, infos: list[SnapshotInfo]) -> None:
    if store.spec.kind != "sqlite":
        report.notes.append(
            "backups: a Postgres catalog is backed up by the database (pg_dump); the "
            "store keeps no copies of it"
        )
        return
    if store.backups_kept <= 0:
        report.warnings.append("catalog backups are off (LEAGUE_LAKE_BACKUPS=0)")
    checked = backups(store)
    for bad in (c for c in checked if not c.good):
        report.warnings.append(f"backup {bad.path.name} cannot be used: {bad.problem}")
    good = [c for c in checked if c.good]
    if not good:
        if infos:
            report.warnings.append(
                f"no usable catalog backup in {lake.backup_dir(store.spec)}: run "
                "`league lake backup`"
            )
        return
    newest = good[0]
    ids = {i.snapshot_id for i in newest.snapshots}
    behind = [i.snapshot_id for i in infos if i.snapshot_id not in ids]
    when = newest.taken_at.strftime("%Y-%m-%d %H:%M:%S UTC") if newest.taken_at else "?"
    report.notes.append(
        f"backups: {len(good)} usable in {lake.backup_dir(store.spec)}; the newest "
        f"({newest.path.name}, {when}) holds {len(newest.snapshots)} snapshot(s)"
    )
    if behind:
        report.warnings.append(
            f"the newest backup lacks {', '.join(behind)}: run `league lake backup`"
        )


def remove_orphan_files(store: StoreBase, *, dry_run: bool = False) -> list[Path | str]:
    """Delete data files that no snapshot references (a killed writer leaves some); their paths
    (URLs on object storage).

    Takes the write lock, so no writer is half-way through adding files.
    """
    # a damaged catalog would be re-created empty, and every data file deleted as orphan
    store.check_catalog()
    if not store.spec.exists():
        return []
    with store.writer_lock():

        def work() -> list[Path | str]:
            with lake.attached(store.spec, read_only=False) as con:
                rows = con.execute(sql("delete_orphaned_files"), [dry_run]).fetchall()
            if store.spec.storage is not None:
                return [str(row[0]) for row in rows]
            return [Path(row[0]) for row in rows]

        return retrying(work)
