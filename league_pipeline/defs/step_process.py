"""What every step process of the multiprocess executor needs, imported once by its forkserver.

Belongs here: what the forkserver preloads (``STEP_PROCESS_PRELOAD`` in defs/automation.py);
nothing else imports this module. Importing it imports
the library modules the steps use, loads every pandera schema (cached), and imports Dagster's
instance storage (SQLAlchemy, alembic and the SQLite storage classes, by opening a throwaway
local instance), so each forked step process starts with them loaded instead of loading them
again. Figures: benchmarks/README.md
(backfill).
"""

import importlib
import tempfile
import warnings

import dagster as dg

# the library the steps use (the code location itself imports none of it: defs/sources.py)
LIBRARY = (
    "league_pipeline.formats.nof",
    "league_pipeline.ingest.acquire",
    "league_pipeline.validation.report",
    "league_pipeline.scoring.engine",
    "league_pipeline.scoring.likely_ranges",
    "league_pipeline.derivation.derive",
    "league_pipeline.audit.compare",
    "league_pipeline.outputs.publish",
)


def _warm() -> None:
    for module in LIBRARY:
        importlib.import_module(module)
    # only a head start: a failure here (a full temporary folder...) must not stop the
    # forkserver, which ignores an ImportError only; each step process then loads them itself
    try:
        from league_pipeline.validation.schemas import load_schema, schema_names

        for name in schema_names():
            load_schema(name)
        # a step process opens the run's instance first: load its storage classes here, once
        with tempfile.TemporaryDirectory(prefix="league-preload-") as folder:
            dg.DagsterInstance.local_temp(folder).dispose()
    except Exception as exc:
        warnings.warn(f"step processes start without a preload: {exc}", stacklevel=1)


_warm()
