"""Run every benchmark of issue #6 in turn and print its figures, then the targets.

Run: ``.venv/bin/python benchmarks/run_all.py [--only NAME ...] [--quick] [--json FILE]``.

Each benchmark is its own script (``benchmarks/<name>.py``, runnable alone, ``--help`` for its
options); this one runs them one after another, so they do not compete for the CPU, passes their
output through, and ends with one table of the issue's targets: measured, met or missed.
``--quick`` runs small versions (1 M-row RTT extract, 1,000 replicates, no parallel backfill) to
check the scripts work; its figures are not the ones the targets are about. The full run takes
about 15 minutes on the 2-core machine the figures in benchmarks/README.md come from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SUMMARY, table

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "likely_ranges": ([], ["--replicates", "1000"]),
    "code_location": ([], ["--repeats", "1"]),
    "whole_quarter": ([], ["--replicates", "1000"]),
    "backfill": (["--parallel", "2"], ["--replicates", "1000"]),
    "rtt_extract": ([], ["--rows", "1000000", "--no-pyarrow"]),
}


def run(name: str, args: list[str]) -> dict | None:
    print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / f"{name}.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    found = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(SUMMARY):
            found = json.loads(line[len(SUMMARY) :])
        else:
            print(line, end="", flush=True)
    proc.wait()
    print(f"({name}: {time.perf_counter() - started:.0f} s, exit {proc.returncode})", flush=True)
    return found if proc.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run these only")
    parser.add_argument("--quick", action="store_true", help="small versions, to check the scripts")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    results = {}
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        results[name] = run(name, quick if args.quick else full)
    rows = []
    for name, result in results.items():
        if result is None:
            rows.append([name, "(failed)", "", "FAILED"])
            continue
        for t in result["targets"]:
            rows.append([name, t["target"], t["measured"], "met" if t["met"] else "MISSED"])
    print("\n=== targets" + (" (quick run: not the real figures)" if args.quick else ""))
    print(table(rows, ["benchmark", "target", "measured", "verdict"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"figures written to {args.json}")
    return 1 if any(r is None for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
