"""``load_source`` and ``record_unknown_files``: the entry points the assets call.

Per file: hash it; skip it if the latest load of its path has the same
sha256; otherwise stage it into temp tables (outside any transaction), then in
ONE transaction delete what its earlier version wrote, insert the new rows and
quarantine rows, and append its ``raw._loads`` row. Any error inside rolls the
whole file back and propagates, so the next run picks the file up again.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from orchestration.layout import SOURCES, Source
from orchestration.loading import ledger
from orchestration.loading.common import FileLoader
from orchestration.loading.discovery import ExtractFile, source_files, unknown_files
from orchestration.loading.ledger import QUARANTINE, LoadContext
from orchestration.loading.result import LoadResult
from orchestration.loading.schema import ensure_raw_schema
from orchestration.loading.tabular import TabularLoader
from orchestration.loading.templates import TemplatesLoader
from orchestration.loading.webhooks import WebhooksLoader

UNKNOWN_FILE_REASON = "file name does not match the extract layout"


def prepare_connection(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every load relies on (UTC for timestamp parsing)."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")


def loader_for(source: Source) -> FileLoader:
    """The format loader of a source."""
    if source.name == "webhooks":
        return WebhooksLoader()
    if source.name == "templates":
        return TemplatesLoader()
    if source.columns:
        return TabularLoader(source)
    raise ValueError(f"no loader for source {source.name!r}")


def load_source(con: duckdb.DuckDBPyConnection, extracts_root: Path, source: str) -> LoadResult:
    """Load every new or changed file of ``source`` under ``extracts_root``.

    ``con`` is a read-write connection in autocommit mode (each file gets its
    own transaction); its session time zone is set to UTC. Raises on anything
    but a bad file or bad rows (those are quarantined), after rolling back the
    file in progress.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCES)}")
    started = time.perf_counter()
    spec = SOURCES[source]
    prepare_connection(con)
    ensure_raw_schema(con)
    loader = loader_for(spec)
    result = LoadResult(source=source)
    for file in source_files(Path(extracts_root), spec):
        result.files_seen += 1
        _load_file(con, loader, file, result)
    result.seconds = time.perf_counter() - started
    return result


def _load_file(
    con: duckdb.DuckDBPyConnection, loader: FileLoader, file: ExtractFile, result: LoadResult
) -> None:
    digest = ledger.file_digest(file.path)
    previous = ledger.latest_load(con, file.rel)
    if previous is not None and previous.sha256 == digest.sha256:
        result.files_skipped += 1
        return
    try:
        file_reason = loader.stage(con, file)  # a reason: quarantine the whole file
        ctx = LoadContext(
            load_id=ledger.new_load_id(),
            source=file.source,
            file=file.rel,
            file_day=file.day,
            loaded_at=ledger.utc_now(),  # stamped on the rows and the ledger row
        )
        con.execute("BEGIN TRANSACTION")
        try:
            if previous is not None:
                ledger.delete_file_rows(con, file.source, file.rel)
            if file_reason is None:
                counts = loader.write(con, ctx)
            else:
                counts = ledger.quarantine_file(con, ctx, file_reason)
            ledger.record_load(con, ctx, digest, counts, previous)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        loader.cleanup(con)
    result.files_loaded += 1
    result.files_replaced += previous is not None
    result.files_quarantined += file_reason is not None
    result.rows_loaded += counts.rows_loaded
    result.rows_quarantined += counts.rows_quarantined
    result.bytes_read += digest.size
    result.add_table_rows(counts.table_rows)


def record_unknown_files(con: duckdb.DuckDBPyConnection, extracts_root: Path) -> list[str]:
    """Report files under the root that match no layout pattern, once each.

    ``raw._quarantine`` ends up holding exactly one row per currently unknown
    file (``line_number`` null, ``_load_id`` null, reason
    :data:`UNKNOWN_FILE_REASON`): new ones are added, rows of files that are
    gone or now match the layout are removed. Returns the relative paths of
    all currently unknown files, sorted.
    """
    prepare_connection(con)
    ensure_raw_schema(con)
    found = unknown_files(Path(extracts_root))
    files = [f.rel for f in found]
    sources = [f.source for f in found]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""
            DELETE FROM {QUARANTINE}
            WHERE _load_id IS NULL AND reason = ? AND NOT list_contains(?::VARCHAR[], file)
            """,
            [UNKNOWN_FILE_REASON, files],
        )
        con.execute(
            f"""
            INSERT INTO {QUARANTINE}
            SELECT u.source, u.file, NULL, NULL, ?, NULL, ?
            FROM (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::VARCHAR[]) AS source) AS u
            WHERE NOT EXISTS (
                SELECT 1 FROM {QUARANTINE} AS q
                WHERE q._load_id IS NULL AND q.reason = ? AND q.file = u.file
            )
            """,
            [UNKNOWN_FILE_REASON, ledger.utc_now(), files, sources, UNKNOWN_FILE_REASON],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return files
