"""Backfill of all available quarters: one run for the range, one run per quarter, each with its
steps in one process or in processes of their own, and N times one quarter.

Run: ``.venv/bin/python benchmarks/backfill.py [--replicates 10000] [--parallel 2]
[--before /path/to/old/checkout] [--rounds 2]``.

The embedded default for every quarter of the methodology (2025/26 Q1-Q4) is written once (not
timed). Each mode then runs in a fresh process on a fresh working home and Dagster instance,
through ``league backfill``'s code path (``league_pipeline.cli.runner.run_quarters``), every asset
of the job:

* one quarter: 2025/26 Q1 alone; "N x one quarter" is that time times N, the cost of running
  the quarters separately without any sharing;
* single run: ``league backfill`` (default): one run for the range (every asset has a
  single-run backfill policy, so each step handles all the quarters at once), its steps one
  after another in the run's process (the in-process executor);
* one run per quarter: ``league backfill --per-quarter``, one after another, in-process;
* single run, ``--parallel N`` (optional): the same run with Dagster's multiprocess executor, N
  steps at a time, each in a process forked from a server that imported the package once;
* before (with ``--before``): the code of an older checkout (imported from that folder) doing
  the single run its own way: with its worker processes (its default) and without
  (``LEAGUE_WORKERS=1``), so that the figures compare in one session on one machine.

Targets: four quarters within 2x one quarter in single-run mode (issue #6); the four-quarter
backfill no slower than 33.3 s, the single run with the home-made worker pool measured before
Dagster became the only executor (issue 13), and than the ``--before`` figure when measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_main, run_child, step_times, summary, table, target

TARGET_RATIO = 2.0
POOL_SECONDS = 33.3  # issue 13: the single run with the worker pool (benchmarks/README.md)


def task_backfill(first: str, last: str, per_quarter: str, parallel: str) -> dict:
    started = time.perf_counter()
    from league_pipeline.cli.runner import run_quarters
    from league_pipeline.core.quarters import parse_quarter, quarter_range
    from league_pipeline.core.settings import Settings

    imported = time.perf_counter()
    quarters = quarter_range(parse_quarter(first), parse_quarter(last))
    lines: list[str] = []
    outcomes = run_quarters(
        quarters,
        single_run=per_quarter != "per_quarter",
        parallel=int(parallel),
        settings=Settings.from_env(),
        progress=lines.append,
    )
    return _figures(outcomes, lines, started, imported)


def task_backfill_before(first: str, last: str, checkout: str) -> dict:
    """The single run of an older ``checkout`` (on PYTHONPATH), by its own API. It works in
    that folder: a fork server started here imports the package from the working folder
    first, which must not be another checkout."""
    os.chdir(checkout)
    started = time.perf_counter()
    from league_pipeline.quarters import parse_quarter, quarter_range
    from league_pipeline.runner import run_quarters

    imported = time.perf_counter()
    quarters = quarter_range(parse_quarter(first), parse_quarter(last))
    lines: list[str] = []
    outcomes = run_quarters(quarters, single_run=True, progress=lines.append)
    return _figures(outcomes, lines, started, imported)


def _figures(outcomes, lines: list[str], started: float, imported: float) -> dict:
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


def _median(runs: list[dict]) -> dict:
    """The run of median wall time (the lower of the middle two), with every round's time."""
    ranked = sorted(runs, key=lambda r: r["wall_s"])
    return ranked[(len(ranked) - 1) // 2] | {"rounds_s": [round(r["wall_s"], 1) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument(
        "--parallel",
        type=int,
        default=0,
        help="also time the single run with the multiprocess executor, N steps at a time",
    )
    parser.add_argument(
        "--before", type=Path, help="an older checkout whose single run to time alongside"
    )
    parser.add_argument(
        "--without-whatif",
        action="store_true",
        help="also time the single run with the report's what-if search off "
        "(LEAGUE_WHATIF_CHECKED=0), like for like with code older than the search",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time every mode this many times, in alternating order (the load of a shared "
        "machine drifts); the figures are each mode's median",
    )
    args = parser.parse_args()
    from league_pipeline.core.quarters import all_quarters
    from league_pipeline.sample.generator import write_sample_landing

    quarters = all_quarters()
    first, last = quarters[0].label, quarters[-1].label
    n = len(quarters)
    p = args.parallel
    # mode: (task, its arguments, extra environment)
    modes: dict[str, tuple[str, list[str], dict[str, str]]] = {
        "one": ("backfill", [first, first, "single", "1"], {}),
        "single": ("backfill", [first, last, "single", "1"], {}),
        "per_quarter": ("backfill", [first, last, "per_quarter", "1"], {}),
    }
    if p > 1:
        modes["single_parallel"] = ("backfill", [first, last, "single", str(p)], {})
    if args.without_whatif:
        # what the code before the report's what-if suggestions did (0ebf7e8 added them)
        off = {"LEAGUE_WHATIF_CHECKED": "0"}
        modes["single_no_whatif"] = ("backfill", [first, last, "single", "1"], off)
        if p > 1:
            modes["parallel_no_whatif"] = ("backfill", [first, last, "single", str(p)], off)
    if args.before is not None:
        checkout = str(args.before.resolve())
        before = {"PYTHONPATH": checkout}
        modes["before_pool"] = ("backfill_before", [first, last, checkout], before)
        modes["before_one_process"] = (
            "backfill_before",
            [first, last, checkout],
            before | {"LEAGUE_WORKERS": "1"},
        )
    template = Path(tempfile.mkdtemp(prefix="league-bench-backfill-"))
    try:
        print(f"writing the embedded default for {first} to {last} ...", flush=True)
        write_sample_landing(template / "landing", quarters)
        timed: dict[str, list[dict]] = {mode: [] for mode in modes}
        for round_ in range(args.rounds):
            order = list(modes) if round_ % 2 == 0 else list(reversed(modes))
            for mode in order:
                task, task_args, extra = modes[mode]
                home = template / f"home-{mode}-{round_}"
                shutil.copytree(template / "landing", home / "landing")
                env = {
                    "LEAGUE_HOME": str(home),
                    "DAGSTER_HOME": str(home / "dagster"),
                    "LEAGUE_BOOTSTRAP_REPLICATES": str(args.replicates),
                    "LEAGUE_SOURCE_MODE": "landing",
                    **extra,
                }
                timed[mode].append(run_child(__file__, task, *task_args, env=env))
                print(f"  {mode}: {timed[mode][-1]['wall_s']:.1f} s", flush=True)
                shutil.rmtree(home, ignore_errors=True)
        results = {mode: _median(runs) for mode, runs in timed.items()}
    finally:
        shutil.rmtree(template, ignore_errors=True)

    one = results["one"]["wall_s"]
    rows = [
        ["one quarter", 1, one, results["one"]["peak_rss_mb"], "1.00x"],
        [f"{n} x one quarter", n, n * one, "", f"{n:.2f}x"],
    ]
    labels = {
        "single": "single run (league backfill), in-process",
        "single_parallel": f"single run, --parallel {p} (multiprocess executor)",
        "per_quarter": "one run per quarter (--per-quarter), in-process",
        "single_no_whatif": "single run, in-process, LEAGUE_WHATIF_CHECKED=0",
        "parallel_no_whatif": f"single run, --parallel {p}, LEAGUE_WHATIF_CHECKED=0",
        "before_pool": f"before ({args.before}): single run, its worker pool",
        "before_one_process": f"before ({args.before}): single run, LEAGUE_WORKERS=1",
    }
    for mode, label in labels.items():
        if mode in results:
            r = results[mode]
            rows.append(
                [label, r["runs"], r["wall_s"], r["peak_rss_mb"], f"{r['wall_s'] / one:.2f}x"]
            )
    print(
        f"backfill of {n} quarters ({first} to {last}), {args.replicates:,} replicates, "
        f"median of {args.rounds} round(s); each round's seconds:"
    )
    for mode, r in results.items():
        print(f"  {mode}: {r['rounds_s']}")
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
    single = results["single"]["wall_s"]
    fastest = min(results[m]["wall_s"] for m in ("single", "single_parallel") if m in results)
    like_for_like = [m for m in ("single_no_whatif", "parallel_no_whatif") if m in results]
    ratio = single / one
    targets = [
        target(
            f"{n} quarters single-run <= {TARGET_RATIO:.0f}x one",
            f"{ratio:.2f}x",
            ratio <= TARGET_RATIO,
        ),
        target(
            f"{n} quarters no slower than the worker pool's {POOL_SECONDS} s",
            f"{fastest:.1f} s",
            fastest <= POOL_SECONDS,
        ),
    ]
    if "before_pool" in results:
        pool = results["before_pool"]["wall_s"]
        targets.append(
            target(
                f"{n} quarters no slower than the worker pool measured alongside",
                f"{fastest:.1f} s vs {pool:.1f} s ({fastest / pool:.2f}x)",
                fastest <= pool,
            )
        )
    if "before_pool" in results and like_for_like:
        pool = results["before_pool"]["wall_s"]
        best = min(results[m]["wall_s"] for m in like_for_like)
        targets.append(
            target(
                f"{n} quarters, what-if search off (as before it), no slower than the pool",
                f"{best:.1f} s vs {pool:.1f} s ({best / pool:.2f}x)",
                best <= pool,
            )
        )
    summary("backfill", dict(results) | {"single_vs_one": ratio}, targets)


if __name__ == "__main__":
    if not child_main({"backfill": task_backfill, "backfill_before": task_backfill_before}):
        main()
