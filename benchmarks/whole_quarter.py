"""Whole-quarter run of all assets on the embedded default, next to the floor.

Run: ``.venv/bin/python benchmarks/whole_quarter.py [--replicates 10000]``.

The embedded default for 2025/26 Q1 is written to a fresh working home (not timed). Then, each
in a fresh process:

* pipeline: ``league run``'s code path (``league_pipeline.cli.runner.run_quarters``, a persistent
  Dagster instance): every asset and check of the job, from fetching the landing files to the
  snapshot and the outputs after it. Wall time of the run (imports excluded, reported apart),
  peak memory, and each step's time from the run's progress lines;
* floor (the issue's definition): the same scoring SQL (``assets/sql/scoring``, all eight
  steps) run directly in DuckDB on the same inputs (the engine inputs the pipeline staged),
  without Dagster; median of 5;
* SQL floor, all of it: the raw-statistics derivation SQL (``assets/sql/derivation``) on the staged
  raw extracts, the scoring SQL, and the snapshot write (DuckLake's SQL) to a fresh lake, in
  DuckDB without Dagster; median of 3. (The outputs' three small queries are left out.);
* Dagster alone: the pipeline's own job with no work in it (the same assets, checks,
  dependencies and partitions, every step reporting its assets materialised and its checks
  passed: ``_common.noop_job``), run the same way (``execute_in_process``, a persistent SQLite
  instance): what orchestration costs with no work at all; median of 3;
* library path (for reference): the work from the six source files to the snapshot done by the
  library functions in sequence, without Dagster: store, read, validate, cross-check, build the
  inputs, score, bootstrap the likely ranges (same replicates), write the snapshot. It leaves
  out the raw statistics and the outputs, so compare it with the pipeline's steps up to the
  snapshot.

Target (issue #6): a whole quarter within 3x the floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    child_main,
    run_child,
    step_times,
    summary,
    table,
    target,
    time_noop_job,
)

QUARTER = "2025/26 Q1"
TARGET_RATIO = 3.0
ENGINE_INPUTS = ("trusts", "metric_values", "given_scores", "deficit_flags", "rsp")


def task_pipeline() -> dict:
    started = time.perf_counter()
    from league_pipeline.cli.runner import run_quarters
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.core.settings import Settings

    imported = time.perf_counter()
    lines: list[str] = []
    settings = Settings.from_env()  # the child's environment, as for `league run`
    outcome = run_quarters([parse_quarter(QUARTER)], settings=settings, progress=lines.append)[0]
    finished = time.perf_counter()
    if not outcome.success:
        raise SystemExit(f"the run failed: {outcome.problems}")
    steps = step_times(lines)
    return {"wall_s": finished - imported, "import_s": imported - started, "steps": steps}


def task_floor(repeats: str) -> dict:
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.core.settings import Settings
    from league_pipeline.core.staging import Staging, engine_table
    from league_pipeline.scoring.engine import OUTPUT_TABLES, ScoringSession

    key = parse_quarter(QUARTER).key
    staging = Staging(Settings.from_env().layout.staging)
    files = {name: staging.existing_path(engine_table(name), key) for name in ENGINE_INPUTS}
    times = []
    for _ in range(int(repeats)):
        started = time.perf_counter()
        with ScoringSession() as session:
            for name, path in files.items():
                session.load_parquet(name, [path])
            session.run(OUTPUT_TABLES)
            rows = len(session.df("league_table"))
        times.append(time.perf_counter() - started)
    return {"wall_s": statistics.median(times), "times_s": times, "league_table_rows": rows}


def task_sql_floor(repeats: str) -> dict:
    """Every SQL statement the pipeline runs up to the snapshot, directly in DuckDB."""
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.core.settings import Settings
    from league_pipeline.core.staging import Staging, engine_table
    from league_pipeline.defs.derived import RAW_SOURCE_SPECS
    from league_pipeline.derivation.derive import Derivation
    from league_pipeline.scoring.engine import OUTPUT_TABLES, ScoringSession
    from league_pipeline.snapshots.store import SnapshotStore

    quarter = parse_quarter(QUARTER)
    key = quarter.key
    staging = Staging(Settings.from_env().layout.staging)
    files = {name: staging.existing_path(engine_table(name), key) for name in ENGINE_INPUTS}
    times = []
    for _ in range(int(repeats)):
        started = time.perf_counter()
        with Derivation() as derivation:
            for spec in RAW_SOURCE_SPECS:
                derivation.load_parquet(spec.kind, [staging.existing_path(spec.kind, key)])
            derived = derivation.run([quarter])
        with ScoringSession() as session:
            for name, path in files.items():
                session.load_parquet(name, [path])
            session.run(OUTPUT_TABLES)
            tables = {name: session.df(name) for name in OUTPUT_TABLES}
        store = SnapshotStore(Path(tempfile.mkdtemp(prefix="league-bench-floor-lake-")))
        store.write(quarter, {**tables, "derived_values": derived}, {"benchmark": True})
        times.append(time.perf_counter() - started)
    return {"wall_s": statistics.median(times), "times_s": times}


def task_dagster_noop(shape: str, repeats: str) -> dict:
    """The job's shape with no work in it (``_common.noop_job``), on a persistent instance."""
    from league_pipeline.core.quarters import parse_quarter

    return time_noop_job(parse_quarter(QUARTER).key, int(repeats), shape=shape)


def task_library(replicates: str) -> dict:
    """Sources to snapshot with the library functions, no Dagster."""
    import pandas as pd

    from league_pipeline.core.peer_groups import NOF_SOURCE_KINDS
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.core.settings import Settings
    from league_pipeline.defs.sources import SOURCE_SPECS
    from league_pipeline.ingest.acquire import acquire
    from league_pipeline.ingest.store import SourceStore
    from league_pipeline.scoring import inputs
    from league_pipeline.scoring.engine import ScoringInputs, run_scoring
    from league_pipeline.scoring.likely_ranges import likely_ranges
    from league_pipeline.snapshots.store import SnapshotStore
    from league_pipeline.validation import consistency
    from league_pipeline.validation.report import validate

    quarter = parse_quarter(QUARTER)
    landing = Settings.from_env().landing_dir
    started = time.perf_counter()
    frames = {}
    store = SourceStore(Path(tempfile.mkdtemp(prefix="league-bench-sources-")))
    for spec in SOURCE_SPECS:
        stored = acquire(spec.kind, quarter, mode="landing", store=store, landing_dir=landing)
        frames[spec.kind] = spec.read(stored, quarter)
        assert validate(frames[spec.kind], spec.schema, expected_quarter=quarter.label).passed
    nof = {k: frames[k] for k in NOF_SOURCE_KINDS}
    assert consistency.trust_consistency(
        quarter, nof, frames["ods_trusts"], frames["rsp_list"], frames["deficit_flags"]
    ).passed
    tables = inputs.nof_inputs(list(nof.values()))
    result = run_scoring(
        ScoringInputs(
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
    store = SnapshotStore(Path(tempfile.mkdtemp(prefix="league-bench-lake-")))
    outputs = {name: frame for name, frame in result.tables().items() if name != "league_table"}
    store.write(quarter, {"league_table": league, **outputs}, {"benchmark": True})
    assert isinstance(league, pd.DataFrame) and len(league) == len(result.trust_segments)
    return {"wall_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    args = parser.parse_args()
    from league_pipeline.core.quarters import parse_quarter
    from league_pipeline.sample.generator import write_sample_landing

    home = Path(tempfile.mkdtemp(prefix="league-bench-quarter-"))
    try:
        write_sample_landing(home / "landing", [parse_quarter(QUARTER)])
        env = {
            "LEAGUE_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "LEAGUE_BOOTSTRAP_REPLICATES": str(args.replicates),
            "LEAGUE_SOURCE_MODE": "landing",
        }
        pipeline = run_child(__file__, "pipeline", env=env)
        floor = run_child(__file__, "floor", "5", env=env)
        sql_floor = run_child(__file__, "sql_floor", "3", env=env)
        noop = run_child(__file__, "dagster_noop", "same", "3", env=env)
        library = run_child(__file__, "library", str(args.replicates), env=env)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    steps = pipeline["steps"]
    names = list(steps)
    snapshot_at = (
        names.index("snapshots/quarterly_snapshot")
        if "snapshots/quarterly_snapshot" in steps
        else len(names) - 1
    )
    to_snapshot = sum(steps[n] for n in names[: snapshot_at + 1])
    warnings.filterwarnings("ignore")  # Dagster's beta notices on importing the definitions
    from league_pipeline.defs.derived import RAW_SOURCE_KEYS

    raw = {key.to_user_string() for key in RAW_SOURCE_KEYS.values()}
    same_work = sum(
        steps[n]
        for n in names[: snapshot_at + 1]
        if n not in raw and not n.startswith("derivation/")
    )
    ratio = pipeline["wall_s"] / floor["wall_s"]
    print(f"whole quarter ({QUARTER}, embedded default, {args.replicates:,} bootstrap replicates)")
    print(
        table(
            [
                [
                    "pipeline: all assets (league run)",
                    pipeline["wall_s"],
                    pipeline["peak_rss_mb"],
                    f"{ratio:.1f}x",
                ],
                [
                    "  its steps up to the snapshot",
                    to_snapshot,
                    "",
                    f"{to_snapshot / floor['wall_s']:.1f}x",
                ],
                [
                    "  of those, not the raw statistics (the library path's work)",
                    same_work,
                    "",
                    f"{same_work / floor['wall_s']:.1f}x",
                ],
                ["floor: scoring SQL in DuckDB", floor["wall_s"], floor["peak_rss_mb"], "1.0x"],
                [
                    "SQL floor: raw + scoring SQL + snapshot write, in DuckDB",
                    sql_floor["wall_s"],
                    sql_floor["peak_rss_mb"],
                    f"{sql_floor['wall_s'] / floor['wall_s']:.1f}x",
                ],
                [
                    f"Dagster alone: the job's {noop['steps']} steps, no-op, same instance kind",
                    noop["wall_s"],
                    noop["peak_rss_mb"],
                    f"{noop['wall_s'] / floor['wall_s']:.1f}x",
                ],
                [
                    "library path to the snapshot, no Dagster",
                    library["wall_s"],
                    library["peak_rss_mb"],
                    f"{library['wall_s'] / floor['wall_s']:.1f}x",
                ],
            ],
            ["what", "seconds", "peak MiB", "vs floor"],
        )
    )
    print(f"(imports before the run: {pipeline['import_s']:.1f} s)")
    print(
        f"pipeline vs the whole SQL floor: {pipeline['wall_s'] / sql_floor['wall_s']:.1f}x; "
        f"Dagster alone vs the whole SQL floor: {noop['wall_s'] / sql_floor['wall_s']:.1f}x"
    )
    print("slowest steps:")
    slowest = sorted(steps.items(), key=lambda kv: -kv[1])[:8]
    print(table([[name, seconds] for name, seconds in slowest], ["step", "seconds"]))
    summary(
        "whole_quarter",
        {
            "pipeline": pipeline,
            "floor": floor,
            "sql_floor": sql_floor,
            "dagster_noop": noop,
            "library": library,
            "ratio": ratio,
            "to_snapshot_s": to_snapshot,
            "to_snapshot_without_raw_s": same_work,
        },
        [
            target(
                f"whole quarter <= {TARGET_RATIO:.0f}x floor",
                f"{ratio:.1f}x",
                ratio <= TARGET_RATIO,
            )
        ],
    )


if __name__ == "__main__":
    tasks = {
        "pipeline": task_pipeline,
        "floor": task_floor,
        "sql_floor": task_sql_floor,
        "dagster_noop": task_dagster_noop,
        "library": task_library,
    }
    if not child_main(tasks):
        main()
