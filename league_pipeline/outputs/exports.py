"""A snapshot in NHS England's published formats: league tables and trust data files.

Belongs here: building, per quarter and peer group, the official league table and trust data
file from a snapshot (``sql/nof_*.sql``) in the published CSV layout of each quarter (columns,
order, ``Likely_range_*`` as ``a to b``, floats, encoding, line ends) under NHS England's file
names (``synthetic-<name>`` for the sample data), written as CSV (through
:mod:`league_pipeline.formats.nof`) and Parquet (what the readers read back from the CSV). A
text cell that would start a spreadsheet formula gets a ``'`` in front
(:func:`neutralise_formulas`). Layouts: docs/outputs.md ("Official formats"); CSV injection:
docs/reliability.md ("Safe output").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from league_pipeline.core.atomic import atomic_write, write_bytes
from league_pipeline.core.peer_groups import BY_ID, PEER_GROUPS, PeerGroup
from league_pipeline.core.quarters import FIRST_QUARTER, Quarter
from league_pipeline.formats.nof import (
    read_nof_league_table,
    read_nof_trust_data,
    write_nof_league_table,
    write_nof_trust_data,
)
from league_pipeline.ingest.store import SourceNotFoundError, SourceStore
from league_pipeline.outputs.queries import run_query
from league_pipeline.outputs.results import QuarterResults
from league_pipeline.sample import data_origin
from league_pipeline.scoring import catalogue

log = logging.getLogger(__name__)

SYNTHETIC_PREFIX = "synthetic-"  # file names of exports made from the sample data
LEAGUE_TABLE_FILE = "nhs-oversight-framework-{stem}-trust-league-table"
TRUST_DATA_FILE = "nhs-oversight-framework-{stem}-trust-data"
# OWASP CSV injection: the characters a spreadsheet starts a formula (or DDE call) with
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# the NOF file's columns the wording comes from, in the order of _METADATA_COLUMNS[1:]
_PUBLISHED_WORDING = ["Metric_ID", "Domain", "Sub_domain", "Metric_description", "Reporting_date"]
_METADATA_COLUMNS = [
    "peer_group",
    "metric_id",
    "domain",
    "sub_domain",
    "description",
    "reporting_date",
]


@dataclass(frozen=True)
class Layout:
    """How one quarter's publication writes its CSV files."""

    with_quarter: bool  # trust data has a Quarter column
    bom: bool
    line_terminator: str
    percent_unit: str


SEPT_2025_LAYOUT = Layout(
    with_quarter=False, bom=True, line_terminator="\r\n", percent_unit="percent"
)
LATER_LAYOUT = Layout(with_quarter=True, bom=False, line_terminator="\n", percent_unit="%")


def neutralise_cell(value):
    """A text cell a spreadsheet would run as a formula, with ``'`` in front; anything else
    (numbers, text that is a plain number such as ``-1.5``, missing values) unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_LEADS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells neutralised (:func:`neutralise_cell`); numeric, boolean
    and date columns are left alone. A copy is made only when a cell changes."""
    out = frame
    for column in frame.columns:
        series = frame[column]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
            continue
        try:  # most columns have no cell starting a formula: find the candidates at once
            candidates = series.str.startswith(FORMULA_LEADS, na=False)
        except AttributeError:  # an object column without text (.str refuses it)
            candidates = series.notna()
        if not candidates.any():
            continue
        fixed = series[candidates].map(neutralise_cell).reindex(series.index)
        changed = fixed.ne(series) & candidates
        if changed.any():
            if out is frame:
                out = frame.copy()
            out[column] = series.where(~changed, fixed)
    return out


def publication_layout(quarter: Quarter) -> Layout:
    """The Sept 2025 layout for 2025/26 Q1, the later layout afterwards."""
    return SEPT_2025_LAYOUT if quarter == FIRST_QUARTER else LATER_LAYOUT


def file_stem(kind: str, group: PeerGroup) -> str:
    """NHS England's file name (without ``.csv``) of the ``league_table`` or ``trust_data``."""
    pattern = {"league_table": LEAGUE_TABLE_FILE, "trust_data": TRUST_DATA_FILE}[kind]
    return pattern.format(stem=group.file_stem)


def _peer_groups() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "peer_group": [g.id for g in PEER_GROUPS],
            "trust_type": [g.trust_type for g in PEER_GROUPS],
        }
    )


def _split(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    for group in PEER_GROUPS:
        part = frame[frame["peer_group"] == group.id].drop(columns="peer_group")
        if len(part):
            out[group.id] = part.reset_index(drop=True)
    return out


def official_league_tables(results: QuarterResults) -> dict[str, pd.DataFrame]:
    """Peer group id -> its league table in the published columns (reader-normalised types)."""
    frame = run_query(
        "nof_league_table",
        {"league_table": results.league_table, "peer_groups": _peer_groups()},
    )
    return _split(frame)


def _empty_metadata() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in _METADATA_COLUMNS})


def _wording(rows: pd.DataFrame, group_id: str) -> pd.DataFrame:
    """The first row of each metric in a NOF file's rows (``metric_id``, ``domain``,
    ``sub_domain``, ``metric_description``, ``reporting_date``; any case) as metadata rows."""
    rows = rows.rename(columns=str.lower)
    meta = rows.drop_duplicates("metric_id")[[c.lower() for c in _PUBLISHED_WORDING]]
    meta.columns = _METADATA_COLUMNS[1:]
    return meta.assign(peer_group=group_id)[_METADATA_COLUMNS]


def published_metadata(
    results: QuarterResults,
    source_store: SourceStore,
    published_rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The published wording of each metric (domain, sub-domain, description, reporting date),
    per peer group, from the NOF rows the snapshot was built from: its ``published_rows``
    table when given (a snapshot holds it since it compares publications), else read again
    from the source files (found in the content-addressed source store by the SHA-256 its
    lineage records). Files no longer in the store are skipped: the catalogue's wording is
    used for them instead."""
    parts = []
    if published_rows is not None:
        for group in PEER_GROUPS:
            rows = published_rows[published_rows["source_kind"] == group.source_kind]
            if len(rows):
                parts.append(_wording(rows, group.id))
    else:
        inputs = results.info.lineage.get("inputs", {})
        for group in PEER_GROUPS:
            kind = group.source_kind
            sha = (inputs.get(kind) or {}).get("sha256")
            if not sha:
                continue
            try:
                content = source_store.get(sha).read_bytes()
            except (SourceNotFoundError, ValueError) as exc:
                log.warning("published wording for %s not available (%s)", kind, exc)
                continue
            data = read_nof_trust_data(content, results.quarter.label)
            parts.append(_wording(data[data["Quarter"] == results.quarter.label], group.id))
    if not parts:
        return _empty_metadata()
    return pd.concat(parts, ignore_index=True).astype("str").replace("nan", pd.NA)


def official_trust_data(
    results: QuarterResults, metadata: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Peer group id -> its trust data file in the published columns (reader-normalised)."""
    if metadata is None:
        metadata = published_metadata(results)
    cat = catalogue.metric_catalogue()[
        ["score_id", "value_id", "short_name", "domain", "sub_domain", "direction"]
    ]
    frame = run_query(
        "nof_trust_data",
        {
            "trusts": results.trusts,
            "peer_groups": _peer_groups(),
            "metric_values": results.metric_values,
            "metric_scores": results.metric_scores,
            "domain_scores": results.domain_scores,
            "league_table": results.league_table,
            "catalogue": cat,
            "published_metadata": metadata if len(metadata) else _empty_metadata(),
        },
        [results.quarter.published_label],
    )
    return _split(frame)


def _with_line_ends(crlf: bytes, line_terminator: str) -> bytes:
    """CSV written with CRLF record ends (so that Python's writer quotes every cell holding a
    CR or an LF), given ``line_terminator`` ones. With LF, a bare CR in a cell is then quoted
    rather than left to end the row in a spreadsheet (a CRLF inside a quoted cell becomes LF).
    Files without such cells come out byte for byte as written with ``line_terminator``."""
    return crlf if line_terminator == "\r\n" else crlf.replace(b"\r\n", line_terminator.encode())


def frame_csv(frame: pd.DataFrame) -> bytes:
    """Any table as a UTF-8 CSV file (LF line ends), text cells that a spreadsheet would run as
    a formula neutralised and any cell holding a line break quoted: the insights files and the
    ``--csv`` files of the ``league`` commands."""
    crlf = neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n")
    return _with_line_ends(crlf.encode("utf-8"), "\n")


def league_table_csv(frame: pd.DataFrame, quarter: Quarter) -> bytes:
    """The league table as the quarter's publication writes it."""
    layout = publication_layout(quarter)
    crlf = write_nof_league_table(frame, bom=layout.bom, line_terminator="\r\n")
    return _with_line_ends(crlf, layout.line_terminator)


def trust_data_csv(frame: pd.DataFrame, quarter: Quarter) -> bytes:
    """The trust data file as the quarter's publication writes it."""
    layout = publication_layout(quarter)
    crlf = write_nof_trust_data(
        frame,
        with_quarter=layout.with_quarter,
        percent_unit=layout.percent_unit,
        bom=layout.bom,
        line_terminator="\r\n",
    )
    return _with_line_ends(crlf, layout.line_terminator)


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


@dataclass
class OfficialExport:
    """The files written for one quarter: per peer group, the CSV and Parquet of each file."""

    quarter: Quarter
    version: int
    files: list[Path] = field(default_factory=list)
    league_tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # as read back
    trust_data: dict[str, pd.DataFrame] = field(default_factory=dict)  # as read back


def write_official_exports(
    results: QuarterResults,
    out_dir: Path,
    *,
    source_store: SourceStore,
    published_rows: pd.DataFrame | None = None,
    progress=None,
) -> OfficialExport:
    """Write every peer group's league table and trust data file under ``out_dir``:
    ``<published name>.csv`` in the quarter's layout and ``<published name>.parquet`` with the
    same rows as the project's readers read them from the CSV (``synthetic-<published name>``
    for a snapshot of the generated sample data). The metrics' wording comes from
    ``published_rows`` (the snapshot's table of that name) when given, else from the source
    files in ``source_store`` (:func:`published_metadata`)."""
    quarter = results.quarter
    prefix = SYNTHETIC_PREFIX if data_origin.is_synthetic_lineage(results.info.lineage) else ""
    export = OfficialExport(quarter=quarter, version=results.version)
    tables = official_league_tables(results)
    metadata = published_metadata(results, source_store, published_rows)
    data = official_trust_data(results, metadata)
    tables = {g: neutralise_formulas(frame) for g, frame in tables.items()}
    data = {g: neutralise_formulas(frame) for g, frame in data.items()}
    for group_id in tables:
        group = BY_ID[group_id]
        if progress:
            progress(f"{quarter.label} {group.label}: official league table and trust data")
        pairs = (
            (
                "league_table",
                league_table_csv(tables[group_id], quarter),
                read_nof_league_table,
            ),
            ("trust_data", trust_data_csv(data[group_id], quarter), read_nof_trust_data),
        )
        for kind, content, read in pairs:
            stem = prefix + file_stem(kind, group)
            export.files.append(write_bytes(out_dir / f"{stem}.csv", content))
            frame = read(content, quarter.label)
            frame.attrs = {}
            export.files.append(write_parquet(out_dir / f"{stem}.parquet", frame))
            target = export.league_tables if kind == "league_table" else export.trust_data
            target[group_id] = frame
    return export


def top_and_bottom(frame: pd.DataFrame, rows: int = 5) -> str:
    """Markdown of the top and bottom ``rows`` trusts of an official league table."""
    shown = pd.DataFrame(
        {
            "Rank": frame["Rank"].map(lambda v: f"{v:.0f}"),
            "Code": frame["Trust_code"],
            "Trust": frame["Trust_name"],
            "Average": frame["Average_score"].map(lambda v: f"{v:.2f}"),
            "Likely average": frame["Likely_range_of_average_score"],
            "Segment": frame["Segment"].map(lambda v: f"{v:.0f}"),
            "In deficit": frame["Trust_in_financial_deficit"].map({True: "Yes", False: "No"}),
            "Likely rank": frame["Likely_range_of_rank"],
        }
    )
    if len(shown) > 2 * rows:
        gap = pd.DataFrame([dict.fromkeys(shown.columns, "…")])
        shown = pd.concat([shown.head(rows), gap, shown.tail(rows)], ignore_index=True)
    return shown.to_markdown(index=False)
