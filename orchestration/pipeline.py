"""Run the whole pipeline in-process through Dagster (what ``wa-warehouse run`` does)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.config import (
    ENV_AS_OF,
    ENV_EXTRACTS_DIR,
    ENV_SERVING_PARQUET_DIR,
    ENV_SERVING_PATH,
    ENV_WAREHOUSE_PATH,
    ConfigError,
    Settings,
    ensure_dagster_home,
    format_as_of,
)


@dataclass
class PipelineResult:
    success: bool
    as_of: datetime
    seconds: float
    failure: str | None = None
    failed_checks: tuple[str, ...] = ()


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


def export_settings(settings: Settings, as_of: datetime) -> None:
    """Publish the settings as environment variables (absolute paths).

    The dbt subprocess and any code that builds the definitions read these.
    """
    os.environ[ENV_EXTRACTS_DIR] = str(settings.extracts_dir.resolve())
    os.environ[ENV_WAREHOUSE_PATH] = str(settings.warehouse_path.resolve())
    os.environ[ENV_SERVING_PATH] = str(settings.serving_path.resolve())
    os.environ[ENV_SERVING_PARQUET_DIR] = str(settings.serving_parquet_dir.resolve())
    os.environ[ENV_AS_OF] = format_as_of(as_of)


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


def run_pipeline(settings: Settings, *, full_refresh: bool = False) -> PipelineResult:
    """Load the extracts and build the warehouse in one in-process Dagster run."""
    check_paths(settings)
    as_of = settings.resolved_as_of()
    export_settings(settings, as_of)

    from orchestration.definitions import BUILD_JOB, build_definitions, run_config_for

    defs = build_definitions(Settings.from_env())
    job = defs.resolve_job_def(BUILD_JOB)
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config={
            **run_config_for(as_of=as_of, full_refresh=full_refresh),
            # the full event log stays in Dagster's storage (the UI); the terminal
            # gets one line per step and warnings
            "loggers": {"console": {"config": {"log_level": "WARNING"}}, "progress": {}},
        },
        instance=dagster_instance(),
        raise_on_error=False,
        tags={"wa/as_of": format_as_of(as_of), "wa/trigger": "cli"},
    )
    return PipelineResult(
        success=result.success,
        as_of=as_of,
        seconds=time.perf_counter() - started,
        failure=None if result.success else _describe_failure(result),
        failed_checks=_failed_checks(result),
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> tuple[str, ...]:
    """Asset checks that did not pass: operational alarms and dbt tests of severity warn."""
    return tuple(
        f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}: "
        f"{evaluation.description or 'failed'}"
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    )


def _describe_failure(result: dg.ExecuteInProcessResult) -> str:
    lines = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            lines.append(f"step {event.step_key} failed: {cause.message.strip()}")
    return "\n".join(lines) or "the run failed; see the Dagster UI (make dev) for its log"
