"""A Dagster logger that prints one short line per step: what the CLI shows while it runs.

The complete event log stays in Dagster's storage (the UI); this logger is
enabled only by the CLI's run config.
"""

from __future__ import annotations

import logging
import sys
import time

import dagster as dg


class StepProgressHandler(logging.Handler):
    """Prints a line when a step finishes or fails, with its duration."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None or not event.step_key:
            return
        step, kind = event.step_key, event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            seconds = time.perf_counter() - self.started.get(step, time.perf_counter())
            status = "done" if kind == "STEP_SUCCESS" else "FAILED"
            print(f"  {status:<5} {step:<36} {seconds:7.1f}s", file=sys.stderr, flush=True)


@dg.logger(description="One line per finished step, for the wa-warehouse CLI.")
def step_progress_logger(_: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.getLogger("wa_warehouse.progress")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    if not any(isinstance(h, StepProgressHandler) for h in logger.handlers):
        logger.addHandler(StepProgressHandler())
    return logger
