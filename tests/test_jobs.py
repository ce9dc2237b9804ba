"""The scheduled jobs run for real: a weekly build at the week's start, on a built warehouse."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from orchestration.config import Settings
from orchestration.definitions import build_definitions, run_config_for
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow


def test_weekly_job_builds_the_weekly_table_at_its_tick(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subset build at another as-of time must not run tests that compare it
    with tables of another build (dbt indirect selection is cautious)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("WA_EXTRACTS_DIR", str(pipeline_run.extracts))
    defs = build_definitions(Settings.from_env())
    # a tick a week before the warehouse's as-of time: the weekly table then
    # differs from campaign_performance, which this job does not rebuild
    tick = datetime.fromisoformat(pipeline_run.truth["as_of"].replace("Z", "+00:00"))
    tick -= timedelta(days=7)
    result = defs.resolve_job_def("weekly_performance").execute_in_process(
        run_config=run_config_for(as_of=tick),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    materialized = {
        event.asset_key.to_user_string() for event in result.get_asset_materialization_events()
    }
    assert "marts/campaign_performance_weekly" in materialized
    assert "marts/campaign_performance_monthly" not in materialized
