"""The DuckDB window onto the Spark warehouse (``WA_ENGINE=spark``).

Spark writes every table as a folder of Parquet files,
``<WA_SPARK_DIR>/warehouse/<schema>.db/<table>/``. The orchestration reads them
without a JVM of its own: the DuckDB file ``WA_WAREHOUSE_PATH`` (with the spark
engine, ``data/warehouse-spark.duckdb`` by default) holds one view per Spark
table, ``<schema>.<table>``, over its files. The asset checks, the publication,
the report and ``trace`` therefore read the Spark build with the SQL they read
the DuckDB build with. The views are (re)created after every step that writes
Spark tables (:func:`refresh_views`); a view reads the files present when it
is queried, so a table Spark rewrote is read as it is now.

Spark writes ``timestamp`` columns as UTC instants, which DuckDB reads as
``timestamp with time zone``: the views cast them back to the naive UTC
``timestamp`` of the DuckDB build. A table partitioned by a column (folders
``<column>=<value>``) gets that column back as text, as Spark wrote it.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

#: the schemas dbt and the loader write (``<schema>.db`` folders)
SCHEMAS = ("raw", "reference", "staging", "intermediate", "marts")

_PARTITION_FOLDER = re.compile(r"^[^=/]+=")


def spark_tables(warehouse_dir: Path) -> dict[tuple[str, str], Path]:
    """``{(schema, table): folder}`` of every Spark table under ``warehouse_dir``."""
    found: dict[tuple[str, str], Path] = {}
    for schema in SCHEMAS:
        schema_dir = warehouse_dir / f"{schema}.db"
        if not schema_dir.is_dir():
            continue
        for folder in sorted(schema_dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                found[(schema, folder.name)] = folder
    return found


def _is_partitioned(folder: Path) -> bool:
    return any(child.is_dir() and _PARTITION_FOLDER.match(child.name) for child in folder.iterdir())


def _view_sql(con: duckdb.DuckDBPyConnection, folder: Path) -> str | None:
    """The select of one table's view, or None when the folder holds no Parquet file yet."""
    if next(folder.rglob("*.parquet"), None) is None:
        return None
    partitioned = _is_partitioned(folder)
    source = (
        f"read_parquet('{_sql_text(folder)}/**/*.parquet', "
        f"hive_partitioning = {str(partitioned).lower()}, hive_types_autocast = false, "
        "union_by_name = true)"
    )
    columns = con.execute(f"describe select * from {source}").fetchall()
    selected = []
    for name, column_type, *_ in columns:
        quoted = f'"{name}"'
        if column_type == "TIMESTAMP WITH TIME ZONE":
            selected.append(f"cast({quoted} as timestamp) as {quoted}")
        else:
            selected.append(quoted)
    return f"select {', '.join(selected)} from {source}"


def refresh_views(con: duckdb.DuckDBPyConnection, warehouse_dir: Path) -> list[str]:
    """Create or replace a view for every Spark table under ``warehouse_dir`` (and drop
    the views of tables Spark dropped); the ``schema.table`` names that have one."""
    con.execute("set TimeZone = 'UTC'")
    tables = spark_tables(Path(warehouse_dir).absolute())
    existing = {
        (schema, name)
        for schema, name in con.execute(
            "select schema_name, view_name from duckdb_views() "
            "where database_name = current_database() and not internal"
        ).fetchall()
    }
    viewed: list[str] = []
    for (schema, table), folder in tables.items():
        select = _view_sql(con, folder)
        if select is None:
            continue
        con.execute(f'create schema if not exists "{schema}"')
        con.execute(f'create or replace view "{schema}"."{table}" as {select}')
        viewed.append(f"{schema}.{table}")
    for schema, name in existing:
        if schema in SCHEMAS and f"{schema}.{name}" not in viewed:
            con.execute(f'drop view "{schema}"."{name}"')
    return viewed


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
