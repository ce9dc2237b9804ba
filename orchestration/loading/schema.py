"""DDL of schema ``raw`` (see ``docs/raw_schema.md``): data tables and bookkeeping.

Raw tables deliberately have no PRIMARY KEY or other constraint: a key makes
bulk inserts 4-6x slower and uniqueness is staging's business (the contract
allows the same event to arrive twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.layout import SOURCES, Source

SCHEMA = "raw"

#: Lineage columns appended to every data table.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_load_id", "varchar"),
    ("_file", "varchar"),
    ("_file_day", "date"),
    ("_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
)

TEMPLATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("account_id", "varchar"),
    ("template_name", "varchar"),
    ("language", "varchar"),
    ("category", "varchar"),
    ("status", "varchar"),
    ("components", "json"),
)

#: No copy of the delivered line: the extract file is the archive (the line is
#: line ``_row_number`` of ``_file``; ``raw._loads.sha256`` pins its bytes).
#: Keeping it cost more than all typed rows together (~1 GB of text per 1M
#: dispatches, zstd-compressed: ~2.5 s of a ~13 s load at 1M, and the staged
#: text doubled the load's memory).
WEBHOOK_DELIVERY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("delivery_id", "varchar"),
    ("received_at", "timestamp"),
)

#: Storage options of single columns (``CREATE TABLE`` only).
COLUMN_OPTIONS: dict[tuple[str, str], str] = {}

WEBHOOK_STATUS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("delivery_id", "varchar"),
    ("received_at", "timestamp"),
    ("entry_id", "varchar"),
    ("wamid", "varchar"),
    ("status", "varchar"),
    ("status_at", "timestamp"),
    ("recipient_id", "varchar"),
    ("recipient_user_id", "varchar"),
    ("error_code", "bigint"),
    ("error_title", "varchar"),
    ("error_details", "varchar"),
    ("error_count", "integer"),
    ("conversation_id", "varchar"),
    ("conversation_origin", "varchar"),
    ("is_billable", "boolean"),
    ("pricing_model", "varchar"),
    ("pricing_type", "varchar"),
    ("pricing_category", "varchar"),
)

WEBHOOK_MESSAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("delivery_id", "varchar"),
    ("received_at", "timestamp"),
    ("entry_id", "varchar"),
    ("message_id", "varchar"),
    ("from_number", "varchar"),
    ("message_type", "varchar"),
    ("message_at", "timestamp"),
    ("context_wamid", "varchar"),
    ("button_payload", "varchar"),
    ("button_text", "varchar"),
    ("interactive_type", "varchar"),
    ("interactive_reply_id", "varchar"),
    ("interactive_reply_title", "varchar"),
    ("text_body", "varchar"),
)

LOADS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("load_id", "varchar"),
    ("source", "varchar"),
    ("file", "varchar"),
    ("size_bytes", "bigint"),
    ("sha256", "varchar"),
    ("rows_loaded", "bigint"),
    ("rows_quarantined", "bigint"),
    ("replaced_load_id", "varchar"),
    ("loaded_at", "timestamp"),
    ("file_mtime", "timestamp"),  # the file's modification time when it was hashed
)

QUARANTINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "varchar"),
    ("file", "varchar"),
    ("line_number", "bigint"),
    ("raw_text", "varchar"),
    ("reason", "varchar"),
    ("_load_id", "varchar"),
    ("quarantined_at", "timestamp"),
)


@dataclass(frozen=True)
class OptionalColumn:
    """A text column a file may leave out (older files): absent or blank means ``default``.

    A value is compared case-insensitively, without surrounding whitespace,
    and stored lowercase; any value not in ``accepted`` quarantines its row.
    """

    name: str
    default: str
    accepted: tuple[str, ...]


#: Optional contract columns of tabular sources (docs/contract/extracts.md), after the
#: required ones of ``layout.SOURCES``. A file without them loads as if every row
#: carried the default.
OPTIONAL_COLUMNS: dict[str, tuple[OptionalColumn, ...]] = {
    "dispatches": (OptionalColumn("api", "cloud_api", ("cloud_api", "marketing_messages_api")),),
}


@dataclass(frozen=True)
class RowRule:
    """A consistency rule between text columns of one row: when ``column`` holds ``value``
    (compared case-insensitively, without surrounding whitespace), each of ``blank`` must
    be empty; a row that breaks it is quarantined whole, with one reason per filled column:
    ``<column> <VALUE> with a <filled column>: "<its value>" (<why>)``."""

    column: str
    value: str
    blank: tuple[str, ...]
    why: str


#: Row rules of tabular sources (docs/contract/extracts.md), checked with the types: a
#: ``HOLDOUT`` dispatch is a recipient withheld as the campaign's control group, never
#: handed to WhatsApp, so it has neither a wamid nor a drop code.
ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "dispatches": (
        RowRule(
            "result",
            "HOLDOUT",
            ("wamid", "drop_code"),
            "a holdout recipient is never sent: no wamid, no drop_code",
        ),
    ),
}


def tabular_columns(source: Source) -> tuple[tuple[str, str], ...]:
    """Contract columns of a tabular source with their DuckDB types (optional ones last)."""
    optional = tuple((c.name, "varchar") for c in OPTIONAL_COLUMNS.get(source.name, ()))
    return tuple((c.name, c.type.value) for c in source.columns) + optional


def _data_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    tables: dict[str, tuple[tuple[str, str], ...]] = {}
    for source in SOURCES.values():
        if source.columns:
            tables[source.name] = tabular_columns(source)
    tables["templates"] = TEMPLATE_COLUMNS
    tables["webhook_deliveries"] = WEBHOOK_DELIVERY_COLUMNS
    tables["webhook_statuses"] = WEBHOOK_STATUS_COLUMNS
    tables["webhook_messages"] = WEBHOOK_MESSAGE_COLUMNS
    return {name: cols + LINEAGE_COLUMNS for name, cols in tables.items()}


#: Every data table of schema ``raw`` (name -> columns incl. lineage).
DATA_TABLES: dict[str, tuple[tuple[str, str], ...]] = _data_tables()

#: Bookkeeping tables.
BOOKKEEPING_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "_loads": LOADS_COLUMNS,
    "_quarantine": QUARANTINE_COLUMNS,
}


def tables_of(source: str) -> tuple[str, ...]:
    """The raw data tables a source writes (all carry ``_file``)."""
    if source == "webhooks":
        return ("webhook_deliveries", "webhook_statuses", "webhook_messages")
    if source in DATA_TABLES:
        return (source,)
    raise KeyError(f"unknown source {source!r}")


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists (a raw table before the first load, a mart before
    the first build): a table, or a view (with the spark engine every table of the
    warehouse file is a view over Spark's, orchestration/spark/catalog.py)."""
    query = (
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?"
    )
    return con.execute(query, [schema, table]).fetchone()[0] > 0


def qualified(table: str) -> str:
    """``raw.<table>`` with the table name quoted."""
    return f'{SCHEMA}."{table}"'


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``raw`` and all its tables if they are missing (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name, columns in {**DATA_TABLES, **BOOKKEEPING_TABLES}.items():
        cols = ", ".join(
            f'"{col}" {typ} {COLUMN_OPTIONS.get((name, col), "")}'.rstrip() for col, typ in columns
        )
        con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(name)} ({cols})")
    # a warehouse made while deliveries kept their line (raw_line) or body keeps
    # those columns and their rows; the loader inserts by column name (nulls there)
    # a warehouse made before the loaders' quick check: its loads have no mtime
    # (those files are hashed once more, then skipped by size and mtime)
    con.execute(f"ALTER TABLE {qualified('_loads')} ADD COLUMN IF NOT EXISTS file_mtime timestamp")
    # a warehouse made before an optional column existed gets it (appended after the
    # lineage columns; its earlier rows hold null there, which staging reads as the default)
    for table, optional in OPTIONAL_COLUMNS.items():
        for column in optional:
            con.execute(
                f"ALTER TABLE {qualified(table)} ADD COLUMN IF NOT EXISTS {column.name} varchar"
            )
