"""The progress bar of ``league run`` and ``backfill`` on a terminal.

Belongs here: showing where a run's steps stand with ``rich`` (steps done of all, time elapsed
and remaining), the other progress lines printed above the bar. Only the commands that run the
job import it, and only when stderr is a terminal; elsewhere they print plain lines.
"""

from __future__ import annotations

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

    def __init__(self, console: Console) -> None:
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
        )
        self._tasks: dict[str, TaskID] = {}

    @classmethod
    def on_stderr(cls) -> ProgressBar | None:
        """A bar on stderr when it is a terminal; None (plain lines) otherwise."""
        console = Console(stderr=True)
        return cls(console) if console.is_terminal else None

    def __enter__(self) -> ProgressBar:
        self._bars.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._bars.stop()

    def line(self, message: str) -> None:
        # Text, not markup: a name in the message is shown as it is, never read as [style]
        self._bars.console.print(Text(f"[league] {terminal_safe(message)}"), soft_wrap=True)

    def steps(self, label: str, done: int, total: int, step: str) -> None:
        if label not in self._tasks:
            self._tasks[label] = self._bars.add_task("", total=total, label=label, step="")
        self._bars.update(self._tasks[label], completed=done, total=total, step=terminal_safe(step))
