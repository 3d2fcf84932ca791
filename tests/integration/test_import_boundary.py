"""The reading commands never import Dagster (nor pandera, altair, jinja2 and the like), and
the code location imports Dagster but none of the data libraries the steps use.

``league table``, ``status``, ``explain``, ``movement``, ``audit``, ``revisions`` and
``--help`` are what people wait for at a terminal; importing Dagster alone costs more than a
second. Each command runs in a fresh interpreter on a working home with snapshots of NHS
England's real files (written without Dagster, ``tests/support/outputs_support.py``), and the
modules it loaded are listed once it is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from outputs_support import Q1, Q2, build_real_home, snapshot_tables

from league_pipeline.audit.compare import audit_rows
from league_pipeline.scoring import official
from league_pipeline.scoring.engine import run_scoring

MARK = "IMPORTED-MODULES "
# top-level packages no reading command needs
NEVER = (
    "dagster",
    "dagster_webserver",
    "pandera",
    "altair",
    "jinja2",
    "vl_convert",
    "httpx",
    "rich",
)
CHILD = f"""
import json, sys
from league_pipeline.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
loaded = sorted({{name.split(".")[0] for name in sys.modules}})
print({MARK!r} + json.dumps({{"code": code, "modules": loaded}}))
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory, acute_bytes, mh_bytes) -> tuple[Path, str]:
    """Q1 v1 and Q2 v1 of the real files, and Q1 v2 with the audit's rows (for ``audit`` and
    ``revisions``); and an acute trust's code (for ``explain``)."""
    real = build_real_home(
        tmp_path_factory, tmp_path_factory.mktemp("import-home"), acute_bytes, mh_bytes
    )
    info = real.store.latest(Q1)
    published = pd.concat([real.acute, real.mhc[real.mhc["Quarter"] == Q1]], ignore_index=True)
    tables = snapshot_tables(published)
    tables["audit"] = audit_rows(run_scoring(official.inputs_from_nof(published)), published)
    real.store.write(Q1, tables, {**info.lineage, "code_version": "test-audit"}, run_id="test")
    return real.home, str(sorted(real.acute["Trust_code"].unique())[0])


def _run(home: Path, *argv: str) -> tuple[int, set[str], str]:
    env = {
        **os.environ,
        "LEAGUE_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "LEAGUE_SOURCE_MODE": "landing",
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    assert lines, f"league {' '.join(argv)} did not finish:\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(lines[-1][len(MARK) :])
    return result["code"], set(result["modules"]), proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["table", "--quarter", Q1],
        ["table", "--quarter", Q1, "--peer-group", "mental_health_community"],
        ["status"],
        ["status", "--lineage", Q1],
        ["explain", "TRUST", "--quarter", Q1],
        ["movement", "--quarter", Q2],
        ["audit", "--quarter", Q1],
        ["revisions", "--quarter", Q1],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_reading_commands_do_not_import_dagster(home, argv):
    folder, trust = home
    argv = [trust if a == "TRUST" else a for a in argv]
    code, modules, output = _run(folder, *argv)
    assert code == 0, output
    assert not modules & set(NEVER), f"league {' '.join(argv)} imported {modules & set(NEVER)}"


def test_help_imports_no_data_library(home):
    folder, _ = home
    code, modules, output = _run(folder, "--help")
    assert code == 0, output
    assert not modules & {"pandas", "numpy", "pyarrow", "duckdb"}, output


def test_the_code_location_imports_dagster_and_no_data_library():
    """Loading the code location (``dagster dev``, ``definitions validate``) imports Dagster
    and the wiring; the library the steps use is imported when they run."""
    script = (
        "import json, sys, warnings; warnings.simplefilter('ignore'); "
        "import league_pipeline.definitions; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "dagster" in modules
    library = {"pandas", "numpy", "pyarrow", "duckdb", "pandera", "hypothesis", "httpx", "altair"}
    assert not modules & library, modules & library


def test_the_step_processes_forkserver_preloads_the_library_schemas_and_instance_storage():
    """What ``--parallel N``'s forkserver imports once for every step process it forks
    (defs/automation.py, STEP_PROCESS_PRELOAD): the library, every pandera schema, and the
    instance's storage (SQLAlchemy, alembic), which otherwise took about a second of each step
    process. The code location itself never imports that module (test above)."""
    from league_pipeline.defs.automation import STEP_PROCESS_PRELOAD

    script = (
        "import json, sys, warnings; warnings.simplefilter('ignore'); "
        f"[__import__(m) for m in {STEP_PROCESS_PRELOAD!r} if m != 'dagster_postgres']; "
        "from league_pipeline.validation.schemas import load_schema, schema_names; "
        "print(json.dumps([sorted({m.split('.')[0] for m in sys.modules}), "
        "load_schema.cache_info().currsize, len(schema_names())]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    modules, cached, schemas = json.loads(proc.stdout.splitlines()[-1])
    assert {"pandas", "duckdb", "pandera", "sqlalchemy", "alembic"} <= set(modules)
    assert cached == schemas > 10
    assert "league_pipeline.defs.step_process" in STEP_PROCESS_PRELOAD


def test_a_failed_preload_warms_nothing_but_stops_nothing():
    """The forkserver ignores only an ImportError in its preload: any other failure of the
    head start (a full temporary folder, the instance) is a warning, so --parallel runs go on."""
    script = (
        "import warnings; warnings.simplefilter('always'); import dagster as dg; "
        "dg.DagsterInstance.local_temp = staticmethod(lambda *a, **k: 1 / 0); "
        "import league_pipeline.defs.step_process; print('imported')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "imported"
    assert "step processes start without a preload: division by zero" in proc.stderr
