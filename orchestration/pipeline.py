"""Run the pipeline in-process through Dagster (what ``wa-warehouse run`` does).

The pipeline is one run of ``build_warehouse``: load, build, publish.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.config import (
    ENV_EXTRACTS_DIR,
    ENV_SERVING_PARQUET_DIR,
    ENV_SERVING_PATH,
    ENV_WAREHOUSE_PATH,
    ConfigError,
    Settings,
    ensure_dagster_home,
)


@dataclass
class PipelineResult:
    success: bool
    as_of: datetime
    seconds: float
    failure: str | None = None
    failed_checks: tuple[str, ...] = ()
    built: bool = True  # False: nothing new since the last build, nothing was rebuilt


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


def dagster_instance() -> dg.DagsterInstance:
    """Where the run's events are stored.

    With ``DAGSTER_HOME`` set, the persistent instance there, so the run shows in
    the UI (``make dev``); otherwise an in-memory one: the SQLite event log
    commits every event to disk, which costs more than the whole build here.
    """
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral()
    ensure_dagster_home(Path(home))
    return dg.DagsterInstance.get()


# the full event log stays in Dagster's storage (the UI); the terminal gets one
# line per step and warnings
CLI_LOGGERS = {"console": {"config": {"log_level": "WARNING"}}, "progress": {}}
# which process runs an in-process CLI run: a later CLI run can tell it died
PID_TAG = "wa/pid"
HOST_TAG = "wa/host"


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
    ``full_refresh``), then the publication; a failure stops the run before the
    publication, so the previous publication stays. The as-of time is resolved
    here, once, and handed to the run as the ``as_of`` resource's config.
    """
    check_paths(settings)
    as_of = settings.resolved_as_of()
    export_settings(settings)
    from orchestration.defs.dbt_project import prepare_manifest

    prepare_manifest()  # re-parses only when a dbt file changed since
    from orchestration.definitions import build_definitions
    from orchestration.defs.jobs import BUILD_JOB, CLI_TRIGGER, run_config_for, run_tags
    from orchestration.defs.transform import warehouse_dbt_models

    defs = build_definitions(settings)
    instance = dagster_instance()
    for run_id in release_abandoned_runs(instance):
        print(f"released run {run_id}: its process died before it finished", file=sys.stderr)
    started = time.perf_counter()
    result = defs.resolve_job_def(BUILD_JOB).execute_in_process(
        run_config={
            **run_config_for(as_of=as_of, full_refresh=full_refresh),
            "loggers": CLI_LOGGERS,
        },
        instance=instance,
        raise_on_error=False,
        tags={
            **run_tags(CLI_TRIGGER, as_of),
            PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        },
    )
    return PipelineResult(
        success=result.success,
        as_of=as_of,
        seconds=time.perf_counter() - started,
        failure=None
        if result.success
        else describe_failure(result) + "\nthe previous publication stays in place",
        failed_checks=_failed_checks(result),
        built=bool(result.asset_materializations_for_node(warehouse_dbt_models.op.name)),
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> tuple[str, ...]:
    """Asset checks that did not pass: operational alarms and dbt tests of severity warn."""
    return tuple(
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}: "
        f"{evaluation.description or 'failed'}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    )


def describe_failure(result: dg.ExecuteInProcessResult) -> str:
    lines = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            lines.append(f"step {event.step_key} failed: {cause.message.strip()}")
    return "\n".join(lines) or "the run failed; see the Dagster UI (make dev) for its log"
