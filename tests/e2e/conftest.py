"""Fixtures of the end-to-end tests: one throwaway PostgreSQL server for the session (each test
makes databases of its own in it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_support import Postgres, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on a free loopback port (see :func:`postgres_server`)."""
    with postgres_server() as server:
        yield server
