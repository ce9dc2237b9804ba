"""Publish the marts for BI tools: a read-only DuckDB copy and Parquet files.

The working warehouse is locked while a run writes it (DuckDB lets no other
process open a file, read-only included, while one process writes), and its
tables are rebuilt one by one during a run. BI tools therefore read a
*publication*: after a successful build, every table and view of schema
``marts`` is copied as a table into a new DuckDB file, which then replaces the
serving file in one ``os.replace``, and each mart is written as a Parquet file
the same way.

Guarantees:

* the serving DuckDB file is replaced atomically (a rename in its folder): a
  reader that has it open keeps reading the publication it opened, a reader
  that opens it afterwards gets the new one; nobody sees a half-written file;
* each Parquet file is replaced atomically on its own; ``_publication.json``
  is written last, so it names the publication every listed file belongs to
  once it is there (a reader reading several files *during* a publication can
  get some old and some new files; the DuckDB copy has no such window);
* everything is written to temporary files first; if anything fails before
  the renames, the temporary files are removed and the previous publication
  stays exactly as it was.

The DuckDB copy is written in storage version ``v1.0.0`` (``STORAGE_VERSION``
below), which DuckDB drivers 0.10.x to 2.0.x open (checked: 0.10.3, 1.1.3,
1.4.4, 2.0.1); files in DuckDB 2.x's own format open only in 2.x drivers.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

MARTS_SCHEMA = "marts"
PUBLICATION_TABLE = "_publication"
PUBLICATION_JSON = "_publication.json"

# The oldest storage format DuckDB 2.0.1 writes that keeps every type the marts
# use; readable by DuckDB 0.10.0 and later (0.9.x cannot read it).
STORAGE_VERSION = "v1.0.0"
READABLE_BY = "DuckDB 0.10.0 and later"

# Temporary files of an interrupted publication (a killed process) older than
# this are removed by the next publication; younger ones may belong to a
# publication in progress.
STALE_TEMP_AGE = timedelta(hours=1)

_SERVING_ALIAS = "__serving_new"
# dbt-duckdb's intermediate relations while it swaps a table in: never published
_DBT_SUFFIXES = ("__dbt_tmp", "__dbt_backup")
# Parquet has no 128-bit integers (DuckDB would write DOUBLE): sums are written as 64-bit.
_PARQUET_CASTS = {"HUGEINT": "BIGINT", "UHUGEINT": "UBIGINT"}


class PublishError(RuntimeError):
    """Nothing can be published; the previous publication is left in place."""


@dataclass(frozen=True)
class PublishResult:
    publication_id: str
    serving_path: Path
    parquet_dir: Path
    published_at: datetime
    as_of: datetime | None
    rows: dict[str, int]  # mart -> rows, in publication order
    seconds: float
    parquet_files: dict[str, Path] = field(default_factory=dict)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.rows)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def publish_marts(
    warehouse: Path,
    serving: Path,
    parquet_dir: Path,
    *,
    as_of: datetime | None = None,
) -> PublishResult:
    """Publish every table and view of schema ``marts`` of ``warehouse``.

    Writes ``serving`` (the marts as tables in schema ``marts``, plus
    ``marts._publication``) and ``parquet_dir/<mart>.parquet`` with
    ``parquet_dir/_publication.json``. Opens the warehouse read-only: no other
    process may be writing it (a Dagster run serializes this with the writer
    pool). Raises ``PublishError`` (or DuckDB's error) and leaves the previous
    publication untouched when anything fails.
    """
    started = time.perf_counter()
    warehouse, serving, parquet_dir = Path(warehouse), Path(serving), Path(parquet_dir)
    if not warehouse.is_file():
        raise PublishError(f"warehouse {warehouse} does not exist: build it before publishing")
    if serving.is_dir():
        raise PublishError(f"serving path {serving} is a folder; give a file path")
    if serving.resolve() == warehouse.resolve():
        raise PublishError(f"serving path {serving} is the warehouse itself; give another file")
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    serving.parent.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(serving, parquet_dir)

    publication_id = uuid.uuid4().hex
    published_at = datetime.now(UTC).replace(microsecond=0)
    staged_db = serving.with_name(f".{serving.name}.{publication_id}.tmp")
    temps: list[Path] = [staged_db, _wal_of(staged_db)]
    try:
        rows, staged_parquet = _stage(
            warehouse,
            staged_db,
            parquet_dir,
            publication_id=publication_id,
            published_at=published_at,
            as_of=as_of,
            temps=temps,
        )
        for path in (staged_db, *staged_parquet.values()):
            _fsync_file(path)
        parquet_files = _commit(
            staged_db,
            serving,
            staged_parquet,
            parquet_dir,
            manifest={
                "publication_id": publication_id,
                "published_at": _iso(published_at),
                "as_of": _iso(as_of) if as_of else None,
                "files": {name: {"file": f"{name}.parquet", "rows": rows[name]} for name in rows},
            },
            temps=temps,
        )
    finally:
        for path in temps:
            with suppress(FileNotFoundError):
                path.unlink()
    return PublishResult(
        publication_id=publication_id,
        serving_path=serving,
        parquet_dir=parquet_dir,
        published_at=published_at,
        as_of=as_of,
        rows=rows,
        seconds=time.perf_counter() - started,
        parquet_files=parquet_files,
    )


def list_marts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables and views of schema ``marts`` of the connection's database."""
    names = con.execute(
        """
        select table_name from duckdb_tables()
        where database_name = current_database() and schema_name = ?
        union
        select view_name from duckdb_views()
        where database_name = current_database() and schema_name = ? and not internal
        """,
        [MARTS_SCHEMA, MARTS_SCHEMA],
    ).fetchall()
    return sorted(
        name for (name,) in names if name != PUBLICATION_TABLE and not name.endswith(_DBT_SUFFIXES)
    )


def read_publication(serving: Path) -> dict | None:
    """The ``_publication`` row of a serving file (read-only), or None without one."""
    if not Path(serving).is_file():
        return None
    con = duckdb.connect(str(serving), read_only=True)
    try:
        row = con.execute(
            f"select publication_id, published_at, as_of, tables "
            f"from {MARTS_SCHEMA}.{PUBLICATION_TABLE}"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    if row is None:
        return None
    return dict(zip(("publication_id", "published_at", "as_of", "tables"), row, strict=True))


def _stage(
    warehouse: Path,
    staged_db: Path,
    parquet_dir: Path,
    *,
    publication_id: str,
    published_at: datetime,
    as_of: datetime | None,
    temps: list[Path],
) -> tuple[dict[str, int], dict[str, Path]]:
    """Write the new serving file and Parquet files under temporary names."""
    # Connected to the warehouse itself (not attached under another name), so
    # views resolve the names they were created with.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        marts = list_marts(con)
        if not marts:
            raise PublishError(
                f"warehouse {warehouse} has no table or view in schema {MARTS_SCHEMA}: "
                "nothing to publish (run the build first)"
            )
        con.execute(
            f"attach {_sql_str(staged_db)} as {_SERVING_ALIAS} "
            f"(READ_WRITE, STORAGE_VERSION '{STORAGE_VERSION}')"
        )
        # one transaction: every mart is read from the same warehouse snapshot
        con.execute("begin transaction")
        con.execute(f"create schema {_SERVING_ALIAS}.{MARTS_SCHEMA}")
        rows = {name: _copy_mart(con, name) for name in marts}
        con.execute(
            f"create table {_SERVING_ALIAS}.{MARTS_SCHEMA}.{PUBLICATION_TABLE} ("
            "publication_id varchar, published_at timestamptz, as_of timestamptz, "
            "tables varchar[], total_rows bigint, writer varchar, storage_version varchar)"
        )
        con.execute(
            f"insert into {_SERVING_ALIAS}.{MARTS_SCHEMA}.{PUBLICATION_TABLE} "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [
                publication_id,
                published_at,
                as_of,
                marts,
                sum(rows.values()),
                f"duckdb {duckdb.__version__}",
                STORAGE_VERSION,
            ],
        )
        staged_parquet: dict[str, Path] = {}
        for name in marts:
            target = parquet_dir / f".{name}.parquet.{publication_id}.tmp"
            temps.append(target)
            _write_parquet(con, name, target)
            staged_parquet[name] = target
        con.execute("commit")
        # a checkpoint folds the write-ahead log into the file: it is complete on its own
        con.execute(f"checkpoint {_SERVING_ALIAS}")
        con.execute(f"detach {_SERVING_ALIAS}")
    finally:
        con.close()
    if _wal_of(staged_db).exists():
        raise PublishError(f"{staged_db} still has a write-ahead log after its checkpoint")
    return rows, staged_parquet


def _copy_mart(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Copy one mart (table or view) as a table into the new serving file."""
    con.execute(
        f"create table {_SERVING_ALIAS}.{MARTS_SCHEMA}.{_ident(name)} as "
        f"select * from {MARTS_SCHEMA}.{_ident(name)}"
    )
    return con.execute(
        f"select count(*) from {_SERVING_ALIAS}.{MARTS_SCHEMA}.{_ident(name)}"
    ).fetchone()[0]


def _write_parquet(con: duckdb.DuckDBPyConnection, name: str, target: Path) -> None:
    """Write one mart, from the new serving copy, as a Parquet file."""
    source = f"{_SERVING_ALIAS}.{MARTS_SCHEMA}.{_ident(name)}"
    columns = con.execute(f"select column_name, column_type from (describe {source})").fetchall()
    select = ", ".join(
        f"cast({_ident(column)} as {_PARQUET_CASTS[kind]}) as {_ident(column)}"
        if kind in _PARQUET_CASTS
        else _ident(column)
        for column, kind in columns
    )
    con.execute(f"copy (select {select} from {source}) to {_sql_str(target)} (format parquet)")


def _commit(
    staged_db: Path,
    serving: Path,
    staged_parquet: dict[str, Path],
    parquet_dir: Path,
    *,
    manifest: dict,
    temps: list[Path],
) -> dict[str, Path]:
    """Rename the staged files over the published ones; the manifest goes last."""
    previous = _previous_parquet_files(parquet_dir)
    os.replace(staged_db, serving)
    published: dict[str, Path] = {}
    for name, staged in staged_parquet.items():
        target = parquet_dir / f"{name}.parquet"
        os.replace(staged, target)
        published[name] = target
    # marts that no longer exist: drop the files the previous publication listed
    for stale in previous - {path.name for path in published.values()}:
        with suppress(FileNotFoundError):
            (parquet_dir / stale).unlink()
    staged_json = parquet_dir / f".{PUBLICATION_JSON}.{manifest['publication_id']}.tmp"
    temps.append(staged_json)
    staged_json.write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_file(staged_json)
    os.replace(staged_json, parquet_dir / PUBLICATION_JSON)
    for folder in {serving.parent, parquet_dir}:
        _fsync_dir(folder)
    return published


def _previous_parquet_files(parquet_dir: Path) -> set[str]:
    """File names the previous ``_publication.json`` listed (only these are ever removed)."""
    try:
        files = json.loads((parquet_dir / PUBLICATION_JSON).read_text())["files"]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return set()
    return {
        Path(entry["file"]).name
        for entry in files.values()
        if isinstance(entry, dict) and str(entry.get("file", "")).endswith(".parquet")
    }


def _temp_files(serving: Path, parquet_dir: Path) -> Iterator[Path]:
    yield from serving.parent.glob(f".{serving.name}.*.tmp")
    yield from serving.parent.glob(f".{serving.name}.*.tmp.wal")
    yield from parquet_dir.glob(".*.parquet.*.tmp")
    yield from parquet_dir.glob(f".{PUBLICATION_JSON}.*.tmp")


def _remove_stale_temps(serving: Path, parquet_dir: Path) -> None:
    cutoff = time.time() - STALE_TEMP_AGE.total_seconds()
    for path in _temp_files(serving, parquet_dir):
        with suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):  # not every file system lets a folder be fsynced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
