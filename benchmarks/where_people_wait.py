"""Where people wait (issue 13, item 5): every ratio of the issue, measured side by side.

Run: ``.venv/bin/python benchmarks/where_people_wait.py [--before /work/before] [--repeats 5]``
(``--only quarter commands code dev`` measures some parts; ``--help`` for the rest).

Each code version (this checkout, and with ``--before`` an older checkout, imported through
``PYTHONPATH``) gets a working home of its own holding the embedded default's 2025/26 Q1
landing files (``league sample-data --quarter "2025/26 Q1"``, not timed) and, after a first
untimed ``league run``, its snapshot. Then each pair below is measured in fresh processes, the
two versions taking turns, and the median of the repeats is kept:

* ``league table`` (the whole command, interpreter start-up included) against a bare DuckDB
  read of the same snapshot in a fresh process: ``import duckdb``, load the DuckLake and SQLite
  extensions from their packages, attach the catalog read-only, read the latest version's
  acute rows in rank order. For reference, the same rows read straight from the snapshot's
  Parquet data file (no catalog, no extensions) are timed too;
* ``league --help`` against ``python -c`` importing ``argparse`` and printing a parser's help;
* ``status``, ``explain``, ``movement``, ``audit`` and ``revisions``: their time, and whether
  the process imported Dagster (each command reports the packages it loaded);
* ``dagster definitions validate -m league_pipeline.definitions`` against
  ``python -c "import dagster"``; for reference ``import league_pipeline.definitions`` and the
  same ``validate`` on a code location holding one empty ``Definitions`` (what Dagster's CLI
  costs by itself);
* one quarter: ``league run`` (in-process time of ``main(["run", ...])``; the code location and
  the third-party libraries, pandas to httpx, are imported before the clock starts, as they are
  before the library work's) against the sum of the same library work without Dagster
  and a no-op Dagster job of the same shape (the job's own assets, checks, dependencies and
  partitions with no work in them, so Dagster records as many steps, materialisations and
  check evaluations as in the run: ``_common.noop_job``; ``execute_in_process`` on a persistent
  SQLite instance). For comparison with older figures, the ratio with the benchmarks' earlier
  no-op job (as many no-op assets in a chain as the run had steps, no checks) is shown too. The
  library work is timed in
  parts: the six NOF and reference sources (store, read, validate), the cross-file checks, the
  scoring and 10,000-replicate likely ranges, the six raw-statistics sources, their derivation
  and reconciliation, the snapshot write and the outputs (``publish``). The issue's figure
  (2.65 s) was the library path to the snapshot without the raw statistics and the outputs;
  both sums are shown, and the verdict uses the whole work;
* the outputs step (``quarterly_outputs``), from the run's progress lines;
* ``dagster dev``: seconds until the webserver answers ``/server_info`` with HTTP 200, and
  until the code location is loaded (GraphQL ``locationEntries``), in a temporary
  ``DAGSTER_HOME``; and the warnings in its log that the project causes (the warnings of the
  same command on an empty code location are Dagster's own and are left out).

Figures move by 10-20% from run to run on a quiet 2-core machine and by more under load; the
ratios, measured side by side, move less.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NO_TELEMETRY, REPO, RESULT, step_times, table, time_noop_job

QUARTER = "2025/26 Q1"
PARTS = ("quarter", "commands", "code", "dev")
NEXT = "2025/26 Q2"  # has a snapshot too, for ``league movement``
HEAVY = ("dagster", "pandera", "altair", "jinja2", "vl_convert", "httpx", "pandas", "duckdb")
READING = {
    "status": ["status"],
    "explain": ["explain", "TRUST", "--quarter", QUARTER],
    "movement": ["movement", "--quarter", NEXT],
    "audit": ["audit", "--quarter", QUARTER],
    "revisions": ["revisions", "--quarter", QUARTER],
}
OUTPUTS_STEP = "quarterly_outputs"  # the outputs multi-asset's step
# a command run through the CLI's main, reporting the packages it loaded on stderr
COMMAND = f"""
import sys
from league_pipeline.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print("LOADED " + ",".join(loaded), file=sys.stderr)
sys.exit(code or 0)
"""
ARGPARSE = """
import argparse
parser = argparse.ArgumentParser(prog="league", description="a parser of the same kind")
sub = parser.add_subparsers(dest="command", metavar="COMMAND")
for name in ("run", "table", "status"):
    sub.add_parser(name, help=f"the {name} command")
parser.parse_args(["--help"])
"""
BARE_READ = """
import importlib.resources, os, sys, tempfile
import duckdb
lake, quarter, group = sys.argv[1:4]
version = f"v{duckdb.__version__}"
def extension(package, stem):
    base = importlib.resources.files(package)
    return os.path.join(str(base), "extensions", version, stem + ".duckdb_extension")
con = duckdb.connect(config={"autoinstall_known_extensions": False,
                             "autoload_known_extensions": False})
con.execute(f"LOAD '{extension('duckdb_extension_ducklake', 'ducklake')}'")
with tempfile.TemporaryDirectory() as tmp:  # the binary's name must be its entry point's
    alias = os.path.join(tmp, "sqlite_scanner.duckdb_extension")
    os.symlink(extension("duckdb_extension_sqlite", "sqlite"), alias)
    con.execute(f"LOAD '{alias}'")
con.execute("SET GLOBAL sqlite_disable_multithreaded_scans = true")
con.execute(f"ATTACH 'ducklake:sqlite:{lake}/catalog.sqlite' AS lake "
            f"(DATA_PATH '{lake}/data/', READ_ONLY)")
latest = con.execute("SELECT max(version) FROM lake.snapshots WHERE quarter = ?",
                     [quarter]).fetchone()[0]
rows = con.execute("SELECT * FROM lake.league_table WHERE quarter = ? AND snapshot_version = ? "
                   "AND peer_group = ? ORDER BY rank, trust_code",
                   [quarter, latest, group]).fetchall()
assert rows, "no rows"
"""
PARQUET_READ = """
import sys
import duckdb
files, quarter, group = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
rows = duckdb.connect().execute(
    "SELECT * FROM read_parquet(?, union_by_name = true) WHERE quarter = ? AND peer_group = ? "
    "ORDER BY snapshot_version DESC, rank, trust_code", [files, quarter, group]).fetchall()
assert rows, "no rows"
"""
IMPORT_DEFINITIONS = (
    "import warnings; warnings.simplefilter('ignore'); import league_pipeline.definitions"
)
EMPTY_DEFS = "import dagster as dg\n\ndefs = dg.Definitions()\n"


@dataclass
class Code:
    """A checkout of the repository, and the working home its measurements use."""

    label: str
    root: Path
    home: Path
    figures: dict[str, Any] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(self.root),
            "LEAGUE_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            "LEAGUE_SOURCE_MODE": "landing",
            **extra,
        }


# -- child tasks: each runs in a fresh interpreter whose PYTHONPATH picks the code version -------


def _pick(*names: str) -> Any:
    """The first ``module:attribute`` that imports: this checkout's layout, then older ones."""
    for name in names:
        module, _, attribute = name.partition(":")
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        return getattr(found, attribute) if attribute else found
    raise ImportError(f"none of {names} imports")


def _quarter() -> Any:
    """``QUARTER`` parsed by the checkout's own ``parse_quarter`` (its module moved)."""
    parse_quarter = _pick(
        "league_pipeline.core.quarters:parse_quarter", "league_pipeline.quarters:parse_quarter"
    )
    return parse_quarter(QUARTER)


def _call(function: Callable[..., Any], *args: Any, **options: Any) -> Any:
    """``function(*args, **options)`` without the options its version does not take."""
    accepted = inspect.signature(function).parameters
    return function(*args, **{k: v for k, v in options.items() if k in accepted})


# imported before the clock starts in both the run and the library work, so that neither
# counts them (an older checkout's code location imported them all, a newer one none)
THIRD_PARTY = ("pandas", "numpy", "pyarrow", "duckdb", "pandera", "altair", "jinja2", "httpx")


def task_quarter() -> dict:
    """``league run`` for the quarter; the code location and the third-party libraries are
    imported before the clock starts."""
    import warnings

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in THIRD_PARTY:
            importlib.import_module(name)
        importlib.import_module("league_pipeline.definitions")
    from league_pipeline.cli import main

    imported = time.perf_counter()
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "--quarter", QUARTER])
    finished = time.perf_counter()
    lines = errors.getvalue().splitlines()
    if code != 0:
        raise SystemExit("\n".join(lines[-20:]))
    return {
        "wall_s": finished - imported,
        "import_s": imported - started,
        "steps": step_times(lines),
    }


def task_library(replicates: str) -> dict:
    """The run's library work for the quarter, without Dagster: sources, checks, scoring,
    likely ranges, raw statistics, snapshot, outputs."""
    for name in THIRD_PARTY:
        importlib.import_module(name)
    import pandas as pd

    source_specs = _pick("league_pipeline.defs.sources:SOURCE_SPECS")
    raw_specs = _pick(
        "league_pipeline.defs.derived:RAW_SOURCE_SPECS", "league_pipeline.defs.raw:RAW_SOURCE_SPECS"
    )
    acquire = _pick(
        "league_pipeline.ingest.acquire:acquire", "league_pipeline.sources.acquire:acquire"
    )
    source_store = _pick(
        "league_pipeline.ingest.store:SourceStore", "league_pipeline.sources.store:SourceStore"
    )
    validate = _pick(
        "league_pipeline.validation.report:validate",
        "league_pipeline.validation.validate:validate",
        "league_pipeline.validation:validate",
    )
    consistency = _pick("league_pipeline.validation.consistency", "league_pipeline.consistency")
    # the NOF source kinds: in core.peer_groups now, in the consistency module before
    nof_kinds = tuple(
        getattr(consistency, "NOF_KIND_GROUPS", None)
        or _pick("league_pipeline.core.peer_groups:NOF_SOURCE_KINDS")
    )
    inputs = _pick("league_pipeline.scoring.inputs")
    engine = _pick("league_pipeline.scoring.engine")
    likely_ranges = _pick("league_pipeline.scoring.likely_ranges:likely_ranges")
    snapshot_store = _pick(
        "league_pipeline.snapshots.store:SnapshotStore", "league_pipeline.snapshots:SnapshotStore"
    )
    derivation = _pick(
        "league_pipeline.derivation.derive:Derivation", "league_pipeline.raw.derive:Derivation"
    )
    reconcile = _pick("league_pipeline.derivation.reconcile", "league_pipeline.raw.reconcile")
    publish = _pick("league_pipeline.outputs.publish:publish")

    quarter = _quarter()
    home = Path(os.environ["LEAGUE_HOME"])
    work = Path(tempfile.mkdtemp(prefix="league-bench-library-"))
    sources = source_store(work / "sources")
    parts: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        clock.append(time.perf_counter())
        parts[name] = parts.get(name, 0.0) + clock[-1] - clock[-2]

    def read(specs) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
        frames, stored_files = {}, {}
        for spec in specs:
            stored = _call(
                acquire,
                spec.kind,
                quarter,
                mode="landing",
                store=sources,
                landing_dir=home / "landing",
            )
            frame = spec.read(stored, quarter)
            assert validate(frame, spec.schema, expected_quarter=quarter.label).passed, spec.kind
            frames[spec.kind], stored_files[spec.kind] = frame, stored
        return frames, stored_files

    frames, stored = read(source_specs)
    lap("nof_sources")
    nof = {k: frames[k] for k in nof_kinds}
    assert consistency.trust_consistency(
        quarter, nof, frames["ods_trusts"], frames["rsp_list"], frames["deficit_flags"]
    ).passed
    lap("checks")
    tables = inputs.nof_inputs(list(nof.values()))
    result = engine.run_scoring(
        engine.ScoringInputs(
            trusts=tables["trusts"],
            metric_values=tables["metric_values"],
            given_scores=tables["given_scores"],
            deficit_flags=inputs.deficit_flags_input(frames["deficit_flags"]),
            rsp=inputs.rsp_input(frames["rsp_list"]),
        )
    )
    ranges = likely_ranges(
        result.score_items,
        result.trust_segments,
        result.segment_cut_points,
        replicates=int(replicates),
    )
    league = result.league_table.merge(ranges, on=["quarter", "peer_group", "trust_code"])
    lap("scoring")
    raw, _ = read(raw_specs)
    lap("raw_sources")
    with derivation() as session:
        for kind, frame in raw.items():
            session.load_frame(kind, frame)
        derived = session.run([quarter])
    matched = reconcile.reconcile(derived, tables["metric_values"], tables["trusts"])
    reconcile.match_rates(matched)
    lap("derivation")
    store = snapshot_store(work / "lake")
    snapshot = {name: frame for name, frame in result.tables().items() if name != "league_table"}
    for name in ("trusts", "metric_values", "given_scores"):
        snapshot.setdefault(name, tables[name])
    snapshot |= {"league_table": league, "derived_values": derived}
    lineage = {
        "inputs": {k: {"kind": k, "sha256": stored[k].sha256} for k in nof_kinds},
        "code_version": "benchmark",
    }
    store.write(quarter, snapshot, lineage)
    lap("snapshot")
    _call(
        publish,
        quarter,
        store=store,
        source_store=sources,
        root=work / "outputs",
        cache_dir=Path(os.environ["LEAGUE_CACHE_DIR"]),
    )
    lap("outputs")
    shutil.rmtree(work, ignore_errors=True)
    issue = parts["nof_sources"] + parts["checks"] + parts["scoring"] + parts["snapshot"]
    return {"wall_s": sum(parts.values()), "issue_s": issue, "parts": parts}


def task_noop(shape: str) -> dict:
    """A no-op job of the code location's job's shape (``_common.noop_job``: ``same``, its own
    assets and checks doing nothing; ``chain``, as many no-op assets in a chain, no checks) run
    for the quarter on a persistent instance."""
    return time_noop_job(_quarter().key, shape=shape)


TASKS = {"quarter": task_quarter, "library": task_library, "noop": task_noop}


def child_main() -> bool:
    if len(sys.argv) < 3 or sys.argv[1] != "--child":
        return False
    figures = TASKS[sys.argv[2]](*sys.argv[3:])
    print(RESULT + json.dumps(figures), flush=True)
    return True


# -- the parent ----------------------------------------------------------------------------------


def run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 900
) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        shown = " ".join("-c ..." if "\n" in part else part for part in command)
        raise SystemExit(f"{shown} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return elapsed, proc


def child(code: Code, task: str, *args: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", task, *args]
    _, proc = run(command, code.env(), code.root)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    return json.loads(lines[-1][len(RESULT) :])


def league(code: Code, *argv: str) -> tuple[float, set[str]]:
    """Seconds of ``league argv`` in a fresh interpreter, and the heavy packages it loaded."""
    command = [sys.executable, "-c", COMMAND, *argv]
    elapsed, proc = run(command, code.env(), code.root)
    loaded = next((line[7:] for line in proc.stderr.splitlines() if line.startswith("LOADED ")), "")
    return elapsed, set(filter(None, loaded.split(",")))


def python(code: Code, script: str, *argv: str) -> float:
    return run([sys.executable, "-c", script, *argv], code.env(), code.root)[0]


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(codes: list[Code], repeats: int, measure: Callable[[Code], Any]) -> dict[str, list]:
    """``measure(code)`` ``repeats`` times per code version, the versions taking turns."""
    out: dict[str, list] = {c.label: [] for c in codes}
    for _ in range(repeats):
        for code in codes:
            out[code.label].append(measure(code))
    return out


def lake_files(code: Code) -> list[str]:
    return sorted(str(p) for p in (code.home / "lake" / "data").rglob("league_table/*.parquet"))


def first_trust(code: Code) -> str:
    script = (
        'import sys, duckdb; print(duckdb.connect().execute("SELECT min(trust_code) FROM '
        "read_parquet(?) WHERE peer_group = 'acute'\", [sys.argv[1].split(',')]).fetchone()[0])"
    )
    _, proc = run([sys.executable, "-c", script, ",".join(lake_files(code))], code.env(), code.root)
    return proc.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: bytes | None = None) -> bytes | None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read() if response.status == 200 else None
    except OSError:
        return None


LOCATIONS = json.dumps(
    {"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"}
).encode()
_WARNING = re.compile(r"\b(\w*Warning)\b|\bWARNING\b")
_NOISE = re.compile(
    r"\d{4}-\d{2}-\d{2} [\d:.,]+ [+-]\d{4}|\x1b\[[0-9;]*m|pid[ =:]\d+|\d+\.\d+s?|/tmp/\S+"
)


def dagster_dev(code: Code, target: list[str], timeout: float = 240) -> dict:
    """Seconds until ``dagster dev`` answers ``/server_info`` and until its code location is
    loaded, and the warning lines of its log."""
    home = Path(tempfile.mkdtemp(prefix="league-bench-dev-"))
    (home / "dagster.yaml").write_text(NO_TELEMETRY)
    port = free_port()
    log = home / "dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", *target, "-h", "127.0.0.1", "-p", str(port)]
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=code.env(DAGSTER_HOME=str(home)),
            cwd=code.root,
            start_new_session=True,
        )
    served = loaded = None
    try:
        while time.perf_counter() - started < timeout and proc.poll() is None:
            if served is None and _get(f"http://127.0.0.1:{port}/server_info"):
                served = time.perf_counter() - started
            if served is not None:
                answer = _get(f"http://127.0.0.1:{port}/graphql", LOCATIONS)
                entries = (
                    json.loads(answer)["data"]["workspaceOrError"].get("locationEntries", [])
                    if answer
                    else []
                )
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    loaded = time.perf_counter() - started
                    break
            time.sleep(0.1)
        time.sleep(2)  # let the code server's warnings reach the log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text(errors="replace")
    shutil.rmtree(home, ignore_errors=True)
    warnings = [line.strip() for line in text.splitlines() if _WARNING.search(line)]
    return {"served_s": served, "loaded_s": loaded, "warnings": warnings}


def _normal(line: str) -> str:
    return _NOISE.sub("", line).strip()


def prepare(code: Code, runs_to_come: bool) -> None:
    """Snapshots of the quarter and the next one (untimed runs), then the next quarter's landing
    files removed, so that a run of the quarter reads its own files only, as the library path
    does (a cumulative file of a later quarter would be read and compared too)."""
    code.home.mkdir(parents=True, exist_ok=True)
    (code.home / "dagster").mkdir(exist_ok=True)
    (code.home / "dagster" / "dagster.yaml").write_text(NO_TELEMETRY)
    for argv in (
        ["sample-data", "--quarter", QUARTER, "--quarter", NEXT],
        ["run", "--quarter", QUARTER],
        ["run", "--quarter", NEXT],
        *([] if runs_to_come else [["run", "--quarter", QUARTER]]),  # revisions needs 2
    ):
        run([sys.executable, "-c", COMMAND, *argv], code.env(), code.root)
    shutil.rmtree(code.home / "landing" / "2025-26-q2")


def measure(codes: list[Code], args: argparse.Namespace, empty_defs: Path) -> None:
    n = args.repeats
    say = lambda text: print(f"[bench] {text}", file=sys.stderr, flush=True)  # noqa: E731
    want = set(args.only or PARTS) - ({"dev"} if args.no_dev else set())

    if "quarter" in want:
        # first: each run adds a version of the quarter, which `league revisions` needs
        say("one quarter: league run, the library work, a no-op job of the same shape")
        for label, values in interleaved(
            codes, args.quarter_repeats, lambda c: child(c, "quarter")
        ).items():
            code = next(c for c in codes if c.label == label)
            code.figures["quarter"] = median([v["wall_s"] for v in values])
            code.figures["quarter_import"] = median([v["import_s"] for v in values])
            code.figures["steps"] = len(values[-1]["steps"])
            code.figures["outputs_step"] = median(
                [v["steps"].get(OUTPUTS_STEP, float("nan")) for v in values]
            )
            code.figures["slowest"] = sorted(values[-1]["steps"].items(), key=lambda kv: -kv[1])[:6]
        for label, values in interleaved(
            codes, args.quarter_repeats, lambda c: child(c, "library", str(args.replicates))
        ).items():
            code = next(c for c in codes if c.label == label)
            code.figures["library"] = median([v["wall_s"] for v in values])
            code.figures["library_issue"] = median([v["issue_s"] for v in values])
            code.figures["library_outputs"] = median([v["parts"]["outputs"] for v in values])
            code.figures["library_parts"] = {
                part: round(median([v["parts"][part] for v in values]), 2)
                for part in values[0]["parts"]
            }
        for shape, figure in (("same", "noop"), ("chain", "noop_chain")):
            for label, values in interleaved(
                codes, args.quarter_repeats, lambda c, s=shape: child(c, "noop", s)
            ).items():
                next(c for c in codes if c.label == label).figures[figure] = median(
                    [v["wall_s"] for v in values]
                )

    if "commands" in want:
        say("league table and a bare DuckDB read of the same snapshot")
        for label, values in interleaved(
            codes, n, lambda c: league(c, "table", "--quarter", QUARTER)
        ).items():
            code = next(c for c in codes if c.label == label)
            code.figures["table"] = median([v[0] for v in values])
            code.figures["table_loaded"] = sorted(values[-1][1])
        for label, values in interleaved(
            codes, n, lambda c: python(c, BARE_READ, str(c.home / "lake"), QUARTER, "acute")
        ).items():
            next(c for c in codes if c.label == label).figures["bare_read"] = median(values)
        for label, values in interleaved(
            codes, n, lambda c: python(c, PARQUET_READ, ",".join(lake_files(c)), QUARTER, "acute")
        ).items():
            next(c for c in codes if c.label == label).figures["parquet_read"] = median(values)

        say("league --help and argparse")
        for label, values in interleaved(codes, n, lambda c: league(c, "--help")).items():
            code = next(c for c in codes if c.label == label)
            code.figures["help"] = median([v[0] for v in values])
            code.figures["help_loaded"] = sorted(values[-1][1])
        for label, values in interleaved(codes, n, lambda c: python(c, ARGPARSE)).items():
            next(c for c in codes if c.label == label).figures["argparse"] = median(values)

        say("reading commands")
        trusts = {c.label: first_trust(c) for c in codes}
        for name, argv in READING.items():
            for label, values in interleaved(
                codes,
                n,
                lambda c, argv=argv: league(
                    c, *[trusts[c.label] if a == "TRUST" else a for a in argv]
                ),
            ).items():
                code = next(c for c in codes if c.label == label)
                code.figures[name] = median([v[0] for v in values])
                code.figures[f"{name}_loaded"] = sorted(values[-1][1])

    if "code" in want:
        say("code location: dagster definitions validate, import dagster")
        dagster = str(Path(sys.executable).with_name("dagster"))
        validate = [dagster, "definitions", "validate", "-m", "league_pipeline.definitions"]
        validate_empty = [dagster, "definitions", "validate", "-f", str(empty_defs)]
        pairs = {
            "validate": lambda c: run(
                validate, c.env(DAGSTER_HOME=str(c.home / "dagster")), c.root
            )[0],
            "validate_empty": lambda c: run(
                validate_empty, c.env(DAGSTER_HOME=str(c.home / "dagster")), c.root
            )[0],
            "import_dagster": lambda c: python(c, "import dagster"),
            "import_definitions": lambda c: python(c, IMPORT_DEFINITIONS),
        }
        for name, measure_one in pairs.items():
            for label, values in interleaved(codes, args.code_repeats, measure_one).items():
                next(c for c in codes if c.label == label).figures[name] = median(values)

    if "dev" in want:
        say("dagster dev: an empty code location, then the project's")
        for code in codes:
            empty = dagster_dev(code, ["-f", str(empty_defs)])
            project = dagster_dev(code, ["-m", "league_pipeline.definitions"])
            dagster_own = {_normal(line) for line in empty["warnings"]}
            caused = [line for line in project["warnings"] if _normal(line) not in dagster_own]
            code.figures |= {
                "dev_empty_served": empty["served_s"],
                "dev_empty_loaded": empty["loaded_s"],
                "dev_served": project["served_s"],
                "dev_loaded": project["loaded_s"],
                "dev_warnings": caused,
            }


def _ratio(code: Code, a: str, b: str | tuple[str, ...]) -> float:
    below = sum(code.figures[x] for x in ((b,) if isinstance(b, str) else b))
    return code.figures[a] / below


def _pair(a: str, b: str | tuple[str, ...]) -> Callable[[Code], str]:
    """``R.Rx (A / B s)`` of figures ``a`` and ``b`` (a sum when ``b`` names several)."""

    def text(code: Code) -> str:
        parts = [b] if isinstance(b, str) else list(b)
        below = " + ".join(f"{code.figures[x]:.2f}" for x in parts)
        return f"{_ratio(code, a, b):.2f}x ({code.figures[a]:.2f} / {below} s)"

    return text


def _seconds(name: str, digits: int = 2) -> Callable[[Code], str]:
    def text(code: Code) -> str:
        value = code.figures[name]  # KeyError: not measured in this run (--only)
        return "never" if value is None else f"{value:.{digits}f} s"

    return text


def report(codes: list[Code], args: argparse.Namespace) -> None:
    rows = []

    def add(what: str, target: str, shown: Callable[[Code], str], ok=None) -> None:
        try:
            verdict = "-" if ok is None else ("met" if ok(codes[-1]) else "MISSED")
            rows.append([what, target, *[shown(c) for c in codes], verdict])
        except (KeyError, TypeError):  # a part not measured in this run (--only)
            pass

    def within(a: str, b: str | tuple[str, ...], limit: float) -> Callable[[Code], bool]:
        return lambda c: _ratio(c, a, b) <= limit

    add(
        "league table / bare DuckDB read of the snapshot",
        "<= 3x",
        _pair("table", "bare_read"),
        within("table", "bare_read", 3),
    )
    add("  league table / its Parquet file read directly", "-", _pair("table", "parquet_read"))
    add(
        "league --help / argparse",
        "<= 2x",
        _pair("help", "argparse"),
        within("help", "argparse", 2),
    )
    for name in ("table", "help", *READING):
        add(
            f"league {'--help' if name == 'help' else name} imports Dagster",
            "no",
            lambda c, n=name: (
                ("yes" if "dagster" in c.figures[f"{n}_loaded"] else "no")
                + f" ({c.figures[n]:.2f} s)"
            ),
            lambda c, n=name: "dagster" not in c.figures[f"{n}_loaded"],
        )
    add(
        "dagster definitions validate / import dagster",
        "<= 1.5x",
        _pair("validate", "import_dagster"),
        within("validate", "import_dagster", 1.5),
    )
    add(
        "  validate of an empty Definitions / import dagster",
        "-",
        _pair("validate_empty", "import_dagster"),
    )
    add("  validate / validate of an empty Definitions", "-", _pair("validate", "validate_empty"))
    add(
        "  import league_pipeline.definitions / import dagster",
        "-",
        _pair("import_definitions", "import_dagster"),
    )
    add(
        "one quarter / (library work + no-op job)",
        "<= 1.5x",
        _pair("quarter", ("library", "noop")),
        within("quarter", ("library", "noop"), 1.5),
    )
    add(
        "  one quarter / (library work + no-op chain of as many steps, no checks)",
        "-",
        _pair("quarter", ("library", "noop_chain")),
    )
    add(
        "  one quarter / (library to the snapshot + no-op job), the issue's sum",
        "-",
        _pair("quarter", ("library_issue", "noop")),
    )
    add(
        "outputs step of the run",
        "<= 1 s",
        _seconds("outputs_step"),
        lambda c: c.figures["outputs_step"] <= 1.0,
    )
    add("  the same outputs, library call", "-", _seconds("library_outputs"))
    if not args.no_dev:
        add(
            "dagster dev: /server_info answers",
            "<= 15 s",
            _seconds("dev_served", 1),
            lambda c: (c.figures["dev_served"] or 1e9) <= 15,
        )
        add("  the same, empty code location", "-", _seconds("dev_empty_served", 1))
        add("dagster dev: code location loaded", "-", _seconds("dev_loaded", 1))
        add("  the same, empty code location", "-", _seconds("dev_empty_loaded", 1))
        add(
            "dagster dev: warnings the project causes",
            "none",
            lambda c: str(len(c.figures["dev_warnings"])),
            lambda c: not c.figures["dev_warnings"],
        )
    print(
        f"where people wait ({QUARTER}, embedded default, {args.replicates:,} replicates; median "
        f"of {args.repeats} runs of each command, {args.code_repeats} of each code-location "
        f"load, {args.quarter_repeats} of a quarter; 1-minute load {os.getloadavg()[0]:.1f})"
    )
    print(table(rows, ["what", "target", *[c.label for c in codes], "verdict (last)"]))
    for code in codes:
        figures = code.figures
        print(f"\n{code.label} ({code.root}):")
        if "slowest" in figures:
            slowest = ", ".join(f"{n} {s:.1f} s" for n, s in figures["slowest"])
            print(f"  {figures['steps']} steps; slowest: {slowest}")
            print(f"  library work by part (s): {figures['library_parts']}")
        if "table_loaded" in figures:
            print(f"  league table loaded: {', '.join(figures['table_loaded'])}")
            loaded = ", ".join(figures["help_loaded"]) or "none of them"
            print(f"  league --help loaded: {loaded}")
        counts: dict[str, int] = {}
        for line in figures.get("dev_warnings", []):
            counts[_normal(line)] = counts.get(_normal(line), 0) + 1
        for line, count in counts.items():
            print(f"  dagster dev warning ({count}x): {line[:240]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout to measure beside this one")
    parser.add_argument("--after", type=Path, default=REPO, help="the checkout (default: this one)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median)")
    parser.add_argument(
        "--code-repeats", type=int, default=3, help="runs of each code-location load"
    )
    parser.add_argument("--quarter-repeats", type=int, default=3, help="runs of a whole quarter")
    parser.add_argument("--replicates", type=int, default=10_000, help="bootstrap replicates")
    parser.add_argument("--no-dev", action="store_true", help="leave out dagster dev")
    parser.add_argument(
        "--only",
        choices=PARTS,
        nargs="+",
        help="measure only these parts (the report shows the rows they fill)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="league-bench-wait-"))
    os.environ["LEAGUE_CACHE_DIR"] = str(scratch / "cache")  # shared, made by the first run
    os.environ["LEAGUE_BOOTSTRAP_REPLICATES"] = str(args.replicates)
    empty_defs = scratch / "empty_defs.py"
    empty_defs.write_text(EMPTY_DEFS)
    codes = []
    if args.before:
        codes.append(Code("before", args.before.resolve(), scratch / "before"))
    codes.append(Code("after", args.after.resolve(), scratch / "after"))
    try:
        for code in codes:
            print(f"[bench] preparing {code.label}: sample data and a first run", file=sys.stderr)
            prepare(code, "quarter" in (args.only or PARTS))
        measure(codes, args, empty_defs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(codes, args)
    if args.json:
        args.json.write_text(json.dumps({c.label: c.figures for c in codes}, indent=1, default=str))


if __name__ == "__main__":
    if not child_main():
        main()
