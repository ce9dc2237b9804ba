"""Run the pipeline in-process through Dagster (what ``wa-warehouse run`` does).

The pipeline is one run of ``build_warehouse``: load, build, publish.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import duckdb

from orchestration.config import (
    AS_OF_TAG,
    ENV_DAGSTER_HOME,
    ENV_ENGINE,
    ENV_EXTRACTS_DIR,
    ENV_SERVING_PARQUET_DIR,
    ENV_SERVING_PATH,
    ENV_SPARK_DIR,
    ENV_WAREHOUSE_PATH,
    ConfigError,
    Settings,
    ensure_dagster_home,
    parse_as_of,
)


@dataclass
class PipelineResult:
    success: bool  # no step failed (checks that failed are ``errors`` and ``warnings``)
    as_of: datetime | None  # None: the run failed before it resolved its as-of time
    seconds: float
    failure: str | None = None
    # failed checks of severity ERROR: they blocked the build or the publication
    errors: tuple[str, ...] = ()
    # failed checks of severity WARN (dbt tests of severity warn included)
    warnings: tuple[str, ...] = ()
    built: bool = True  # False: nothing was rebuilt (nothing new, or a check blocked it)
    published: bool = True  # the serving publication was replaced by this run
    run_id: str = ""


def check_paths(settings: Settings) -> None:
    """Fail early, with a message a person can act on, on unusable paths."""
    extracts = settings.extracts_dir
    if not extracts.is_dir():
        raise ConfigError(
            f"extracts folder {extracts} does not exist or is not a folder: deliver extracts "
            f"there, generate a sample (wa-warehouse generate --out {extracts}), "
            f"or point --extracts / {ENV_EXTRACTS_DIR} elsewhere"
        )
    warehouse = settings.warehouse_path
    if warehouse.is_dir():
        raise ConfigError(f"warehouse path {warehouse} is a folder; give a file path")
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the folder of the warehouse {warehouse}: {error.strerror}; "
            f"choose a writable path with --warehouse / {ENV_WAREHOUSE_PATH}"
        ) from error
    target = warehouse if warehouse.exists() else warehouse.parent
    if not os.access(target, os.W_OK):
        raise ConfigError(
            f"warehouse {warehouse} is not writable; "
            f"choose a writable path with --warehouse / {ENV_WAREHOUSE_PATH}"
        )
    try:
        duckdb.connect(str(warehouse)).close()
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise ConfigError(
                f"warehouse {warehouse} is in use by another process (a running pipeline "
                "or a tool holding it open); wait for it to finish and try again"
            ) from error
        raise ConfigError(f"cannot open warehouse {warehouse}: {error}") from error


def export_settings(settings: Settings) -> None:
    """Publish the locations as environment variables (absolute paths).

    The dbt profile (``profiles.yml``) reads the warehouse path from there, and
    anything that imports ``orchestration.definitions.defs`` in this process
    gets the same locations as the run.
    """
    os.environ[ENV_EXTRACTS_DIR] = str(settings.extracts_dir.resolve())
    os.environ[ENV_WAREHOUSE_PATH] = str(settings.warehouse_path.resolve())
    os.environ[ENV_SERVING_PATH] = str(settings.serving_path.resolve())
    os.environ[ENV_SERVING_PARQUET_DIR] = str(settings.serving_parquet_dir.resolve())
    os.environ[ENV_ENGINE] = settings.engine
    os.environ[ENV_SPARK_DIR] = str(settings.spark_dir.resolve())


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The persistent Dagster instance the run's events are stored in:
    ``DAGSTER_HOME``, by default ``dagster/`` beside the warehouse (``data/dagster``),
    the one ``make dev`` opens, so every CLI run, materialization and check shows
    in the UI."""
    home = settings.dagster_home.resolve()
    ensure_dagster_home(home)
    os.environ[ENV_DAGSTER_HOME] = str(home)
    return dg.DagsterInstance.get()


# the full event log stays in Dagster's storage (the UI); the terminal gets one
# line per step and one per warning (orchestration.progress), and a failure's
# summary from ``wa-warehouse run``
CLI_LOGGERS = {"progress": {}}
# which process runs an in-process CLI run: a later CLI run can tell it died
PID_TAG = "wa/pid"
HOST_TAG = "wa/host"


class _NothingToBuildFilter(logging.Filter):
    """Drops Dagster's warning that a blocking check of the dbt step emitted no result:
    a run with nothing new builds nothing (``transform._build``), so none of the dbt
    tests runs, and the publication is skipped anyway. (A build that does run reports
    every test: tests/integration/test_dbt_build.py.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return "emitted no result in step 'warehouse_dbt_models'" not in record.getMessage()


logging.getLogger("dagster._core.execution.plan.active").addFilter(_NothingToBuildFilter())


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the CLI runs of this host whose process died, and free their slots.

    A killed ``wa-warehouse run`` (SIGKILL, power loss) leaves its run STARTED
    in a persistent Dagster instance, holding its ``warehouse_writer`` pool
    slot, and every later run would wait for it forever. The process that
    owned it is gone, so nothing can still be writing: the run is marked
    failed and its slots are freed. Returns the run ids released.
    """
    host = socket.gethostname()
    released = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: host},
        )
    )
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        instance.report_run_failed(run, f"process {pid} on {host} ended without finishing the run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    return released


def run_pipeline(settings: Settings, *, full_refresh: bool = False) -> PipelineResult:
    """Load what is new, build, publish: one ``build_warehouse`` run, in-process.

    The loaders, one dbt build of the whole project (incremental unless
    ``full_refresh``), then the publication; a failure, or a check of severity
    ERROR that fails, stops the run before the publication, so the previous
    publication stays. An explicit as-of time is handed to the run as the
    ``as_of`` resource's config; without one the run derives it after its loads
    (``AsOfResource``) and tags the run with it, where this reads it back.
    """
    check_paths(settings)
    export_settings(settings)
    from orchestration.defs.dbt_project import prepare_manifest

    prepare_manifest()  # re-parses only when a dbt file changed since
    from orchestration.definitions import build_definitions
    from orchestration.defs.jobs import BUILD_JOB, CLI_TRIGGER, run_config_for, run_tags
    from orchestration.defs.publishing import SERVING_PUBLICATION
    from orchestration.defs.transform import warehouse_dbt_models

    defs = build_definitions(settings)
    instance = dagster_instance(settings)
    for run_id in release_abandoned_runs(instance):
        print(f"released run {run_id}: its process died before it finished", file=sys.stderr)
    started = time.perf_counter()
    result = defs.resolve_job_def(BUILD_JOB).execute_in_process(
        run_config={
            **run_config_for(as_of=settings.as_of, full_refresh=full_refresh),
            "loggers": CLI_LOGGERS,
        },
        instance=instance,
        raise_on_error=False,
        tags={
            **run_tags(CLI_TRIGGER, settings.as_of),
            PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        },
    )
    seconds = time.perf_counter() - started
    run = instance.get_run_by_id(result.run_id)
    as_of_tag = run.tags.get(AS_OF_TAG) if run else None
    errors = failed_checks(result, dg.AssetCheckSeverity.ERROR)
    failures = failed_steps(result)
    if not result.success and not failures and not errors:
        failures = ["the run failed; see its log in the Dagster UI (make dev)"]
    return PipelineResult(
        success=not failures,
        as_of=parse_as_of(as_of_tag) if as_of_tag else None,
        seconds=seconds,
        failure="\n".join([*failures, "the previous publication stays in place"])
        if failures
        else None,
        errors=errors,
        warnings=failed_checks(result, dg.AssetCheckSeverity.WARN),
        built=bool(result.asset_materializations_for_node(warehouse_dbt_models.op.name)),
        published=bool(result.asset_materializations_for_node(SERVING_PUBLICATION)),
        run_id=result.run_id,
    )


def failed_checks(
    result: dg.ExecuteInProcessResult, severity: dg.AssetCheckSeverity
) -> tuple[str, ...]:
    """The asset checks of a severity that did not pass: operational checks and dbt tests."""
    return tuple(
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}: "
        f"{evaluation.description or 'failed'}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and evaluation.severity == severity
    )


#: the error of a step whose blocking checks failed with severity ERROR: the
#: checks are reported as such, not as a failed step
BLOCKED_BY_CHECKS = "DagsterAssetCheckFailedError"


def failed_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step (steps that only report failed blocking checks aside)."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            if error.cls_name == BLOCKED_BY_CHECKS:
                continue
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            lines.append(f"step {event.step_key} failed: {cause.message.strip()}")
    return lines
