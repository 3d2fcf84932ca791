"""Large extract: an RTT-size CSV read and aggregated to trust-level metrics, against pandas.

Run: ``.venv/bin/python benchmarks/rtt_extract.py [--rows 5000000] [--keep DIR]``.

A CSV in the layout of NHS England's RTT full extract (methodology doc section 7: 121 columns,
``Period`` ... ``Treatment Function Name``, 105 week bands, ``Total``, ``Patients with unknown
clock start date``, ``Total All``) is generated with DuckDB into a temporary folder (not timed):
500 providers, 5 part types, 25 treatment functions (``C_999`` the total), 2% of rows for non-
English commissioners (``NONC``), most band cells 0.

Each approach then runs in a fresh process, timed from the call to the per-provider result:

* pipeline: ``league_pipeline.formats.rtt.read_rtt_extract`` (DuckDB, with a 1 GB ``memory_limit``,
  copies the lines that may hold a wanted row to a small file in a cheap first pass, then parses
  and aggregates those to one row per provider), then OF0023/OF0003 per provider;
* pandas (the baseline): ``pandas.read_csv`` with the columns needed (``usecols``) and int32
  counts, the same filters, ``groupby(provider).sum()``, the same two metrics;
* pandas, pyarrow engine: the same with ``engine="pyarrow"`` (for reference).

Targets (issue #6): the pipeline at least 3x faster than the pandas baseline, with peak memory
under 1 GB. The three results are checked to agree before any figure is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_main, run_child, summary, table, target

TARGET_SPEEDUP = 3.0
TARGET_MEMORY_MB = 1024.0


def generate(path: Path, rows: int) -> None:
    """Write ``rows`` rows of the 121-column extract to ``path`` with DuckDB."""
    import duckdb

    from league_pipeline.formats.rtt import BAND_COLUMNS

    def q(name: str) -> str:
        return '"' + name + '"'

    bands = ",\n".join(
        f"CASE WHEN random() < 0.6 THEN 0 ELSE floor(random() * 30)::INTEGER END AS {q(b)}"
        for b in BAND_COLUMNS
    )
    band_sum = " + ".join(q(b) for b in BAND_COLUMNS)
    sql = f"""
    COPY (
        WITH base AS (
            SELECT
                'RTT-June-2025' AS "Period",
                'Q' || lpad(CAST(i % 42 AS VARCHAR), 2, '0') AS "Provider Parent Org Code",
                'Parent ' || CAST(i % 42 AS VARCHAR) AS "Provider Parent Name",
                'R' || lpad(CAST(i % 500 AS VARCHAR), 3, '0') AS "Provider Org Code",
                'Provider ' || CAST(i % 500 AS VARCHAR) || ' NHS Trust' AS "Provider Org Name",
                CASE WHEN i % 50 = 7 THEN 'NONC'
                     ELSE 'Q' || lpad(CAST(i % 37 AS VARCHAR), 2, '0') END
                    AS "Commissioner Parent Org Code",
                'Commissioner parent' AS "Commissioner Parent Name",
                CASE WHEN i % 50 = 7 THEN 'NONC'
                     ELSE lpad(CAST((i // 7) % 106 AS VARCHAR), 2, '0') || 'X' END
                    AS "Commissioner Org Code",
                'Commissioner' AS "Commissioner Org Name",
                ['Part_1A', 'Part_1B', 'Part_2', 'Part_2A', 'Part_3'][(i // 500) % 5 + 1]
                    AS "RTT Part Type",
                'Part description' AS "RTT Part Description",
                CASE WHEN (i // 2500) % 25 = 0 THEN 'C_999'
                     ELSE 'C_' || CAST(100 + (i // 2500) % 25 AS VARCHAR) END
                    AS "Treatment Function Code",
                'Treatment function' AS "Treatment Function Name",
                {bands},
                CASE WHEN random() < 0.9 THEN 0 ELSE floor(random() * 5)::INTEGER END
                    AS "Patients with unknown clock start date"
            FROM range({rows}) AS t(i)
        )
        SELECT * EXCLUDE ("Patients with unknown clock start date"),
               {band_sum} AS "Total",
               "Patients with unknown clock start date",
               {band_sum} + "Patients with unknown clock start date" AS "Total All"
        FROM base
    ) TO '{path}' (HEADER, DELIMITER ',')
    """
    with duckdb.connect() as con:
        con.execute(sql)


def _metrics(per_provider) -> dict:
    """OF0023 (% within 18 weeks) and OF0003 (% over 52 weeks) per provider, and a checksum."""
    of0023 = 100 * per_provider["within_18_weeks"] / per_provider["total"]
    of0003 = 100 * per_provider["over_52_weeks"] / per_provider["total"]
    return {
        "providers": len(per_provider),
        "checksum": [
            int(per_provider["total"].sum()),
            int(per_provider["within_18_weeks"].sum()),
            int(per_provider["over_52_weeks"].sum()),
            round(float(of0023.sum()), 6),
            round(float(of0003.sum()), 6),
        ],
    }


def task_pipeline(path: str) -> dict:
    from league_pipeline.core.quarters import Quarter
    from league_pipeline.formats.rtt import read_rtt_extract

    started = time.perf_counter()
    totals = read_rtt_extract(Path(path), Quarter(2025, 1))
    figures = _metrics(totals)
    figures["wall_s"] = time.perf_counter() - started
    return figures


def task_pandas(path: str, engine: str) -> dict:
    import pandas as pd

    from league_pipeline.formats.rtt import BAND_COLUMNS

    within = [b for b in BAND_COLUMNS if int(b.split()[1]) < 18]
    over = [b for b in BAND_COLUMNS if int(b.split()[1]) >= 52]
    keys = ["RTT Part Type", "Treatment Function Code", "Commissioner Org Code"]
    keys += ["Commissioner Parent Org Code", "Provider Org Code"]
    counts = [*BAND_COLUMNS, "Total"]
    started = time.perf_counter()
    frame = pd.read_csv(
        path,
        usecols=[*keys, *counts],
        dtype={**dict.fromkeys(counts, "int32"), **dict.fromkeys(keys, "str")},
        engine=engine,
    )
    frame = frame[
        (frame["RTT Part Type"] == "Part_2")
        & (frame["Treatment Function Code"] == "C_999")
        & (frame["Commissioner Org Code"] != "NONC")
        & (frame["Commissioner Parent Org Code"] != "NONC")
    ]
    summed = frame.groupby("Provider Org Code")[counts].sum().astype("int64")
    per_provider = pd.DataFrame(
        {
            "total": summed["Total"],
            "within_18_weeks": summed[within].sum(axis=1),
            "over_52_weeks": summed[over].sum(axis=1),
        }
    )
    figures = _metrics(per_provider)
    figures["wall_s"] = time.perf_counter() - started
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", type=Path, help="write the CSV here and keep it")
    parser.add_argument("--no-pyarrow", action="store_true", help="skip the pyarrow reference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="league-rtt-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"rtt-full-extract-{args.rows}.csv"
        if not path.exists():
            print(f"generating {args.rows:,} rows x 121 columns ...", flush=True)
            started = time.perf_counter()
            generate(path, args.rows)
            print(f"  {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s")
        size_gb = path.stat().st_size / 1e9
        runs = {"pipeline (DuckDB)": run_child(__file__, "pipeline", str(path))}
        print("  pipeline done", flush=True)
        runs["pandas.read_csv (baseline)"] = run_child(__file__, "pandas", str(path), "c")
        print("  pandas done", flush=True)
        if not args.no_pyarrow:
            runs["pandas, engine=pyarrow"] = run_child(__file__, "pandas", str(path), "pyarrow")
    checksums = {name: tuple(r["checksum"]) for name, r in runs.items()}
    if len(set(checksums.values())) != 1:
        raise SystemExit(f"the approaches disagree: {checksums}")
    baseline = runs["pandas.read_csv (baseline)"]
    ours = runs["pipeline (DuckDB)"]
    print(
        f"RTT-size extract: {args.rows:,} rows, {size_gb:.2f} GB, "
        f"{ours['providers']} providers (results identical)"
    )
    print(
        table(
            [
                [
                    name,
                    r["wall_s"],
                    f"{args.rows / r['wall_s'] / 1e6:.2f} M",
                    r["peak_rss_mb"],
                    f"{baseline['wall_s'] / r['wall_s']:.2f}x",
                ]
                for name, r in runs.items()
            ],
            ["approach", "seconds", "rows/s", "peak MiB", "speed vs baseline"],
        )
    )
    speedup = baseline["wall_s"] / ours["wall_s"]
    memory = ours["peak_rss_mb"]
    summary(
        "rtt_extract",
        {"rows": args.rows, "size_gb": size_gb, "runs": runs, "speedup": speedup},
        [
            target(
                f">= {TARGET_SPEEDUP:.0f}x pandas", f"{speedup:.2f}x", speedup >= TARGET_SPEEDUP
            ),
            target("peak memory < 1 GB", f"{memory:,.0f} MiB", memory < TARGET_MEMORY_MB),
        ],
    )


if __name__ == "__main__":
    if not child_main({"pipeline": task_pipeline, "pandas": task_pandas}):
        main()
