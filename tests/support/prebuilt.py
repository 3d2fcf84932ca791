"""Working homes built once per test session and shared by every test file and every
pytest-xdist worker: the first test that needs one builds it under a file lock, the others wait
for it, then each copies it before using it. A home is never opened in place; a landing
folder may be read where it is (the pipeline never writes to its landing), never changed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

BUILD_TIMEOUT_S = 1800  # how long a test waits for another worker's build before failing


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of the whole session: the xdist workers' common parent (each worker
    has a base folder of its own inside it), or the base folder itself without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def prebuilt(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder ``name``, made by ``build(folder)`` once per session (read-only: copy it)."""
    root = session_root(tmp_path_factory) / "prebuilt"
    root.mkdir(exist_ok=True)
    folder, complete = root / name, root / f"{name}.complete"  # the mark: written last
    try:
        with FileLock(str(root / f"{name}.lock"), timeout=BUILD_TIMEOUT_S):
            if not complete.exists():  # never built, or a build that did not finish
                shutil.rmtree(folder, ignore_errors=True)
                build(folder)
                complete.touch()
    except Timeout:
        pytest.fail(
            f"the shared home {name!r} was not built within {BUILD_TIMEOUT_S} s by another worker"
        )
    return folder


def copy_of(source: Path, target: Path) -> Path:
    """A private copy of the prebuilt ``source`` at ``target`` (a new or an empty folder)."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target
