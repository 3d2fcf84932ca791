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


def atomic_write(target: Path, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary path)``, then move the finished file to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_bytes(target: Path, content: bytes) -> Path:
    """Write ``content`` to ``target`` atomically."""
    return atomic_write(target, lambda tmp: Path(tmp).write_bytes(content))
