"""The load ledger (``raw._loads``), file digests and quarantine bookkeeping.

A file is identified by its path relative to the extracts root. The latest
load of a path is the one no later load replaced. A file with the size and
modification time that latest load recorded is skipped unread (rsync's quick
check; ``WA_LOAD_ALWAYS_HASH=true`` turns it off); any other file is hashed,
and skipped if its sha256 equals the latest load's. A file with other bytes
replaces every row the earlier version wrote (in the same transaction as the
new rows).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.loading.schema import SCHEMA, qualified, table_exists, tables_of

_CHUNK = 1 << 20

LOADS = qualified("_loads")
QUARANTINE = qualified("_quarantine")


@dataclass(frozen=True)
class Digest:
    """Size and sha256 of a file's bytes, and its modification time before reading."""

    sha256: str
    size: int
    mtime: datetime  # naive UTC


@dataclass(frozen=True)
class PreviousLoad:
    """The latest load of a file path."""

    load_id: str
    sha256: str
    size: int
    mtime: datetime | None  # naive UTC; None for loads made before it was recorded

    def unchanged_by_stat(self, path: Path) -> bool:
        """Same size and modification time as when it was loaded (rsync's quick check).

        Any rewrite changes one or the other, even a copy that keeps an older
        modification time (``cp -p``, ``rsync -t``): the file is hashed again.
        """
        stat = path.stat()
        return stat.st_size == self.size and _mtime(stat.st_mtime) == self.mtime


@dataclass(frozen=True)
class LoadContext:
    """Everything a loader stamps on the rows of one file load."""

    load_id: str
    source: str
    file: str  # relative path
    file_day: date | None
    loaded_at: datetime  # naive UTC

    @property
    def lineage_params(self) -> list[object]:
        """Parameters for ``_load_id, _file, _file_day`` then ``_loaded_at``."""
        return [self.load_id, self.file, self.file_day, self.loaded_at]


@dataclass(frozen=True)
class FileCounts:
    """What one file load wrote."""

    rows_loaded: int
    rows_quarantined: int
    table_rows: dict[str, int]


def utc_now() -> datetime:
    """The current time as a naive UTC timestamp (the warehouse convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_load_id() -> str:
    """A fresh, unique load id."""
    return uuid.uuid4().hex


def _mtime(seconds: float) -> datetime:
    """A file's modification time as a naive UTC timestamp (microseconds, as stored)."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def file_digest(path: Path) -> Digest:
    """sha256 and size of a file, streamed in 1 MiB chunks, and its modification time
    taken first (a write during the read makes the next run hash it again)."""
    mtime = _mtime(path.stat().st_mtime)
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return Digest(sha.hexdigest(), size, mtime)


def latest_loads(con: duckdb.DuckDBPyConnection, files: list[str]) -> dict[str, PreviousLoad]:
    """The latest (not replaced) load of each of ``files`` that was ever loaded, in one query."""
    if not files:
        return {}
    found = con.execute(
        f"""
        SELECT file, load_id, sha256, size_bytes, file_mtime FROM {LOADS} AS l
        WHERE list_contains(?::VARCHAR[], file)
          AND NOT EXISTS (SELECT 1 FROM {LOADS} AS r WHERE r.replaced_load_id = l.load_id)
        QUALIFY row_number() OVER (PARTITION BY file ORDER BY loaded_at DESC) = 1
        """,
        [files],
    ).fetchall()
    return {
        file: PreviousLoad(load_id, sha256, size, mtime)
        for file, load_id, sha256, size, mtime in found
    }


#: The latest load (the one no later load replaced) of every dated extract file,
#: with its day and what it loaded. A file quarantined whole has no rows loaded
#: and one quarantined row; an empty (header-only) file has neither.
LATEST_DATED_LOADS_SQL = f"""
SELECT l.source, l.file, l.rows_loaded, l.rows_quarantined,
    CAST(regexp_extract(l.file, '(\\d{{4}}-\\d{{2}}-\\d{{2}})', 1) AS DATE) AS day
FROM {LOADS} AS l
WHERE regexp_matches(l.file, '\\d{{4}}-\\d{{2}}-\\d{{2}}')
  AND NOT EXISTS (SELECT 1 FROM {LOADS} AS r WHERE r.replaced_load_id = l.load_id)
"""


def newest_loaded_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest extract day of a file whose latest load loaded rows (the as-of rule):
    an empty file, a file quarantined whole or one whose every row was quarantined
    never counts. None before anything loaded."""
    if not table_exists(con, SCHEMA, "_loads"):
        return None
    return con.execute(
        f"SELECT max(day) FROM ({LATEST_DATED_LOADS_SQL}) WHERE rows_loaded > 0"
    ).fetchone()[0]


def newest_delivered_day(con: duckdb.DuckDBPyConnection, source: str) -> date | None:
    """The newest extract day of ``source`` delivered in a usable file: one that loaded
    rows or was empty (a day without events), not one quarantined whole."""
    if not table_exists(con, SCHEMA, "_loads"):
        return None
    return con.execute(
        f"SELECT max(day) FROM ({LATEST_DATED_LOADS_SQL}) "
        "WHERE source = ? AND (rows_loaded > 0 OR rows_quarantined = 0)",
        [source],
    ).fetchone()[0]


def delete_file_rows(con: duckdb.DuckDBPyConnection, source: str, files: str | list[str]) -> None:
    """Delete every row earlier loads of ``files`` wrote (data and quarantine)."""
    names = [files] if isinstance(files, str) else list(files)
    if not names:
        return
    for table in tables_of(source):
        con.execute(
            f"DELETE FROM {qualified(table)} WHERE list_contains(?::VARCHAR[], _file)", [names]
        )
    con.execute(
        f"DELETE FROM {QUARANTINE} WHERE list_contains(?::VARCHAR[], file) "
        "AND _load_id IS NOT NULL",
        [names],
    )


def quarantine_file(con: duckdb.DuckDBPyConnection, ctx: LoadContext, reason: str) -> FileCounts:
    """Quarantine a whole file as one row (line_number null)."""
    con.execute(
        f"INSERT INTO {QUARANTINE} VALUES (?, ?, NULL, NULL, ?, ?, ?)",
        [ctx.source, ctx.file, reason, ctx.load_id, ctx.loaded_at],
    )
    return FileCounts(rows_loaded=0, rows_quarantined=1, table_rows={})


def record_load(
    con: duckdb.DuckDBPyConnection,
    ctx: LoadContext,
    digest: Digest,
    counts: FileCounts,
    replaced: PreviousLoad | None,
) -> None:
    """Append the ledger row of a file load (last step before COMMIT)."""
    con.execute(
        f"INSERT INTO {LOADS} BY NAME SELECT ? AS load_id, ? AS source, ? AS file, "
        "? AS size_bytes, ? AS sha256, ? AS rows_loaded, ? AS rows_quarantined, "
        "? AS replaced_load_id, ? AS loaded_at, ? AS file_mtime",
        [
            ctx.load_id,
            ctx.source,
            ctx.file,
            digest.size,
            digest.sha256,
            counts.rows_loaded,
            counts.rows_quarantined,
            replaced.load_id if replaced else None,
            ctx.loaded_at,
            digest.mtime,
        ],
    )
