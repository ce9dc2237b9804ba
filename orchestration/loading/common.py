"""Small helpers shared by the format loaders."""

from __future__ import annotations

from typing import Protocol

import duckdb

from orchestration.loading.discovery import ExtractFile
from orchestration.loading.ledger import FileCounts, LoadContext

#: DuckDB errors that mean "this file cannot be read" (truncated gzip, corrupt
#: parquet, bad encoding, ...). Anything else is a real failure and propagates.
READ_ERRORS: tuple[type[Exception], ...] = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.NotImplementedException,
)


class FileLoader(Protocol):
    """How one format is loaded, in two phases.

    ``stage`` reads the file into connection-local temp tables outside any
    transaction and returns a reason when the whole file must be quarantined.
    ``write`` runs inside the file's transaction and inserts the staged rows
    into the raw tables and the quarantine. ``cleanup`` drops the temp tables.
    """

    def stage(self, con: duckdb.DuckDBPyConnection, file: ExtractFile) -> str | None: ...

    def write(self, con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> FileCounts: ...

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


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    """The single integer a query returns (0 for NULL)."""
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
