"""Where things live: the bundled methodology/schemas folders and the working home (LEAGUE_HOME).

Belongs here: path resolution only. Nothing here reads or writes data.

Layout of the working home (default ``./.league``, override with ``LEAGUE_HOME``)::

    landing/      local landing folder: the default source of extracts (one sub-folder a quarter)
    sources/      immutable content-addressed store of every fetched file (sha256)
    staging/      parsed extracts handed between Dagster assets (mutable, per asset and quarter)
    lake/         the snapshot store (DuckLake catalog + Parquet data files)
    dagster/      DAGSTER_HOME for the CLI's runs (run history persists)

Outside the home, :func:`cache_dir` keeps derived files that are slow to make, the same for
every home and safe to delete (the report's inlined Vega bundle): ``LEAGUE_CACHE_DIR``, else
``$XDG_CACHE_HOME/league-pipeline``, else ``~/.cache/league-pipeline``.
"""

from __future__ import annotations

import os
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


def league_home() -> Path:
    """The working home for landing data, the source store, staging and snapshots."""
    return Path(os.environ.get("LEAGUE_HOME", ".league")).resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("LEAGUE_LANDING_DIR", league_home() / "landing")).resolve()


def source_store_dir() -> Path:
    return league_home() / "sources"


def staging_dir() -> Path:
    return league_home() / "staging"


def lake_dir() -> Path:
    return league_home() / "lake"


def cache_dir() -> Path:
    """Derived files shared by every working home (see the module docstring)."""
    if os.environ.get("LEAGUE_CACHE_DIR"):
        return Path(os.environ["LEAGUE_CACHE_DIR"]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().resolve() / "league-pipeline"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", league_home() / "dagster")).resolve()
