"""Raw loader assets: one per extract source, into schema ``raw``.

Each asset loads the new or re-delivered files of its source folder (see
``orchestration.loading``) and reports what it did as materialization
metadata. Loading is idempotent: a rerun over the same files changes nothing.
"""

import os
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.config import ENV_SPARK_DIR
from orchestration.defs.table_metadata import relation_metadata
from orchestration.layout import SOURCES, layout_hint
from orchestration.loading import (
    LoadResult,
    ensure_raw_schema,
    load_source,
    record_unknown_files,
)
from orchestration.loading.schema import SCHEMA as RAW_SCHEMA
from orchestration.resources import ExtractsResource, WarehouseResource

RAW_GROUP = "raw"
WRITES_WAREHOUSE = "warehouse_writer"  # concurrency pool: one writer of the DuckDB file

# Most sources land in one raw table named after them; webhooks land in three.
RAW_TABLES: dict[str, tuple[str, ...]] = {
    name: (name,) for name in SOURCES if name != "webhooks"
} | {"webhooks": ("webhook_deliveries", "webhook_statuses", "webhook_messages")}

RAW_TABLE_DESCRIPTIONS: dict[str, str] = {
    "webhook_deliveries": "Webhook deliveries, one row per JSONL line, kept byte for byte.",
    "webhook_statuses": "Typed rows of entry[].changes[].value.statuses[] of every delivery.",
    "webhook_messages": "Typed rows of entry[].changes[].value.messages[] (inbound replies).",
}


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


def _spark_environment(warehouse: WarehouseResource) -> dict[str, str]:
    return {**os.environ, ENV_SPARK_DIR: str(Path(warehouse.spark_dir).absolute())}


def load_with_spark(
    warehouse: WarehouseResource, extracts: ExtractsResource, source: str
) -> LoadResult:
    """Load one source with the pyspark loader, in the run's loader process (one JVM
    for every loader asset of the run, stopped before dbt starts); then refresh the
    warehouse file's views of the Spark tables."""
    from orchestration.spark.loader_process import spark_loader

    loader = spark_loader(_spark_environment(warehouse))
    result = loader.load(extracts.path, source, always_hash=extracts.always_hash)
    warehouse.tables_written()
    return result


def record_unknown_files_with_spark(
    warehouse: WarehouseResource, extracts: ExtractsResource
) -> list[str]:
    from orchestration.spark.loader_process import spark_loader

    unknown = spark_loader(_spark_environment(warehouse)).record_unknown_files(extracts.path)
    warehouse.tables_written()
    return unknown


def _loader_asset(source: str) -> dg.AssetsDefinition:
    tables = RAW_TABLES[source]
    specs = [
        dg.AssetSpec(
            key=raw_asset_key(table),
            group_name=RAW_GROUP,
            kinds={"duckdb"},
            description=RAW_TABLE_DESCRIPTIONS.get(
                table, f"The `{source}` extracts, typed, with lineage columns."
            ),
            metadata={"source_folder": SOURCES[source].folder},
        )
        for table in tables
    ]

    @dg.multi_asset(
        name=f"load_{source}",
        specs=specs,
        pool=WRITES_WAREHOUSE,
        description=f"Load new and re-delivered `{SOURCES[source].folder}/` extract files.",
    )
    def load(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        extracts: ExtractsResource,
    ):
        if warehouse.is_spark:
            result = load_with_spark(warehouse, extracts, source)
        with warehouse.connect() as con:
            if not warehouse.is_spark:
                ensure_raw_schema(con)
                result = load_source(con, extracts.path, source, always_hash=extracts.always_hash)
            tables_metadata = relation_metadata(con, set(tables), schemas=(RAW_SCHEMA,))
        context.log.info(
            f"{source}: {result.files_loaded} file(s) loaded, {result.files_skipped} unchanged, "
            f"{result.rows_loaded} rows, {result.rows_quarantined} quarantined"
        )
        for file, reason in result.quarantined_files:
            context.log.warning(f"quarantined {file}: {reason} (raw._quarantine)")
        for table in tables:
            yield dg.MaterializeResult(
                asset_key=raw_asset_key(table),
                metadata={**result.to_metadata(), **tables_metadata.get(table, {})},
            )

    return load


@dg.asset(
    key=raw_asset_key("_unknown_files"),
    group_name=RAW_GROUP,
    kinds={"duckdb"},
    pool=WRITES_WAREHOUSE,
    description="Files under the extracts root that match no layout name; reported, never loaded.",
)
def unknown_extract_files(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    extracts: ExtractsResource,
) -> dg.MaterializeResult:
    if warehouse.is_spark:
        unknown = record_unknown_files_with_spark(warehouse, extracts)
    else:
        with warehouse.connect() as con:
            ensure_raw_schema(con)
            unknown = record_unknown_files(con, extracts.path)
    for name in unknown:
        context.log.warning(f"not loaded: {name}: {layout_hint(name)}")
    return dg.MaterializeResult(
        metadata={"unknown_files": len(unknown), "files": dg.MetadataValue.json(unknown)}
    )


loader_assets: list[dg.AssetsDefinition] = [_loader_asset(source) for source in SOURCES]
raw_assets: list[dg.AssetsDefinition] = [*loader_assets, unknown_extract_files]
