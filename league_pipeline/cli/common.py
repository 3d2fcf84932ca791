"""Shared helpers for the ``league`` sub-commands: errors, progress, quarter arguments, and
text that is safe to print on a terminal."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from league_pipeline.core.settings import Settings
    from league_pipeline.core.staging import Staging
    from league_pipeline.ingest.store import SourceStore
    from league_pipeline.snapshots.store import SnapshotStore

# characters a terminal acts on rather than shows: C0 and C1 controls and DEL (ESC starts the
# ANSI sequences that clear the screen or set the title; CR, LF and TAB move the cursor), format
# characters such as the bidi overrides (U+202E) and isolates, and the line/paragraph separators
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def terminal_safe(value):
    """``value`` with every character a terminal would act on (C0/C1 controls including ESC,
    CR, LF and TAB; DEL; bidi overrides and other format characters; line and paragraph
    separators) shown as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``), so that a name
    cannot clear the screen, set the title, reorder a line or add a row. Anything but a string
    is returned unchanged. Use it on every name or text from the data before printing it."""
    if not isinstance(value, str):
        return value
    if value.isprintable() and value.isascii():  # the common case: nothing to do
        return value
    return "".join(
        _escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in value
    )


def terminal_safe_rows(rows):
    """Table rows (lists of cells) with every text cell made :func:`terminal_safe`."""
    return [[terminal_safe(cell) for cell in row] for row in rows]


def terminal_safe_frame(frame):
    """A copy of a DataFrame whose text cells are :func:`terminal_safe` (for ``to_string``)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for column in out.columns:
        if is_object_dtype(out[column].dtype) or is_string_dtype(out[column].dtype):
            out[column] = out[column].map(terminal_safe, na_action="ignore")
    return out


class CliError(Exception):
    """A problem the user can fix; printed as one line (control characters in it escaped, as
    it may quote a name or an argument)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(terminal_safe(str(message)))


def progress(message: str) -> None:
    print(f"[league] {terminal_safe(message)}", file=sys.stderr, flush=True)


def log_level(args: argparse.Namespace) -> str:
    return "INFO" if args.verbose else "CRITICAL"


def snapshot_store(settings: Settings) -> SnapshotStore:
    """The snapshot store the settings name (``<home>/lake``, their catalog and backups, and
    the object storage of its data files when they name one)."""
    from league_pipeline.snapshots.store import SnapshotStore

    return SnapshotStore.at(
        settings.layout.lake,
        catalog=settings.lake_catalog,
        backups=settings.lake_backups,
        data_path=settings.lake_data_path,
        region=settings.s3_region,
        endpoint=settings.s3_endpoint,
        url_style=settings.s3_url_style,
        key_id=settings.s3_key_id,
        secret=settings.s3_secret,
        session_token=settings.s3_session_token,
    )


def source_store(settings: Settings) -> SourceStore:
    """The content-addressed source store of the settings' home (``<home>/sources``)."""
    from league_pipeline.ingest.store import SourceStore

    return SourceStore(settings.layout.sources)


def staging_folder(settings: Settings) -> Staging:
    """The staging folder of the settings' home (``<home>/staging``)."""
    from league_pipeline.core.staging import Staging

    return Staging(settings.layout.staging)


def check_landing(settings: Settings, quarters) -> None:
    """In landing mode, fail early (with the fix) when a quarter has no files."""
    if settings.source_mode != "landing":
        return
    landing = settings.landing_dir
    for quarter in quarters:
        folder = landing / quarter.slug
        if not folder.is_dir() or not any(folder.iterdir()):
            raise CliError(
                f"no source files for {quarter.label} in {landing} — run `league sample-data` "
                "for the embedded default, or put NHS England's published files there"
            )


def print_data_label(*lineages, stream=None) -> None:
    """Print the synthetic-data line (on stdout unless ``stream``) when any of ``lineages`` (a
    snapshot lineage, or ``{"inputs": ...}`` of staged sources) comes from generated sample
    data; nothing for NHS England's files."""
    from league_pipeline.sample import data_origin

    for lineage in lineages:
        line = data_origin.banner_line(lineage)
        if line:
            print(line, file=stream or sys.stdout)
            return


def staged_lineage(staged: Staging, partition_key: str) -> dict:
    """``{"inputs": ...}`` of the source files staged for a quarter (the ones present), for
    commands that read staging rather than a snapshot (reconcile, provisional)."""
    from league_pipeline.core.staging import StagingMissingError
    from league_pipeline.defs.derived import RAW_SOURCE_SPECS
    from league_pipeline.defs.sources import SOURCE_SPECS
    from league_pipeline.sample import data_origin

    inputs = {}
    for spec in (*SOURCE_SPECS, *RAW_SOURCE_SPECS):
        try:
            inputs[spec.kind] = staged.read_lineage(spec.kind, partition_key)
        except StagingMissingError:
            continue
    return {"data": data_origin.lineage_data(inputs), "inputs": inputs}


def snapshot_to_read(store, quarter, version: int | None):
    """The snapshot a reading command shows: ``version`` of ``quarter``, by default its latest
    (a one-line CliError, with the fix, when the quarter has none)."""
    latest = store.latest(quarter.label)
    if latest is None:
        raise CliError(
            f'no snapshot for {quarter.label} — run `league run --quarter "{quarter.label}"`'
        )
    return latest if version is None else store.get(quarter.label, version)
