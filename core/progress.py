"""A progress bar for long management commands, with no dependency.

It draws on stderr only when stderr is a terminal: a command run by cron, Celery or a test
writes its output and summary, never a stream of carriage returns into a log.
"""

import sys
from types import TracebackType
from typing import TextIO

BAR_WIDTH = 30


class Progress:
    """`with Progress(total=n, label="expiring") as progress: ... progress.advance()`."""

    def __init__(self, *, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty() and total > 0
        self._drawn_percent = -1

    def __enter__(self) -> "Progress":
        self._draw()
        return self

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        self._draw()

    def _draw(self) -> None:
        if not self._enabled:
            return
        percent = min(100, self.done * 100 // self.total)
        # Redrawn at most a hundred times, however many items: a terminal is slow too.
        if percent == self._drawn_percent:
            return
        self._drawn_percent = percent
        filled = BAR_WIDTH * percent // 100
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self._stream.write(f"\r{self.label} [{bar}] {percent:3d}% {self.done}/{self.total}")
        self._stream.flush()
