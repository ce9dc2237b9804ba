"""``load_source`` and ``record_unknown_files`` on Spark: the entry points.

Which files load, and in which batches, is the DuckDB loader's own code
(:mod:`orchestration.loading.planning`: the quick check on size and mtime, then
sha256 against the latest load of the path). A batch is staged by ONE read of
all its files (per format) and written table by table:

1. the partitions of the batch's files are dropped from the source's raw tables
   and from ``raw._quarantine`` (earlier versions of the files, or rows a crashed
   run left behind);
2. the rows are written with dynamic partition overwrite (``INSERT OVERWRITE``
   of exactly the partitions of the batch's files);
3. the quarantine rows likewise;
4. the ledger rows (``raw._loads``), one per file, LAST.

Spark has no transaction over several tables: a crash (or an error) in the
middle leaves the batch's files without ledger rows, so the next run loads them
again and, as every step replaces whole per-file partitions, never counts a row
twice. Until then the raw tables may hold a partial batch (some of its files'
rows, or none of a replaced file's rows): unlike the DuckDB loader, a failed
batch is not rolled back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from pyspark.sql import DataFrame, SparkSession

from orchestration.layout import SOURCES, Source
from orchestration.loading import ledger as duck_ledger
from orchestration.loading.discovery import ExtractFile, source_files, unknown_files
from orchestration.loading.ledger import FileCounts
from orchestration.loading.planning import Pending, batches, plan_files
from orchestration.loading.result import LoadResult
from orchestration.loading.runner import UNKNOWN_FILE_REASON
from orchestration.loading.schema import tables_of
from orchestration.spark.loading import ledger
from orchestration.spark.loading.common import BatchFile, Staged, batch_frame, sql_str
from orchestration.spark.loading.tables import ensure_raw_schema, spark_columns
from orchestration.spark.loading.tabular import TabularLoader
from orchestration.spark.loading.templates import TemplatesLoader
from orchestration.spark.loading.webhooks import WebhooksLoader

#: Most text one batch stages at once (see :mod:`orchestration.loading.planning`).
BATCH_BYTES = 1 << 30


class FileLoader(Protocol):
    """How one format is staged: a batch of files into DataFrames (see ``Staged``)."""

    def stage(self, spark: SparkSession, files: list[ExtractFile]) -> Staged: ...


def prepare_session(spark: SparkSession) -> None:
    """Session settings every load relies on: UTC, dynamic partition overwrite."""
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")


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
    spark: SparkSession,
    extracts_root: Path,
    source: str,
    *,
    always_hash: bool = False,
) -> LoadResult:
    """Load every new or changed file of ``source`` under ``extracts_root`` into ``raw``.

    The same contract as :func:`orchestration.loading.load_source` (see the module
    docstring for what a failure leaves behind).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCES)}")
    started = time.perf_counter()
    spec = SOURCES[source]
    prepare_session(spark)
    ensure_raw_schema(spark)
    loader = loader_for(spec)
    result = LoadResult(source=source)
    files = source_files(Path(extracts_root), spec)
    result.files_seen = len(files)
    previous = ledger.latest_loads(spark, source) if files else {}
    plan = plan_files(files, previous, always_hash=always_hash)
    result.files_skipped += plan.skipped
    for batch in batches(plan.pending, BATCH_BYTES):
        _load_batch(spark, loader, batch, result)
    result.seconds = time.perf_counter() - started
    return result


def _load_batch(
    spark: SparkSession, loader: FileLoader, batch: list[Pending], result: LoadResult
) -> None:
    files = [file for file, _, _ in batch]
    source = files[0].source
    loaded_at = duck_ledger.utc_now()
    lineage = [
        BatchFile(no, f.source, duck_ledger.new_load_id(), f.rel, f.day, loaded_at)
        for no, f in enumerate(files)
    ]
    staged = loader.stage(spark, files)
    try:
        lineage_frame = batch_frame(spark, lineage)
        rels = [f.rel for f in files]
        for table in tables_of(source):
            ledger.drop_partitions(spark, table, rels)
        ledger.drop_partitions(spark, "_quarantine", rels)
        for table, rows in staged.tables.items():
            if staged.table_rows.get(table, 0):
                ledger.overwrite_partitions(ledger.with_lineage(rows, lineage_frame, table), table)
        whole = _whole_file_rows(spark, staged.reasons)
        quarantine = staged.quarantine
        if quarantine is None:
            quarantine = whole
        elif whole is not None:
            quarantine = quarantine.unionByName(whole)
        if quarantine is not None and _quarantined(staged):
            ledger.overwrite_partitions(
                ledger.quarantine_rows(quarantine, lineage_frame), "_quarantine"
            )
        entries = []
        for (_, digest, earlier), info in zip(batch, lineage, strict=True):
            if info.file_no in staged.reasons:
                counts = FileCounts(0, 1, {})
            else:
                loaded, quarantined = staged.per_file.get(info.file_no, (0, 0))
                counts = FileCounts(loaded, quarantined, {})
            entries.append((info, digest, counts, earlier))
        ledger.record_loads(spark, entries)
    finally:
        staged.release()
    for (file, digest, earlier), (_, _, counts, _) in zip(batch, entries, strict=True):
        no = files.index(file)
        result.files_loaded += 1
        result.files_replaced += earlier is not None
        if no in staged.reasons:
            result.files_quarantined += 1
            result.quarantined_files.append((file.rel, staged.reasons[no]))
        result.rows_loaded += counts.rows_loaded
        result.rows_quarantined += counts.rows_quarantined
        result.bytes_read += digest.size
    result.add_table_rows(staged.table_rows)


def _quarantined(staged: Staged) -> bool:
    return bool(staged.reasons) or any(bad for _, bad in staged.per_file.values())


def _whole_file_rows(spark: SparkSession, reasons: dict[int, str]) -> DataFrame | None:
    """Staged quarantine rows for the files quarantined whole (line and text null)."""
    if not reasons:
        return None
    return spark.createDataFrame(
        [(no, None, None, reason) for no, reason in sorted(reasons.items())],
        "file_no bigint, line_number bigint, raw_text string, reason string",
    )


def record_unknown_files(spark: SparkSession, extracts_root: Path) -> list[str]:
    """Report files under the root that match no layout pattern, once each (see
    :func:`orchestration.loading.record_unknown_files`): a file's row is its own
    partition of ``raw._quarantine``, added when new and dropped when the file is gone
    or renamed to a valid name."""
    prepare_session(spark)
    ensure_raw_schema(spark)
    found = unknown_files(Path(extracts_root))
    files = [f.rel for f in found]
    reported = {
        row[0]
        for row in spark.sql(
            f"SELECT DISTINCT file FROM {ledger.QUARANTINE} "
            f"WHERE _load_id IS NULL AND reason = {sql_str(UNKNOWN_FILE_REASON)}"
        ).collect()
    }
    stale = sorted(reported - set(files))
    ledger.drop_partitions(spark, "_quarantine", stale)
    new = [f for f in found if f.rel not in reported]
    if new:
        now = duck_ledger.utc_now()
        schema = ", ".join(
            f"{n} {'timestamp_ntz' if n == 'quarantined_at' else t}"
            for n, t in spark_columns("_quarantine")
        )
        by_name = {
            "source": None,
            "line_number": None,
            "raw_text": None,
            "reason": UNKNOWN_FILE_REASON,
            "_load_id": None,
            "quarantined_at": now,
        }
        rows = [
            tuple(
                {**by_name, "source": f.source, "file": f.rel}[n]
                for n, _ in spark_columns("_quarantine")
            )
            for f in new
        ]
        frame = spark.createDataFrame(rows, schema)
        frame = frame.withColumn("quarantined_at", frame["quarantined_at"].cast("timestamp"))
        ledger.overwrite_partitions(frame, "_quarantine")
    return files
