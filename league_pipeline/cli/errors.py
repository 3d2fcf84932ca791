"""Turning any failure into one ``error:`` line and a ``fix:`` line that is right for its cause.

Belongs here: recognising the causes people can act on (a full disk, a read-only or unwritable
folder, a damaged or locked snapshot catalog, another run holding the lock, the network, bad
input) from an exception, or from the class name and message Dagster keeps of a failed step,
and saying what to do about each. Tracebacks are for ``league --debug``.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

# the text of an OSError as Dagster keeps it: "[Errno 28] No space left on device: '/x/y'"
_ERRNO = re.compile(r"\[Errno (\d+)\] ([^:]+)(?::\s*'([^']*)')?")
_INPUT_ERRORS = (
    "QuarterError",
    "SourceFetchError",
    "SourceMissing",
    "ReaderError",
    "CatalogueError",
    "StagingMissingError",
    "CliError",
)


@dataclass(frozen=True)
class Explained:
    error: str
    fix: str


def _disk_full(path: str | None) -> Explained:
    where = f" for {path}" if path else ""
    return Explained(
        f"no space left on the device{where}",
        "free space on that disk (or set LEAGUE_HOME / DAGSTER_HOME to a folder on a larger "
        "one), then re-run: nothing half-written was kept",
    )


def _not_writable(path: str | None, read_only: bool) -> Explained:
    what = "is on a read-only file system" if read_only else "is not writable (permission denied)"
    return Explained(
        f"{path or 'a working folder'} {what}",
        "set LEAGUE_HOME (and DAGSTER_HOME) to a folder you can write to, or fix its "
        "permissions, then re-run",
    )


def from_os_error(code: int | None, message: str, path: str | None) -> Explained | None:
    """The explanation of an OS error by its errno (None when it is not one we know)."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return _disk_full(path)
    if code == errno.EROFS:
        return _not_writable(path, read_only=True)
    if code in (errno.EACCES, errno.EPERM):
        return _not_writable(path, read_only=False)
    return None


def from_text(cls_name: str | None, message: str) -> Explained | None:
    """The explanation of an error known only by its class name and message (a failed step)."""
    lowered = message.lower()
    match = _ERRNO.search(message)
    if match:
        found = from_os_error(int(match.group(1)), match.group(2), match.group(3))
        if found is not None:
            return found
    if "no space left" in lowered or "database or disk is full" in lowered:
        return _disk_full(None)
    if "read-only file system" in lowered or "readonly database" in lowered:
        return _not_writable(None, read_only=True)
    if "permission denied" in lowered:
        return _not_writable(None, read_only=False)
    if "database is locked" in lowered or ("lock" in lowered and "timeout" in lowered):
        return Explained(
            f"the snapshot store is locked: {message}",
            "another league run is writing snapshots: wait for it to finish (or stop it), then "
            "re-run",
        )
    if (
        "file is not a database" in lowered
        or "malformed" in lowered
        or ("catalog" in lowered and ("damaged" in lowered or "corrupt" in lowered))
    ):
        return Explained(
            f"the snapshot catalog is damaged: {message}",
            "run `league lake check` to see what is wrong, then `league lake restore` to bring "
            "back the latest good copy",
        )
    if cls_name == "QuarterError":
        return Explained(message, "give a quarter from 2025/26 Q1 to 2025/26 Q4, e.g. '2025/26 Q1'")
    if cls_name in _INPUT_ERRORS or cls_name == "ValueError":
        text, _, fix = message.partition(" — ")
        return Explained(text, fix or "correct what the error names, then re-run (see --help)")
    return None


def is_input_error(exc: BaseException) -> bool:
    """The command was given something it cannot use (exit code 2, as argparse uses)."""
    return type(exc).__name__ in _INPUT_ERRORS or isinstance(exc, ValueError)


def explain(exc: BaseException) -> Explained:
    """One error line and its fix for ``exc`` (the innermost cause that we recognise)."""
    seen = exc
    while seen is not None:
        problem, fix = getattr(seen, "problem", None), getattr(seen, "fix", None)
        if isinstance(problem, str) and isinstance(fix, str):  # says both itself
            return Explained(problem, fix)
        if isinstance(seen, OSError):
            found = from_os_error(seen.errno, seen.strerror or str(seen), seen.filename)
            if found is not None:
                return found
        found = from_text(type(seen).__name__, str(seen))
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(exc).split()) or type(exc).__name__
    return Explained(
        f"unexpected {type(exc).__name__}: {text}",
        "re-run with --debug for the traceback, and report it with the command you ran",
    )
