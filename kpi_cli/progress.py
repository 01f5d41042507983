"""Progress of slow steps (loading sources, running a model's query).

The library marks its slow steps with ``step(con, label)``, which logs the
step's duration at INFO. Showing a progress bar is the CLI's choice: it
installs a ``Reporter`` only when stderr is a terminal (and colours are
allowed); without one nothing is displayed, so cron and pipes get plain logs.

The bar shows DuckDB's own estimate of the running query, read from another
thread with ``con.query_progress()``. DuckDB only tracks it with its progress
bar setting on, so ``prepare`` turns that on (with its own printing off) when
a reporter is installed; it must run before the configuration is locked.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A step shorter than this never shows a bar: flicker helps nobody.
SHOW_AFTER = 1.0
POLL_EVERY = 0.1


class Reporter(Protocol):
    """Displays one step at a time."""

    def begin(self, label: str) -> None: ...

    def update(self, label: str, percent: float | None) -> None: ...

    def end(self) -> None: ...


_reporter: Reporter | None = None


def install(reporter: Reporter | None) -> None:
    """Use ``reporter`` for the steps that follow (None: show nothing)."""
    global _reporter
    _reporter = reporter


def active() -> bool:
    """Whether a reporter is installed."""
    return _reporter is not None


def prepare(con: Any) -> None:
    """Let DuckDB track query progress on ``con`` if a bar will be shown."""
    if _reporter is None:
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")


@contextlib.contextmanager
def step(con: Any, label: str) -> Iterator[None]:
    """Run the body as one named step: timed in the log, shown if slow."""
    started = time.perf_counter()
    reporter = _reporter
    watcher = None
    if reporter is not None:
        watcher = _Watcher(con, label, reporter)
        watcher.start()
    try:
        yield
    finally:
        if watcher is not None:
            watcher.stop()
        log.info("%s took %.3fs", label, time.perf_counter() - started)


class _Watcher(threading.Thread):
    """Polls the connection's query progress and feeds the reporter."""

    def __init__(self, con: Any, label: str, reporter: Reporter) -> None:
        super().__init__(name="kpi-progress", daemon=True)
        self.con = con
        self.label = label
        self.reporter = reporter
        self.done = threading.Event()
        self.shown = False

    def run(self) -> None:
        if self.done.wait(SHOW_AFTER):
            return
        self.reporter.begin(self.label)
        self.shown = True
        while not self.done.wait(POLL_EVERY):
            try:
                percent = float(self.con.query_progress())
            except Exception:  # the connection is between or after queries
                percent = -1.0
            self.reporter.update(self.label, percent if percent >= 0 else None)

    def stop(self) -> None:
        self.done.set()
        self.join()
        if self.shown:
            self.reporter.end()


class RichReporter:
    """A transient Rich bar on a stderr console (the CLI installs it on a TTY)."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def begin(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task = self.progress.add_task(label, total=100.0)
        self.progress.start()

    def update(self, label: str, percent: float | None) -> None:
        if self.progress is not None and percent is not None:
            self.progress.update(self.task, completed=percent)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


__all__ = ["RichReporter", "Reporter", "active", "install", "prepare", "step"]
