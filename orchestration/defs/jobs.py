"""Jobs, their schedules, and the chain that runs the pipeline in order.

A Dagster job cannot mix assets of different partitions definitions, so the
pipeline is five jobs, always run in this order (``PIPELINE``), each one run:

1. ``build_warehouse``: the loaders, then every seed and model but the period
   marts (unpartitioned).
2. ``daily_performance``, 3. ``weekly_performance``, 4. ``monthly_performance``:
   one period mart each. Run without a partition, a mart recomputes the periods
   touched since its last build; run for a partition or a range of partitions
   (a backfill: one run, ``BackfillPolicy.single_run``), exactly the periods
   starting inside that window.
5. ``publish_serving``: the dbt tests across marts (``cross_mart_tests``), then
   the publication for BI tools.

Every run of one pipeline carries the same ``wa/as_of`` tag and the same
``as_of``/``full_refresh`` config, and a run starts only after the previous
one succeeded: a failure stops the pipeline before the publication, so the
previous publication stays in place and nothing half-built is published.

- ``wa-warehouse run`` runs the five jobs one after the other in-process
  (``orchestration.pipeline``).
- In the daemon (``make dev``), ``pipeline_chain_sensor`` (a run-status
  sensor, on by default) launches the next job each time a pipeline run
  succeeds: a ``build_warehouse`` run (launched by ``daily_build_schedule``,
  ``new_extract_files_sensor`` or by hand) starts a chain, tagged ``wa/chain``
  with its run id. It ignores CLI runs (the CLI runs its own chain) and runs
  outside a chain (backfills, the weekly and monthly schedules).

A chain, rather than one sensor launching the four follow-up runs at once:
the runs share one writer (the run queue lets one ``wa/writes_warehouse`` run
go at a time, in no guaranteed order), and the publication must come last.

Schedules pass their tick as ``as_of``. ``daily_build_schedule`` starts the
pipeline; ``weekly_performance_schedule`` and ``monthly_performance_schedule``
rebuild the week or month that just ended (its partition) from the
intermediate tables: the daily chain has already kept it up to date, so this
is a safety net, and the publication picks it up with the next chain.
"""

from collections.abc import Mapping
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
PIPELINE = (BUILD_JOB, DAILY_JOB, WEEKLY_JOB, MONTHLY_JOB, PUBLISH_JOB)

SCHEDULE_TIMEZONE = "UTC"
# Every job writes the DuckDB file; the instance's run queue lets one such run
# go at a time (orchestration.config.DAGSTER_YAML), later ones wait in the queue.
WRITER_TAG = "wa/writes_warehouse"
WRITER_TAGS = {WRITER_TAG: "true"}
TRIGGER_TAG = "wa/trigger"
CLI_TRIGGER = "cli"
CHAIN_TAG = "wa/chain"  # the id of the build_warehouse run that started the chain

# The op that takes the dbt build config (as_of, full_refresh) in each job.
DBT_OPS: dict[str, str] = {
    BUILD_JOB: warehouse_dbt_models.op.name,
    **{PERIOD_JOBS[period]: assets.op.name for period, assets in period_marts.items()},
}


def run_config_for(*, as_of: datetime, full_refresh: bool = False, job: str = BUILD_JOB) -> dict:
    """Run config of a pipeline job's run for the given as-of time."""
    if job not in DBT_OPS:
        return {}
    config = {"as_of": format_as_of(as_of), "full_refresh": full_refresh}
    return {"ops": {DBT_OPS[job]: {"config": config}}}


raw = dg.AssetSelection.groups(RAW_GROUP)

build_warehouse = dg.define_asset_job(
    BUILD_JOB,
    selection=raw | dg.AssetSelection.assets(warehouse_dbt_models),
    description=(
        "Load new extract files, then build every seed and model but the period marts. "
        "In the daemon, success launches the period marts, then the publication."
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
    selection=dg.AssetSelection.assets(CROSS_MART_TESTS, dg.AssetKey(SERVING_PUBLICATION)),
    description="Run the dbt tests across marts, then publish the marts for BI tools.",
    tags=WRITER_TAGS,
)


def _tick_tags(name: str, as_of: datetime) -> dict[str, str]:
    return {AS_OF_TAG: format_as_of(as_of), TRIGGER_TAG: name}


@dg.schedule(
    name="daily_build_schedule",
    cron_schedule="0 0 * * *",
    job=build_warehouse,
    execution_timezone=SCHEDULE_TIMEZONE,
    description=(
        "Every day at 00:00 UTC: the whole pipeline (build_warehouse, then the period marts "
        "and the publication through pipeline_chain_sensor). The tick's time is the run's as_of."
    ),
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"daily_build_schedule:{format_as_of(as_of)}",
        run_config=run_config_for(as_of=as_of),
        tags=_tick_tags("daily_build_schedule", as_of),
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
            f"{what}: rebuilds the {period.removesuffix('ly')} that just ended (its "
            "partition). The tick's time is the run's as_of."
        ),
    )
    def _closing(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"{name}:{format_as_of(as_of)}",
            partition_key=closed_period_key(period, as_of),
            run_config=run_config_for(as_of=as_of, job=PERIOD_JOBS[period]),
            tags=_tick_tags(name, as_of),
        )

    return _closing


weekly_schedule = _closing_schedule("weekly", "0 0 * * 1", "Mondays at 00:00 UTC")
monthly_schedule = _closing_schedule("monthly", "0 0 1 * *", "On the 1st at 00:00 UTC")


def next_in_chain(job_name: str, tags: Mapping[str, str]) -> str | None:
    """The pipeline job to launch after a successful run of ``job_name``, if any."""
    if tags.get(TRIGGER_TAG) == CLI_TRIGGER or job_name not in PIPELINE[:-1]:
        return None
    if job_name != BUILD_JOB and not tags.get(CHAIN_TAG):
        return None  # a backfill or a scheduled period rebuild: not part of a pipeline
    return PIPELINE[PIPELINE.index(job_name) + 1]


def dbt_settings_of(run: dg.DagsterRun) -> tuple[str | None, bool]:
    """The as-of time (tag, else dbt config) and full_refresh flag a pipeline run used."""
    configs = [
        op.get("config") or {}
        for op in ((run.run_config or {}).get("ops") or {}).values()
        if isinstance(op, dict)
    ]
    as_of = run.tags.get(AS_OF_TAG) or next((c["as_of"] for c in configs if c.get("as_of")), None)
    return as_of, any(c.get("full_refresh") for c in configs)


def chain_request(run: dg.DagsterRun) -> dg.RunRequest | None:
    """The run request of the next pipeline step after ``run`` succeeded, if any."""
    job = next_in_chain(run.job_name, run.tags)
    if job is None:
        return None
    chain = run.tags.get(CHAIN_TAG) or run.run_id
    as_of, full_refresh = dbt_settings_of(run)
    config = {"as_of": as_of, "full_refresh": full_refresh}
    tags = {CHAIN_TAG: chain, TRIGGER_TAG: run.tags.get(TRIGGER_TAG, "manual")}
    if as_of:
        tags[AS_OF_TAG] = as_of
    return dg.RunRequest(
        run_key=f"{chain}:{job}",
        job_name=job,
        run_config={"ops": {DBT_OPS[job]: {"config": config}}} if job in DBT_OPS else {},
        tags=tags,
    )


@dg.run_status_sensor(
    name="pipeline_chain_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[build_warehouse, *period_jobs.values()],
    request_jobs=[*period_jobs.values(), publish_serving],
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After a successful build_warehouse run: daily_performance, weekly_performance, "
        "monthly_performance (the periods touched), then publish_serving, each after the "
        "previous one succeeded, with the same as_of and full_refresh."
    ),
)
def pipeline_chain_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    run = context.dagster_run
    request = chain_request(run)
    if request is None:
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} is not part of a pipeline chain")
    context.log.info(f"{run.job_name} succeeded ({run.run_id}): launching {request.job_name}")
    return request


jobs = [build_warehouse, load_raw, *period_jobs.values(), publish_serving]
schedules = [daily_schedule, weekly_schedule, monthly_schedule]
chain_sensors = [pipeline_chain_sensor]
