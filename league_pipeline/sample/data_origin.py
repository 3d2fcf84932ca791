"""Where a run's data came from: the synthetic sample data, or files NHS England published.

Belongs here: the manifest ``league sample-data`` writes in a landing folder
(:data:`MANIFEST_FILE`: the SHA-256 of every file it generated); the ``synthetic`` flag of a
source's lineage record; the ``data`` field of a snapshot's lineage (``synthetic`` when any
input was generated, else ``published``); and the label every output made from generated data
carries (:data:`SYNTHETIC_LABEL`). A file is synthetic when, and only when, its exact bytes are
listed in its landing folder's manifest; a missing or unreadable manifest means "not
synthetic". The rule and the manifest's format: docs/sample-data.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_FILE = ".league-sample.json"
SYNTHETIC = "synthetic"
PUBLISHED = "published"
SYNTHETIC_LABEL = "synthetic sample data, not NHS England's figures"
GENERATOR = "league_pipeline.sample.generator"
NOTE = (
    "Files written by `league sample-data`: invented trusts and invented figures, "
    "not NHS England's. Outputs made from them are labelled synthetic."
)


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_path(landing_dir: Path) -> Path:
    return Path(landing_dir) / MANIFEST_FILE


def read_manifest(landing_dir: Path | None) -> dict[str, Any] | None:
    """The landing folder's manifest, or None when there is none or it cannot be read (a
    warning is logged for a manifest that exists but is not a valid one)."""
    if landing_dir is None:
        return None
    path = manifest_path(landing_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring the sample-data manifest %s: cannot read it (%s)", path, exc)
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(files, dict)
        or data.get("data") != SYNTHETIC
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        log.warning(
            "ignoring the sample-data manifest %s: not a {data: synthetic, files: {path: sha256}} "
            "record",
            path,
        )
        return None
    return data


def synthetic_files(landing_dir: Path | None) -> dict[str, str]:
    """Relative path -> SHA-256 of every file the generator wrote in ``landing_dir``."""
    manifest = read_manifest(landing_dir)
    return dict(manifest["files"]) if manifest else {}


def is_synthetic(landing_dir: Path | None, sha256: str) -> bool:
    """Whether the file with this SHA-256 is one the generator wrote in ``landing_dir``."""
    return sha256 in set(synthetic_files(landing_dir).values())


def write_manifest(landing_dir: Path, files: Mapping[str, str], *, seed: int, version: str) -> Path:
    """Write (replace) the manifest listing ``files`` (relative path -> SHA-256)."""
    from league_pipeline.core.atomic import write_bytes

    record = {
        "data": SYNTHETIC,
        "generator": GENERATOR,
        "version": version,
        "seed": seed,
        "note": NOTE,
        "files": dict(sorted(files.items())),
    }
    text = json.dumps(record, indent=1) + "\n"
    return write_bytes(manifest_path(landing_dir), text.encode("utf-8"))


def foreign_files(landing_dir: Path, relative_paths: Iterable[str]) -> list[str]:
    """Of ``relative_paths``, those that exist in ``landing_dir`` but are not, byte for byte,
    files the generator wrote there (someone else's files, or generated files changed since):
    writing the sample data would overwrite them."""
    listed = synthetic_files(landing_dir)
    out = []
    for relative in relative_paths:
        path = Path(landing_dir) / relative
        if not path.is_file():
            continue
        if listed.get(relative) != sha256_of(path.read_bytes()):
            out.append(relative)
    return out


# --------------------------------------------------------------------------------------------
# Lineage
# --------------------------------------------------------------------------------------------
def lineage_data(inputs: Mapping[str, Mapping[str, Any]]) -> str:
    """A snapshot's ``data``: ``synthetic`` when any input record is flagged synthetic."""
    flagged = any(bool(rec.get(SYNTHETIC)) for rec in inputs.values() if isinstance(rec, Mapping))
    return SYNTHETIC if flagged else PUBLISHED


def is_synthetic_lineage(lineage: Mapping[str, Any] | None) -> bool:
    """Whether a snapshot lineage says its data are synthetic (older lineages, without a
    ``data`` field, are judged by their inputs' flags; none means published)."""
    if not lineage:
        return False
    if "data" in lineage:
        return lineage["data"] == SYNTHETIC
    return lineage_data(lineage.get("inputs") or {}) == SYNTHETIC


def label(lineage: Mapping[str, Any] | None) -> str | None:
    """:data:`SYNTHETIC_LABEL` for a snapshot made from generated data, otherwise None."""
    return SYNTHETIC_LABEL if is_synthetic_lineage(lineage) else None


def banner_line(lineage: Mapping[str, Any] | None) -> str | None:
    """The line a command prints above a table made from generated data."""
    text = label(lineage)
    return f"*** {text} ***" if text else None
