"""Install footprint (issue 15): the size of each given virtualenv and how long
``import league_pipeline.definitions`` takes in it, side by side in one run.

Run: ``.venv/bin/python benchmarks/install_footprint.py NAME=VENV [NAME=VENV ...] [--repeats 5]``
(benchmarks/README.md says how the before and after virtualenvs were made). The first is the
baseline of the ratios.

* size: every file under the virtualenv, as allocated on disk (like ``du``), and its number of
  installed distributions;
* import: ``VENV/bin/python -W ignore -c "import league_pipeline.definitions"`` in a fresh
  interpreter, from an empty folder (so the package is the virtualenv's own), the virtualenvs
  taking turns so that a change in the machine's load falls on each; the median wall time and
  CPU time (user + system, which moves less when other work shares the cores), and the slowest
  packages of one more run under ``-X importtime`` (cumulative).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table

IMPORT = ["-W", "ignore", "-c", "import league_pipeline.definitions"]


def size_mib(root: Path) -> float:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                total += path.stat().st_blocks * 512
    return total / 2**20


def distributions(python: Path) -> int:
    listed = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(len(list(m.distributions())))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(listed.stdout)


def timed_import(python: Path, cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one import in a fresh interpreter; the CPU time (user + system)
    moves less than the wall time when other work shares the cores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([str(python), *IMPORT], cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def slowest_packages(python: Path, cwd: str, env: dict[str, str], top: int) -> list[str]:
    """Packages by the cumulative time of their first import (``-X importtime``; a package's
    time includes what it imported first, so the figures overlap), slowest first."""
    done = subprocess.run(
        [str(python), "-X", "importtime", *IMPORT], cwd=cwd, env=env, capture_output=True, text=True
    )
    cumulative: dict[str, int] = {}
    for line in done.stderr.splitlines():
        # "import time:  self [us] |  cumulative | <indent by depth>imported module"
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+([\w.]+)$", line)
        if match and "." not in match.group(2) and not match.group(2).startswith("_"):
            name = match.group(2)
            cumulative[name] = max(cumulative.get(name, 0), int(match.group(1)))
    ranked = sorted(cumulative.items(), key=lambda item: -item[1])[:top]
    return [f"{name} {us / 1e6:.2f}" for name, us in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venvs", nargs="+", metavar="NAME=VENV")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    venvs = {name: Path(path) for name, path in (item.split("=", 1) for item in args.venvs)}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in venvs}
    with tempfile.TemporaryDirectory(prefix="league-bench-footprint-") as empty:
        env = {**os.environ, "LEAGUE_HOME": empty, "DAGSTER_HOME": empty}
        env.pop("PYTHONPATH", None)
        for venv in venvs.values():  # warm the file cache once for each
            timed_import(venv / "bin" / "python", empty, env)
        for _ in range(args.repeats):
            for name, venv in venvs.items():
                times[name].append(timed_import(venv / "bin" / "python", empty, env))
        slowest = {
            name: slowest_packages(venv / "bin" / "python", empty, env, 6)
            for name, venv in venvs.items()
        }
    sizes = {name: size_mib(venv) for name, venv in venvs.items()}
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in times.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in times.items()}
    base = next(iter(venvs))
    print(
        f"install footprint on {os.cpu_count()} cores, 1-minute load {os.getloadavg()[0]:.1f}; "
        f"import: median of {args.repeats} fresh processes each"
    )
    print(
        table(
            [
                [
                    name,
                    round(sizes[name]),
                    f"{sizes[name] / sizes[base]:.2f}x",
                    distributions(venv / "bin" / "python"),
                    wall[name],
                    cpu[name],
                    f"{cpu[name] / cpu[base]:.2f}x",
                ]
                for name, venv in venvs.items()
            ],
            ["venv", "MiB", "vs first", "distributions", "import wall s", "CPU s", "vs first"],
        )
    )
    for name in venvs:
        print(f"{name}: slowest imports (s, cumulative): {', '.join(slowest[name])}")


if __name__ == "__main__":
    main()
