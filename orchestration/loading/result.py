"""The outcome of loading one source, as Dagster metadata."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What :func:`orchestration.loading.load_source` did.

    ``files_loaded`` counts files written in this run (new or replaced, including
    files quarantined whole); ``files_replaced`` is the subset that replaced an
    earlier version; ``files_skipped`` were unchanged. ``rows_loaded`` counts rows
    of the source's main table (webhooks: deliveries); ``table_rows`` has the rows
    written per raw table. ``bytes_read`` is the size of the files loaded.
    """

    source: str
    files_seen: int = 0
    files_loaded: int = 0
    files_replaced: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    bytes_read: int = 0
    files_quarantined: int = 0
    table_rows: dict[str, int] = field(default_factory=dict)
    # (relative path, reason) of every file of this run quarantined whole
    quarantined_files: list[tuple[str, str]] = field(default_factory=list)

    def add_table_rows(self, rows: dict[str, int]) -> None:
        """Accumulate rows written per raw table."""
        for table, count in rows.items():
            self.table_rows[table] = self.table_rows.get(table, 0) + count

    def to_metadata(self) -> dict[str, int | float | str]:
        """A flat dict of plain values, ready to be Dagster asset metadata."""
        metadata: dict[str, int | float | str] = {
            "source": self.source,
            "files_seen": self.files_seen,
            "files_loaded": self.files_loaded,
            "files_replaced": self.files_replaced,
            "files_skipped": self.files_skipped,
            "files_quarantined": self.files_quarantined,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "seconds": round(self.seconds, 3),
            "bytes_read": self.bytes_read,
        }
        for table, count in sorted(self.table_rows.items()):
            metadata[f"rows_{table}"] = count
        return metadata
