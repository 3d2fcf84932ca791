"""How fast the raw-statistics readers are, on NHS England's real files and a large generated
RTT extract. Timings belong here, not in tests (the tests assert behaviour only).

Run: ``.venv/bin/python benchmarks/raw_readers.py [--rtt-rows 400000]``. Reads the real files
from ``LEAGUE_SHARED_DATA`` or ``../shared/data/real``. Prints one line per reader: seconds,
rows and file size. For reference, on the 2-core machine the 3.4 MB AmbSYS workbook takes
about a second with python-calamine, most of it building the frame (openpyxl, which the
project does not install, is known to take many times longer on workbooks of this size).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from league_pipeline.core.quarters import Quarter
from league_pipeline.formats.ae import read_ae_monthly
from league_pipeline.formats.ambsys import read_ambsys
from league_pipeline.formats.cwt import read_cwt_provider
from league_pipeline.formats.rtt import BAND_COLUMNS, read_rtt_extract

Q1 = Quarter(2025, 1)


def _real() -> Path:
    env = os.environ.get("LEAGUE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _time(label: str, size: int, work) -> None:
    start = time.perf_counter()
    rows = len(work())
    print(f"{label:<42} {time.perf_counter() - start:6.2f} s  {rows:>7} rows  {size / 1e6:6.1f} MB")


def _rtt_file(folder: Path, rows: int) -> Path:
    path = folder / "rtt.csv"
    bands = ", ".join(f'(i % 7)::BIGINT AS "{c}"' for c in BAND_COLUMNS)
    total = f"{len(BAND_COLUMNS)} * (i % 7)"
    duckdb.execute(
        f"""COPY (SELECT 'RTT-June-2025' AS "Period", 'QOP' AS "Provider Parent Org Code",
            'P' AS "Provider Parent Name", 'R' || CAST(i % 400 AS VARCHAR) AS "Provider Org Code",
            'N' AS "Provider Org Name", 'QOP' AS "Commissioner Parent Org Code",
            'C' AS "Commissioner Parent Name", 'QOP' AS "Commissioner Org Code",
            'C' AS "Commissioner Org Name",
            CASE WHEN i % 3 = 0 THEN 'Part_1B' ELSE 'Part_2' END AS "RTT Part Type",
            'D' AS "RTT Part Description",
            CASE WHEN i % 4 = 0 THEN 'C_110' ELSE 'C_999' END AS "Treatment Function Code",
            'F' AS "Treatment Function Name", {bands}, ({total})::BIGINT AS "Total",
            0::BIGINT AS "Patients with unknown clock start date",
            ({total})::BIGINT AS "Total All"
            FROM range({int(rows)}) AS t(i)) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-rows", type=int, default=400_000, help="rows of the RTT extract")
    args = parser.parse_args()
    real = _real()
    ambsys = (real / "ambsys_time_series_to_2025-08.xlsx").read_bytes()
    _time("AmbSYS workbook (calamine)", len(ambsys), lambda: read_ambsys(ambsys, Q1))
    cwt = (real / "cwt_crs_provider_extract_2025-04_to_2025-07.xlsx").read_bytes()
    _time("CWT-CRS provider workbook (calamine)", len(cwt), lambda: read_cwt_provider(cwt, Q1))
    ae = (real / "ae_monthly_2025-04.csv").read_bytes()
    _time("A&E monthly CSV", len(ae), lambda: read_ae_monthly(ae, Q1, date(2025, 4, 1)))
    with tempfile.TemporaryDirectory() as tmp:
        path = _rtt_file(Path(tmp), args.rtt_rows)
        label = f"RTT full extract, {args.rtt_rows:,} rows (DuckDB)"
        _time(label, path.stat().st_size, lambda: read_rtt_extract(path, Q1))


if __name__ == "__main__":
    main()
