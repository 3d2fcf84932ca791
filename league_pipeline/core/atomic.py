"""Atomic file writes: a reader sees the old file or the whole new one, never half of either.

Belongs here: the one helper every writer of a finished file uses (staging Parquet, exports,
the report, caches). The new content goes to a uniquely named temporary file in the target's
folder, then ``os.replace`` swaps it in, so concurrent writers of the same file never clash.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    """The process's umask: from /proc on Linux (reading it there changes nothing), else by
    setting it and putting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(target: Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary path)``, then move the finished file to ``target``.

    The file gets the permissions a plain ``open`` would give it (0666 less the umask, so 0644
    by default), not the 0600 of the temporary file it was written as."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_bytes(target: Path, content: bytes) -> Path:
    """Write ``content`` to ``target`` atomically."""
    return atomic_write(target, lambda tmp: Path(tmp).write_bytes(content))
