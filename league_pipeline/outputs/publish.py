"""Write every readable output of one snapshot version to its folder.

Belongs here: the folder layout and the one call that fills it, shared by the Dagster outputs
asset and the ``league`` commands. ``<outputs root>/<2025-26-q2>/v<N>/`` holds ``official/``
(:mod:`.exports`), ``snapshot/`` (every table as Parquet, lineage in the file metadata),
``insights/`` (explanations, contributions, movement and revisions as CSV), ``report.html``
(:mod:`.report`), ``SYNTHETIC-DATA.txt`` for the sample data only, and
``outputs-manifest.json`` (every file with its size and SHA-256, written last). The folder is
written whole or not at all (:mod:`.folder`). Layout: docs/outputs.md ("Where the files go").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from league_pipeline.core.atomic import write_bytes
from league_pipeline.core.peer_groups import BY_ID
from league_pipeline.core.quarters import Quarter, parse_quarter
from league_pipeline.core.settings import WHATIF_CHECKED
from league_pipeline.ingest.store import SourceStore
from league_pipeline.outputs import folder as version_folder
from league_pipeline.outputs import quarter_output_dir
from league_pipeline.outputs.explain import Explainer
from league_pipeline.outputs.exports import (
    OfficialExport,
    frame_csv,
    top_and_bottom,
    write_official_exports,
)
from league_pipeline.outputs.movement import movement, movement_summary
from league_pipeline.outputs.report import REPORT_FILE, build_report
from league_pipeline.outputs.results import load_previous, load_quarter
from league_pipeline.outputs.revisions import Revision, latest_revision
from league_pipeline.sample import data_origin
from league_pipeline.snapshots.store import PUBLISHED_ROWS, SnapshotStore
from league_pipeline.validation.report import validate
from league_pipeline.validation.schemas import load_schema

Progress = Callable[[str], None]
SYNTHETIC_NOTICE = "SYNTHETIC-DATA.txt"


@dataclass
class QuarterOutputs:
    """What was written for one snapshot version, and the facts worth showing about it."""

    quarter: Quarter
    version: int
    folder: Path
    official: OfficialExport
    snapshot_files: list[Path] = field(default_factory=list)
    insight_files: list[Path] = field(default_factory=list)
    report: Path | None = None
    notice: Path | None = None  # SYNTHETIC-DATA.txt, for a snapshot of the sample data
    data: str = data_origin.PUBLISHED  # or synthetic (the snapshot lineage's ``data``)
    previews: dict[str, str] = field(default_factory=dict)  # peer group label -> markdown
    schema_problems: list[str] = field(default_factory=list)  # read-back validation failures
    movement_summary: dict[str, int] | None = None
    revision_summary: dict[str, object] | None = None

    @property
    def files(self) -> list[Path]:
        extra = [p for p in (self.report, self.notice) if p]
        return [*self.official.files, *self.snapshot_files, *self.insight_files, *extra]


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    """``frame`` as CSV, no cell runnable as a formula (:func:`.exports.frame_csv`)."""
    return write_bytes(path, frame_csv(frame))


def _check_round_trip(official: OfficialExport) -> list[str]:
    """Validate what the readers read back from the exported CSVs against the schemas, and
    name each file that fails. The files of a schema are validated as one table when that
    gives each file's own result (:func:`_checked_together`), one by one otherwise and
    whenever the table fails."""
    problems = []
    for schema, frames in (
        ("nof_league_table", official.league_tables),
        ("nof_trust_data", official.trust_data),
    ):
        together = _checked_together(list(frames.values()), schema)
        if together is not None and validate(together, schema).passed:
            continue
        for group_id, frame in frames.items():
            report = validate(frame, schema)
            if not report.passed:
                problems.append(f"{BY_ID[group_id].label} {schema}: {report.summary}")
    return problems


# the table checks of the exports' schemas that every subset of the rows of a passing table
# passes (row by row, or a single value within each group of keys); has_rows is checked per file
_SUBSET_SAFE_CHECKS = {
    "metric_value_in_range",
    "metric_value_isin",
    "value_in_physical_range",
    "consistent_within",
}
# the table checks that compare rows within groups (ranks): their groups must include the
# column that tells the files apart, so that no group spans two files
_GROUPED_CHECKS = {"competition_rank", "rank_within_pool"}
_FILE_COLUMN = "Trust_type"  # one peer group a file
# column checks that look at one cell at a time
_CELL_CHECKS = {"greater_than_or_equal_to", "in_range", "isin", "str_matches", "yes_no_flag"}


def _checked_together(frames: list[pd.DataFrame], schema_name: str) -> pd.DataFrame | None:
    """The files' rows as one table, when it passes the schema only if every file passes it
    alone: each has the rows ``has_rows`` asks for, they have the same columns and types and no
    value of ``Trust_type`` in common, and every other check of the schema looks at one cell or
    one row, keeps passing on a subset of the rows (uniqueness, one value a key) or groups by
    ``Trust_type``. None otherwise, for fewer than two files (nothing to gain), for frames with
    ``attrs`` (:func:`validate` adapts the schema to them, e.g. ``expected_quarter`` adds a
    check that any row of the table may pass), for a schema with an index, and for a check
    with pandera's ``groupby``."""
    if len(frames) < 2 or any(frame.attrs for frame in frames):
        return None
    first = frames[0]
    if any(not frame.dtypes.equals(first.dtypes) for frame in frames[1:]):
        return None
    if _FILE_COLUMN not in first.columns:
        return None
    seen: set = set()
    for frame in frames:
        types = set(frame[_FILE_COLUMN].dropna().unique())
        if types & seen or frame[_FILE_COLUMN].isna().any():
            return None
        seen |= types
    schema = load_schema(schema_name)
    if schema.index is not None:
        return None
    column_checks = [check for column in schema.columns.values() for check in column.checks]
    if any(check.groupby is not None for check in [*schema.checks, *column_checks]):
        return None
    for check in schema.checks:
        statistics = check.statistics or {}
        if check.name == "has_rows":
            if any(len(frame) < statistics.get("min_rows", 1) for frame in frames):
                return None
        elif check.name in _GROUPED_CHECKS:
            if _FILE_COLUMN not in statistics.get("group_by", []):
                return None
        elif check.name not in _SUBSET_SAFE_CHECKS:
            return None
    if any(check.name not in _CELL_CHECKS for check in column_checks):
        return None
    together = pd.concat(frames, ignore_index=True)
    return together if together.dtypes.equals(first.dtypes) else None


def _synthetic_notice(results, folder: Path) -> Path | None:
    """``SYNTHETIC-DATA.txt`` beside the outputs of a snapshot made from the sample data."""
    if not data_origin.is_synthetic_lineage(results.info.lineage):
        return None
    text = (
        f"{data_origin.SYNTHETIC_LABEL[0].upper()}{data_origin.SYNTHETIC_LABEL[1:]}.\n\n"
        f"Every file in this folder ({results.quarter.label}, snapshot v{results.version}) was "
        "made from the files `league sample-data` generated: invented trusts (codes Z...) and "
        "invented figures, laid out as NHS England publishes them so that the pipeline can be "
        "tried out. Nothing here describes a real NHS organisation.\n"
    )
    return write_bytes(folder / SYNTHETIC_NOTICE, text.encode("utf-8"))


def write_insights(
    explainer: Explainer,
    folder: Path,
    *,
    moves: pd.DataFrame | None,
    revised: Revision | None,
) -> list[Path]:
    """The explanations, item effects, movement and revisions as CSV files."""
    results = explainer.results
    files = [
        _csv(folder / "explanations.csv", explainer.summary()),
        _csv(
            folder / "contributions.csv",
            explainer.contributions.assign(quarter=results.quarter.label),
        ),
    ]
    if moves is not None:
        files.append(_csv(folder / "movement.csv", moves))
    if revised is not None:
        files.append(_csv(folder / "revisions.csv", revised.trusts))
    return files


def publish(
    quarter: str | Quarter,
    version: int | None = None,
    *,
    store: SnapshotStore,
    source_store: SourceStore,
    root: Path,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    whatif_checked: int = WHATIF_CHECKED,
) -> QuarterOutputs:
    """Write the official exports, snapshot Parquet, insights and report of a snapshot in
    ``store`` (the quarter's latest version unless ``version``; the NHS files' wording from
    ``source_store``) under the outputs folder ``root``, all or nothing: into a temporary folder
    renamed to ``v<N>`` when complete (replacing an earlier folder of the version). The paths
    returned are the final ones. ``cache_dir`` is the settings' cache folder;
    ``whatif_checked`` the metrics per trust the report's what-if suggestions search."""
    say = progress or (lambda _m: None)
    with store.reading():  # one attachment and one consistent view for every read
        results = load_quarter(quarter, version, store=store)
        q = results.quarter
        final = quarter_output_dir(q, results.version, root)
        say(f"{q.label} v{results.version}: writing outputs to {final}")
        with version_folder.building(final) as work:
            outputs = _write_outputs(
                results, work, store, source_store, cache_dir, say, whatif_checked
            )
            version_folder.write_manifest(
                work,
                outputs.files,
                {"quarter": q.label, "version": results.version, "data": outputs.data},
            )
        return _moved(outputs, work, final)


def _write_outputs(
    results,
    folder: Path,
    store: SnapshotStore,
    source_store: SourceStore,
    cache_dir: Path | None,
    say: Progress,
    whatif_checked: int,
) -> QuarterOutputs:
    """Every output of ``results`` under ``folder`` (the temporary folder of :func:`publish`)."""
    q = results.quarter
    published_rows = (  # the metrics' wording, without parsing the source files again
        store.read(PUBLISHED_ROWS, q, results.version)
        if PUBLISHED_ROWS in results.info.tables
        else None
    )
    official = write_official_exports(
        results,
        folder / "official",
        source_store=source_store,
        published_rows=published_rows,
        progress=say,
    )
    snapshot_files = store.export_parquet(q, results.version, folder / "snapshot")
    previous = load_previous(q, store=store)
    revised = latest_revision(q, results.version, store=store, loaded=results)
    moves = movement(results, previous) if previous is not None else None
    say(f"{q.label} v{results.version}: explanations, movement and revisions")
    explainer = Explainer(results)
    insight_files = write_insights(explainer, folder / "insights", moves=moves, revised=revised)
    say(f"{q.label} v{results.version}: HTML report")
    html = build_report(
        results,
        previous=previous,
        revised=revised,
        versions=[i.version for i in store.list(q)],
        progress=say,
        explainer=explainer,
        moves_frame=moves,
        cache_dir=cache_dir,
        published_rows=published_rows,
        whatif_checked=whatif_checked,
    )
    report = write_bytes(folder / REPORT_FILE, html.encode("utf-8"))
    notice = _synthetic_notice(results, folder)
    return QuarterOutputs(
        quarter=q,
        version=results.version,
        folder=folder,
        official=official,
        snapshot_files=snapshot_files,
        insight_files=insight_files,
        report=report,
        notice=notice,
        data=data_origin.SYNTHETIC if notice else data_origin.PUBLISHED,
        previews={
            BY_ID[g].label: top_and_bottom(frame) for g, frame in official.league_tables.items()
        },
        schema_problems=_check_round_trip(official),
        movement_summary=movement_summary(moves) if moves is not None else None,
        revision_summary=revised.summary() if revised is not None else None,
    )


def _moved(outputs: QuarterOutputs, work: Path, final: Path) -> QuarterOutputs:
    """``outputs`` with every path under the temporary folder ``work`` moved to ``final``."""

    def move(path: Path | None) -> Path | None:
        return None if path is None else final / path.relative_to(work)

    return replace(
        outputs,
        folder=final,
        official=replace(outputs.official, files=[move(p) for p in outputs.official.files]),
        snapshot_files=[move(p) for p in outputs.snapshot_files],
        insight_files=[move(p) for p in outputs.insight_files],
        report=move(outputs.report),
        notice=move(outputs.notice),
    )


def publish_latest(
    key: str,
    *,
    store: SnapshotStore,
    source_store: SourceStore,
    root: Path,
    cache_dir: Path | None = None,
    whatif_checked: int = WHATIF_CHECKED,
) -> tuple[QuarterOutputs, list[str]]:
    """The outputs step's work for one quarter: its latest snapshot's outputs, and the progress
    lines ``publish`` said."""
    said: list[str] = []
    outputs = publish(
        parse_quarter(key),
        store=store,
        source_store=source_store,
        root=root,
        cache_dir=cache_dir,
        progress=said.append,
        whatif_checked=whatif_checked,
    )
    return outputs, said
