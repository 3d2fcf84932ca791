"""The progress bar of ``league run`` and ``backfill`` on a terminal.

Belongs here: showing where a run's steps stand with ``rich`` (steps done of all, time elapsed
and remaining), the other progress lines printed above the bar. Only the commands that run the
job import it, and only when stderr is a terminal; elsewhere they print plain lines. Why the bar
writes to a descriptor of its own: docs/cli.md.
"""

from __future__ import annotations

import os
import sys
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from league_pipeline.cli.common import terminal_safe


class ProgressBar:
    """One bar a run: :meth:`line` prints a progress line above the bars, :meth:`steps` (a
    :data:`league_pipeline.cli.runner.Steps`) moves the run's bar. Use it as a context manager
    around the runs."""

    def __init__(self, console: Console, *, closing: IO[str] | None = None) -> None:
        self._bars = Progress(
            TextColumn("{task.fields[label]}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[step]}", markup=False),
            console=console,
            # what a step prints stays on descriptors 1 and 2, which Dagster captures
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._closing = closing  # the file of the console's own descriptor, closed on exit

    @classmethod
    def on_stderr(cls) -> ProgressBar | None:
        """A bar on the terminal that stderr is; None (plain lines) when it is not one.

        The bar writes to a duplicate of stderr's descriptor, taken now: while a run's steps
        execute in this process, Dagster points descriptors 1 and 2 at its compute-log files,
        and a console on descriptor 2 would take that for "not a terminal" (no redrawing) and
        write into the logs. The duplicate is closed if making the bar fails."""
        console = Console(stderr=True)
        if not console.is_terminal:
            return None
        try:
            descriptor = os.dup(sys.stderr.fileno())
        except (AttributeError, OSError, ValueError):  # an object standing in for stderr
            return cls(console)
        try:
            terminal = os.fdopen(
                descriptor, "w", encoding=sys.stderr.encoding or "utf-8", errors="backslashreplace"
            )
        except BaseException:
            os.close(descriptor)
            raise
        try:
            own = Console(file=terminal, force_terminal=True, width=console.width)
            return cls(own, closing=terminal)
        except BaseException:
            terminal.close()
            raise

    def __enter__(self) -> ProgressBar:
        try:
            self._bars.start()
        except BaseException:  # no __exit__ follows: close the console's own file now
            self._close()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        try:
            self._bars.stop()
        finally:
            self._close()

    def _close(self) -> None:
        if self._closing is not None:
            self._closing.close()

    def line(self, message: str) -> None:
        # Text, not markup: a name in the message is shown as it is, never read as [style]
        self._bars.console.print(Text(f"[league] {terminal_safe(message)}"), soft_wrap=True)

    def steps(self, label: str, done: int, total: int, step: str) -> None:
        if label not in self._tasks:
            self._tasks[label] = self._bars.add_task("", total=total, label=label, step="")
        self._bars.update(self._tasks[label], completed=done, total=total, step=terminal_safe(step))
