"""The load ledger ``raw._loads`` and the partition bookkeeping of the Spark loader.

The ledger rows, file digests and the quick check are the DuckDB loader's
(:mod:`orchestration.loading.ledger`, :mod:`orchestration.loading.planning`);
this module reads and appends ``raw._loads`` and replaces files' partitions.
"""

from __future__ import annotations

from datetime import UTC
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from orchestration.loading.ledger import Digest, FileCounts, PreviousLoad
from orchestration.spark.loading.common import BatchFile, sql_str
from orchestration.spark.loading.tables import PARTITION_COLUMN, qualified, spark_columns

LOADS = qualified("_loads")
QUARANTINE = qualified("_quarantine")


def latest_loads(spark: SparkSession, source: str) -> dict[str, PreviousLoad]:
    """The latest (not replaced) load of each file of ``source`` ever loaded, in one query."""
    found = spark.sql(
        f"""
        SELECT file, load_id, sha256, size_bytes, CAST(file_mtime AS TIMESTAMP_NTZ) AS mtime
        FROM (
            SELECT l.*, row_number() OVER (PARTITION BY file ORDER BY loaded_at DESC) AS rn
            FROM {LOADS} AS l
            WHERE source = {sql_str(source)}
              AND NOT EXISTS (SELECT 1 FROM {LOADS} AS r WHERE r.replaced_load_id = l.load_id)
        ) WHERE rn = 1
        """
    ).collect()
    return {
        r["file"]: PreviousLoad(r["load_id"], r["sha256"], int(r["size_bytes"]), r["mtime"])
        for r in found
    }


def partitions(spark: SparkSession, table: str) -> set[str]:
    """The values of ``table``'s partition column that have a partition (metastore only)."""
    column = PARTITION_COLUMN[table]
    prefix = f"{column}="
    return {
        unquote(spec.removeprefix(prefix))  # Hive escapes '/', '%', ... as %XX
        for (spec,) in spark.sql(f"SHOW PARTITIONS {qualified(table)}").collect()
    }


def drop_partitions(spark: SparkSession, table: str, files: list[str]) -> None:
    """Drop the partitions (and their data) of those of ``files`` that have one in
    ``table`` (metastore calls only, no Spark job)."""
    column = PARTITION_COLUMN[table]
    if not files or column is None:
        return
    doomed = sorted(set(files) & partitions(spark, table))
    if doomed:
        specs = ", ".join(f"PARTITION ({column} = {sql_str(f)})" for f in doomed)
        spark.sql(f"ALTER TABLE {qualified(table)} DROP IF EXISTS {specs}")


def overwrite_partitions(frame: DataFrame, table: str) -> None:
    """Write ``frame`` (the table's columns in its order) replacing the partitions it holds
    (dynamic partition overwrite: other partitions stay)."""
    frame.write.insertInto(qualified(table), overwrite=True)


def with_lineage(rows: DataFrame, batch: DataFrame, table: str) -> DataFrame:
    """Staged rows (``file_no``, ``_row_number``, own columns) with lineage, in table order."""
    joined = rows.join(F.broadcast(batch), "file_no")
    return joined.select(*(F.col(name).cast(typ).alias(name) for name, typ in spark_columns(table)))


def quarantine_rows(rows: DataFrame, batch: DataFrame) -> DataFrame:
    """Staged quarantine rows (``file_no, line_number, raw_text, reason``) as
    ``raw._quarantine``."""
    joined = rows.join(F.broadcast(batch), "file_no")
    values = {
        "source": F.col("_source"),
        "file": F.col("_file"),
        "line_number": F.col("line_number"),
        "raw_text": F.col("raw_text"),
        "reason": F.col("reason"),
        "_load_id": F.col("_load_id"),
        "quarantined_at": F.col("_loaded_at"),
    }
    return joined.select(
        *(values[name].cast(typ).alias(name) for name, typ in spark_columns("_quarantine"))
    )


def record_loads(
    spark: SparkSession,
    entries: list[tuple[BatchFile, Digest, FileCounts, PreviousLoad | None]],
) -> None:
    """Append the ledger rows of a batch's files (the batch's last write)."""
    rows = [
        (
            f.load_id,
            f.source,
            f.file,
            digest.size,
            digest.sha256,
            counts.rows_loaded,
            counts.rows_quarantined,
            earlier.load_id if earlier else None,
            f.loaded_at.replace(tzinfo=UTC),
            digest.mtime.replace(tzinfo=UTC),
        )
        for f, digest, counts, earlier in entries
    ]
    schema = ", ".join(f"{name} {typ}" for name, typ in spark_columns("_loads"))
    spark.createDataFrame(rows, schema).write.insertInto(LOADS)
