"""The terminal output of an in-process run: short on the terminal, complete in a log file.

:func:`run_output` replaces ``sys.stdout`` and ``sys.stderr`` for the run:

* every line (dbt's, the step lines, warnings) goes, colour codes stripped,
  to the log file;
* stderr lines (one per step, warnings) also go to the terminal's stderr;
* stdout (where dagster-dbt re-emits dbt's log) goes to the terminal only
  with ``verbose``; otherwise dbt's node results become one counter line on
  stderr (:class:`~orchestration.dbt_progress.DbtProgress`): rewritten in place
  on a terminal, and on a pipe a line per ~10 % of the nodes and per failure
  or warning. The counter line is ended before any other line and at the end.

Lines are assembled per thread, so writes of two threads do not mix.
"""

from __future__ import annotations

import io
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from orchestration.dbt_progress import DbtProgress, strip_ansi

_CLEAR_TO_END = "\x1b[K"


class _LineStream(io.TextIOBase):
    """A text stream that hands every complete line to ``sink``.

    No ``fileno``: Dagster's compute-log capture then leaves the process's
    file descriptors alone (it would redirect them to files tailed back
    to the terminal, a second late copy of the output).
    """

    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__()
        self._sink = sink
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(thread, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[thread] = rest
        for line in lines:
            self._sink(line)
        return len(text)

    def drain(self) -> None:
        """Hand over the unfinished lines of every thread."""
        with self._lock:
            rest, self._partial = list(self._partial.values()), {}
        for line in rest:
            self._sink(line)


class RunOutput:
    """Where a run's lines go, and what dbt's lines said (:attr:`dbt`)."""

    def __init__(
        self,
        log: TextIO,
        log_path: Path,
        *,
        verbose: bool,
        terminal_out: TextIO,
        terminal_err: TextIO,
        tty: bool | None = None,
    ) -> None:
        self.log_path = log_path
        self.verbose = verbose
        self.dbt = DbtProgress()
        self._log = log
        self._out = terminal_out
        self._err = terminal_err
        self._out_tty = _isatty(terminal_out) if tty is None else tty
        self._err_tty = _isatty(terminal_err) if tty is None else tty
        self._lock = threading.RLock()
        self._counter_open = False  # a counter line without its newline on the terminal
        self._shown_decile = 0
        self._shown: tuple[int, int, int] | None = None  # (done, failed, warned) last printed
        self._closed = False
        self.stdout = _LineStream(self._stdout_line)
        self.stderr = _LineStream(self._stderr_line)

    # ------------------------------------------------------------------ lines in

    def note(self, text: str) -> None:
        """Write ``text`` to the log file only."""
        with self._lock:
            if not self._closed:
                for line in text.split("\n"):
                    self._log.write(strip_ansi(line).rstrip("\r") + "\n")

    def _stdout_line(self, line: str) -> None:
        with self._lock:
            if self._closed:
                self._terminal(self._out, self._out_tty, line)
                return
            plain = strip_ansi(line).rstrip("\r")
            self._log.write(plain + "\n")
            result = self.dbt.feed(plain)
            if self.verbose:
                self._terminal(self._out, self._out_tty, line)
            elif result is not None:
                self._show_counter(new_problem=result.failed or result.warned)

    def _stderr_line(self, line: str) -> None:
        with self._lock:
            if not self._closed:
                self._log.write(strip_ansi(line).rstrip("\r") + "\n")
            self._terminal(self._err, self._err_tty, line)

    # ------------------------------------------------------------------ terminal

    def _terminal(self, stream: TextIO, tty: bool, line: str) -> None:
        self._end_counter()
        stream.write((line if tty else strip_ansi(line)) + "\n")
        stream.flush()

    def _end_counter(self) -> None:
        if self._counter_open:
            self._err.write("\n")
            self._err.flush()
            self._counter_open = False

    def _show_counter(self, *, new_problem: bool) -> None:
        dbt = self.dbt
        if self._err_tty:
            width = max(20, shutil.get_terminal_size().columns - 1)
            self._err.write("\r" + dbt.counter()[:width] + _CLEAR_TO_END)
            self._err.flush()
            self._counter_open = True
            return
        decile = dbt.done * 10 // max(dbt.total, 1)
        if new_problem or decile > self._shown_decile:
            self._print_counter()
        self._shown_decile = max(self._shown_decile, decile)

    def _print_counter(self) -> None:
        dbt = self.dbt
        self._err.write(dbt.counter() + "\n")
        self._err.flush()
        self._shown = (dbt.done, len(dbt.failed), len(dbt.warned))

    def summary(self) -> str:
        """``dbt: 93 of 93 nodes, 0 failed, 0 warned; full log <path>`` (without dbt: the log)."""
        log = f"full log {self.log_path}"
        return f"{self.dbt.summary()}; {log}" if self.dbt.started else log

    def close(self) -> None:
        """End the counter line (on a pipe: print it if it is behind), stop writing the log."""
        self.stdout.drain()
        self.stderr.drain()
        with self._lock:
            if self._err_tty or self.verbose:
                self._end_counter()
            elif self.dbt.started:
                current = (self.dbt.done, len(self.dbt.failed), len(self.dbt.warned))
                if current != self._shown:
                    self._print_counter()
            self._closed = True


def log_file(folder: Path, started: datetime | None = None) -> Path:
    """``<folder>/run-20261204T172750Z.log``: the log of a run started at ``started`` (now)."""
    started = started or datetime.now(UTC)
    return folder / f"run-{started.astimezone(UTC):%Y%m%dT%H%M%SZ}.log"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


@contextmanager
def run_output(
    log_path: Path,
    *,
    verbose: bool = False,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    tty: bool | None = None,
) -> Iterator[RunOutput]:
    """Route ``sys.stdout``/``sys.stderr`` through a :class:`RunOutput` while inside.

    The log file at ``log_path`` (folders created) gets every line; the
    terminal (``stdout``/``stderr``, default the current ``sys`` streams) gets
    the stderr lines and dbt's counter, or dbt's whole log with ``verbose``.
    ``tty`` overrides the terminal detection (tests).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal_out = stdout if stdout is not None else sys.stdout
    terminal_err = stderr if stderr is not None else sys.stderr
    with log_path.open("w", encoding="utf-8", buffering=1) as log:
        output = RunOutput(
            log,
            log_path,
            verbose=verbose,
            terminal_out=terminal_out,
            terminal_err=terminal_err,
            tty=tty,
        )
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = output.stdout, output.stderr  # type: ignore[assignment]
        try:
            yield output
        except BaseException as error:
            output.note(f"run output ended by {type(error).__name__}: {error}")
            raise
        finally:
            sys.stdout, sys.stderr = saved
            output.close()
