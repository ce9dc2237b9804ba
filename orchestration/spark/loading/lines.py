"""Reading (possibly gzipped) text files as physical lines, in one Spark read per batch.

Each file is read whole (``spark.read.text(..., wholetext=True)``; Spark inflates
``.gz``) and split on LF only, so a physical line is exactly what the DuckDB
loader's exact reader sees: a CR before the LF is dropped, a CR anywhere else is
kept (``oops\\rmore`` stays one line), the empty piece after a final LF is no
line, and ``line_number`` is the 1-based position. A line that is not valid UTF-8
or holds a NUL byte gets a ``read_error`` (DuckDB's reader rejects such lines).

A gzip file is first checked in Python (streamed through :mod:`gzip`; a
truncated or corrupt stream would fail the whole Spark job): an unreadable file
is returned with its reason instead of being read. One file is one JVM string,
so a file must hold less than 2 GiB of text.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

LINE_SCHEMA = "file_no bigint, line_number bigint, text string, read_error string"

_CHUNK = 1 << 20


def gzip_problem(path: Path) -> str | None:
    """Why a gzip file cannot be read (truncated, corrupt), or None."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(_CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"cannot read file: corrupt or truncated GZIP stream ({exc})"
    return None


def read_lines(
    spark: SparkSession, files: list[tuple[int, Path]]
) -> tuple[DataFrame, dict[int, str]]:
    """``(file_no, line_number, text, read_error)`` of every line of ``files`` (``file_no``,
    path; all in one folder), and ``{file_no: reason}`` of the files that cannot be read."""
    reasons: dict[int, str] = {}
    readable: list[tuple[int, Path]] = []
    for no, path in files:
        problem = gzip_problem(path) if path.name.endswith(".gz") else None
        if problem is not None:
            reasons[no] = problem
        else:
            readable.append((no, path))
    if not readable:
        return spark.createDataFrame([], LINE_SCHEMA), reasons
    names = spark.createDataFrame(
        [(path.name, no) for no, path in readable], "name string, file_no bigint"
    )
    whole = spark.read.text([str(path) for _, path in readable], wholetext=True).select(
        F.col("_metadata.file_name").alias("name"), F.split("value", "\n", -1).alias("parts")
    )
    pieces = whole.join(F.broadcast(names), "name").select(
        "file_no", F.size("parts").alias("n"), F.posexplode("parts").alias("pos", "line")
    )
    lines = pieces.where(~((F.col("pos") == F.col("n") - 1) & (F.col("line") == ""))).select(
        "file_no",
        (F.col("pos") + 1).cast("bigint").alias("line_number"),
        F.regexp_replace("line", "\r$", "").alias("text"),
        F.expr(
            "CASE WHEN NOT is_valid_utf8(line) THEN 'INVALID UNICODE: the line is not valid UTF-8'"
            " WHEN instr(line, chr(0)) > 0 THEN 'NUL BYTE: the line holds a NUL character' END"
        ).alias("read_error"),
    )
    return lines, reasons


def non_blank(text: str = "text", read_error: str = "read_error") -> str:
    """SQL predicate: the line counts (blank and whitespace-only lines are ignored)."""
    return rf"({read_error} IS NOT NULL OR NOT {text} RLIKE '^\\s*\\z')"


def line_reason(text: str = "text", read_error: str = "read_error") -> str:
    """SQL CASE giving why a non-blank line is not a JSON object (NULL if it is)."""
    return rf"""CASE
        WHEN {read_error} IS NOT NULL THEN 'unreadable line: ' || {read_error}
        WHEN try_parse_json({text}) IS NULL THEN 'invalid JSON (malformed or truncated line)'
        WHEN NOT {text} RLIKE '^\\s*\\{{' THEN 'not a JSON object'
    END"""


def json_object(text: str = "text", read_error: str = "read_error") -> str:
    """SQL: the line parsed once as a VARIANT if it is a JSON object, else NULL."""
    return (
        rf"CASE WHEN {read_error} IS NULL AND {text} RLIKE '^\\s*\\{{' "
        f"THEN try_parse_json({text}) END"
    )
