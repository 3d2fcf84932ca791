"""Shared helpers for the benchmarks: run a task in a process of its own, measure its wall time
and peak memory, and print the figures (one table per script, plus one machine-readable line
that ``benchmarks/run_all.py`` collects).

Peak memory is the largest resident set size (``ru_maxrss``) of the process that ran the task
and of any process it waited for, so each measured task gets a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULT = "BENCHMARK-RESULT "  # a child's measurement
SUMMARY = "BENCHMARK-SUMMARY "  # a script's figures, for run_all.py
REPO = Path(__file__).resolve().parents[1]
# a step line of the runner's progress: "2025/26 Q1: [3/26] sources/ods_trusts (0.4 s, ...)"
# a Dagster home's dagster.yaml for the benchmarks' instances
NO_TELEMETRY = "telemetry:\n  enabled: false\n"
STEP = re.compile(r"\[(\d+)/(\d+)\] (\S+) \((\d+\.\d) s")


def step_times(lines: Sequence[str]) -> dict[str, float]:
    """Seconds per step from the runner's progress lines (summed over runs of a backfill)."""
    out: dict[str, float] = {}
    for line in lines:
        if match := STEP.search(line):
            out[match.group(3)] = out.get(match.group(3), 0.0) + float(match.group(4))
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its waited-for children, in MiB (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def child_main(tasks: dict[str, Callable[..., dict[str, Any]]]) -> bool:
    """In a child (``script.py --child TASK ARGS...``): run the task and print its figures.

    Returns False when this process is not a child, so the script goes on as the parent.
    """
    if len(sys.argv) < 3 or sys.argv[1] != "--child":
        return False
    task, args = sys.argv[2], sys.argv[3:]
    started = time.perf_counter()
    figures = tasks[task](*args)
    figures.setdefault("wall_s", time.perf_counter() - started)
    figures["peak_rss_mb"] = peak_rss_mb()
    print(RESULT + json.dumps(figures), flush=True)
    return True


def run_child(
    script: str | Path,
    task: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run ``script --child task args`` in a fresh interpreter and return its figures."""
    command = [sys.executable, str(script), "--child", task, *map(str, args)]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        cwd=REPO,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise SystemExit(f"benchmark task '{task}' failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len(RESULT) :])


def machine() -> dict[str, Any]:
    import dagster
    import duckdb
    import pandas

    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_avg_1m": round(load[0], 2),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "dagster": dagster.__version__,
    }


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain text table (Markdown-compatible) of ``rows``."""
    text = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in text
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary(name: str, figures: dict[str, Any], targets: list[dict[str, Any]]) -> None:
    """Print the machine-readable line run_all.py collects.

    ``targets``: ``{"target": text, "measured": text, "met": bool}`` per target of the issue.
    """
    payload = {"benchmark": name, "figures": figures, "targets": targets, "machine": machine()}
    print(SUMMARY + json.dumps(payload), flush=True)


def target(text: str, measured: str, met: bool) -> dict[str, Any]:
    return {"target": text, "measured": measured, "met": bool(met)}


# -- Dagster alone ------------------------------------------------------------------------------


def noop_job(job_name: str = "quarterly_league_job", *, shape: str = "same") -> Any:
    """A job that does nothing but what Dagster itself does, for ``job_name`` of this checkout's
    code location (``league_pipeline.definitions.defs``), to run on a persistent instance.

    ``shape="same"``: the job's own graph with no work in it. Every asset definition becomes a
    multi-asset with the same asset specs (keys, dependencies and their partition mappings),
    the same check specs, partitions and backfill policy, and every separate check definition
    a multi-asset check with the same specs; each step reports its assets materialised (with a
    row count, as the real steps do) and its checks passed. So it has as many steps, and
    Dagster records as many materialisations and check evaluations, as a real run.

    ``shape="chain"``: as many partitioned no-op assets in a chain as the job has steps, no
    checks (the benchmarks' reference until 2026-12-01, kept to compare with older figures).
    """
    import dagster as dg

    from league_pipeline.definitions import defs

    real = defs.resolve_job_def(job_name)
    steps = len(real.nodes_in_topological_order)
    partitions = real.partitions_def
    if shape == "chain":
        assets, previous = [], None
        for index in range(steps):

            @dg.asset(
                name=f"step_{index}", deps=[previous] if previous else [], partitions_def=partitions
            )
            def _step():
                return dg.MaterializeResult(metadata={"dagster/row_count": 0})

            assets.append(_step)
            previous = _step
        checks: list[Any] = []
    elif shape == "same":
        in_job = {node.name for node in real.nodes_in_topological_order}
        assets, checks = [], []
        for definition in [*(defs.assets or []), *(defs.asset_checks or [])]:
            if definition.node_def.name not in in_job:
                continue
            if definition.keys:  # assets, perhaps with checks
                assets.append(_noop_assets(definition))
            else:  # checks only
                checks.append(_noop_checks(definition))
    else:
        raise ValueError(f"shape is 'same' or 'chain', not {shape!r}")
    job = dg.define_asset_job("noop", partitions_def=partitions)
    noop = dg.Definitions(assets=assets, asset_checks=checks, jobs=[job]).resolve_job_def("noop")
    if len(noop.nodes_in_topological_order) != steps:
        raise RuntimeError(f"the no-op job has {len(noop.nodes_in_topological_order)} steps")
    return noop


def time_noop_job(partition_key: str, repeats: int = 1, *, shape: str = "same") -> dict:
    """Run :func:`noop_job` ``repeats`` times for ``partition_key`` on a persistent SQLite
    instance in a temporary Dagster home (as a ``league run`` uses), with the console logger
    silenced; the median and every run's seconds, and the job's step count. A failed run
    raises (``execute_in_process`` raises on error)."""
    import shutil
    import statistics
    import tempfile
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    home = Path(tempfile.mkdtemp(prefix="league-bench-noop-"))
    (home / "dagster.yaml").write_text(NO_TELEMETRY)
    os.environ["DAGSTER_HOME"] = str(home)
    job = noop_job(shape=shape)
    times = []
    try:
        with dg.DagsterInstance.get() as instance:
            for _ in range(repeats):
                started = time.perf_counter()
                job.execute_in_process(  # raises if the job fails
                    instance=instance,
                    partition_key=partition_key,
                    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                )
                times.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    steps = len(job.nodes_in_topological_order)
    return {"wall_s": statistics.median(times), "times_s": times, "steps": steps}


def _noop_assets(definition: Any) -> Any:
    """A multi-asset with ``definition``'s specs, check specs and partitions, doing nothing."""
    import dagster as dg

    specs = list(definition.specs)
    check_specs = list(definition.check_specs)

    @dg.multi_asset(
        name=definition.node_def.name,
        specs=specs,
        check_specs=check_specs or None,
        partitions_def=definition.partitions_def,
        backfill_policy=definition.backfill_policy,
    )
    def _step():
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key, metadata={"dagster/row_count": 0})
        for check in check_specs:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    return _step


def _noop_checks(definition: Any) -> Any:
    """A multi-asset check with ``definition``'s check specs, every check passing."""
    import dagster as dg

    check_specs = list(definition.check_specs)

    @dg.multi_asset_check(name=definition.node_def.name, specs=check_specs)
    def _check():
        for check in check_specs:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    return _check
