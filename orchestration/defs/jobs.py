"""Jobs and their schedule.

- ``build_warehouse`` is the pipeline, one run: the loaders, then one dbt
  build of the whole project (every seed, model and test; incremental models
  read what was loaded since their last build), then the publication for BI
  tools. A failure stops the run before the publication, so the previous
  publication stays in place. ``wa-warehouse run``, ``daily_build_schedule``
  and ``new_extract_files_sensor`` run it.
- ``load_raw``: the loaders alone.

Both write the DuckDB file: the instance's run queue lets one such run go at a
time, later ones wait (``wa/writes_warehouse``). Every launcher passes the
run's as-of time as the ``as_of`` resource's config (:func:`run_config_for`).
"""

from datetime import datetime

import dagster as dg

from orchestration.config import AS_OF_TAG, format_as_of
from orchestration.defs.loading import RAW_GROUP
from orchestration.defs.publishing import SERVING_PUBLICATION
from orchestration.defs.transform import warehouse_dbt_models

BUILD_JOB = "build_warehouse"
LOAD_JOB = "load_raw"

SCHEDULE_TIMEZONE = "UTC"
# Every job writes the DuckDB file; the instance's run queue lets one such run
# go at a time (orchestration.config.DAGSTER_YAML), later ones wait in the queue.
WRITER_TAG = "wa/writes_warehouse"
WRITER_TAGS = {WRITER_TAG: "true"}
TRIGGER_TAG = "wa/trigger"
CLI_TRIGGER = "cli"


def run_config_for(*, as_of: datetime | None, full_refresh: bool = False) -> dict:
    """Run config of a ``build_warehouse`` run for the given as-of time (None: the
    default, derived from the warehouse after the run's loads)."""
    return {
        "resources": {"as_of": {"config": {"value": format_as_of(as_of) if as_of else ""}}},
        "ops": {warehouse_dbt_models.op.name: {"config": {"full_refresh": full_refresh}}},
    }


def run_tags(trigger: str, as_of: datetime | None) -> dict[str, str]:
    """The tags every writing run carries: what started it and, when the launcher
    knows it, its as-of time (a derived one is tagged when the run resolves it)."""
    tags = {TRIGGER_TAG: trigger}
    if as_of is not None:
        tags[AS_OF_TAG] = format_as_of(as_of)
    return tags


build_warehouse = dg.define_asset_job(
    BUILD_JOB,
    selection=dg.AssetSelection.groups(RAW_GROUP)
    | dg.AssetSelection.assets(warehouse_dbt_models)
    | dg.AssetSelection.assets(dg.AssetKey(SERVING_PUBLICATION)),
    description=(
        "The pipeline: load new extract files, build the dbt project (incremental, every "
        "test included), then publish the marts for BI tools."
    ),
    tags=WRITER_TAGS,
)
load_raw = dg.define_asset_job(
    LOAD_JOB,
    selection=dg.AssetSelection.groups(RAW_GROUP),
    description="Load new and re-delivered extract files into schema raw.",
    tags=WRITER_TAGS,
)


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


jobs = [build_warehouse, load_raw]
schedules = [daily_schedule]
