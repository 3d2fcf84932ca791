"""The content-addressed source store: layout, dedup, provenance log, verification, concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from league_pipeline.ingest import store as store_module
from league_pipeline.ingest.store import (
    SourceNotFoundError,
    SourceStore,
    SourceStoreError,
    StoredFile,
)

URL = "https://example.test/data.csv"
CONTENT = b"Trust_code,Value\nRXX,1.5\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


def _objects(root: Path) -> list[Path]:
    return sorted(p for p in (root / "objects").rglob("*") if p.is_file())


def _log_lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "fetches.jsonl").read_text().splitlines()]


def test_put_keeps_content_under_its_hash(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    when = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
    stored = store.put(CONTENT, url=URL, fetched_at=when, etag='"v1"')

    assert stored == StoredFile(
        sha256=SHA,
        size=len(CONTENT),
        url=URL,
        fetched_at=when,
        path=tmp_path / "objects" / SHA[:2] / SHA,
        etag='"v1"',
    )
    assert stored.read_bytes() == CONTENT
    assert store.get(SHA) == stored.path
    assert SHA in store
    assert not stored.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert _log_lines(tmp_path) == [
        {
            "sha256": SHA,
            "url": URL,
            "fetched_at": "2025-09-01T12:00:00+00:00",
            "size": len(CONTENT),
            "etag": '"v1"',
        }
    ]


def test_same_content_is_stored_once_and_logged_each_time(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    first = store.put(CONTENT, url=URL)
    inode = first.path.stat().st_ino
    second = store.put(CONTENT, url="file:///landing/data.csv")
    other = store.put(b"different", url=URL)

    assert second.path == first.path
    assert first.path.stat().st_ino == inode  # never rewritten
    assert len(_objects(tmp_path)) == 2
    assert [r["sha256"] for r in store.history()] == [SHA, SHA, other.sha256]
    assert [r["sha256"] for r in store.history(URL)] == [SHA, other.sha256]


def test_latest_returns_the_newest_fetch_of_a_url(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    store.put(b"v1", url=URL, fetched_at=t0, etag="a")
    store.put(b"v2", url=URL, fetched_at=t0 + timedelta(days=1), etag="b")
    store.put(b"v3", url="https://example.test/other.csv")

    latest = store.latest(URL)
    assert latest is not None
    assert latest.read_bytes() == b"v2"
    assert latest.etag == "b"
    assert latest.fetched_at == t0 + timedelta(days=1)
    assert latest.fetched_at.tzinfo is UTC
    assert store.latest("https://example.test/never.csv") is None
    assert SourceStore(tmp_path / "empty").history() == []


def test_get_missing_object_is_a_clear_key_error(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    with pytest.raises(SourceNotFoundError) as info:
        store.get("0" * 64)
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("source 0000")
    assert "not in the store" in str(info.value)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get("../../etc/passwd")


def test_fetched_at_is_stored_in_utc_and_must_be_aware(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    london_summer = timezone(timedelta(hours=1))
    stored = store.put(CONTENT, url=URL, fetched_at=datetime(2025, 9, 1, 13, tzinfo=london_summer))
    assert stored.fetched_at == datetime(2025, 9, 1, 12, tzinfo=UTC)
    assert stored.fetched_at.utcoffset() == timedelta(0)
    assert store.history()[0]["fetched_at"] == "2025-09-01T12:00:00+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        store.put(CONTENT, url=URL, fetched_at=datetime(2025, 9, 1, 12))


def test_put_refuses_bytes_that_do_not_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SourceStore(tmp_path)
    monkeypatch.setattr(store_module, "sha256_file", lambda path: "f" * 64)
    with pytest.raises(SourceStoreError, match="check the disk"):
        store.put(CONTENT, url=URL)
    assert _objects(tmp_path) == []  # neither the object nor a temp file is left behind
    assert store.history() == []


def test_unreadable_log_line_is_skipped(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    store.put(CONTENT, url=URL)
    with open(tmp_path / "fetches.jsonl", "a") as fh:
        fh.write('{"sha256": "trunc')  # a crash mid-line
    assert len(store.history()) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=2048))
def test_any_bytes_round_trip(tmp_path: Path, content: bytes) -> None:
    store = SourceStore(tmp_path / "hyp")
    stored = store.put(content, url=URL)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert store.get(stored.sha256).read_bytes() == content


def test_parallel_puts_from_threads_keep_one_object(tmp_path: Path) -> None:
    store = SourceStore(tmp_path)
    n = 24
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: store.put(CONTENT, url=f"{URL}?t={i}"), range(n)))
    assert {r.sha256 for r in results} == {SHA}
    assert _objects(tmp_path) == [tmp_path / "objects" / SHA[:2] / SHA]
    lines = _log_lines(tmp_path)
    assert len(lines) == n
    assert sorted(r["url"] for r in lines) == sorted(f"{URL}?t={i}" for i in range(n))


_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from league_pipeline.ingest.store import SourceStore

    store = SourceStore(Path(sys.argv[1]))
    for i in range(int(sys.argv[3])):
        store.put(sys.argv[2].encode(), url=f"proc-{sys.argv[4]}-{i}")
    """
)


def test_parallel_puts_from_processes_keep_one_object(tmp_path: Path) -> None:
    procs, puts = 4, 10
    content = "the same published file\n"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), content, str(puts), str(p)],
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        for p in range(procs)
    ]
    assert [w.wait(timeout=30) for w in workers] == [0] * procs
    sha = hashlib.sha256(content.encode()).hexdigest()
    assert _objects(tmp_path) == [tmp_path / "objects" / sha[:2] / sha]
    lines = _log_lines(tmp_path)  # every line parses: appends did not interleave
    assert len(lines) == procs * puts
    assert {r["sha256"] for r in lines} == {sha}
