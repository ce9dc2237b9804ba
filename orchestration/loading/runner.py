"""``load_source`` and ``record_unknown_files``: the entry points the assets call.

Every file is hashed; a file whose sha256 equals that of the latest load of
its path is skipped. The other (new or changed) files of a source are loaded
in batches of consecutive files (at most :data:`BATCH_BYTES` of text each): a
batch is staged into temp tables by ONE read of all its files (outside any
transaction; DuckDB reads the files in parallel), then in ONE transaction
the rows of earlier versions of its files are deleted, the new rows and
quarantine rows inserted (one INSERT per table for the whole batch) and one
``raw._loads`` row per file appended. Every file of a batch therefore lands
wholly or not at all: any error inside rolls the whole batch back (ledger
included) and propagates, so the next run picks all its files up again.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from orchestration.layout import SOURCES, Source
from orchestration.loading import ledger
from orchestration.loading.common import BATCH, BATCH_COLUMNS, FileLoader, drop_temp
from orchestration.loading.discovery import source_files, unknown_files
from orchestration.loading.ledger import QUARANTINE, FileCounts, LoadContext
from orchestration.loading.planning import Pending, batches, plan_files
from orchestration.loading.result import LoadResult
from orchestration.loading.schema import ensure_raw_schema
from orchestration.loading.tabular import TabularLoader
from orchestration.loading.templates import TemplatesLoader
from orchestration.loading.webhooks import WebhooksLoader

UNKNOWN_FILE_REASON = "file name does not match the extract layout"

#: Most text one batch stages at once (see :mod:`orchestration.loading.planning`:
#: staging holds a batch's parsed values in memory); here so a test can shrink it.
BATCH_BYTES = 1 << 30


def prepare_connection(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every load relies on.

    UTC for timestamp parsing; insertion order preserved (DuckDB's default),
    as line and row numbers are derived from the order rows are staged in.
    """
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = true")
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


def load_source(
    con: duckdb.DuckDBPyConnection,
    extracts_root: Path,
    source: str,
    *,
    always_hash: bool = False,
) -> LoadResult:
    """Load every new or changed file of ``source`` under ``extracts_root``.

    A file with the size and modification time its load recorded is
    skipped without reading it (the quick check rsync uses), so a daily run
    does not re-read years of history; ``always_hash`` compares the sha256 of
    every file instead.

    ``con`` is a read-write connection in autocommit mode (each batch of files
    gets its own transaction); its session time zone is set to UTC. Raises on
    anything but a bad file or bad rows (those are quarantined), after rolling
    back the batch in progress (its files are loaded again by the next run).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCES)}")
    started = time.perf_counter()
    spec = SOURCES[source]
    prepare_connection(con)
    ensure_raw_schema(con)
    loader = loader_for(spec)
    result = LoadResult(source=source)
    files = source_files(Path(extracts_root), spec)
    result.files_seen = len(files)
    previous = ledger.latest_loads(con, [f.rel for f in files])
    plan = plan_files(files, previous, always_hash=always_hash)
    result.files_skipped += plan.skipped
    for batch in batches(plan.pending, BATCH_BYTES):
        _load_batch(con, loader, batch, result)
    result.seconds = time.perf_counter() - started
    return result


def _load_batch(
    con: duckdb.DuckDBPyConnection, loader: FileLoader, batch: list[Pending], result: LoadResult
) -> None:
    files = [file for file, _, _ in batch]
    source = files[0].source
    loaded_at = ledger.utc_now()  # stamped on the rows and the ledger rows
    contexts = [
        LoadContext(ledger.new_load_id(), file.source, file.rel, file.day, loaded_at)
        for file in files
    ]
    try:
        reasons = loader.stage(con, files)  # {file_no: reason}: quarantine those files whole
        _stage_batch(con, contexts)
        counts: list[FileCounts] = []
        con.execute("BEGIN TRANSACTION")
        try:
            replaced = [file.rel for file, _, earlier in batch if earlier is not None]
            ledger.delete_file_rows(con, source, replaced)
            written = loader.write(con)
            for no, (ctx, (_, digest, earlier)) in enumerate(zip(contexts, batch, strict=True)):
                if no in reasons:
                    file_counts = ledger.quarantine_file(con, ctx, reasons[no])
                else:
                    loaded, quarantined = written.per_file.get(no, (0, 0))
                    file_counts = FileCounts(loaded, quarantined, {})
                ledger.record_load(con, ctx, digest, file_counts, earlier)
                counts.append(file_counts)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        loader.cleanup(con)
        drop_temp(con, BATCH)
    for no, ((file, digest, earlier), file_counts) in enumerate(zip(batch, counts, strict=True)):
        result.files_loaded += 1
        result.files_replaced += earlier is not None
        if no in reasons:
            result.files_quarantined += 1
            result.quarantined_files.append((file.rel, reasons[no]))
        result.rows_loaded += file_counts.rows_loaded
        result.rows_quarantined += file_counts.rows_quarantined
        result.bytes_read += digest.size
    result.add_table_rows(written.table_rows)


def _stage_batch(con: duckdb.DuckDBPyConnection, contexts: list[LoadContext]) -> None:
    """The lineage of each file of the batch, by ``file_no``, in temp table ``_wa_batch``."""
    drop_temp(con, BATCH)
    con.execute(f"CREATE TEMP TABLE {BATCH} ({BATCH_COLUMNS})")
    con.execute(
        f"""
        INSERT INTO {BATCH}
        SELECT generate_subscripts(?::VARCHAR[], 1) - 1, ?, unnest(?::VARCHAR[]),
               unnest(?::VARCHAR[]), unnest(?::DATE[]), ?
        """,
        [
            [c.load_id for c in contexts],
            contexts[0].source,
            [c.load_id for c in contexts],
            [c.file for c in contexts],
            [c.file_day for c in contexts],
            contexts[0].loaded_at,
        ],
    )


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
