"""Progress on stderr: of a sweep (:class:`SweepProgress`, the driver's) and of one run
(:class:`Progress`, wherever it trains).

On a terminal the sweep is ONE tqdm bar, whatever the executor: runs done of the total, the
running and failed counts and an ETA, with the log lines (each finished run's) written above
it. Otherwise (logs, CI) plain lines: each finished run's, the sweep's counts after each, and
per run a line at most every ``Progress.LINE_EVERY_S`` seconds, so long runs are visibly alive
without filling logs with carriage returns. ``-q``: nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO


class Progress:
    """One run's progress: ``update(frac)`` with the fraction of the budget done, ``close()``
    at the end; a tqdm bar of the percent of the budget on a terminal (unless ``bar`` is
    False: workers sharing one stderr), else plain lines."""

    LINE_EVERY_S = 30.0

    def __init__(self, label: str, quiet: bool, bar: Optional[bool] = None,
                 stream: Optional[TextIO] = None):
        self.label = label
        self.enabled = not quiet
        self.stream = stream
        self.tty = self._stream().isatty() if bar is None else bar
        self.started = self.last = time.monotonic()
        self.bar = None
        if self.enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=100.0, desc=label, unit="%", leave=False, file=self._stream(),
                            dynamic_ncols=True, mininterval=0.2,
                            bar_format="{desc} {bar} {percentage:5.1f}% [{elapsed}<{remaining}]")

    def _stream(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def update(self, frac: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(100.0 * frac - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last >= self.LINE_EVERY_S and frac < 1:
            self.last = now
            print(f"{self.label}: {100 * frac:.0f}% of the budget "
                  f"({now - self.started:.0f}s elapsed)", file=self._stream(), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class SweepProgress:
    """Where a sweep stands, whatever the executor: on a terminal ONE tqdm bar for the whole
    sweep (runs finished of the total, with the running and failed counts and an ETA; the
    local executor also feeds in the fraction of its current run), with each log line written
    above it; otherwise (logs, CI, ``bar=False``) the log lines and a plain status line after
    each finished run, as ``log`` prints them. ``-q`` (``quiet``): no bar."""

    def __init__(self, total: int, log: Callable[[str], None], quiet: bool = False,
                 bar: Optional[bool] = None, stream: Optional[TextIO] = None):
        self.total, self.log_line, self.quiet, self.stream = total, log, quiet, stream
        self.done = self.running = self.failed = 0
        self.partial = 0.0  # the fraction of the budget of the run training here (local)
        tty = self._stream().isatty() if bar is None else bar
        self.bar = None
        if tty and not quiet and total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"ganbench: {self.describe()}",
                            file=self._stream(), leave=True, dynamic_ncols=True,
                            mininterval=0.2, bar_format="{desc} {bar} [{elapsed}<{remaining}]")

    def _stream(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def describe(self) -> str:
        """The counts the bar shows."""
        return (f"{self.done}/{self.total} done, {self.running} running, "
                f"{self.failed} failed")

    def refresh(self) -> None:
        """Redraw the bar with the current counts."""
        if self.bar is not None:
            self.bar.n = min(self.total, self.done + self.partial)
            self.bar.set_description_str(f"ganbench: {self.describe()}", refresh=False)
            self.bar.refresh()

    def log(self, message: str) -> None:
        """A log line: above the bar on a terminal, else through ``log``."""
        if self.bar is not None:
            self.bar.write(message, file=self._stream())
        else:
            self.log_line(message)

    def update(self, done: int, running: int, failed: int, total: int) -> None:
        """The sweep's counts (``done`` includes the failed runs)."""
        if (done, running, failed, total) != (self.done, self.running, self.failed,
                                               self.total):
            self.partial = 0.0 if done != self.done else self.partial
            self.done, self.running, self.failed, self.total = done, running, failed, total
            if self.bar is not None:
                self.bar.total = total
            self.refresh()

    def status(self, line: str) -> None:
        """The plain status line (only where there is no bar: the bar shows the counts)."""
        if self.bar is None:
            self.log_line(line)

    def job(self, label: str, quiet: bool):
        """The progress of one run training in this process: a share of the sweep's bar, or
        (no bar) a :class:`Progress` of its own."""
        if self.bar is None:
            return Progress(label, quiet)
        return _Share(self)

    def close(self) -> None:
        if self.bar is not None:
            self.partial = 0.0
            self.refresh()
            self.bar.close()
            self.bar = None


class _Share:
    """One run's progress, shown as the fraction of a run on the sweep's bar."""

    def __init__(self, sweep: SweepProgress):
        self.sweep = sweep

    def update(self, frac: float) -> None:
        sweep = self.sweep
        sweep.partial = max(0.0, min(1.0, frac))
        if sweep.bar is not None:  # tqdm's update redraws at most every mininterval
            sweep.bar.update(min(sweep.total, sweep.done + sweep.partial) - sweep.bar.n)

    def close(self) -> None:
        self.sweep.partial = 0.0
