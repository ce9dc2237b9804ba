"""Small helpers shared by the format loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from orchestration.loading.discovery import ExtractFile

#: Temp table the runner fills before a batch's transaction: one row per file
#: of the batch, ``file_no`` = its 0-based position in the batch, with the
#: lineage values to stamp on its rows.
BATCH = "_wa_batch"
BATCH_COLUMNS = (
    "file_no BIGINT, source VARCHAR, _load_id VARCHAR, _file VARCHAR, _file_day DATE, "
    "_loaded_at TIMESTAMP"
)

#: DuckDB errors that mean "this file cannot be read" (truncated gzip, corrupt
#: parquet, bad encoding, ...). Anything else is a real failure and propagates.
READ_ERRORS: tuple[type[Exception], ...] = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.NotImplementedException,
)


@dataclass
class BatchCounts:
    """What ``write`` inserted for a batch of files.

    ``per_file``: ``file_no -> (rows_loaded, rows_quarantined)`` for the files
    that were staged (not those quarantined whole); ``table_rows``: rows
    written per raw table, the whole batch together.
    """

    per_file: dict[int, tuple[int, int]] = field(default_factory=dict)
    table_rows: dict[str, int] = field(default_factory=dict)


class FileLoader(Protocol):
    """How one format is loaded, a batch of files at a time, in two phases.

    ``stage`` reads the files (``file_no`` = position in ``files``) into
    connection-local temp tables outside any transaction and returns
    ``{file_no: reason}`` for files that must be quarantined whole (they are
    then absent from the staged rows). ``write`` runs inside the batch's
    transaction and inserts the staged rows into the raw tables and the
    quarantine, stamping lineage from the temp table :data:`BATCH`.
    ``cleanup`` drops the temp tables.
    """

    def stage(self, con: duckdb.DuckDBPyConnection, files: list[ExtractFile]) -> dict[int, str]: ...

    def write(self, con: duckdb.DuckDBPyConnection) -> BatchCounts: ...

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None: ...


def error_text(exc: BaseException, limit: int = 500) -> str:
    """The first line of an exception message (DuckDB appends a SQL excerpt)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:limit]


def ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def drop_temp(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Drop connection-local temp tables/views if they exist."""
    found = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = 'temp' AND list_contains(?, table_name)",
        [list(names)],
    ).fetchall()
    for name, kind in found:
        keyword = "VIEW" if kind == "VIEW" else "TABLE"
        con.execute(f"DROP {keyword} IF EXISTS temp.{ident(name)}")


def int_list(values: list[int]) -> str:
    """A SQL ``BIGINT[]`` literal."""
    return "([" + ", ".join(str(int(v)) for v in values) + "]::BIGINT[])"


def per_file_counts(con: duckdb.DuckDBPyConnection, sql: str) -> dict[int, int]:
    """``{file_no: n}`` from a query returning ``(file_no, n)`` rows."""
    return {int(no): int(n or 0) for no, n in con.execute(sql).fetchall()}


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """The single integer a query returns (0 for NULL)."""
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
