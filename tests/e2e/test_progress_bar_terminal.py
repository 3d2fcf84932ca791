"""``league run`` on a real terminal: the real command under a pseudo-terminal draws its progress
bar while the run's steps execute (steps done, time left), and ends cleanly.

tests/unit/test_progress_bar.py draws the bar on a fake terminal; this test runs ``league`` in a
child process whose stdin, stdout and stderr are the slave end of a pty, and reads what it
writes from the master end, as a terminal emulator would. It caught the bar freezing at
``0/26 steps`` for the whole run: Dagster points descriptors 1 and 2 at its compute-log files
while the steps execute in-process, and a console on stderr then stopped redrawing (not a
terminal any more) and wrote into the logs (league_pipeline/cli/progress_bar.py).

The run is the embedded default's 2025/26 Q1 for the ambulance trusts only, with few bootstrap
replicates and no what-if search: the cheapest complete run. (It also shows that a run leaving
peer groups out passes the sample data's trust-consistency check, which once blamed the RSP
list's and deficit flags' trusts of the groups left out.)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from terminal_support import run_on_a_terminal

pytestmark = pytest.mark.slow

LEAGUE = Path(sys.executable).with_name("league")
COLUMNS, ROWS = 120, 40
TIMEOUT = 600  # seconds; the run takes about a minute on 2 busy cores
BAR = re.compile(r"(\d+)/(\d+) steps (\d+:\d\d:\d\d) left (\d+:\d\d:\d\d|-:--:--)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_league_run_draws_a_progress_bar_with_time_left(league_home, generated_landing):
    shutil.copytree(generated_landing, league_home / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAGUE_", "DAGSTER_"))}
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        env.pop(name, None)
    env |= {
        "LEAGUE_HOME": str(league_home),
        "LEAGUE_BOOTSTRAP_REPLICATES": "20",
        "LEAGUE_WHATIF_CHECKED": "0",
        "TERM": "xterm-256color",
    }
    argv = [str(LEAGUE), "run", "--quarter", "2025/26 Q1", "--peer-groups", "ambulance"]
    code, screen = run_on_a_terminal(argv, env, timeout=TIMEOUT, size=(COLUMNS, ROWS))
    assert code == 0, screen[-3000:]

    # drawn for a terminal: the bar is redrawn in place (carriage return, erase the line)
    assert "\r\x1b[2K" in screen
    text = ANSI.sub("", screen)
    assert "[league] running 2025/26 Q1: fetch, validate, score, snapshot (" in text
    states = [
        (int(done), int(total), elapsed, left) for done, total, elapsed, left in BAR.findall(text)
    ]
    assert states, text[-3000:]
    total = states[0][1]
    assert total > 10 and all(t == total for _, t, _, _ in states)
    done = [d for d, _, _, _ in states]
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    # the bar moves while the steps execute, with an estimate of the time left
    during = [(d, left) for d, _, _, left in states if 0 < d < total]
    assert len({d for d, _ in during}) >= total // 2, sorted({d for d, _ in during})
    assert any(left != "-:--:--" and left != "0:00:00" for _, left in during)
    assert len({elapsed for d, _, elapsed, _ in states if 0 < d < total}) >= 3  # the clock runs

    # it ends cleanly: the bar full, the cursor shown again, then the snapshot's table
    end = screen.rindex("\x1b[?25h")  # rich hides the cursor while it draws
    last = BAR.findall(ANSI.sub("", screen[:end]))[-1]
    assert int(last[0]) == total and last[3] == "0:00:00"
    after = ANSI.sub("", screen[end:])
    assert "Traceback" not in text and "error:" not in text
    assert re.search(r"\[league\] 2025/26 Q1: done \(run [0-9a-f]{8}\)", text)
    listed = re.search(r"^2025/26 Q1 +1 +\S+ \S+ +(\d+) ", after.replace("\r\n", "\n"), re.M)
    assert listed and int(listed[1]) == 10, after  # the sample's ten ambulance trusts

    # the bar went to the terminal only, not into the run's compute logs
    logs = list((league_home / "dagster" / "storage").glob("*/compute_logs/*"))
    assert logs
    for log in logs:
        written = log.read_bytes()
        assert b"steps" not in written and b"\x1b[" not in written, log
