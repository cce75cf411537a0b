"""A one-line progress indicator on stderr for paginated fetches and exports.

Drawn only on a terminal: a redirected stderr (a log file, CI) must not fill with carriage returns.
Redraws are throttled so that a fast export is not slowed down by its own progress bar. The line is
always finished before anything else is written: :meth:`Progress.note` clears it for a message (a
rate-limit wait) and :meth:`Progress.close` ends it with a newline, so nothing is printed onto it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]

_BAR = 24


class Progress:
    """Count, rate and (when known) total of items, redrawn in place at most every ``interval`` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool,
        label: str = "",
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.enabled = enabled
        self.label = label
        self.total: int | None = None
        self.count = 0
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._last_draw: float | None = None
        self._width = 0
        self._closed = False

    def update(self, count: int) -> None:
        """Record ``count`` items done; redraw if the last redraw is old enough."""
        self.count = count
        if not self.enabled:
            return
        now = self._clock()
        if self._last_draw is None or now - self._last_draw >= self._interval:
            self._draw(now)

    def close(self) -> None:
        """Draw the final figures and end the line, if anything was drawn at all; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and self._last_draw is not None:
            self._draw(self._clock())
            self.stream.write("\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """Write one line of ``text``, wiping the bar first; the bar comes back with the next update."""
        if self.enabled and self._width and not self._closed:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
            self._last_draw = None  # redraw at the next update, whatever the throttle says
        self.stream.write(text + "\n")
        self.stream.flush()

    def render(self, now: float) -> str:
        """The text of the line (without the carriage return), for a given clock reading."""
        elapsed = max(now - self._start, 1e-9)
        rate = f"{self.count / elapsed:.1f}/s"
        prefix = f"{self.label} " if self.label else ""
        total = self.total
        if total is not None and total > 0 and self.count <= total:
            filled = int(_BAR * self.count / total)
            bar = "#" * filled + "." * (_BAR - filled)
            return f"{prefix}[{bar}] {self.count}/{total} items {rate}"
        return f"{prefix}{self.count} items {rate}"

    def _draw(self, now: float) -> None:
        line = self.render(now)
        pad = " " * max(0, self._width - len(line))  # wipe the tail of a longer previous line
        self._width = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()
        self._last_draw = now
