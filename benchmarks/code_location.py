"""Code location load time: ``dagster definitions validate`` and a bare import, each in a fresh
process.

Run: ``.venv/bin/python benchmarks/code_location.py [--repeats 3]``.

* ``dagster definitions validate -m league_pipeline.definitions``: what ``dagster dev`` and the
  webserver pay to load the code location (Dagster's CLI start-up included);
* ``import league_pipeline.definitions``: the Python import alone (Dagster, pandas, DuckDB and
  every asset, check, job, schedule and sensor definition);
* ``import dagster``: Dagster alone, what any code location pays (target, issue 13: the
  ``validate`` within 1.5x of it);
* ``python -c pass``: the interpreter's own start-up, for reference.

The median of the repeats is reported (the first run also pays for a cold file cache).
``benchmarks/where_people_wait.py`` measures the same pair beside an older checkout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, summary, table, target

DAGSTER = Path(sys.executable).with_name("dagster")
COMMANDS = {
    "dagster definitions validate": [
        str(DAGSTER),
        "definitions",
        "validate",
        "-m",
        "league_pipeline.definitions",
    ],
    "import league_pipeline.definitions": [
        sys.executable,
        "-W",
        "ignore",
        "-c",
        "import league_pipeline.definitions",
    ],
    "import dagster": [sys.executable, "-W", "ignore", "-c", "import dagster"],
    "python -c pass": [sys.executable, "-c", "pass"],
}
TARGET_RATIO = 1.5  # issue 13: validate within 1.5x import dagster


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="league-bench-home-") as home:
        env = {**os.environ, "LEAGUE_HOME": home, "DAGSTER_HOME": home}
        results = {
            name: [timed(command, env) for _ in range(args.repeats)]
            for name, command in COMMANDS.items()
        }
    print(f"code location load, {args.repeats} runs each (fresh process every run)")
    print(
        table(
            [
                [name, statistics.median(times), min(times), max(times)]
                for name, times in results.items()
            ],
            ["command", "median s", "min s", "max s"],
        )
    )
    validate = statistics.median(results["dagster definitions validate"])
    ratio = validate / statistics.median(results["import dagster"])
    print(f"validate / import dagster: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    summary(
        "code_location",
        {name: statistics.median(times) for name, times in results.items()},
        [
            target(
                f"code location load <= {TARGET_RATIO}x import dagster",
                f"{ratio:.2f}x ({validate:.2f} s)",
                ratio <= TARGET_RATIO,
            )
        ],
    )


if __name__ == "__main__":
    main()
