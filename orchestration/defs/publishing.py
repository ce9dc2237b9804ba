"""The serving publication: the marts copied for BI tools after a successful build.

BI tools never open the working warehouse (it is locked while a run writes
it). This asset depends on every mart of the dbt project, so it runs after the
dbt build and is skipped when a model or an ERROR test fails: a failed run
leaves the previous publication in place. It is the last step of
``build_warehouse``. See ``orchestration.publish``.
"""

from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.config import format_as_of
from orchestration.defs.build_state import build_inputs, record_build
from orchestration.defs.loading import WRITES_WAREHOUSE
from orchestration.defs.transform import MART_KEYS, SERVING_GROUP
from orchestration.publish import READABLE_BY, STORAGE_VERSION, publish_marts
from orchestration.resources import AsOfResource, ServingResource, WarehouseResource

SERVING_PUBLICATION = "serving_publication"


@dg.asset(
    name=SERVING_PUBLICATION,
    group_name=SERVING_GROUP,
    deps=MART_KEYS,
    pool=WRITES_WAREHOUSE,
    kinds={"duckdb", "parquet"},
    description=(
        "Every table and view of schema `marts`, published for BI tools: a DuckDB copy "
        f"(read-only, storage {STORAGE_VERSION}: {READABLE_BY}) and one Parquet file per "
        "mart, each replaced atomically after a successful build."
    ),
)
def serving_publication(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    serving: ServingResource,
    as_of: AsOfResource,
) -> dg.MaterializeResult:
    result = publish_marts(
        Path(warehouse.path),
        serving.serving_path,
        serving.parquet_path,
        as_of=as_of.resolved,
    )
    with warehouse.connect() as con:
        record_build(con, as_of.resolved, build_inputs(con))
    context.log.info(
        f"published {len(result.tables)} marts ({result.total_rows:,} rows) to "
        f"{result.serving_path} and {result.parquet_dir} in {result.seconds:.2f}s"
    )
    return dg.MaterializeResult(
        metadata={
            "publication_id": result.publication_id,
            "path": dg.MetadataValue.path(str(result.serving_path)),
            "parquet_dir": dg.MetadataValue.path(str(result.parquet_dir)),
            "tables": len(result.tables),
            "rows": result.total_rows,
            "rows_per_table": dg.MetadataValue.json(result.rows),
            "as_of": format_as_of(as_of.resolved),
            "storage_version": STORAGE_VERSION,
            "seconds": round(result.seconds, 3),
        }
    )


publishing_assets: list[dg.AssetsDefinition] = [serving_publication]
