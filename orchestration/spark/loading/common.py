"""Small helpers of the Spark loader: SQL text, error text, the batch lineage table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

#: Quarantine reasons quote at most this much of a value (as the DuckDB loader).
VALUE_IN_REASON = 200


def sql_str(text: str) -> str:
    """A single-quoted Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    """A backquoted Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def is_blank(col: str) -> str:
    """SQL predicate: the text value is NULL, empty or whitespace (= null)."""
    return rf"({col} IS NULL OR {col} RLIKE '^\\s*\\z')"


def error_text(exc: BaseException, limit: int = 500) -> str:
    """The first line of what went wrong, from a Spark/Py4J exception or any other."""
    java = getattr(exc, "java_exception", None)
    text = ""
    if java is not None:
        try:  # the innermost cause names the real problem (e.g. "not a Parquet file")
            cause = java
            while cause.getCause() is not None:
                cause = cause.getCause()
            text = str(cause.toString())
        except Exception:
            text = ""
    text = text or str(exc).strip() or type(exc).__name__
    return text.strip().splitlines()[0][:limit]


@dataclass
class Staged:
    """What a format loader staged for a batch (Spark DataFrames, not yet written).

    ``reasons``: ``{file_no: reason}`` of files to quarantine whole; ``tables``:
    raw table -> rows with ``file_no``, ``_row_number`` and the table's own columns
    (typed); ``quarantine``: ``file_no, line_number, raw_text, reason``;
    ``per_file``: ``{file_no: (rows_loaded, rows_quarantined)}`` of staged files;
    ``persisted``: DataFrames to unpersist once the batch is written.
    """

    reasons: dict[int, str]
    tables: dict[str, DataFrame]
    quarantine: DataFrame | None
    per_file: dict[int, tuple[int, int]] = field(default_factory=dict)
    table_rows: dict[str, int] = field(default_factory=dict)
    persisted: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        for frame in self.persisted:
            frame.unpersist()


@dataclass(frozen=True)
class BatchFile:
    """Lineage of one file of a batch, by its ``file_no``."""

    file_no: int
    source: str
    load_id: str
    file: str
    file_day: date | None
    loaded_at: datetime  # naive UTC


def batch_frame(spark: SparkSession, files: list[BatchFile]) -> DataFrame:
    """The lineage of the batch's files as a small DataFrame (timestamps read as UTC)."""
    frame = spark.createDataFrame(
        [(f.file_no, f.source, f.load_id, f.file, f.file_day, f.loaded_at) for f in files],
        "file_no bigint, _source string, _load_id string, _file string, _file_day date, "
        "loaded_ntz timestamp_ntz",
    )
    return frame.select("*", F.col("loaded_ntz").cast("timestamp").alias("_loaded_at")).drop(
        "loaded_ntz"
    )
