"""The CLI fails with a message a person can act on, and wires flags over variables."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.cli import main
from orchestration.config import Settings, parse_as_of
from tests.conftest import cli_env, run_cli


def test_missing_extracts_folder_is_a_readable_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_cli(
        "run",
        "--extracts",
        str(missing),
        "--warehouse",
        str(tmp_path / "w.duckdb"),
        env=cli_env(tmp_path),
    )
    assert result.returncode == 2
    assert f"extracts folder {missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered below")
def test_unwritable_warehouse_is_a_readable_error_for_users(tmp_path: Path) -> None:
    (tmp_path / "extracts" / "accounts").mkdir(parents=True)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    result = run_cli(
        "run",
        "--extracts",
        str(tmp_path / "extracts"),
        "--warehouse",
        str(locked / "w.duckdb"),
        env=cli_env(tmp_path),
    )
    assert result.returncode == 2
    assert "not writable" in result.stderr


def test_warehouse_path_that_cannot_be_created_is_a_readable_error(tmp_path: Path) -> None:
    (tmp_path / "extracts" / "accounts").mkdir(parents=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli(
        "run",
        "--extracts",
        str(tmp_path / "extracts"),
        "--warehouse",
        str(blocker / "w.duckdb"),
        env=cli_env(tmp_path),
    )
    assert result.returncode == 2
    assert "cannot create the folder of the warehouse" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_as_of_is_a_readable_error(tmp_path: Path) -> None:
    result = run_cli("run", "--as-of", "yesterday", env=cli_env(tmp_path))
    assert result.returncode == 2
    assert "is not an ISO 8601 timestamp" in result.stderr


def test_flags_override_variables_override_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"WA_WAREHOUSE_PATH": "/x/w.duckdb", "WA_AS_OF": "2026-11-11"})
    assert settings.warehouse_path == Path("/x/w.duckdb")
    assert settings.extracts_dir == Path("data/extracts")
    assert settings.as_of == datetime(2026, 11, 11, tzinfo=UTC)
    overridden = settings.with_overrides(warehouse_path=Path("/y.duckdb"), extracts_dir=None)
    assert overridden.warehouse_path == Path("/y.duckdb")
    assert overridden.extracts_dir == Path("data/extracts")


def test_as_of_parsing() -> None:
    assert parse_as_of("2026-11-11T00:00:00Z") == datetime(2026, 11, 11, tzinfo=UTC)
    assert parse_as_of("2026-11-11T03:00:00+03:00") == datetime(2026, 11, 11, tzinfo=UTC)


def test_generate_refuses_an_occupied_folder(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path / "x"), "--accounts", "2", "--campaigns", "2",
            "--days", "2", "--recipients-per-send", "5", "--end-date", "2026-10-31"]  # fmt: skip
    first = run_cli(*args, env=cli_env(tmp_path))
    assert first.returncode == 0, first.stderr
    assert "ground truth in" in first.stdout
    second = run_cli(*args, env=cli_env(tmp_path))
    assert second.returncode == 2
    assert second.stderr.startswith("error: ")
    assert "Traceback" not in second.stderr


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only mount such as /sys")
def test_warehouse_on_a_read_only_mount_is_a_readable_error(tmp_path: Path) -> None:
    """Even root cannot write a file under /sys: the case CI (running as root) can check."""
    (tmp_path / "extracts" / "accounts").mkdir(parents=True)
    result = run_cli(
        "run", "--extracts", str(tmp_path / "extracts"),
        "--warehouse", "/sys/wa-warehouse-test.duckdb", env=cli_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("error: cannot open warehouse")
    assert "Traceback" not in result.stderr


REMOVED = "`wa-warehouse backfill` was removed"


def test_backfill_was_removed_with_a_pointer_to_run(tmp_path: Path) -> None:
    """Old scripts calling backfill get a message saying what to run instead."""
    result = run_cli(
        "backfill", "daily", "--from", "2026-10-05", "--to", "2026-10-01",
        "--extracts", str(tmp_path / "extracts"), "--warehouse", str(tmp_path / "w.duckdb"),
        "--as-of", "2026-11-01T00:00:00Z", env=cli_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {REMOVED}")
    assert "wa-warehouse run" in result.stderr
    assert "wa-warehouse run --full-refresh" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.duckdb").exists()  # nothing ran


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["weekly", "--from", "2026-10-05", "--to", "soon"],
        ["monthly", "--from", "2026-09-30", "--to", "2026-10-01", "--full-refresh"],
    ],
)
def test_backfill_in_any_old_form_gives_the_removal_message(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backfill", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {REMOVED}")
    assert "--full-refresh" in err


def test_backfill_with_options_first_gives_the_removal_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["backfill", "--from", "2026-10-05", "--to", "2026-10-19", "weekly"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {REMOVED}")


def test_the_partitions_start_is_no_longer_read() -> None:
    """WA_PARTITIONS_START configured the removed period partitions: now it is ignored."""
    settings = Settings.from_env({"WA_PARTITIONS_START": "2025-13-01"})
    assert settings == Settings.from_env({})
    assert not hasattr(settings, "partitions_start")


def test_an_unknown_option_of_another_command_is_still_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--no-such-flag"])
    assert exit_info.value.code == 2
