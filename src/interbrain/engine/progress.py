"""Progress reporting: a rich progress bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time

logger = logging.getLogger("interbrain")


class Progress:
    """Reports stages of a run and the tasks finished in each.

    Parameters
    ----------
    mode : str
        ``"auto"`` (a progress bar when standard error is a terminal, else log
        lines), ``"bar"``, ``"log"`` or ``"quiet"``.
    """

    def __init__(self, mode: str = "auto") -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        if mode not in ("bar", "log", "quiet"):
            raise ValueError(f"progress mode must be auto, bar, log or quiet, got {mode!r}")
        self.mode = mode
        self._bar = None
        self._task = None
        self._name = ""
        self._total = 0
        self._done = 0
        self._start = 0.0
        self._last_log = 0.0

    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self._bar = RichProgress(TextColumn("{task.description:<28}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("left"), TimeRemainingColumn(), transient=False)
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def stage(self, name: str, total: int) -> None:
        """Start stage ``name`` of ``total`` tasks."""
        self._name, self._total, self._done = name, total, 0
        self._start = self._last_log = time.perf_counter()
        if self._bar is not None:
            self._task = self._bar.add_task(name, total=total)
        elif self.mode == "log":
            logger.info("%s: %d task(s)", name, total)

    def advance(self, n: int = 1) -> None:
        """Mark ``n`` more tasks of the current stage as done."""
        self._done += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n)
        elif self.mode == "log":
            now = time.perf_counter()
            if self._done == self._total or now - self._last_log > 10:
                self._last_log = now
                elapsed = now - self._start
                left = elapsed / self._done * (self._total - self._done) if self._done else 0
                logger.info("%s: %d/%d done, %.0f s elapsed, about %.0f s left",
                            self._name, self._done, self._total, elapsed, left)
