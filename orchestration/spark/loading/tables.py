"""Database ``raw`` in the Spark catalog: the tables of ``docs/raw_schema.md`` as Parquet.

The columns and their order come from the DuckDB loader's declarations
(:mod:`orchestration.loading.schema`), with Spark types for the DuckDB ones.
Every data table is partitioned by ``_file`` and ``raw._quarantine`` by ``file``
(Spark puts a partition column last): replacing a file's rows is replacing its
partition. ``raw._loads`` is not partitioned (append only).
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from orchestration.loading.schema import BOOKKEEPING_TABLES, DATA_TABLES, SCHEMA
from orchestration.spark.loading.common import ident

#: DuckDB type -> Spark type (``json`` is kept as its text).
SPARK_TYPES: dict[str, str] = {
    "varchar": "string",
    "json": "string",
    "bigint": "bigint",
    "integer": "int",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "decimal(18,4)": "decimal(18,4)",
}

#: The partition column of each table (``raw._loads`` has none).
PARTITION_COLUMN: dict[str, str | None] = {
    **dict.fromkeys(DATA_TABLES, "_file"),
    "_quarantine": "file",
    "_loads": None,
}


def spark_columns(table: str) -> list[tuple[str, str]]:
    """(name, Spark type) of a raw table in its Spark order (the partition column last)."""
    declared = {**DATA_TABLES, **BOOKKEEPING_TABLES}[table]
    part = PARTITION_COLUMN[table]
    columns = [(name, SPARK_TYPES[typ]) for name, typ in declared if name != part]
    columns += [(name, SPARK_TYPES[typ]) for name, typ in declared if name == part]
    return columns


def qualified(table: str) -> str:
    """``raw.<table>`` quoted."""
    return f"{SCHEMA}.{ident(table)}"


def ensure_raw_schema(spark: SparkSession) -> None:
    """Create database ``raw`` and the missing raw tables (idempotent)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
    existing = {t.name for t in spark.catalog.listTables(SCHEMA)}
    for table in {**DATA_TABLES, **BOOKKEEPING_TABLES}:
        if table in existing:
            continue
        columns = ", ".join(f"{ident(n)} {t}" for n, t in spark_columns(table))
        part = PARTITION_COLUMN[table]
        partitioned = f" PARTITIONED BY ({ident(part)})" if part else ""
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {qualified(table)} ({columns}) USING parquet{partitioned}"
        )
