"""A snapshot version's outputs folder, written whole or not at all.

Belongs here: how ``$LEAGUE_HOME/outputs/<2025-26-q1>/v<N>/`` comes to exist: written into a
temporary folder beside it (``.v<N>.tmp-<pid>-<random>``, under an exclusive ``flock``) and
renamed into place once every file and the manifest ``outputs-manifest.json`` are flushed to
disk; a complete folder written again is swapped in one step where Linux allows
(``renameat2(RENAME_EXCHANGE)``); temporary folders of writers that are gone are removed on the
next write; :func:`state` says ``complete``, ``missing`` or ``incomplete``. The rules in full:
docs/reliability.md ("Outputs: all or nothing").
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from league_pipeline.core.atomic import write_bytes
from league_pipeline.core.quarters import Quarter
from league_pipeline.outputs import quarter_output_dir

MANIFEST = "outputs-manifest.json"
LOCK = ".lock"
COMPLETE, MISSING, INCOMPLETE = "complete", "missing", "incomplete"
# .v3.tmp-4242-0a1b2c3d4e5f (being written) and .v3.old-4242-0a1b2c3d4e5f (being replaced)
_WORK_FOLDER = re.compile(r"^\.v\d+\.(tmp|old)-(\d+)-[0-9a-f]{12}$")


def _work_name(final: Path, kind: str) -> str:
    return f".{final.name}.{kind}-{os.getpid()}-{secrets.token_hex(6)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _being_written(folder: Path, pid: int) -> bool:
    """Whether a writer is still working on ``folder`` (its lock is held, or it has no lock
    file and the process named in it is alive)."""
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        return _pid_alive(pid)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the lock if it was taken
    return False


def remove_stale(root: Path) -> list[Path]:
    """Remove the temporary folders of writers that died, in every quarter under ``root``
    (``$LEAGUE_HOME/outputs``); returns the folders removed. Only names this module makes are
    considered."""
    removed = []
    try:
        quarters = [p for p in root.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return removed
    for quarter in quarters:
        try:
            entries = list(quarter.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _WORK_FOLDER.match(entry.name)
            if not match or not entry.is_dir() or entry.is_symlink():
                continue
            if _being_written(entry, int(match.group(2))):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk, so that a full disk shows here
    (some file systems report it only on flush) and the renamed folder survives a power cut."""
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot flush a folder
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap folders ``a`` and ``b`` in one step (Linux ``renameat2``); False where that is not
    available or ``b`` has gone."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.ENOENT, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _move_into_place(work: Path, final: Path) -> None:
    """Rename the finished ``work`` folder to ``final``, replacing a folder already there."""
    for _attempt in range(10):
        try:
            os.rename(work, final)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        if _exchange(work, final):  # work now holds the replaced folder
            shutil.rmtree(work, ignore_errors=True)
            return
        aside = final.parent / _work_name(final, "old")
        try:
            os.rename(final, aside)
        except FileNotFoundError:
            continue  # another writer moved it: try again
        shutil.rmtree(aside, ignore_errors=True)
    raise OSError(errno.EEXIST, "another writer keeps replacing the folder", str(final))


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final`` to write a version's outputs into; on a clean
    exit it is flushed and renamed to ``final`` (replacing any folder there), on an error it is
    removed and ``final`` is left as it was. Stale temporary folders of dead writers under the
    outputs root (``final``'s grandparent) are removed first."""
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent.parent)
    work = parent / _work_name(final, "tmp")
    os.mkdir(work)  # 0777 less the umask, as any folder the user makes
    lock = None
    try:
        lock = os.open(work / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield work
        _fsync_tree(work)
        (work / LOCK).unlink()  # the process is alive until the rename: still not stale
        _move_into_place(work, final)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)


def write_manifest(work: Path, files: Iterable[Path], about: dict) -> Path:
    """``outputs-manifest.json`` in ``work``: ``about`` (quarter, version, data) and every file,
    by its path relative to the folder, size and SHA-256. Written last: its presence, with every
    file it lists, is what makes the folder complete."""
    listed = []
    for path in sorted(set(files)):
        content = path.read_bytes()
        listed.append(
            {
                "path": path.relative_to(work).as_posix(),
                "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    record = {**about, "files": listed}
    return write_bytes(work / MANIFEST, (json.dumps(record, indent=1) + "\n").encode("utf-8"))


def state(folder: Path) -> str:
    """``complete``, ``missing`` or ``incomplete`` (see the module docstring)."""
    if not folder.is_dir():
        return MISSING
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        listed = [folder / item["path"] for item in record["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return INCOMPLETE
    return COMPLETE if listed and all(p.is_file() for p in listed) else INCOMPLETE


def version_state(quarter: Quarter, version: int, root: Path) -> str:
    """The :func:`state` of the outputs of ``quarter`` v``version`` under ``root``."""
    return state(quarter_output_dir(quarter, version, root))
