"""The Dagster entry point: ``dagster dev`` and the CLI load ``defs`` from here."""

from __future__ import annotations

import dagster as dg

from orchestration.config import Settings
from orchestration.defs.checks import asset_checks
from orchestration.defs.dbt_project import dbt_resource
from orchestration.defs.jobs import jobs, run_config_for, schedules
from orchestration.defs.loading import raw_assets
from orchestration.defs.publishing import publishing_assets
from orchestration.defs.sensors import sensors
from orchestration.defs.transform import dbt_model_assets
from orchestration.progress import step_progress_logger
from orchestration.resources import (
    AsOfResource,
    ExtractsResource,
    ServingResource,
    WarehouseResource,
)

__all__ = ["build_definitions", "defs", "run_config_for"]


def build_definitions(settings: Settings) -> dg.Definitions:
    """All assets, jobs, schedules, sensors and resources, wired to the given settings."""
    extracts = ExtractsResource(
        root=str(settings.extracts_dir), always_hash=settings.load_always_hash
    )
    warehouse = WarehouseResource(
        path=str(settings.warehouse_path),
        memory_limit=settings.memory_limit,
        engine=settings.engine,
        spark_dir=str(settings.spark_dir.absolute()),
    )
    return dg.Definitions(
        assets=[*raw_assets, *dbt_model_assets, *publishing_assets],
        asset_checks=asset_checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={
            "warehouse": warehouse,
            "extracts": extracts,
            "as_of": AsOfResource.configure_at_launch(warehouse=warehouse),
            "serving": ServingResource(
                path=str(settings.serving_path), parquet_dir=str(settings.serving_parquet_dir)
            ),
            "dbt": dbt_resource(settings.engine),
        },
        loggers={"console": dg.colored_console_logger, "progress": step_progress_logger},
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
