"""A snapshot version's outputs are all or nothing (issue 12, case 15).

``publish`` writes a version's outputs into ``outputs/<quarter>/.v<N>.tmp-<pid>-<random>`` and
renames it to ``v<N>`` once every file and the manifest are written. These tests break it on
the way:

* a writer fails part-way (a full disk in the official exports, an error building the report,
  a failure writing the manifest): no ``v<N>`` folder and no temporary folder are left, and a
  complete folder the write was replacing is left as it was;
* a process writing the outputs is killed with SIGKILL part-way: no ``v<N>`` folder; ``league
  status`` marks the version's outputs missing with the command that writes them, ``league
  export`` (or ``league report``) writes the whole folder, and the dead writer's temporary
  folder is removed by that next write (the temporary folders of live writers are kept);
* a folder written before outputs were atomic (no manifest) shows as incomplete and is rebuilt.

The working home holds snapshots of NHS England's real files (``tests/support/outputs_support.py``):
2025/26 Q1 v1 (acute and mental health) and Q2 v1 (mental health).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from outputs_support import Q1, build_real_home

from league_pipeline.cli import main
from league_pipeline.core.atomic import _umask
from league_pipeline.core.quarters import parse_quarter
from league_pipeline.core.settings import Settings
from league_pipeline.ingest.store import SourceStore
from league_pipeline.outputs import exports, folder, publish
from league_pipeline.snapshots.store import SnapshotStore

QUARTER = parse_quarter(Q1)


@pytest.fixture(scope="module")
def built_home(tmp_path_factory, acute_bytes, mh_bytes) -> Path:
    home = tmp_path_factory.mktemp("atomic") / "home"
    build_real_home(tmp_path_factory, home, acute_bytes, mh_bytes)
    return home


@pytest.fixture
def home(built_home, tmp_path) -> Path:
    """A copy of the built home, this test's working home (no outputs written yet)."""
    target = tmp_path / "home"
    shutil.copytree(built_home, target)
    return target


def _publish(home: Path, **kwargs):
    kwargs.setdefault("whatif_checked", 0)  # what-if suggestions: tests/integration/test_whatif.py
    return publish.publish(
        Q1,
        store=SnapshotStore(home / "lake"),
        source_store=SourceStore(home / "sources"),
        root=home / "outputs",
        **kwargs,
    )


def _quarter_folder(home: Path) -> Path:
    return home / "outputs" / QUARTER.slug


def _entries(home: Path) -> list[str]:
    return sorted(p.name for p in _quarter_folder(home).iterdir())


def run(capsys, home: Path, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), settings=Settings.for_home(home, whatif_checked=0))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_complete_version_folder_has_a_manifest_of_every_file(home):
    outputs = _publish(home)
    final = home / "outputs" / QUARTER.slug / "v1"
    assert outputs.folder == final and _entries(home) == ["v1"]  # no temporary folder left
    assert all(p.is_file() and final in p.parents for p in outputs.files)
    assert outputs.report == final / "report.html"
    assert folder.state(final) == folder.COMPLETE
    assert folder.version_state(QUARTER, 1, home / "outputs") == folder.COMPLETE
    manifest = (final / folder.MANIFEST).read_text()
    listed = {p.relative_to(final).as_posix() for p in outputs.files}
    assert listed == {
        p.relative_to(final).as_posix()
        for p in final.rglob("*")
        if p.is_file() and p.name != folder.MANIFEST
    }
    assert all(f'"{name}"' in manifest for name in listed)
    assert not (final / folder.LOCK).exists()
    # the folder and files honour the umask, as any the user makes
    assert stat.S_IMODE(final.stat().st_mode) == 0o777 & ~_umask()
    assert stat.S_IMODE(outputs.report.stat().st_mode) == 0o666 & ~_umask()

    # the same version written again replaces the folder whole: swapped in one step
    again = _publish(home)
    assert again.folder == final and _entries(home) == ["v1"]
    assert folder.state(final) == folder.COMPLETE


def test_replacing_without_an_atomic_swap(home, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) is missing, the old folder is moved aside first."""
    _publish(home)
    monkeypatch.setattr(folder, "_exchange", lambda a, b: False)
    again = _publish(home)
    assert _entries(home) == ["v1"] and folder.state(again.folder) == folder.COMPLETE


def _enospc_on_call(n: int):
    """A ``write_bytes`` that writes ``n - 1`` files, then fails as a full disk does."""
    calls = {"n": 0}
    real = exports.write_bytes

    def write_bytes(target, content):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real(target, content)

    return write_bytes, calls


def _fail(*_args, **_kwargs):
    raise RuntimeError("the report could not be built")


@pytest.mark.parametrize("where", ["official exports (disk full)", "report", "manifest"])
def test_a_failure_part_way_leaves_no_version_folder(home, monkeypatch, where):
    if where.startswith("official"):
        write_bytes, calls = _enospc_on_call(3)
        monkeypatch.setattr(exports, "write_bytes", write_bytes)
        expected = OSError
    elif where == "report":
        monkeypatch.setattr(publish, "build_report", _fail)
        expected = RuntimeError
    else:
        monkeypatch.setattr(folder, "write_manifest", _fail)
        expected = RuntimeError
    with pytest.raises(expected):
        _publish(home)
    if where.startswith("official"):
        assert calls["n"] == 3  # two files were written before the disk filled
    assert _entries(home) == []  # no v1, no temporary folder
    assert folder.version_state(QUARTER, 1, home / "outputs") == folder.MISSING


def test_a_failed_rewrite_leaves_the_complete_folder_as_it_was(home, monkeypatch):
    first = _publish(home)
    before = {p: p.read_bytes() for p in first.files}
    monkeypatch.setattr(publish, "build_report", _fail)
    with pytest.raises(RuntimeError):
        _publish(home)
    assert _entries(home) == ["v1"]
    assert {p: p.read_bytes() for p in first.files} == before
    assert folder.state(first.folder) == folder.COMPLETE


def test_stale_temporary_folders_go_and_live_ones_stay(home, tmp_path):
    quarter = _quarter_folder(home)
    quarter.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)

    def work(kind: str, pid: int, token: str) -> Path:
        path = quarter / f".v1.{kind}-{pid}-{token}"
        (path / "official").mkdir(parents=True)
        (path / "official" / "half.csv").write_text("x")
        return path

    killed = work("tmp", dead_pid, "a" * 12)  # dead writer, no lock file
    unlocked = work("tmp", os.getpid(), "b" * 12)  # lock file nobody holds: writer died
    (unlocked / folder.LOCK).touch()
    locked = work("tmp", dead_pid, "c" * 12)  # lock held: being written (pid is irrelevant)
    lock_fd = os.open(locked / folder.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    starting = work("tmp", os.getpid(), "d" * 12)  # no lock file yet, writer alive
    old = work("old", dead_pid, "e" * 12)  # a replaced folder its writer did not remove
    other = quarter / ".v1.tmp-notours"  # not a name this module makes
    other.mkdir()
    try:
        removed = folder.remove_stale(home / "outputs")
        assert set(removed) == {killed, unlocked, old}
        assert locked.exists() and starting.exists() and other.exists()
        # a write of any version removes the stale ones too, and leaves live ones alone
        (killed / "official").mkdir(parents=True)
        _publish(home)
        assert not killed.exists() and locked.exists() and starting.exists()
    finally:
        os.close(lock_fd)
    assert folder.remove_stale(home / "outputs") == [locked]  # its writer has gone now


CHILD = r"""
import sys, time
from pathlib import Path
from league_pipeline.ingest.store import SourceStore
from league_pipeline.outputs import publish as pub
from league_pipeline.snapshots.store import SnapshotStore

ready, home = Path(sys.argv[1]), Path(sys.argv[3])
write_insights = pub.write_insights


def paused(*args, **kwargs):  # the official files and snapshot Parquet are written by now
    files = write_insights(*args, **kwargs)
    ready.write_text("insights written")
    time.sleep(300)
    return files


pub.write_insights = paused
pub.publish(
    sys.argv[2],
    store=SnapshotStore(home / "lake"),
    source_store=SourceStore(home / "sources"),
    root=home / "outputs",
)
"""


def test_sigkill_mid_outputs_leaves_no_version_then_status_and_export_recover(
    home, tmp_path, capsys
):
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ready), Q1, str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never reached the insights"
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    # the killed writer left its temporary folder, with the files written so far, and no v1
    entries = _entries(home)
    assert len(entries) == 1 and entries[0].startswith(f".v1.tmp-{child.pid}-")
    half = _quarter_folder(home) / entries[0]
    assert len(list((half / "official").iterdir())) == 8 and not (half / "report.html").exists()
    assert folder.version_state(QUARTER, 1, home / "outputs") == folder.MISSING

    code, out, err = run(capsys, home, "status")
    assert code == 0, err
    q1 = next(line for line in out.splitlines() if line.startswith(f"{Q1}  "))
    assert q1.split()[-1] == "missing"
    assert (
        f'outputs missing for {Q1} v1: run `league export --quarter "{Q1}" --version 1` to '
        "write them"
    ) in " ".join(out.split())  # wrapped on words at 100 columns

    code, out, err = run(capsys, home, "export", "--quarter", Q1)
    assert code == 0, err
    assert "outputs missing, writing all of them" in err
    assert _entries(home) == ["v1"]  # the whole folder, and the dead writer's folder is gone
    final = _quarter_folder(home) / "v1"
    assert folder.state(final) == folder.COMPLETE and (final / "report.html").exists()
    assert f"8 files in {final / 'official'}" in out

    code, out, _ = run(capsys, home, "status")
    q1 = next(line for line in out.splitlines() if line.startswith(f"{Q1}  "))
    assert q1.split()[-1] == "complete" and f"outputs missing for {Q1}" not in out

    # with the folder complete, export rewrites its own files in place
    code, _, err = run(capsys, home, "export", "--quarter", Q1)
    assert code == 0 and "writing all of them" not in err
    assert folder.state(final) == folder.COMPLETE


def test_report_writes_a_missing_folder_whole(home, capsys):
    code, out, err = run(capsys, home, "report", "--quarter", Q1)
    assert code == 0, err
    final = _quarter_folder(home) / "v1"
    assert out.startswith(str(final / "report.html"))
    assert folder.state(final) == folder.COMPLETE and _entries(home) == ["v1"]


def test_a_folder_without_a_manifest_is_incomplete_and_rebuilt(home, capsys):
    final = _quarter_folder(home) / "v1"
    (final / "official").mkdir(parents=True)
    (final / "official" / "left-by-an-old-run.csv").write_text("x")  # 12 of 26 files, say
    assert folder.state(final) == folder.INCOMPLETE
    code, out, _ = run(capsys, home, "status")
    assert f"outputs incomplete for {Q1} v1" in out

    code, _, err = run(capsys, home, "export", "--quarter", Q1)
    assert code == 0 and "outputs incomplete, writing all of them" in err
    assert folder.state(final) == folder.COMPLETE and _entries(home) == ["v1"]
    assert not (final / "official" / "left-by-an-old-run.csv").exists()

    # a file listed in the manifest deleted by hand: incomplete again
    (final / "report.html").unlink()
    assert folder.state(final) == folder.INCOMPLETE
