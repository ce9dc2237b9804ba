"""On a built warehouse, for real: a backfill of weeks is one run; the dbt unit tests pass."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.config import Settings
from orchestration.definitions import build_definitions, run_config_for
from orchestration.defs.dbt_project import dbt_resource
from orchestration.defs.jobs import WEEKLY_JOB
from orchestration.defs.transform import period_marts
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow


def _weekly_rows(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select * from marts.campaign_performance_weekly order by all"
        ).fetchall()
    finally:
        con.close()


def test_a_backfill_of_weeks_is_one_run_that_rebuilds_the_same_rows(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three weeks' partitions in one run and one dbt invocation, with the weeks' window;
    rebuilding them from unchanged data gives the same table, row for row."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("WA_EXTRACTS_DIR", str(pipeline_run.extracts))
    for name in ("WA_AS_OF", "WA_PERIOD_START", "WA_PERIOD_END"):
        monkeypatch.setenv(name, "")  # the build sets them; restored afterwards
    before = _weekly_rows(warehouse)
    defs = build_definitions(Settings.from_env())
    as_of = datetime.fromisoformat(pipeline_run.truth["as_of"].replace("Z", "+00:00"))
    weeks = period_marts["weekly"].partitions_def
    last = weeks.get_partition_key_for_timestamp((as_of - timedelta(days=1)).timestamp())
    first = (datetime.fromisoformat(last) - timedelta(weeks=2)).date().isoformat()
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(WEEKLY_JOB).execute_in_process(
        run_config=run_config_for(as_of=as_of, job=WEEKLY_JOB),
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success
    assert len(instance.get_run_records()) == 1
    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert materialized == {"marts/campaign_performance_weekly"}
    end = (datetime.fromisoformat(last) + timedelta(weeks=1)).date().isoformat()
    assert (os.environ["WA_PERIOD_START"], os.environ["WA_PERIOD_END"]) == (first, end)
    assert _weekly_rows(warehouse) == before


def test_the_dbt_unit_tests_pass(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daily builds skip the dbt unit tests (only a full refresh runs them): run them here."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)  # unit tests read their inputs' columns
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    invocation = dbt_resource().cli(
        ["test", "--select", "test_type:unit"], target_path=Path("target", "unit-tests")
    )
    results = [
        event.raw_event["data"]
        for event in invocation.stream_raw_events()
        if event.raw_event["info"]["name"] == "LogTestResult"
    ]
    assert invocation.is_successful(), [r["name"] for r in results if r["status"] != "pass"]
    assert len(results) >= 10
