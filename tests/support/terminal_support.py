"""Support for the tests that run a command on a real (pseudo-)terminal, as a terminal
emulator would: the child's stdin, stdout and stderr are the slave end of a pty, and all it
writes is read from the master end until it exits."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest


def run_on_a_terminal(
    argv: list[str], env: dict[str, str], *, timeout: float, size: tuple[int, int] | None = None
) -> tuple[int, str]:
    """Run ``argv`` with a pty as its terminal (``size``: columns and rows); its exit code and
    all it wrote there. Fails the test if it has not finished within ``timeout`` seconds."""
    master, slave = pty.openpty()
    if size is not None:
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every process holding the slave end has exited
                break
            if not data:
                break
            chunks.append(data)
        else:
            pytest.fail(f"{argv[0]} did not finish in {timeout:g} s")
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, b"".join(chunks).decode("utf-8", errors="replace")
