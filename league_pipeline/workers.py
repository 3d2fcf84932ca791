"""Worker processes for the work each quarter of a range run does on its own.

Belongs here: the pool a run over several quarters uses to do one quarter's independent work
(its likely-range bootstrap, its outputs) per worker process, how the workers are started, and
how each task gets the caller's settings. With one worker, or one quarter, the work runs in the
caller's process, exactly as without a pool.

* **Start method.** Workers come from a ``forkserver``: a clean process that imports the
  package once and forks a worker per request, so a worker starts in milliseconds rather than
  re-importing pandas, DuckDB and pandera (2-3 s). Forking the run's own process instead
  deadlocks once DuckDB and Arrow have started their threads (seen in
  ``benchmarks/backfill.py``'s experiments: the forked workers never ran).
* **Starting early.** :meth:`QuarterPool.start` starts the workers from a background thread
  and returns at once, so a range run can start them at its beginning and find them ready
  when its last step needs them.
* **Settings.** The fork server lives as long as the process that started it and keeps that
  moment's environment and working folder. Each task therefore carries the caller's current
  environment (``LEAGUE_HOME``, ``DAGSTER_HOME``, ...) and working folder, and the worker adopts
  them before it runs the task.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV = "LEAGUE_WORKERS"
# what a worker imports once, in the fork server, before any task
PRELOAD = ("league_pipeline.outputs.publish", "league_pipeline.scoring.staged")


def default_workers() -> int:
    """``LEAGUE_WORKERS`` if set (1 turns the pool off), else one per core, at most two."""
    text = os.environ.get(WORKERS_ENV)
    if not text:
        return max(1, min(2, os.cpu_count() or 1))
    try:
        workers = int(text)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number of at least 1, not {text!r}")
    return workers


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _in_callers_settings(fn: Callable[[T], R], env: dict[str, str], cwd: str, item: T) -> R:
    """Run ``fn(item)`` in a worker with the caller's environment and working folder."""
    if dict(os.environ) != env:
        os.environ.clear()
        os.environ.update(env)
    if os.getcwd() != cwd:
        os.chdir(cwd)
    return fn(item)


class QuarterPool:
    """Runs a function once per item, in ``workers`` processes when there is more than one item.

    ``fn`` must be a module-level function and its items and results picklable. An exception
    in a worker is raised again in the caller, as :func:`map` would. Use as a context manager,
    or call :meth:`close`.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None

    def start(self) -> None:
        """Start the workers in the background (no-op with one worker or when started)."""
        if self.workers < 2 or self._starting is not None:
            return
        self._executor = ProcessPoolExecutor(self.workers, mp_context=_context())
        self._starting = threading.Thread(target=self._warm, name="quarter-pool", daemon=True)
        self._starting.start()

    def _warm(self) -> None:
        # a task per worker makes the executor start them all; the first also starts the server
        assert self._executor is not None
        for future in [self._executor.submit(os.getpid) for _ in range(self.workers)]:
            future.result()

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]``, the items shared among the workers."""
        items = list(items)
        if self.workers < 2 or len(items) < 2:
            return [fn(item) for item in items]
        self.start()
        assert self._starting is not None and self._executor is not None
        self._starting.join()
        task = partial(_in_callers_settings, fn, dict(os.environ), str(Path.cwd()))
        try:
            return list(self._executor.map(task, items))
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "the worker processes stopped before finishing (out of memory, killed, or a "
                "script without `if __name__ == '__main__':` that starts runs, which Python "
                f"needs for worker processes); set {WORKERS_ENV}=1 to work in one process"
            ) from exc
        except Exception as exc:
            # the worker's own error, as if raised here: its remote traceback goes into a note
            # so that the run reports the error's message, not the traceback's text
            remote = exc.__cause__
            if remote is not None and type(remote).__name__ == "_RemoteTraceback":
                exc.__cause__ = None
                exc.add_note(f"raised in a worker process:{remote}")
            raise

    def close(self) -> None:
        """Stop the workers (waiting for any task under way)."""
        if self._starting is not None:
            self._starting.join()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = self._starting = None

    def __enter__(self) -> QuarterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
