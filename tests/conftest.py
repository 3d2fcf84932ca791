"""Shared fixtures: the real NHS files in ../shared/data/real, and the fidelity report printer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIDELITY_LINES: list[str] = []


def real_data_path() -> Path:
    """The shared folder of real NHS files; fail (never skip) with the fix when it is missing."""
    env = os.environ.get("LEAGUE_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data" / "real")
    for path in candidates:
        if (path / "nof2526_q1_acute_trust_data.csv").exists():
            return path
    pytest.fail(
        f"real NHS files not found in {[str(c) for c in candidates]}: clone the repository next "
        "to ../shared or set LEAGUE_SHARED_DATA to shared/data/real"
    )


@pytest.fixture(scope="session")
def real_data() -> Path:
    return real_data_path()


ACUTE_FILE = "nof2526_q1_acute_trust_data.csv"
MH_FILE = "nof2526_q1q2_mh_community_trust_data.csv"
ODS_FILE = "ods_etr_nhs_trusts_2025-11.csv"


@pytest.fixture(scope="session")
def acute_bytes(real_data: Path) -> bytes:
    """NHS England's Q1 2025/26 acute trust data file (no Quarter column)."""
    return (real_data / ACUTE_FILE).read_bytes()


@pytest.fixture(scope="session")
def mh_bytes(real_data: Path) -> bytes:
    """NHS England's mental health & community trust data file, Q1-Q2 2025/26."""
    return (real_data / MH_FILE).read_bytes()


@pytest.fixture(scope="session")
def ods_bytes(real_data: Path) -> bytes:
    """The ODS etr list of NHS trusts (headerless)."""
    return (real_data / ODS_FILE).read_bytes()


@pytest.fixture(scope="session")
def fidelity_report() -> list[str]:
    """Lines appended here are printed in the terminal summary (match rates per layer)."""
    return FIDELITY_LINES


@pytest.fixture(scope="session")
def generated_landing(tmp_path_factory) -> Path:
    """The embedded default's landing folder for 2025/26 Q1-Q2, made once a session; copy it
    before changing anything in it."""
    from reliability_support import Q1, Q2, shared_landing

    return shared_landing(tmp_path_factory, [Q1, Q2])


@pytest.fixture
def league_home(tmp_path) -> Path:
    """An isolated working home: a folder, nothing set in the environment (see ``settings``)."""
    return tmp_path / "league"


@pytest.fixture
def settings(league_home: Path):
    """The settings of ``league_home`` (landing, source store, staging, lake, outputs and
    Dagster home inside it; every other setting its default), the environment not read."""
    from league_pipeline.core.settings import Settings

    return Settings.for_home(league_home)


def pytest_sessionfinish(session):
    """Under pytest-xdist, hand a worker's fidelity lines to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fidelity_lines"] = list(FIDELITY_LINES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    FIDELITY_LINES.extend(getattr(node, "workeroutput", {}).get("fidelity_lines", []))


def pytest_terminal_summary(terminalreporter):
    if FIDELITY_LINES:
        terminalreporter.section("fidelity against NHS England's published files")
        for line in FIDELITY_LINES:
            terminalreporter.write_line(line)
