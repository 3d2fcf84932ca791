"""A throwaway PostgreSQL server for the e2e tests (tests/e2e/conftest.py's ``postgres``
fixture), started from the Debian binaries (``apt-get install postgresql``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
            "apt-get install postgresql (the tests start their own throwaway server)"
        )
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str

    def dsn(self, db: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={db}"
        )

    def create_database(self, name: str) -> None:
        con = psycopg2.connect(self.dsn())
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')  # a test-chosen identifier, not user data
        con.close()

    def query(self, db: str, sql: str, params: tuple = ()) -> list[tuple]:
        con = psycopg2.connect(self.dsn(db))
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()

    def dagster_env(self, db: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its credentials from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": db,
        }


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL server on a free loopback port, its data and socket in a temporary folder.

    As root, the server runs as the ``postgres`` user the Debian package creates (PostgreSQL
    refuses to run as root). Loopback connections need the password (scram-sha-256).
    """
    pg_bin = postgres_bin()
    base = Path(tempfile.mkdtemp(prefix="league-pg-"))  # /tmp: reachable by the postgres user
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    password = "league-test-password"
    (base / "pwfile").write_text(password + "\n")
    (base / "run").mkdir()
    if as_user:
        for path in (base / "pwfile", base / "run"):
            shutil.chown(path, "postgres")
    data = base / "data"
    subprocess.run(
        [
            *as_user,
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-U",
            "league",
            f"--pwfile={base / 'pwfile'}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base / 'run'} -c fsync=off -c max_connections=200"
    pg_ctl = [*as_user, str(pg_bin / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-l", str(base / "log"), "-w", "-o", options, "start"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield Postgres("127.0.0.1", port, "league", password)
    finally:
        subprocess.run(
            [*pg_ctl, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
