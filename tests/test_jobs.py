"""On a built warehouse, for real: the pipeline run records every model and test, a
backfill of weeks is one run, the dbt unit tests pass."""

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
from orchestration.defs.jobs import BUILD_JOB, WEEKLY_JOB
from orchestration.defs.transform import period_marts, warehouse_dbt_models
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


def test_the_pipeline_run_records_every_model_and_test_of_its_one_dbt_build(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The period marts and the tests across marts are built in the same dbt invocation:
    Dagster still records each model's materialization and each dbt test's result, and the
    publication waits for the step's checks."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("WA_EXTRACTS_DIR", str(pipeline_run.extracts))
    monkeypatch.setenv("WA_SERVING_PATH", str(tmp_path / "serving.duckdb"))
    monkeypatch.setenv("WA_SERVING_PARQUET_DIR", str(tmp_path / "serving"))
    for name in ("WA_AS_OF", "WA_PERIOD_START", "WA_PERIOD_END"):
        monkeypatch.setenv(name, "")
    defs = build_definitions(Settings.from_env())
    as_of = datetime.fromisoformat(pipeline_run.truth["as_of"].replace("Z", "+00:00"))
    invocations_before = set(Path("target").glob("warehouse_dbt_models-*"))
    result = defs.resolve_job_def(BUILD_JOB).execute_in_process(
        run_config=run_config_for(as_of=as_of),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    # one dbt invocation (its target folder; older ones may be pruned meanwhile)
    assert len(set(Path("target").glob("warehouse_dbt_models-*")) - invocations_before) == 1
    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    period_marts_built = {f"marts/campaign_performance_{period}" for period in period_marts}
    own = {key.to_user_string() for key in warehouse_dbt_models.keys}
    assert own | period_marts_built | {"serving_publication"} <= materialized
    checks = {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }
    # every dbt test of the step's assets has a passing result (none left unevaluated)...
    own_tests = {
        (key.asset_key.to_user_string(), key.name) for key in warehouse_dbt_models.check_keys
    }
    assert ("marts/campaign_performance", "unique_campaign_performance_campaign_id") in own_tests
    assert {check: checks.get(check) for check in own_tests} == dict.fromkeys(own_tests, True)
    # ...and so do the period marts' tests, as evaluations of their own assets' checks
    period_tests = {
        (key.asset_key.to_user_string(), key.name)
        for assets in period_marts.values()
        for key in assets.check_keys
    }
    assert period_tests
    assert {check: checks.get(check) for check in period_tests} == dict.fromkeys(period_tests, True)


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
