"""Where `make test`'s time goes: run the suite (or part of it) once per worker count, one run
after another in this one invocation, and print for each its wall time, the CPU time of pytest
and the processes it waited for (not daemons it left running), and the test modules that took
longest (summed test time, from pytest's JUnit XML).

Run: ``.venv/bin/python benchmarks/test_suite.py [--workers 2,3] [--top 15] [PYTEST ARGS...]``
(whatever else is given goes to pytest, e.g. ``tests/integration/test_cli.py``). The whole
suite takes about 20 minutes a run on 2 cores; the figures are in benchmarks/README.md, "The
test suite". A run with failing tests prints its output and no summary.
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
    """One pytest run with ``workers`` xdist workers: wall and CPU seconds, seconds per module,
    and the tail of pytest's output when it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-n", str(workers), "--dist", "loadfile", f"--junitxml={junit}", *pytest_args]
        cpu_before, started = _cpu_of_children(), time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall, cpu = time.perf_counter() - started, _cpu_of_children() - cpu_before
        per_module: Counter[str] = Counter()
        tests = failed = 0
        if junit.exists():
            for case in ET.parse(junit).iter("testcase"):
                per_module[case.get("classname", "?")] += float(case.get("time") or 0)
                tests += 1
                failed += any(child.tag in ("failure", "error") for child in case)
    return {
        "workers": workers,
        "exit": proc.returncode,
        "output": (proc.stdout + proc.stderr)[-3000:] if proc.returncode != 0 else "",
        "tests": tests,
        "failed": failed,
        "wall_s": wall,
        "cpu_s": cpu,
        "per_module": per_module,
    }


def _counts(text: str) -> list[int]:
    """``"2,3"`` -> ``[2, 3]``."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not worker counts: {text!r} (e.g. 2,3)") from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError("worker counts are 1 or more")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        type=_counts,
        default=[2],
        help="xdist worker counts, comma-separated, one run each (default: 2)",
    )
    parser.add_argument("--top", type=int, default=15, help="the slowest test modules to list")
    options, pytest_args = parser.parse_known_args()
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}", flush=True)

    runs = []
    for workers in options.workers:
        print(f"pytest -n {workers} {' '.join(pytest_args)} ...", flush=True)
        runs.append(run_suite(workers, pytest_args))
    header = ["workers", "tests", "failed", "exit", "wall s", "CPU s (waited-for processes)"]
    rows = [
        (r["workers"], r["tests"], r["failed"], r["exit"], r["wall_s"], r["cpu_s"]) for r in runs
    ]
    print(
        table(
            [(*row, r["cpu_s"] / r["wall_s"]) for row, r in zip(rows, runs, strict=True)],
            [*header, "cores busy"],
        )
    )
    modules = [name for name, _ in runs[0]["per_module"].most_common(options.top)]
    print("\nslowest test modules (summed test seconds, setup included; the first run's order):")
    print(
        table(
            [(name, *(r["per_module"][name] for r in runs)) for name in modules],
            ["module", *(f"-n {r['workers']}" for r in runs)],
        )
    )
    broken = [r for r in runs if r["exit"] != 0]
    for r in broken:
        print(f"\npytest -n {r['workers']} exited {r['exit']}:\n{r['output']}")
    if broken:
        raise SystemExit("a run failed: its times are not the suite's (no summary printed)")
    best = min(runs, key=lambda r: r["wall_s"])
    targets = [  # the target is about the whole suite, not a part of it
        target(
            "pytest under 5 min on 2 cores",
            f"{best['wall_s']:.0f} s",
            best["wall_s"] < SUITE_TARGET_S,
        )
    ]
    summary(
        "test_suite",
        {f"wall_s_n{r['workers']}": round(r["wall_s"], 1) for r in runs}
        | {f"cpu_s_n{r['workers']}": round(r["cpu_s"], 1) for r in runs},
        [] if pytest_args else targets,
    )


if __name__ == "__main__":
    main()
