"""Jobs and their schedules.

Every scheduled run passes its logical time (the tick) as the dbt ``as_of``,
so a run can be repeated later with the same result. The weekly and monthly
jobs rebuild everything upstream of their table at their own as-of time, so
each table is consistent with the as-of time it states.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from orchestration.config import format_as_of
from orchestration.defs.loading import RAW_GROUP
from orchestration.defs.transform import warehouse_dbt_models

BUILD_JOB = "build_warehouse"
LOAD_JOB = "load_raw"
DAILY_JOB = "daily_build"
WEEKLY_JOB = "weekly_performance"
MONTHLY_JOB = "monthly_performance"

SCHEDULE_TIMEZONE = "UTC"
# Every job writes the DuckDB file; the instance's run queue lets one such run
# go at a time (orchestration.config.DAGSTER_YAML), later ones wait in the queue.
WRITER_TAG = "wa/writes_warehouse"
WRITER_TAGS = {WRITER_TAG: "true"}


def run_config_for(*, as_of: datetime, full_refresh: bool = False) -> dict:
    """Run config of a pipeline run for the given as-of time."""
    config = {"as_of": format_as_of(as_of), "full_refresh": full_refresh}
    return {"ops": {warehouse_dbt_models.op.name: {"config": config}}}


def _dbt_selection(dbt_select: str) -> dg.AssetSelection:
    return build_dbt_asset_selection([warehouse_dbt_models], dbt_select=dbt_select)


raw = dg.AssetSelection.groups(RAW_GROUP)
weekly_table = _dbt_selection("campaign_performance_weekly")
monthly_table = _dbt_selection("campaign_performance_monthly")

build_warehouse = dg.define_asset_job(
    BUILD_JOB,
    selection=dg.AssetSelection.all(),
    description="Load the extracts, then build every seed and model (the CLI's `run`).",
    tags=WRITER_TAGS,
)
load_raw = dg.define_asset_job(
    LOAD_JOB,
    selection=raw,
    description="Load new and re-delivered extract files into schema raw.",
    tags=WRITER_TAGS,
)
daily_build = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all() - weekly_table - monthly_table,
    description="Load new extracts and build everything but the weekly and monthly tables.",
    tags=WRITER_TAGS,
)
weekly_performance = dg.define_asset_job(
    WEEKLY_JOB,
    selection=raw | _dbt_selection("+campaign_performance_weekly"),
    description="Build campaign_performance_weekly (and what it reads) as of the week's start.",
    tags=WRITER_TAGS,
)
monthly_performance = dg.define_asset_job(
    MONTHLY_JOB,
    selection=raw | _dbt_selection("+campaign_performance_monthly"),
    description="Build campaign_performance_monthly (and what it reads) as of the month's start.",
    tags=WRITER_TAGS,
)


def _schedule(name: str, cron: str, job: dg.UnresolvedAssetJobDefinition, what: str):
    @dg.schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone=SCHEDULE_TIMEZONE,
        description=f"{what} The tick's time is the run's as_of.",
    )
    def _run_at_tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"{name}:{format_as_of(as_of)}",
            run_config=run_config_for(as_of=as_of),
            tags={"wa/as_of": format_as_of(as_of), "wa/trigger": name},
        )

    return _run_at_tick


daily_schedule = _schedule(
    "daily_build_schedule", "0 0 * * *", daily_build, "Every day at 00:00 UTC."
)
weekly_schedule = _schedule(
    "weekly_performance_schedule", "0 0 * * 1", weekly_performance, "Mondays at 00:00 UTC."
)
monthly_schedule = _schedule(
    "monthly_performance_schedule", "0 0 1 * *", monthly_performance, "On the 1st at 00:00 UTC."
)

jobs = [build_warehouse, load_raw, daily_build, weekly_performance, monthly_performance]
schedules = [daily_schedule, weekly_schedule, monthly_schedule]
