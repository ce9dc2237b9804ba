"""The two implementations of the loader rules behind one small facade, for the tests.

``DuckDBLoader`` calls :mod:`orchestration.loading` on the test's DuckDB
connection; ``SparkLoader`` calls :mod:`orchestration.spark.loading` on a
SparkSession and then copies the Spark raw tables it may have changed into the
same DuckDB connection (through Arrow, timestamps as naive UTC), so a test's SQL
assertions run unchanged on either engine's rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from orchestration import loading as duck
from orchestration.loading.result import LoadResult
from orchestration.loading.schema import BOOKKEEPING_TABLES, DATA_TABLES, tables_of

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class DuckDBLoader:
    """The DuckDB loader on ``con``."""

    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def ensure_raw_schema(self) -> None:
        duck.ensure_raw_schema(self.con)

    def load_source(self, root: Path, source: str, *, always_hash: bool = False) -> LoadResult:
        return duck.load_source(self.con, root, source, always_hash=always_hash)

    def record_unknown_files(self, root: Path) -> list[str]:
        return duck.record_unknown_files(self.con, root)

    def set_session_time_zone(self, zone: str) -> None:
        self.con.execute(f"SET TimeZone = '{zone}'")

    def column_order(self, table: str) -> list[str]:
        """The columns of a raw table in the engine's order."""
        return [name for name, _ in {**DATA_TABLES, **BOOKKEEPING_TABLES}[table]]

    def native_types(self, table: str) -> dict[str, str]:
        """Column -> type of a raw table, as the engine names it (lowercase)."""
        found = self.con.execute(
            "SELECT column_name, lower(data_type) FROM duckdb_columns() "
            "WHERE schema_name = 'raw' AND table_name = ?",
            [table],
        ).fetchall()
        return dict(found)


class SparkLoader(DuckDBLoader):
    """The Spark loader on ``spark``; its raw tables mirrored into ``con`` after each call."""

    engine = "spark"

    def __init__(self, spark: SparkSession, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(con)
        self.spark = spark

    def ensure_raw_schema(self) -> None:
        from orchestration.spark import loading

        loading.ensure_raw_schema(self.spark)
        self.mirror(list({**DATA_TABLES, **BOOKKEEPING_TABLES}))

    def load_source(self, root: Path, source: str, *, always_hash: bool = False) -> LoadResult:
        from orchestration.spark import loading

        try:
            return loading.load_source(self.spark, root, source, always_hash=always_hash)
        finally:
            tables = list(tables_of(source)) if source in {*DATA_TABLES, "webhooks"} else []
            self.mirror([*tables, "_loads", "_quarantine"])

    def record_unknown_files(self, root: Path) -> list[str]:
        from orchestration.spark import loading

        try:
            return loading.record_unknown_files(self.spark, root)
        finally:
            self.mirror(["_loads", "_quarantine"])

    def set_session_time_zone(self, zone: str) -> None:
        self.spark.conf.set("spark.sql.session.timeZone", zone)

    def column_order(self, table: str) -> list[str]:
        from orchestration.spark.loading.tables import spark_columns

        return [name for name, _ in spark_columns(table)]

    def native_types(self, table: str) -> dict[str, str]:
        return {name: typ.lower() for name, typ in self.spark.table(f"raw.`{table}`").dtypes}

    def mirror(self, tables: list[str]) -> None:
        """Copy Spark's ``raw.<table>`` into DuckDB's (replacing it), when it exists."""
        from pyspark.sql import functions as F

        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        existing = {t.name for t in self.spark.catalog.listTables("raw")}
        self.con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in tables:
            if table not in existing:
                continue
            frame = self.spark.table(f"raw.`{table}`")
            naive = [
                F.col(f"`{name}`").cast("timestamp_ntz").alias(name)
                if typ == "timestamp"
                else F.col(f"`{name}`")
                for name, typ in frame.dtypes
            ]
            arrow = frame.select(*naive).toArrow()  # noqa: F841 - read by DuckDB below
            self.con.execute(f'CREATE OR REPLACE TABLE raw."{table}" AS SELECT * FROM arrow')
