"""Where things live: the bundled methodology/schemas folders, and the layout of a working home.

Belongs here: path layout only. Nothing here reads the environment (the working home comes
from :mod:`league_pipeline.core.settings`) or reads or writes data. A working home
(:class:`HomeLayout`)::

    landing/   local landing folder: the default source of extracts (one sub-folder a quarter)
    sources/   immutable content-addressed store of every fetched file (sha256)
    staging/   parsed extracts handed between Dagster assets (mutable, per asset and quarter)
    lake/      the snapshot store (DuckLake catalog + Parquet data files)
    outputs/   what people read, per quarter and snapshot version
    dagster/   DAGSTER_HOME for the CLI's runs (run history persists)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    """Return the repository folder ``name`` (editable install) or its copy inside the wheel."""
    repo_dir = _PACKAGE_DIR.parent / name
    if repo_dir.is_dir():
        return repo_dir
    wheel_dir = _PACKAGE_DIR / "_bundled" / name
    if wheel_dir.is_dir():
        return wheel_dir
    raise FileNotFoundError(f"cannot find the bundled '{name}' folder next to {_PACKAGE_DIR}")


def assets_dir() -> Path:
    """The declarative methodology: metric catalogue, lookup tables and SQL transformations."""
    return _bundled("assets")


def methodology_dir() -> Path:
    """The methodology tables (CSV) and the metric-source configuration (YAML)."""
    return assets_dir() / "methodology"


def sql_dir() -> Path:
    return assets_dir() / "sql"


def schemas_dir() -> Path:
    """The pandera schemas (YAML) for every source extract and output table."""
    return _bundled("schemas")


@dataclass(frozen=True)
class HomeLayout:
    """The folders of the working home ``root`` (see the module docstring). The landing
    folder and the Dagster home are these by default; the settings may put them elsewhere."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"
