"""Loading raw extracts into database ``raw`` of the Spark catalog (``WA_ENGINE=spark``).

The same public API, contract and rules as :mod:`orchestration.loading` (the
DuckDB loader), with a SparkSession in place of the DuckDB connection::

    ensure_raw_schema(spark)                          # create database raw + tables
    load_source(spark, extracts_root, source)         # -> LoadResult
    record_unknown_files(spark, extracts_root)        # -> list[str]

Engine-neutral code is shared, not copied: file discovery, the layout, the
ledger's digests and quick check, batching (:mod:`orchestration.loading.planning`),
schema declarations, row rules, quarantine reasons and :class:`LoadResult`.

Design (``docs/raw_schema.md``, "On Spark"): Parquet tables in the Hive
metastore, every data table partitioned by ``_file`` and ``raw._quarantine`` by
``file``; a batch drops its files' partitions, writes its rows by dynamic
partition overwrite, then its quarantine rows, then its ledger rows (last). No
transactions: a crash leaves files without ledger rows, which the next run loads
again, replacing their partitions (a rerun never double counts).

Intentional differences from the DuckDB loader:

- no rollback of a failed batch (above): until the rerun, the raw tables may hold
  part of a batch, or lack the rows of a file being replaced;
- ``_file`` (``file`` in ``raw._quarantine``) is the LAST column of its table
  (a partition column), not where ``docs/raw_schema.md`` lists it;
- ``templates.components`` is JSON text re-serialised by Spark (compact, keys
  sorted): the same JSON value as delivered, not the same bytes;
- unreadable lines (invalid UTF-8, NUL byte) get Spark's own reader-error text
  after ``unreadable line: ``, and ``cannot read file: ...`` reasons carry Spark's
  (or Python's gzip) error text, not DuckDB's;
- CSV records and fields are split by the loader (quote parity, an RFC 4180 field
  pattern) with the reasons DuckDB's reader gives; a line break inside a quoted
  value of a CRLF file is stored as LF;
- timestamps are parsed by Spark's ``try_cast (after a ``YYYY-MM-DD`` shape
  check), which may accept a few forms DuckDB does not, or the reverse;
- a quarantined Parquet row's ``raw_text`` is its contract columns as Spark
  renders them as text (e.g. a typed timestamp ``2026-10-01 09:00:00``), so it
  may differ in form from DuckDB's rendering of the same row;
- a file is read as one JVM string: at most 2 GiB of (inflated) text per file;
  two whole-file checks run in Python before Spark reads a file (streamed, no
  per-row work): gzip integrity, and LF/CRLF counts of CSV files (mixed endings
  quarantine the file, as DuckDB's strict reader refuses it);
- there is no migration of older warehouses (no Spark warehouse predates this
  loader): no ``raw_line``/``body`` columns, no ``ALTER TABLE ... ADD COLUMN``.
"""

from orchestration.loading.result import LoadResult
from orchestration.loading.runner import UNKNOWN_FILE_REASON
from orchestration.spark.loading.runner import load_source, record_unknown_files
from orchestration.spark.loading.tables import ensure_raw_schema

__all__ = [
    "UNKNOWN_FILE_REASON",
    "LoadResult",
    "ensure_raw_schema",
    "load_source",
    "record_unknown_files",
]
