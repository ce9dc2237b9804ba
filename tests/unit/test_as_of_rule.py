"""The default as-of time: the next UTC midnight after the newest extract day of a
file that loaded rows, resolved once per run; empty, quarantined and replaced files
never move it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.config import ConfigError, Settings
from orchestration.definitions import build_definitions
from orchestration.defs.jobs import run_config_for
from orchestration.loading.ledger import newest_delivered_day, newest_loaded_day
from orchestration.loading.schema import ensure_raw_schema
from orchestration.resources import AsOfResource, WarehouseResource


def record(
    warehouse: Path,
    file: str,
    rows_loaded: int,
    rows_quarantined: int = 0,
    *,
    load_id: str | None = None,
    replaces: str | None = None,
) -> None:
    """One row of the load ledger, as a loader writes it."""
    con = duckdb.connect(str(warehouse))
    try:
        ensure_raw_schema(con)
        con.execute(
            "insert into raw._loads (load_id, source, file, rows_loaded, rows_quarantined, "
            "replaced_load_id, loaded_at) values (?, ?, ?, ?, ?, ?, now()::timestamp)",
            [load_id or file, file.split("/")[0], file, rows_loaded, rows_quarantined, replaces],
        )
    finally:
        con.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """Two good days, then later files that must not count."""
    warehouse = tmp_path / "w.duckdb"
    record(warehouse, "dispatches/dispatches-2026-10-30.csv", 10, 1)
    record(warehouse, "webhooks/webhooks-2026-10-31.jsonl", 5)
    record(warehouse, "dispatches/dispatches-2026-12-10.csv", 0, 1)  # 0 bytes: quarantined
    record(warehouse, "webhooks/webhooks-2026-12-11.jsonl", 0, 1)  # random bytes
    record(warehouse, "clicks/clicks-2026-12-12.csv", 0, 0)  # header only: no events
    record(warehouse, "clicks/clicks-2026-12-13.csv", 0, 4)  # every row quarantined
    # a file that loaded rows, then was re-delivered empty: its latest load counts
    record(warehouse, "conversions/conversions-2026-12-14.csv", 3, load_id="first")
    record(warehouse, "conversions/conversions-2026-12-14.csv", 0, load_id="2nd", replaces="first")
    return warehouse


def test_only_files_that_loaded_rows_set_the_newest_day(ledger: Path) -> None:
    con = duckdb.connect(str(ledger), read_only=True)
    try:
        assert newest_loaded_day(con) == date(2026, 10, 31)
        # freshness counts an empty file as a delivery (a day without events), not a
        # file quarantined whole or one whose every row was quarantined
        assert newest_delivered_day(con, "clicks") == date(2026, 12, 12)
        assert newest_delivered_day(con, "dispatches") == date(2026, 10, 30)
        assert newest_delivered_day(con, "unsubscribes") is None
    finally:
        con.close()


def test_the_as_of_resource_defaults_to_the_midnight_after_the_newest_loaded_day(
    ledger: Path,
) -> None:
    warehouse = WarehouseResource(path=str(ledger))
    assert AsOfResource(warehouse=warehouse).resolved == datetime(2026, 11, 1, tzinfo=UTC)
    assert AsOfResource(warehouse=warehouse, value=" ").resolved == datetime(
        2026, 11, 1, tzinfo=UTC
    )
    given = AsOfResource(warehouse=warehouse, value="2026-11-11T03:00:00+03:00")
    assert given.resolved == datetime(2026, 11, 11, tzinfo=UTC)


def test_nothing_loaded_is_a_readable_error(tmp_path: Path) -> None:
    warehouse = WarehouseResource(path=str(tmp_path / "none.duckdb"))
    with pytest.raises(ConfigError, match="no extract file has loaded rows"):
        _ = AsOfResource(warehouse=warehouse).resolved


def test_the_as_of_time_is_resolved_once_per_run_and_tagged(tmp_path: Path) -> None:
    """Every step of a run sees the same as-of time, even when a load lands meanwhile;
    the run is tagged with it (the UI shows it)."""
    warehouse = tmp_path / "w.duckdb"
    record(warehouse, "clicks/clicks-2026-10-30.csv", 2)
    seen: list[datetime] = []

    @dg.op
    def first(as_of: AsOfResource) -> None:
        seen.append(as_of.resolved)
        record(warehouse, "clicks/clicks-2026-11-05.csv", 2)  # a newer load lands

    @dg.op(ins={"after": dg.In(dg.Nothing)})
    def second(as_of: AsOfResource) -> None:
        seen.append(as_of.resolved)

    @dg.job
    def probe() -> None:
        second(after=first())

    settings = Settings.from_env({"WA_WAREHOUSE_PATH": str(warehouse)})
    # the resources the pipeline's definitions wire up, the as_of one configured at launch
    probe_defs = dg.Definitions(jobs=[probe], resources=build_definitions(settings).resources)
    job = probe_defs.resolve_job_def("probe")
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(instance=instance)
    assert result.success
    assert seen == [datetime(2026, 10, 31, tzinfo=UTC)] * 2
    assert instance.get_run_by_id(result.run_id).tags["wa/as_of"] == "2026-10-31T00:00:00Z"
    # the next run resolves it again: the newer load counts now
    seen.clear()
    assert job.execute_in_process(instance=instance).success
    assert seen == [datetime(2026, 11, 6, tzinfo=UTC)] * 2
    # a launcher's value wins over the ledger
    seen.clear()
    config = {"resources": run_config_for(as_of=datetime(2026, 12, 1, tzinfo=UTC))["resources"]}
    assert job.execute_in_process(run_config=config, instance=instance).success
    assert seen == [datetime(2026, 12, 1, tzinfo=UTC)] * 2
