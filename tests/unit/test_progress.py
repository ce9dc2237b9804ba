"""Progress lines: a run's step lines with the time since it began, stamped lines."""

from __future__ import annotations

import io
import re

import dagster as dg
import pytest

from orchestration.bench import step_seconds
from orchestration.progress import step_line, step_progress_logger
from orchestration.progress_lines import ProgressLines, stamp

STEP_LINE = re.compile(r"^\[\s*(\d+\.\d)s\] (done  |FAILED) (\S+)\s+(\d+\.\d)s$")


def test_step_line_shows_the_elapsed_time_and_the_duration() -> None:
    line = step_line(12.34, "done", "load_webhooks", 2.71)
    assert line.startswith("[  12.3s] done   load_webhooks ")
    assert line.endswith("   2.7s")
    assert step_line(40.0, "skip", "serving_publication", None) == (
        "[  40.0s] skip   serving_publication"
    )
    # the bench reads the durations of these lines
    assert step_seconds(line) == {"load_webhooks": 2.7}


@dg.op
def _first() -> int:
    return 1


@dg.op
def _broken(value: int) -> int:
    raise ValueError(f"broken after {value}")


@dg.job(logger_defs={"progress": step_progress_logger})
def _job() -> None:
    _broken(_first())


def test_a_run_prints_one_line_per_step_failed_ones_visible(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(2):  # one handler, two runs
        result = _job.execute_in_process(
            run_config={"loggers": {"progress": {}}}, raise_on_error=False
        )
        assert not result.success
    matches = [STEP_LINE.match(line) for line in capsys.readouterr().err.splitlines()]
    steps = [m.groups() for m in matches if m]
    assert [(status, step) for _, status, step, _ in steps] == [
        ("done  ", "_first"),
        ("FAILED", "_broken"),
    ] * 2
    # the time since the run began covers the step's own duration
    assert all(float(elapsed) >= float(seconds) for elapsed, _, _, seconds in steps)


def test_progress_lines_are_stamped_and_can_be_off() -> None:
    stream = io.StringIO()
    lines = ProgressLines(indent="  ", stream=stream, width=10)
    lines.line("starting")
    with lines.step("phase"):
        pass
    with pytest.raises(RuntimeError), lines.step("broken"):
        raise RuntimeError
    lines.tick("too soon")  # less than 5 s after the last line: nothing
    lines.tick("now", every=0.0)
    assert stamp(3.0) == "[   3.0s]"
    assert stream.getvalue().splitlines() == [
        "  [   0.0s] starting",
        "  [   0.0s] phase         0.0s",
        "  [   0.0s] broken        0.0s FAILED",
        "  [   0.0s] now",
    ]
    quiet = io.StringIO()
    off = ProgressLines(stream=quiet, enabled=False)
    off.line("x")
    off.tick("y", every=0.0)
    assert quiet.getvalue() == ""
