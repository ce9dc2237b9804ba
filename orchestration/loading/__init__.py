"""Loading raw extracts into schema ``raw`` of the DuckDB warehouse.

Public API (wrapped as Dagster assets by ``orchestration.definitions``)::

    ensure_raw_schema(con)                          # create schema raw + tables
    load_source(con, extracts_root, source)         # -> LoadResult
    record_unknown_files(con, extracts_root)        # -> list[str]

See ``docs/raw_schema.md`` for the tables and ``docs/contract/extracts.md``
for the delivery rules these functions implement.
"""

from orchestration.loading.result import LoadResult
from orchestration.loading.runner import (
    UNKNOWN_FILE_REASON,
    load_source,
    record_unknown_files,
)
from orchestration.loading.schema import ensure_raw_schema

__all__ = [
    "UNKNOWN_FILE_REASON",
    "LoadResult",
    "ensure_raw_schema",
    "load_source",
    "record_unknown_files",
]
