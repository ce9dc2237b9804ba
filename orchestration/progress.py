"""A Dagster logger that prints one short line per step: what the CLI shows while it runs.

``[  12.3s] done   load_webhooks    2.7s``: the time since the run started,
done, FAILED or skipped, the step, its duration; and a ``warning`` line for
every warning a step logs (a quarantined file, a file outside the layout).
The complete event log stays in Dagster's storage (the UI); this logger is
enabled only by the CLI's run config.
"""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg

from orchestration.progress_lines import stamp

_RUN_START = "PIPELINE_START"
_RUN_END = ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "PIPELINE_CANCELED")
_STEP_END = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}
# Dagster's note on each step left out after a failed one: the failure's own line
# and the run's summary say it already
_NOT_EXECUTED = "Dependencies for step"


def step_line(elapsed: float, status: str, step: str, seconds: float | None) -> str:
    """``[  12.3s] done   load_webhooks    2.7s`` (no duration for a skipped step)."""
    if seconds is None:
        return f"{stamp(elapsed)} {status:<6} {step}"
    return f"{stamp(elapsed)} {status:<6} {step:<48} {seconds:6.1f}s"


def warning_line(message: str) -> str:
    """``  warning  quarantined dispatches/dispatches-2026-12-10.csv: empty file``."""
    return f"  warning  {message}"


class StepProgressHandler(logging.Handler):
    """Prints a line when a step finishes, fails or is skipped: time since the run began."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.started: dict[str, float] = {}
        self.run_started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", {})
        event = meta.get("dagster_event")
        if event is None:
            message = meta.get("orig_message") or record.getMessage()
            if record.levelno >= logging.WARNING and not message.startswith(_NOT_EXECUTED):
                self._print(warning_line(message))
            return
        now = time.perf_counter()
        run, kind = meta.get("run_id") or "", event.event_type_value
        if kind == _RUN_START:
            self.run_started[run] = now
        run_started = self.run_started.setdefault(run, now)
        if kind in _RUN_END:
            self.run_started.pop(run, None)
        step = event.step_key
        if not step:
            return
        if kind == "STEP_START":
            self.started[step] = now
        elif kind in _STEP_END:
            seconds = now - self.started.pop(step, now)
            self._print(step_line(now - run_started, _STEP_END[kind], step, seconds))
        elif kind == "STEP_SKIPPED":
            self._print(step_line(now - run_started, "skip", step, None))

    @staticmethod
    def _print(line: str) -> None:
        print(line, file=sys.stderr, flush=True)


@dg.logger(description="One line per finished step, for the wa-warehouse CLI.")
def step_progress_logger(_: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("wa_warehouse.progress")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if not any(isinstance(h, StepProgressHandler) for h in logger.handlers):
        logger.addHandler(StepProgressHandler())
    return logger
