"""Jobs and their schedules.

- ``build_warehouse`` is the pipeline, one run: the loaders, then one dbt
  invocation that builds the whole project (every seed and model, the period
  marts' touched periods, every test), then the publication for BI tools.
  A failure stops the run before the publication, so the previous publication
  stays in place and nothing half-built is published. ``wa-warehouse run``,
  ``daily_build_schedule`` and ``new_extract_files_sensor`` run it.
- ``daily_performance``, ``weekly_performance``, ``monthly_performance``: one
  period mart each, partitioned: run for a partition or a range of partitions
  (a backfill: one run, ``BackfillPolicy.single_run``), they recompute exactly
  the periods starting inside that window; without a partition, the periods
  touched since the mart's last build.
- ``publish_serving``: the dbt tests across marts (``cross_mart_tests``), then
  the publication: what publishes a backfill without waiting for the next
  ``build_warehouse``.
- ``load_raw``: the loaders alone.

Every job writes the DuckDB file: the instance's run queue lets one such run
go at a time, later ones wait (``wa/writes_warehouse``).

Schedules pass their tick as ``as_of``. ``daily_build_schedule`` runs the
pipeline; ``weekly_performance_schedule`` and ``monthly_performance_schedule``
rebuild the week or month that just ended (its partition) from the
intermediate tables: the daily build has already kept it up to date, so this
is a safety net, and the next ``build_warehouse`` publishes it.
"""

from datetime import datetime, timedelta

import dagster as dg

from orchestration.config import AS_OF_TAG, format_as_of
from orchestration.defs.loading import RAW_GROUP
from orchestration.defs.publishing import SERVING_PUBLICATION
from orchestration.defs.transform import CROSS_MART_TESTS, period_marts, warehouse_dbt_models

BUILD_JOB = "build_warehouse"
LOAD_JOB = "load_raw"
DAILY_JOB = "daily_performance"
WEEKLY_JOB = "weekly_performance"
MONTHLY_JOB = "monthly_performance"
PUBLISH_JOB = "publish_serving"
PERIOD_JOBS = {"daily": DAILY_JOB, "weekly": WEEKLY_JOB, "monthly": MONTHLY_JOB}
CLOSED_PERIOD = {"weekly": "week", "monthly": "month"}  # the periods a schedule closes

SCHEDULE_TIMEZONE = "UTC"
# Every job writes the DuckDB file; the instance's run queue lets one such run
# go at a time (orchestration.config.DAGSTER_YAML), later ones wait in the queue.
WRITER_TAG = "wa/writes_warehouse"
WRITER_TAGS = {WRITER_TAG: "true"}
TRIGGER_TAG = "wa/trigger"
CLI_TRIGGER = "cli"

# The op that takes the dbt build config (as_of, full_refresh) in each job.
DBT_OPS: dict[str, str] = {
    BUILD_JOB: warehouse_dbt_models.op.name,
    **{PERIOD_JOBS[period]: assets.op.name for period, assets in period_marts.items()},
}


def run_config_for(*, as_of: datetime, full_refresh: bool = False, job: str = BUILD_JOB) -> dict:
    """Run config of a job's run for the given as-of time."""
    if job not in DBT_OPS:
        return {}
    config = {"as_of": format_as_of(as_of), "full_refresh": full_refresh}
    return {"ops": {DBT_OPS[job]: {"config": config}}}


raw = dg.AssetSelection.groups(RAW_GROUP)
publication = dg.AssetSelection.assets(dg.AssetKey(SERVING_PUBLICATION))

build_warehouse = dg.define_asset_job(
    BUILD_JOB,
    selection=raw | dg.AssetSelection.assets(warehouse_dbt_models) | publication,
    description=(
        "The pipeline: load new extract files, build the whole dbt project in one invocation "
        "(the period marts' touched periods and every test included), then publish the marts "
        "for BI tools."
    ),
    tags=WRITER_TAGS,
)
load_raw = dg.define_asset_job(
    LOAD_JOB,
    selection=raw,
    description="Load new and re-delivered extract files into schema raw.",
    tags=WRITER_TAGS,
)
period_jobs = {
    period: dg.define_asset_job(
        PERIOD_JOBS[period],
        selection=dg.AssetSelection.assets(assets),
        description=(
            f"Build campaign_performance_{period}: without a partition, the periods touched "
            "since its last build; for partitions (a backfill is one run), exactly those."
        ),
        tags=WRITER_TAGS,
    )
    for period, assets in period_marts.items()
}
publish_serving = dg.define_asset_job(
    PUBLISH_JOB,
    selection=dg.AssetSelection.assets(CROSS_MART_TESTS) | publication,
    description=(
        "Run the dbt tests across marts, then publish the marts for BI tools (after a "
        "backfill; build_warehouse publishes on its own)."
    ),
    tags=WRITER_TAGS,
)


def run_tags(trigger: str, as_of: datetime) -> dict[str, str]:
    """The tags every writing run carries: its as-of time and what started it."""
    return {AS_OF_TAG: format_as_of(as_of), TRIGGER_TAG: trigger}


@dg.schedule(
    name="daily_build_schedule",
    cron_schedule="0 0 * * *",
    job=build_warehouse,
    execution_timezone=SCHEDULE_TIMEZONE,
    description=(
        "Every day at 00:00 UTC: the pipeline (build_warehouse: load, build, publish). "
        "The tick's time is the run's as_of."
    ),
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"daily_build_schedule:{format_as_of(as_of)}",
        run_config=run_config_for(as_of=as_of),
        tags=run_tags("daily_build_schedule", as_of),
    )


def closed_period_key(period: str, tick: datetime) -> str:
    """The partition of the period that ended at ``tick`` (the one holding the day before)."""
    partitions = period_marts[period].partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition)
    return partitions.get_partition_key_for_timestamp((tick - timedelta(days=1)).timestamp())


def _closing_schedule(period: str, cron: str, what: str) -> dg.ScheduleDefinition:
    name = f"{PERIOD_JOBS[period]}_schedule"

    @dg.schedule(
        name=name,
        cron_schedule=cron,
        job=period_jobs[period],
        execution_timezone=SCHEDULE_TIMEZONE,
        description=(
            f"{what}: rebuilds the {CLOSED_PERIOD[period]} that just ended (its "
            "partition). The tick's time is the run's as_of."
        ),
    )
    def _closing(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"{name}:{format_as_of(as_of)}",
            partition_key=closed_period_key(period, as_of),
            run_config=run_config_for(as_of=as_of, job=PERIOD_JOBS[period]),
            tags=run_tags(name, as_of),
        )

    return _closing


weekly_schedule = _closing_schedule("weekly", "0 0 * * 1", "Mondays at 00:00 UTC")
monthly_schedule = _closing_schedule("monthly", "0 0 1 * *", "On the 1st at 00:00 UTC")

jobs = [build_warehouse, load_raw, *period_jobs.values(), publish_serving]
schedules = [daily_schedule, weekly_schedule, monthly_schedule]
