"""Progress lines on stderr, each stamped with the time since the work started.

``[  12.3s] done   load_webhooks    2.7s``: the step lines of a run
(:mod:`orchestration.progress`), the generator's phases and the bench's
scenarios share this stamp. Light on purpose: no Dagster, no pandas.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


def stamp(seconds: float) -> str:
    """``[  12.3s]``: the time since the start, first on every progress line."""
    return f"[{seconds:6.1f}s]"


class ProgressLines:
    """Prints ``<indent>[elapsed] <text>`` lines to stderr (``stream``), or nothing.

    The stream is looked up at every line (``sys.stderr`` unless given), so a
    replaced ``sys.stderr`` (tests, :mod:`orchestration.run_output`) gets them.
    """

    def __init__(
        self,
        *,
        indent: str = "",
        enabled: bool = True,
        stream: TextIO | None = None,
        width: int = 42,
    ) -> None:
        self.indent = indent
        self.width = width  # of the text before a duration
        self.enabled = enabled
        self.stream = stream
        self.started = time.perf_counter()
        self._last_line = self.started

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"{self.indent}{stamp(self.elapsed())} {text}", file=stream, flush=True)
        self._last_line = time.perf_counter()

    def tick(self, text: str, every: float = 5.0) -> None:
        """:meth:`line`, unless the last line is less than ``every`` seconds old.

        For the steps of long loops: quick work prints nothing, long work a
        line every few seconds.
        """
        if self.enabled and time.perf_counter() - self._last_line >= every:
            self.line(text)

    def timed(self, text: str, seconds: float, note: str = "") -> None:
        """``[elapsed] <text padded to width> <seconds>s[ note]``."""
        self.line(f"{text:<{self.width}} {seconds:6.1f}s{note}")

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """Time the block: :meth:`timed` when it ends (``... FAILED`` on an exception)."""
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self.timed(text, time.perf_counter() - started, " FAILED")
            raise
        self.timed(text, time.perf_counter() - started)
