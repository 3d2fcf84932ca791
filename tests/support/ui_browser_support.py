"""Helpers for the browser tests: a real ``dagster-webserver`` on loopback, and Debian's
Chromium driven by Playwright.

Belongs here: starting and stopping the webserver for a given DAGSTER_HOME / LEAGUE_HOME, and
launching the system Chromium (``apt-get install chromium``) through Playwright's
``executable_path``. Playwright's own browser download (``playwright install``) is never used:
there is no network, and the Debian package is what CI installs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots (gitignored); CI can keep them
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI containers run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_TIMEOUT = 180  # seconds: a bound for a loaded CI machine, not a speed claim


def chromium_path() -> str:
    """The Debian Chromium binary; fail (not skip) with the fix when it is missing."""
    env = os.environ.get("LEAGUE_CHROMIUM")
    for candidate in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail(
        "Chromium not found: apt-get install chromium (or set LEAGUE_CHROMIUM to its path); "
        "the browser tests do not use `playwright install`"
    )


@contextlib.contextmanager
def chromium_page(width: int = 1600, height: int = 1000) -> Iterator:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            # Dagster greets a new browser on localhost with a "Join the Dagster community"
            # dialog that covers the page; this is how its own "Skip" button dismisses it
            page.add_init_script("window.localStorage.setItem('communityNux', '1')")
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webserver:
    """A started ``dagster-webserver`` process; :meth:`ready` waits until it answers."""

    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def ready(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200:
                    return self.url
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver did not start; its log:\n{self.log.read_text()}")
            time.sleep(0.5)


@contextlib.contextmanager
def webserver(env: dict[str, str], log: Path) -> Iterator[Webserver]:
    """Start ``dagster-webserver`` for workspace.yaml on 127.0.0.1:<free port> (the caller can
    work while it loads the code location, then call ``ready()``); stop it afterwards."""
    port = free_port()
    command = [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [*command, "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server is in its process group
        )
    try:
        yield Webserver(proc, f"http://127.0.0.1:{port}", log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
