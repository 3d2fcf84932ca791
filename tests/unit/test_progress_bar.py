"""The progress of ``league run`` and ``backfill``: a rich bar (steps done of all, time left) on
a terminal, one plain line per finished step otherwise (league_pipeline/cli/runner.py
``StepProgress``, league_pipeline/cli/progress_bar.py, league_pipeline/cli/pipeline.py)."""

from __future__ import annotations

import io
import os
import pty
import sys
from types import SimpleNamespace

import pytest
from rich.console import Console
from terminal_support import run_on_a_terminal

from league_pipeline.cli import pipeline, progress_bar
from league_pipeline.cli.progress_bar import ProgressBar
from league_pipeline.cli.runner import StepProgress


def _success(step: str, ms: float) -> SimpleNamespace:
    data = SimpleNamespace(duration_ms=ms)
    return SimpleNamespace(event_type_value="STEP_SUCCESS", step_key=step, event_specific_data=data)


def _failure(step: str) -> SimpleNamespace:
    return SimpleNamespace(event_type_value="STEP_FAILURE", step_key=step, event_specific_data=None)


EVENTS = [_success("sources__ods_trusts", 300), _success("scoring__metric_scores", 1200)]


def test_plain_lines_when_not_a_terminal():
    lines: list[str] = []
    handler = StepProgress("2025/26 Q1", 3, lines.append)
    for event in [*EVENTS, _failure("snapshots__quarterly_snapshot")]:
        handler.on_event(event)
    assert lines == [
        "2025/26 Q1: [1/3] sources/ods_trusts (0.3 s)",
        "2025/26 Q1: [2/3] scoring/metric_scores (1.2 s)",
        "2025/26 Q1: [3/3] snapshots/quarterly_snapshot FAILED",
    ]


def test_a_bar_with_steps_and_time_left_on_a_terminal():
    screen = io.StringIO()
    console = Console(force_terminal=True, file=screen, width=120, color_system=None)
    with ProgressBar(console) as bar:
        bar.line("running 2025/26 Q1: fetch, validate, score, snapshot (3 steps)")
        bar.steps("2025/26 Q1", 0, 3, "")
        handler = StepProgress("2025/26 Q1", 3, bar.line, bar.steps)
        for event in [*EVENTS, _failure("snapshots__quarterly_snapshot")]:
            handler.on_event(event)
    text = screen.getvalue()
    assert "\x1b[" in text  # drawn for a terminal (cursor movements), not printed as lines
    assert "[league] running 2025/26 Q1" in text
    assert "3/3 steps" in text and "left" in text and "━" in text
    assert "0:00:00" in text  # time elapsed and remaining
    # the steps that succeed move the bar; a failed step is also a line of its own
    assert "[1/3] sources/ods_trusts" not in text
    assert "[league] 2025/26 Q1: [3/3] snapshots/quarterly_snapshot FAILED" in text


def test_a_name_is_shown_as_it_is_not_as_markup():
    screen = io.StringIO()
    console = Console(force_terminal=True, file=screen, width=200, color_system=None)
    with ProgressBar(console) as bar:
        bar.line("[bold]ZA001[/bold] \x1b[2J")
        bar.steps("[red]Q1", 0, 1, "step [x]")
    text = screen.getvalue()
    assert "[bold]ZA001[/bold] \\x1b[2J" in text and "[red]Q1" in text and "step [x]" in text


def test_the_cli_draws_the_bar_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert pipeline._terminal_bar() is None
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.delenv("TERM", raising=False)
    assert isinstance(pipeline._terminal_bar(), ProgressBar)
    assert pipeline._terminal_bar(verbose=True) is None  # -v: Dagster's log lines, no bar


CHILD = """
import os, sys, time
from league_pipeline.cli.progress_bar import ProgressBar

bar = ProgressBar.on_stderr()
with bar:
    bar.steps("2025/26 Q1", 0, 3, "")
    saved = os.dup(2)
    with open(sys.argv[1], "a") as log:  # as Dagster captures a step's output
        os.dup2(log.fileno(), 2)
        for done in (1, 2):
            bar.steps("2025/26 Q1", done, 3, f"step {done}")
            time.sleep(0.3)
        bar.line("a line while the output is captured")
        os.dup2(saved, 2)
    bar.steps("2025/26 Q1", 3, 3, "step 3")
"""


CHILD_TIMEOUT = 120  # seconds; the child takes about 2 s


def test_the_bar_keeps_drawing_on_the_terminal_while_stderr_is_captured(tmp_path):
    """Dagster points descriptor 2 at a compute-log file while the steps execute: the bar
    (on its own descriptor for the terminal) goes on drawing there, and writes nothing into
    the log."""
    log = tmp_path / "compute.err"
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    code, screen = run_on_a_terminal(
        [sys.executable, "-c", CHILD, str(log)], env, timeout=CHILD_TIMEOUT
    )
    assert code == 0, screen
    assert "\r\x1b[2K" in screen  # redrawn in place, as on a terminal
    for done in (1, 2, 3):
        assert f"{done}/3" in screen and f"step {done}" in screen
    assert "[league] a line while the output is captured" in screen
    assert log.read_text() == ""


class _Failure(Exception):
    pass


def _fail(*_args, **_kwargs):
    raise _Failure


@pytest.fixture
def terminal_stderr(monkeypatch):
    """A function pointing ``sys.stderr`` at a pseudo-terminal (called in the test: pytest's
    capture sets ``sys.stderr`` after the fixtures), and the descriptors the bar duplicates it
    to (``os.dup``)."""
    master, slave = pty.openpty()
    stderr = os.fdopen(slave, "w")
    monkeypatch.setenv("TERM", "xterm-256color")
    duplicated: list[int] = []
    real_dup = os.dup

    def dup(fd: int) -> int:
        duplicated.append(real_dup(fd))
        return duplicated[-1]

    def on_the_terminal() -> list[int]:
        monkeypatch.setattr(sys, "stderr", stderr)
        monkeypatch.setattr(progress_bar.os, "dup", dup)
        return duplicated

    yield on_the_terminal
    stderr.close()
    os.close(master)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("failing", ["fdopen", "Console", "start"])
def test_the_duplicated_descriptor_is_closed_when_the_bar_fails(
    terminal_stderr, monkeypatch, failing
):
    if failing == "fdopen":
        monkeypatch.setattr(progress_bar.os, "fdopen", _fail)
    elif failing == "Console":
        real = progress_bar.Console

        def console(*args, **kwargs):  # the check of stderr works, the bar's own console fails
            return _fail() if "file" in kwargs else real(*args, **kwargs)

        monkeypatch.setattr(progress_bar, "Console", console)
    duplicated = terminal_stderr()
    if failing == "start":
        bar = ProgressBar.on_stderr()
        monkeypatch.setattr(bar._bars, "start", _fail)
        with pytest.raises(_Failure), bar:
            pass
    else:
        with pytest.raises(_Failure) as raised:
            ProgressBar.on_stderr()
        # closed by the bar, not when garbage collection takes the file (the traceback, kept
        # here, holds the frame that had it)
        assert raised.traceback
    assert len(duplicated) == 1
    assert not _is_open(duplicated[0])


def test_the_duplicated_descriptor_is_closed_after_the_run(terminal_stderr):
    duplicated = terminal_stderr()
    bar = ProgressBar.on_stderr()
    assert len(duplicated) == 1 and _is_open(duplicated[0])
    with bar:
        bar.steps("2025/26 Q1", 1, 2, "step 1")
    assert not _is_open(duplicated[0])
