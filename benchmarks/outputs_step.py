"""The outputs step's own work: ``publish()`` of one snapshot, timed in fresh processes, with
where its time goes (from its progress lines), optionally beside an older checkout.

Run: ``.venv/bin/python benchmarks/outputs_step.py --home DIR [--quarter "2025/26 Q1"]
[--runs 3] [--whatif-checked 0] [--before /path/to/old/checkout]``.

``--home`` is a ``LEAGUE_HOME`` that holds a snapshot of the quarter (e.g. made by
``league sample-data`` and ``league run --quarter "2025/26 Q1"``); it is only read, and the
outputs are written to a temporary folder. Each run is a fresh interpreter that imports the
package, opens the stores and then times one ``publish()`` call (imports not included), like the
Dagster outputs step of a run; runs of this checkout and of ``--before`` take turns. An older
checkout is any folder holding its ``league_pipeline/``, ``assets/`` and ``schemas/`` (e.g.
``git archive <commit> league_pipeline assets schemas | tar -x -C DIR``), imported from there.
The report is the median of the runs (wall time, and CPU time of the process, steadier when
other work shares the cores), and the ratios after / before when ``--before`` is given. Target
(issue 13): the outputs step takes at most 1 s per quarter.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_main, run_child, summary, table, target

TARGET_SECONDS = 1.0


def task_publish(home: str, quarter: str, checked: str, out: str) -> dict:
    import os

    os.environ["LEAGUE_HOME"] = home
    from league_pipeline.core.settings import Settings
    from league_pipeline.outputs.publish import publish

    try:  # the store helpers moved into cli.common; older checkouts keep them in cli
        from league_pipeline.cli.common import snapshot_store, source_store
    except ImportError:  # pragma: no cover - older checkouts only
        from league_pipeline.cli import snapshot_store, source_store

    settings = Settings.from_env()
    store, sources = snapshot_store(settings), source_store(settings)
    marks: list[tuple[float, str]] = []
    cpu = time.process_time()
    started = time.perf_counter()
    publish(
        quarter,
        store=store,
        source_store=sources,
        root=Path(out),
        cache_dir=settings.cache_dir,
        progress=lambda line: marks.append((time.perf_counter() - started, line)),
        whatif_checked=int(checked),
    )
    total = time.perf_counter() - started
    return {"publish_s": total, "cpu_s": time.process_time() - cpu, "parts": _parts(marks, total)}


def _parts(marks: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds between one progress line and the next, named by the line (without the
    quarter's label), the last part ending with the call."""
    parts: dict[str, float] = {}
    times = [0.0, *(t for t, _ in marks), total]
    names = ["open and load the snapshot", *(_name(line) for _, line in marks)]
    for name, begin, end in zip(names, times, times[1:], strict=False):
        parts[name] = parts.get(name, 0.0) + end - begin
    return parts


def _name(line: str) -> str:
    text = line.split(": ", 1)[-1]
    return "writing outputs (exports' SQL)" if text.startswith("writing outputs") else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a LEAGUE_HOME with a snapshot")
    parser.add_argument("--quarter", default="2025/26 Q1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--whatif-checked", type=int, default=0)
    parser.add_argument("--before", type=Path, help="an older checkout to time beside this one")
    args = parser.parse_args()

    codes = {"after": None}
    if args.before:
        codes = {"before": args.before.resolve(), "after": None}
    figures: dict[str, list[dict]] = {name: [] for name in codes}
    with tempfile.TemporaryDirectory(prefix="outputs-step-") as tmp:
        for run in range(args.runs):
            for name, checkout in codes.items():
                env = {"PYTHONPATH": str(checkout)} if checkout else None
                out = Path(tmp) / f"{name}-{run}"
                figures[name].append(
                    run_child(
                        __file__,
                        "publish",
                        str(args.home.resolve()),
                        args.quarter,
                        str(args.whatif_checked),
                        str(out),
                        env=env,
                    )
                )
    medians = {
        name: statistics.median(f["publish_s"] for f in runs) for name, runs in figures.items()
    }
    cpu = {name: statistics.median(f["cpu_s"] for f in runs) for name, runs in figures.items()}
    rows = []
    for name, runs in figures.items():
        names = list(dict.fromkeys(part for f in runs for part in f["parts"]))
        for part in names:
            rows.append((name, part, statistics.median(f["parts"].get(part, 0.0) for f in runs)))
        rows.append((name, "publish() in all", medians[name]))
        rows.append((name, "  each run", ", ".join(f"{f['publish_s']:.2f}" for f in runs)))
        rows.append((name, "publish() CPU time (all threads)", cpu[name]))
    print(table(rows, ["code", "part", "median s"]))
    if "before" in medians:
        print(
            f"after / before: {medians['after'] / medians['before']:.2f}x wall, "
            f"{cpu['after'] / cpu['before']:.2f}x CPU"
        )
    summary(
        "outputs_step",
        {"publish_s": medians, "cpu_s": cpu},
        [
            target(
                f"outputs step <= {TARGET_SECONDS:g} s per quarter",
                f"{medians['after']:.2f} s",
                medians["after"] <= TARGET_SECONDS,
            )
        ],
    )


if __name__ == "__main__":
    if not child_main({"publish": task_publish}):
        main()
