"""Progress reporting: a rich progress bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

logger = logging.getLogger("interbrain")


@dataclass
class _Stage:
    total: int
    done: int = 0
    start: float = 0.0
    last_log: float = 0.0
    task: object = None


class Progress:
    """Reports the stages of a run and the tasks finished in each.

    Several stages may be under way at once (their tasks run in one graph).

    Parameters
    ----------
    mode : str
        ``"auto"`` (a progress bar when standard error is a terminal, else plain log
        lines), ``"bar"``, ``"log"`` or ``"quiet"``.
    log_every : float
        With ``"log"``: seconds between progress lines of a stage.
    """

    def __init__(self, mode: str = "auto", *, log_every: float = 10.0) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        if mode not in ("bar", "log", "quiet"):
            raise ValueError(f"progress mode must be auto, bar, log or quiet, got {mode!r}")
        self.mode = mode
        self.log_every = log_every
        self._bar = None
        self._stages: dict[str, _Stage] = {}
        self._current: str | None = None

    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            self._bar = RichProgress(TextColumn("{task.description:<28}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     TextColumn("left"), TimeRemainingColumn())
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def stage(self, name: str, total: int) -> None:
        """Start stage ``name`` of ``total`` tasks; it becomes the current stage."""
        now = time.perf_counter()
        entry = _Stage(total=total, start=now, last_log=now)
        if self._bar is not None:
            entry.task = self._bar.add_task(name, total=total)
        elif self.mode == "log":
            logger.info("%s: %d task(s)", name, total)
        self._stages[name] = entry
        self._current = name

    def advance(self, n: int = 1, *, stage: str | None = None) -> None:
        """Mark ``n`` more tasks of ``stage`` (default: the current stage) as done."""
        name = stage or self._current
        entry = self._stages[name]
        entry.done += n
        if self._bar is not None:
            self._bar.update(entry.task, advance=n)
        elif self.mode == "log":
            now = time.perf_counter()
            if entry.done >= entry.total or now - entry.last_log > self.log_every:
                entry.last_log = now
                elapsed = now - entry.start
                left = elapsed / entry.done * (entry.total - entry.done) if entry.done else 0
                logger.info("%s: %d/%d done, %.0f s elapsed, about %.0f s left",
                            name, entry.done, entry.total, elapsed, left)
