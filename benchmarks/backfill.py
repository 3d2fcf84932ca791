"""Backfill of all available quarters: one run for the range, one run per quarter, and N times
one quarter.

Run: ``.venv/bin/python benchmarks/backfill.py [--replicates 10000] [--parallel 2]``.

The embedded default for every quarter of the methodology (2025/26 Q1-Q4) is written once (not
timed). Each mode then runs in a fresh process on a fresh working home and Dagster instance,
through ``league backfill``'s code path (``league_pipeline.cli.runner.run_quarters``), every asset
of the job:

* one quarter: 2025/26 Q1 alone; "N x one quarter" is that time times N, the cost of running
  the quarters separately without any sharing;
* single run: ``league backfill`` (default): one run for the range (every asset has a
  single-run backfill policy, so each step handles all the quarters at once), which shares
  its quarters' bootstrap and outputs among ``LEAGUE_WORKERS`` worker processes (default 2 on
  two cores, started as the run begins);
* single run, one process: the same with ``LEAGUE_WORKERS=1``, every step in the run's own
  process: what the workers save;
* one run per quarter: ``league backfill --per-quarter``, one after another;
* parallel (optional): one run per quarter, ``--parallel`` at a time in separate processes.

Target (issue #6): four quarters within 2x one quarter in single-run mode.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_main, run_child, step_times, summary, table, target

TARGET_RATIO = 2.0


def task_backfill(first: str, last: str, mode: str, parallel: str) -> dict:
    started = time.perf_counter()
    from league_pipeline.cli.runner import run_quarters
    from league_pipeline.core.quarters import parse_quarter, quarter_range

    imported = time.perf_counter()
    quarters = quarter_range(parse_quarter(first), parse_quarter(last))
    lines: list[str] = []
    outcomes = run_quarters(
        quarters,
        single_run=mode.startswith("single"),
        parallel=int(parallel) if mode == "parallel" else 1,
        progress=lines.append,
    )
    finished = time.perf_counter()
    failed = [o.problems for o in outcomes if not o.success]
    if failed:
        raise SystemExit(f"the backfill failed: {failed}")
    return {
        "wall_s": finished - imported,
        "import_s": imported - started,
        "runs": len(outcomes),
        "steps": step_times(lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=0, help="also time N runs at a time")
    args = parser.parse_args()
    from league_pipeline.core.quarters import all_quarters
    from league_pipeline.sample.generator import write_sample_landing

    quarters = all_quarters()
    first, last = quarters[0].label, quarters[-1].label
    n = len(quarters)
    template = Path(tempfile.mkdtemp(prefix="league-bench-backfill-"))
    try:
        print(f"writing the embedded default for {first} to {last} ...", flush=True)
        write_sample_landing(template / "landing", quarters)
        modes = [
            ("one", first, first),
            ("single", first, last),
            ("single_one_process", first, last),
            ("per_quarter", first, last),
        ]
        if args.parallel > 1:
            modes.append(("parallel", first, last))
        results = {}
        for mode, start, end in modes:
            home = template / f"home-{mode}"
            shutil.copytree(template / "landing", home / "landing")
            env = {
                "LEAGUE_HOME": str(home),
                "DAGSTER_HOME": str(home / "dagster"),
                "LEAGUE_BOOTSTRAP_REPLICATES": str(args.replicates),
                "LEAGUE_SOURCE_MODE": "landing",
            }
            if mode == "single_one_process":
                env["LEAGUE_WORKERS"] = "1"
            results[mode] = run_child(
                __file__, "backfill", start, end, mode, str(args.parallel), env=env
            )
            print(f"  {mode}: {results[mode]['wall_s']:.1f} s", flush=True)
    finally:
        shutil.rmtree(template, ignore_errors=True)

    one = results["one"]["wall_s"]
    rows = [
        ["one quarter", 1, one, results["one"]["peak_rss_mb"], "1.00x"],
        [f"{n} x one quarter", n, n * one, "", f"{n:.2f}x"],
    ]
    labels = {
        "single": "single run (league backfill)",
        "single_one_process": "single run, one process (LEAGUE_WORKERS=1)",
        "per_quarter": "one run per quarter (--per-quarter)",
        "parallel": f"per quarter, {args.parallel} at a time (--parallel)",
    }
    for mode, label in labels.items():
        if mode in results:
            r = results[mode]
            rows.append(
                [label, r["runs"], r["wall_s"], r["peak_rss_mb"], f"{r['wall_s'] / one:.2f}x"]
            )
    print(f"backfill of {n} quarters ({first} to {last}), {args.replicates:,} replicates")
    print(table(rows, ["mode", "runs", "seconds", "peak MiB", "vs one quarter"]))
    one_steps, single_steps = results["one"]["steps"], results["single"]["steps"]
    heaviest = sorted(single_steps, key=lambda name: -single_steps[name])[:8]

    def times(name: str) -> str:
        return f"{single_steps[name] / one_steps[name]:.1f}x" if one_steps.get(name) else ""

    print("where the single run's time goes (seconds, summed step times):")
    print(
        table(
            [
                [name, one_steps.get(name, 0.0), single_steps[name], times(name)]
                for name in heaviest
            ],
            ["step", "one quarter", f"{n} quarters, one run", "ratio"],
        )
    )
    ratio = results["single"]["wall_s"] / one
    summary(
        "backfill",
        {mode: r for mode, r in results.items()} | {"single_vs_one": ratio},
        [
            target(
                f"{n} quarters single-run <= {TARGET_RATIO:.0f}x one",
                f"{ratio:.2f}x",
                ratio <= TARGET_RATIO,
            )
        ],
    )


if __name__ == "__main__":
    if not child_main({"backfill": task_backfill}):
        main()
