"""Row counts and column schemas on the materializations of the loaders and the dbt step.

dagster-dbt's own ``fetch_row_counts()`` / ``fetch_column_metadata()`` query
the warehouse while dbt runs, which DuckDB does not allow (the dbt process
holds the file for writing). So the step keeps dbt's events until dbt exits,
then reads every built relation's columns and each table's row count in two
queries and attaches them (``dagster/row_count``, ``dagster/column_schema``:
the UI shows both). Views get their columns but no row count: counting one
runs its query. Events reach Dagster in dbt's order, also when dbt fails.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dagster as dg
import duckdb

from orchestration.resources import WarehouseResource

#: the schemas dbt builds into (macros/generate_schema_name.sql)
DBT_SCHEMAS = ("staging", "intermediate", "marts", "reference")


def with_table_metadata(
    events: Iterable[Any],
    warehouse: WarehouseResource,
    key_for_output: Callable[[str], dg.AssetKey],
) -> Iterator[Any]:
    """``events`` as they were, materializations with row counts and column schemas
    (``key_for_output``: the asset key of an op output, from the step's context)."""
    buffered: list[Any] = []
    try:
        buffered.extend(events)
    except Exception:
        # dbt failed: its process may still hold the warehouse (other threads' nodes
        # finishing), so the metadata is best effort and dbt's error is what propagates
        if warehouse.is_spark:
            warehouse.tables_written()  # what dbt did build stays readable
        yield from _attach(buffered, warehouse, key_for_output, best_effort=True)
        raise
    warehouse.tables_written()
    yield from _attach(buffered, warehouse, key_for_output)


def _relation_name(event: Any, key_for_output: Callable[[str], dg.AssetKey]) -> str | None:
    """The relation a materialization event is about: its asset key's last part."""
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key.path[-1]
    if isinstance(event, dg.Output):
        return key_for_output(event.output_name).path[-1]
    return None


def _attach(
    events: list[Any],
    warehouse: WarehouseResource,
    key_for_output: Callable[[str], dg.AssetKey],
    *,
    best_effort: bool = False,
) -> Iterator[Any]:
    names = [_relation_name(event, key_for_output) for event in events]
    wanted = {name for name in names if name}
    metadata: dict[str, dict[str, Any]] = {}
    if wanted:
        try:
            metadata = table_metadata(warehouse, wanted)
        except duckdb.Error:
            if not best_effort:
                raise
    for event, name in zip(events, names, strict=True):
        extra = metadata.get(name) if name else None
        yield event.with_metadata({**event.metadata, **extra}) if extra else event


def table_metadata(warehouse: WarehouseResource, names: set[str]) -> dict[str, dict[str, Any]]:
    """``{relation name: metadata}`` for the relations of ``names`` in the dbt schemas."""
    with warehouse.connect(read_only=True) as con:
        return relation_metadata(con, names)


def relation_metadata(
    con: duckdb.DuckDBPyConnection, names: set[str], schemas: tuple[str, ...] = DBT_SCHEMAS
) -> dict[str, dict[str, Any]]:
    """``{relation name: metadata}`` for the relations of ``names`` in ``schemas``: the
    column schema of each, the row count of each table (not of views)."""
    columns = con.execute(
        """
        select c.table_name, c.column_name, c.data_type, c.is_nullable
        from duckdb_columns() as c
        where c.schema_name in (select unnest(?::varchar[]))
            and c.table_name in (select unnest(?::varchar[]))
        order by c.table_name, c.column_index
        """,
        [list(schemas), sorted(names)],
    ).fetchall()
    tables = con.execute(
        """
        select schema_name, table_name from duckdb_tables()
        where schema_name in (select unnest(?::varchar[]))
            and table_name in (select unnest(?::varchar[]))
        """,
        [list(schemas), sorted(names)],
    ).fetchall()
    counts: dict[str, int] = {}
    if tables:
        union = " union all ".join(
            f'select \'{table}\', count(*) from "{schema}"."{table}"' for schema, table in tables
        )
        counts = dict(con.execute(union).fetchall())
    table_columns: dict[str, list[dg.TableColumn]] = {}
    for table, column, data_type, nullable in columns:
        table_columns.setdefault(table, []).append(
            dg.TableColumn(
                name=column,
                type=data_type,
                constraints=dg.TableColumnConstraints(nullable=bool(nullable)),
            )
        )
    result: dict[str, dict[str, Any]] = {}
    for table, described in table_columns.items():
        result[table] = {"dagster/column_schema": dg.TableSchema(columns=described)}
        if table in counts:
            result[table]["dagster/row_count"] = counts[table]
    return result
