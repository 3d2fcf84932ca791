"""Peak memory of reading a NOF trust-data file, as a multiple of the file's size: the block
reader (``formats.nof.read_nof_trust_data``, issue 12) beside the whole-text reader it replaced.

Run: ``.venv/bin/python benchmarks/nof_reader_memory.py [--rows 7265 200000 2000000]``.

Each file is NHS England's real Q1 2025/26 acute file (``nof2526_q1_acute_trust_data.csv`` from
``LEAGUE_SHARED_DATA`` or ``../shared/data/real``: 7,265 rows, 1.55 MB) with its rows repeated
until the file has the rows asked for (the real size first). Each reading runs in a fresh
interpreter, which loads the file's bytes, notes its resident memory, resets its peak
(``/proc/self/clear_refs``) and reads them; the figure is the peak resident memory above the
note. That excludes the bytes themselves (a caller holds them anyway), so the memory a reading
needs in all is one more times the file's size: both columns are printed.

Before it is measured, each interpreter reads the file's first ten rows with the same reader,
as a pipeline run has read other files by the time it reads a big one: the first reading of a
process also sets up pyarrow's and pandas' code paths (about 9 MB, most of the figure for a
file of the real size). ``--cold`` measures that first reading instead.

``--before-max-rows N`` leaves the whole-text reader out above N rows (it needs about 6 GB at
2 million rows).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_main, machine, run_child, summary, table

HERE = Path(__file__).resolve()
REAL_FILE = "nof2526_q1_acute_trust_data.csv"
QUARTER = "2025/26 Q1"


def _real() -> Path:
    env = os.environ.get("LEAGUE_SHARED_DATA")
    return Path(env) if env else HERE.parents[2] / "shared" / "data" / "real"


def _status(field: str) -> int | None:
    """A /proc/self/status figure in bytes (None where there is no /proc)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def whole_text_reader(content: bytes, quarter_label: str | None):
    """``read_nof_trust_data`` as it was before issue 12 (commit a68eaab): the whole text
    decoded, parsed by ``csv`` into a list of lists, a DataFrame of ``str`` made from it, and
    each number tested cell by cell."""
    import pandas as pd

    from league_pipeline.formats import common, nof

    what = "NOF trust data"
    df = common.read_csv(common.decode_text(content, what), what)
    df = df.rename(columns={"Sub-domain": "Sub_domain"})
    common.check_layout(df, nof.NOF_TRUST_DATA_COLUMNS[1:], what)
    if "Quarter" in df.columns:
        df["Quarter"] = df["Quarter"].map(common.normalise_quarter_label).astype("str")
    else:
        df.insert(0, "Quarter", common._expected_label(quarter_label))
    if "Trust_type" in df.columns:
        df["Trust_type"] = df["Trust_type"].replace(nof._TRUST_TYPE_ALIASES)
    if "Units" in df.columns:
        df["Units"] = df["Units"].replace(nof._UNITS_ALIASES)
    for col in nof._TRUST_DATA_NUMERIC:
        if col in df.columns:
            plain = (
                df[col].map(common.is_plain_number, na_action="ignore").fillna(True).astype(bool)
            )
            if plain.all():
                df[col] = pd.to_numeric(df[col]).astype("float64")
    return common.order_columns(df, nof.NOF_TRUST_DATA_COLUMNS)


def read_task(which: str, path: str, warm: str) -> dict:
    """In a child: read the file with ``which`` reader; its peak memory above the loaded bytes."""
    from league_pipeline.formats.nof import read_nof_trust_data

    reader = whole_text_reader if which == "before" else read_nof_trust_data
    content = Path(path).read_bytes()
    warnings.simplefilter("ignore")  # the old reader's fillna(True) warns in pandas 3
    if warm == "warm":
        reader(b"\r\n".join(content.split(b"\r\n", 11)[:11]) + b"\r\n", QUARTER)
    before = _status("VmRSS:")
    reset = _reset_peak()
    started = time.perf_counter()
    df = reader(content, QUARTER)
    seconds = time.perf_counter() - started
    peak = _status("VmHWM:") if reset else None
    if peak is None or before is None:  # no /proc: ru_maxrss, which includes the start-up
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        before = 0
    return {
        "rows": len(df),
        "size": len(content),
        "peak_over_bytes": peak - before,
        "seconds": seconds,
        "peak_reset": reset,
    }


def write_file(folder: Path, rows: int) -> Path:
    """The real acute file with its rows repeated to ``rows`` rows (CRLF, with its BOM)."""
    header, body = (_real() / REAL_FILE).read_bytes().split(b"\r\n", 1)
    lines = body.rstrip(b"\r\n").split(b"\r\n")
    path = folder / f"nof-acute-{rows}.csv"
    with open(path, "wb") as fh:
        fh.write(header + b"\r\n")
        whole, rest = divmod(rows, len(lines))
        block = b"\r\n".join(lines) + b"\r\n"
        for _ in range(whole):
            fh.write(block)
        if rest:
            fh.write(b"\r\n".join(lines[:rest]) + b"\r\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[7_265, 200_000, 2_000_000], help="file sizes"
    )
    parser.add_argument(
        "--before-max-rows", type=int, default=None, help="skip the old reader above this"
    )
    parser.add_argument("--quick", action="store_true", help="7,265 and 50,000 rows only")
    parser.add_argument("--cold", action="store_true", help="measure a process's first reading")
    args = parser.parse_args()
    sizes = [7_265, 50_000] if args.quick else args.rows
    results: list[list] = []
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="nof-reader-memory-") as tmp:
        for rows in sizes:
            path = write_file(Path(tmp), rows)
            size = path.stat().st_size
            measured = {}
            for which in ("before", "after"):
                if which == "before" and args.before_max_rows and rows > args.before_max_rows:
                    continue
                warm = "cold" if args.cold else "warm"
                got = run_child(HERE, "read", which, str(path), warm, timeout=7200)
                assert got["rows"] == rows and got["size"] == size, got
                measured[which] = got
                ratio = got["peak_over_bytes"] / size
                print(
                    f"{rows:>9,} rows, {size / 1e6:7.1f} MB, {which:>6}: peak "
                    f"{got['peak_over_bytes'] / 2**20:8.1f} MiB above the bytes = {ratio:5.2f}x "
                    f"the file ({ratio + 1:5.2f}x with them), {got['seconds']:6.2f} s",
                    flush=True,
                )
            path.unlink()
            figures[str(rows)] = {"size": size} | measured
            row: list = [rows, round(size / 1e6, 1)]
            for which in ("before", "after"):
                got = measured.get(which)
                if got is None:
                    row += ["(not run)", "", ""]
                    continue
                ratio = got["peak_over_bytes"] / size
                row += [
                    round(got["peak_over_bytes"] / 2**20, 1),
                    f"{ratio:.2f}x ({ratio + 1:.2f}x)",
                    round(got["seconds"], 2),
                ]
            results.append(row)
    print()
    print(
        table(
            results,
            [
                "rows",
                "file MB",
                "before: peak MiB",
                "before: peak / file (with the bytes)",
                "before: s",
                "after: peak MiB",
                "after: peak / file (with the bytes)",
                "after: s",
            ],
        )
    )
    info = machine()
    print(
        f"\n{info['cpus']} cores, load {info['load_avg_1m']}, Python {info['python']}, "
        f"pandas {info['pandas']}; peak = resident memory above the loaded bytes, "
        + ("the first reading of a process" if args.cold else "after a warm-up reading")
    )
    largest = figures[str(max(sizes))]
    after = largest.get("after")
    summary(
        "nof_reader_memory",
        figures,
        [
            {
                "target": "NOF reading peaks well under 10x the file's size",
                "measured": f"{after['peak_over_bytes'] / largest['size'] + 1:.2f}x with the bytes",
                "met": after["peak_over_bytes"] / largest["size"] + 1 < 10,
            }
        ]
        if after
        else [],
    )


if __name__ == "__main__":
    if not child_main({"read": read_task}):
        main()
