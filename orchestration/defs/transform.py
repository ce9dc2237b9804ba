"""The dbt project as Dagster assets: every model and seed, with dbt tests as asset checks."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.config import default_as_of, format_as_of, parse_as_of
from orchestration.defs.dbt_project import dbt_project, prepare_manifest
from orchestration.defs.loading import WRITES_WAREHOUSE
from orchestration.resources import ExtractsResource

_LAYERS = ("staging", "intermediate", "marts")


class DbtBuildConfig(dg.Config):
    """Operator settings of a dbt build (the Dagster launchpad shows these)."""

    as_of: str | None = None
    """ISO 8601 as-of time; empty: the next UTC midnight after the newest extract day."""
    full_refresh: bool = False
    """Rebuild incremental models from scratch."""


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (staging, intermediate, marts, reference).

    Tests on the raw sources become asset checks of the loader assets.
    """

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return next((part for part in fqn if part in _LAYERS), "marts")


def dbt_build_args(*, as_of: str, full_refresh: bool) -> list[str]:
    """The dbt CLI arguments of a build for the given as-of time."""
    args = ["build", "--vars", json.dumps({"as_of": as_of})]
    if full_refresh:
        args.append("--full-refresh")
    return args


@dbt_assets(
    manifest=prepare_manifest(),
    project=dbt_project,
    dagster_dbt_translator=WarehouseDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    ),
    pool=WRITES_WAREHOUSE,
)
def warehouse_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    extracts: ExtractsResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    as_of = parse_as_of(config.as_of) if config.as_of else default_as_of(extracts.path)
    context.log.info(f"dbt build as of {format_as_of(as_of)}")
    args = dbt_build_args(as_of=format_as_of(as_of), full_refresh=config.full_refresh)
    yield from dbt.cli(args, context=context).stream()
