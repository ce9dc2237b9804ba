"""The run's terminal output: dbt's lines condensed to a counter, everything in the log."""

from __future__ import annotations

import io
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from orchestration.dbt_progress import DbtProgress, parse_result, strip_ansi
from orchestration.run_output import log_file, run_output

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_build_output.txt"
# what the fixture (recorded from a dbt build, failures added in dbt's own format) holds
FAILED = ["not_null_stg_raw__dispatches_dispatch_id", "marts.campaign_performance"]
WARNED = ["accepted_values_int_messages_status"]
SKIPPED = ["marts.campaign_summary", "not_null_campaign_summary_campaign_id"]


def _ok_lines(total: int) -> str:
    """A clean build of ``total`` nodes, as dbt prints it (START and OK, with colours)."""
    lines = ["Running with dbt=1.11.16", "Concurrency: 2 threads (target='local')", ""]
    for i in range(1, total + 1):
        name = f"staging.model_{i}"
        lines.append(f"{i} of {total} START sql view model {name} {'.' * 20} [RUN]")
        lines.append(
            f"{i} of {total} OK created sql view model {name} {'.' * 20} "
            "[\x1b[32mOK\x1b[0m in 0.10s]"
        )
    lines.append(f"Done. PASS={total} WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL={total}")
    return "\n".join(lines) + "\n"


def _run(text: str, log: Path, *, tty: bool, verbose: bool = False) -> tuple[str, str, object]:
    out, err = io.StringIO(), io.StringIO()
    with run_output(log, verbose=verbose, stdout=out, stderr=err, tty=tty) as output:
        print("[   0.3s] done   load_accounts    0.3s", file=sys.stderr)
        sys.stdout.write(text)
        print("[  30.0s] FAILED warehouse_dbt_models    28.0s", file=sys.stderr)
    return out.getvalue(), err.getvalue(), output


def test_fixture_counts_and_names_the_failures(tmp_path: Path) -> None:
    progress = DbtProgress()
    for line in FIXTURE.read_text().splitlines():
        progress.feed(strip_ansi(line))
    assert (progress.done, progress.total, progress.invocations) == (9, 115, 1)
    assert progress.failed == FAILED
    assert progress.warned == WARNED
    assert progress.skipped == SKIPPED
    assert progress.counter().startswith("  dbt    9/115 nodes  2 failed: not_null_stg_raw__")


def test_result_lines_parse_and_others_do_not() -> None:
    seed = "8 of 115 OK loaded seed file reference.codes ..... [\x1b[32mCREATE 234\x1b[0m in 0.14s]"
    result = parse_result(strip_ansi(seed))
    assert result is not None
    assert (result.index, result.total, result.status, result.name) == (
        8,
        115,
        "OK",
        "reference.codes",
    )
    unit = parse_result("14 of 115 PASS stg_raw__clicks::twice_count_once ....... [PASS in 0.37s]")
    assert unit is not None and unit.name == "stg_raw__clicks::twice_count_once"
    long_name = "3 of 9 ERROR creating sql table model marts." + "x" * 90 + "  [ERROR in 0.1s]"
    assert parse_result(long_name) is not None  # no dots when the name is longer than the line
    for other in (
        "1 of 115 START sql view model staging.stg_raw__accounts ........ [RUN]",
        "1 of 1 OK hook: wa_warehouse.on-run-end.0 ....................... [OK in 0.01s]",
        "Batch 1 of 3 OK created batch 2026-10-01 of marts.x ............. [OK in 0.1s]",
        "Done. PASS=93 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=93",
        "Finished running 7 incremental models in 0 hours 0 minutes and 11.86 seconds (11.86s).",
        "12 of",
        "",
    ):
        assert parse_result(other) is None, other


def test_two_invocations_add_up_and_a_repeated_line_counts_once() -> None:
    progress = DbtProgress()
    for line in strip_ansi(_ok_lines(3) + _ok_lines(4)).splitlines():
        progress.feed(line)
    progress.feed("2 of 4 OK created sql view model staging.model_2 .... [OK in 0.10s]")
    assert (progress.done, progress.total, progress.invocations) == (7, 7, 2)


def test_not_a_tty_condensed_counter_and_full_plain_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "nested" / "run.log"
    out, err, output = _run(FIXTURE.read_text(), log, tty=False)
    assert out == ""  # dbt's lines stay off the terminal
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert lines[0] == "[   0.3s] done   load_accounts    0.3s"
    counters = [line for line in lines if line.startswith("  dbt ")]
    # a line per failure or warning (3), then the last state at the end
    assert len(counters) == 4
    assert "1 failed: not_null_stg_raw__dispatches_dispatch_id" in counters[0]
    assert "1 warned: accepted_values_int_messages_status" in counters[1]
    assert (
        "2 failed: not_null_stg_raw__dispatches_dispatch_id, marts.campaign_performance"
        in (counters[2])
    )
    assert counters[-1].startswith("  dbt    9/115 nodes") and "2 skipped" in counters[-1]
    assert output.dbt.failed == FAILED and output.dbt.warned == WARNED
    assert output.log_path == log
    assert str(log) in output.summary() and "2 failed" in output.summary()
    # the log: every line, in order, colour codes stripped
    text = log.read_text()
    expected = strip_ansi(FIXTURE.read_text())
    assert expected in text
    assert "\x1b" not in text
    assert text.startswith("[   0.3s] done   load_accounts")
    assert text.endswith("[  30.0s] FAILED warehouse_dbt_models    28.0s\n")


def test_not_a_tty_at_most_a_line_per_tenth(tmp_path: Path) -> None:
    _, err, output = _run(_ok_lines(93), tmp_path / "run.log", tty=False)
    counters = [line for line in err.splitlines() if line.startswith("  dbt ")]
    assert 1 <= len(counters) <= 11
    assert counters[-1] == "  dbt  93/93 nodes"
    assert (output.dbt.done, output.dbt.total) == (93, 93)
    assert "\r" not in err


def test_tty_counter_rewritten_in_place_and_ended_before_other_lines(tmp_path: Path) -> None:
    _, err, _ = _run(_ok_lines(5), tmp_path / "run.log", tty=True)
    first, counter, last = err.split("\n", 2)
    assert first == "[   0.3s] done   load_accounts    0.3s"
    assert counter.count("\r") == 5 and counter.endswith("  dbt  5/5 nodes\x1b[K")
    assert last == "[  30.0s] FAILED warehouse_dbt_models    28.0s\n"


def test_tty_counter_line_ended_at_the_end(tmp_path: Path) -> None:
    err = io.StringIO()
    with run_output(tmp_path / "run.log", stdout=io.StringIO(), stderr=err, tty=True):
        sys.stdout.write(_ok_lines(2))
    assert err.getvalue().endswith("  dbt  2/2 nodes\x1b[K\n")


def test_verbose_passes_dbt_lines_through(tmp_path: Path) -> None:
    text = FIXTURE.read_text()
    out, err, output = _run(text, tmp_path / "run.log", tty=False, verbose=True)
    assert out == strip_ansi(text)  # no colours off a terminal
    assert not [line for line in err.splitlines() if line.startswith("  dbt ")]
    assert output.dbt.done == 9  # still counted
    out, _, _ = _run(text, tmp_path / "tty.log", tty=True, verbose=True)
    assert out == text  # colours on a terminal


def test_streams_restored_and_threads_do_not_mix_lines(tmp_path: Path) -> None:
    before = sys.stdout, sys.stderr
    log = tmp_path / "run.log"

    def write(name: str) -> None:
        for i in range(200):
            sys.stdout.write(f"{name} ")
            sys.stdout.write(f"line {i}\n")

    with run_output(log, stdout=io.StringIO(), stderr=io.StringIO(), tty=False) as output:
        threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sys.stdout.write("unfinished")
        output.note("a note for the log only")
    assert (sys.stdout, sys.stderr) == before
    lines = log.read_text().splitlines()
    assert sorted(lines[:400]) == sorted(f"{n} line {i}" for n in "ab" for i in range(200))
    assert lines[400:] == ["a note for the log only", "unfinished"]


def test_an_exception_is_noted_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    try:
        with run_output(log, stdout=io.StringIO(), stderr=io.StringIO(), tty=False):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert "run output ended by KeyboardInterrupt" in log.read_text()


def test_log_file_name() -> None:
    started = datetime(2026, 12, 4, 17, 27, 50, tzinfo=UTC)
    assert log_file(Path("data/logs"), started) == Path("data/logs/run-20261204T172750Z.log")
