"""SQLite catalog files read with Python's own SQLite, always in a separate process.

Belongs here: checking a SQLite catalog (``PRAGMA quick_check`` and DuckLake's tables) and
copying one with SQLite's online backup API. :mod:`league_pipeline.snapshots.lake` runs this file
as a script (``python -I sqlite_file.py check|copy ...``) and never imports it: DuckDB embeds its
own copy of SQLite, and two copies of SQLite in one process break each other's POSIX locks and
shared memory (https://sqlite.org/howtocorrupt.html, section 2.2.1), which crashed a reader with
SIGBUS when a backup closed the live catalog. Standard library only; prints one JSON object.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from urllib.parse import quote


def _uri(file: Path) -> str:
    return f"file:{quote(str(file))}?mode=ro"


def _is_busy(exc: BaseException) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def problem(file: Path, tables: set[str], timeout: float) -> str | None:
    """What makes ``file`` unusable as a catalog holding ``tables``, or None (see lake.py)."""
    try:
        con = sqlite3.connect(_uri(file), uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return f"{file} cannot be opened ({exc})"
    try:
        rows = con.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            first = rows[0][0] if rows else "no answer"
            return f"{file} has damaged pages (SQLite quick_check: {first})"
        names = {
            row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not names >= tables:
            return f"{file} is not a DuckLake catalog (it has no DuckLake tables)"
    except sqlite3.Error as exc:
        if _is_busy(exc):
            return None
        return f"{file} is unreadable (SQLite: {exc})"
    finally:
        con.close()
    return None


def copy(source: Path, target: Path, journal_mode: str, timeout: float) -> str | None:
    """Copy ``source`` to ``target`` (overwritten) in ``journal_mode``; an error text or None."""
    src = sqlite3.connect(_uri(source), uri=True, timeout=timeout)
    try:
        dst = sqlite3.connect(str(target), timeout=timeout)
        try:
            src.backup(dst)
            mode = dst.execute(f"PRAGMA journal_mode = {journal_mode}").fetchone()[0]
            if str(mode).upper() != journal_mode:
                return f"{target} stayed in journal mode {mode}, not {journal_mode}"
        finally:
            dst.close()
    finally:
        src.close()
    return None


def main(argv: list[str]) -> int:
    command, *args = argv
    timeout = float(args[-1])
    if command == "check":
        result = {"problem": problem(Path(args[0]), set(json.loads(args[1])), timeout)}
    elif command == "copy":
        mode = args[2].upper()
        if mode not in {"DELETE", "WAL"}:  # a PRAGMA value cannot be bound: a closed set
            raise SystemExit(f"journal mode {mode!r}")
        try:
            result = {"error": copy(Path(args[0]), Path(args[1]), mode, timeout)}
        except sqlite3.Error as exc:
            result = {"error": f"SQLite: {exc}"}
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
