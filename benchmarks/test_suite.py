"""Where `make test`'s time goes: run the suite (or part of it) once per worker count, one run
after another in this one invocation, and print for each its wall time, the CPU time of pytest
and every process it started, and the test files that took longest (summed test time, from
pytest's JUnit XML).

Run: ``.venv/bin/python benchmarks/test_suite.py [--workers 2 3] [--top 15] [PYTEST ARGS...]``
(whatever follows the options goes to pytest, e.g. ``tests/integration/test_cli.py``). The
whole suite takes about 20 minutes a run on 2 cores; the figures are in benchmarks/README.md,
"The test suite".
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, summary, table, target

SUITE_TARGET_S = 300  # issue 13: `make test` under 5 minutes on 2 cores


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_suite(workers: int, pytest_args: list[str]) -> dict:
    """One pytest run with ``workers`` xdist workers: wall and CPU seconds, and seconds per file."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            str(workers),
            "--dist",
            "loadfile",
            f"--junitxml={junit}",
            *pytest_args,
        ]
        cpu_before, started = _cpu_of_children(), time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - started, _cpu_of_children() - cpu_before
        if not junit.exists():
            raise SystemExit(
                f"pytest wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
            )
        per_file: Counter[str] = Counter()
        tests = failed = 0
        for case in ET.parse(junit).iter("testcase"):
            per_file[case.get("classname", "?")] += float(case.get("time") or 0)
            tests += 1
            failed += any(child.tag in ("failure", "error") for child in case)
    return {
        "workers": workers,
        "exit": proc.returncode,
        "tests": tests,
        "failed": failed,
        "wall_s": wall,
        "cpu_s": cpu,
        "test_s": sum(per_file.values()),
        "per_file": per_file,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[2], help="xdist workers, one run each"
    )
    parser.add_argument("--top", type=int, default=15, help="the slowest test files to list")
    options, pytest_args = parser.parse_known_args()
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}", flush=True)

    runs = []
    for workers in options.workers:
        print(f"pytest -n {workers} {' '.join(pytest_args)} ...", flush=True)
        runs.append(run_suite(workers, pytest_args))
    print(
        table(
            [
                (
                    r["workers"],
                    r["tests"],
                    r["failed"],
                    r["wall_s"],
                    r["cpu_s"],
                    r["cpu_s"] / r["wall_s"],
                )
                for r in runs
            ],
            ["workers", "tests", "failed", "wall s", "CPU s (all processes)", "cores busy"],
        )
    )
    first = runs[0]["per_file"]
    files = [name for name, _ in first.most_common(options.top)]
    print("\nslowest files (summed test seconds, setup included; by the first run's order):")
    print(
        table(
            [(name, *(r["per_file"][name] for r in runs)) for name in files],
            ["file", *(f"-n {r['workers']}" for r in runs)],
        )
    )
    best = min(runs, key=lambda r: r["wall_s"])
    summary(
        "test_suite",
        {f"wall_s_n{r['workers']}": round(r["wall_s"], 1) for r in runs}
        | {f"cpu_s_n{r['workers']}": round(r["cpu_s"], 1) for r in runs},
        [
            target(
                "pytest under 5 min on 2 cores",
                f"{best['wall_s']:.0f} s",
                best["wall_s"] < SUITE_TARGET_S,
            )
        ],
    )
    if any(r["exit"] != 0 for r in runs):
        raise SystemExit("a run had failing tests: its times are not the suite's")


if __name__ == "__main__":
    main()
