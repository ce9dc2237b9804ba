"""The raw extract layout of ``docs/contract/extracts.md``, as data.

This module is the single description of what upstream systems deliver: the
folder and file-name pattern of every source, its format, and the columns of
tabular sources with their types. The sample-data generator writes exactly
this and the loaders accept exactly this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    """Types a tabular extract column is parsed as. Names are DuckDB types."""

    TEXT = "varchar"
    INTEGER = "bigint"
    DECIMAL = "decimal(18,4)"
    TIMESTAMP = "timestamp"  # parsed from ISO 8601 with offset, stored as naive UTC


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.TEXT


@dataclass(frozen=True)
class Source:
    """One extract source: a folder under the extracts root."""

    name: str
    folder: str
    file_pattern: re.Pattern[str]
    formats: tuple[str, ...]
    columns: tuple[Column, ...] = field(default=())
    key: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def match(self, file_name: str) -> re.Match[str] | None:
        return self.file_pattern.fullmatch(file_name)

    @property
    def expected_name(self) -> str:
        """The file-name pattern for people, e.g. ``dispatches-YYYY-MM-DD.{csv,csv.gz,parquet}``."""
        day = "-YYYY-MM-DD" if "(?P<day>" in self.file_pattern.pattern else ""
        formats = self.formats[0] if len(self.formats) == 1 else "{" + ",".join(self.formats) + "}"
        return f"{self.name}{day}.{formats}"


TABULAR_FORMATS = ("csv", "csv.gz", "parquet")
_TAB = r"(?P<format>csv|csv\.gz|parquet)"
_DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"

T = ColumnType

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="accounts",
            folder="accounts",
            file_pattern=re.compile(r"accounts\.(?P<format>csv)"),
            formats=("csv",),
            columns=(
                Column("account_id"),
                Column("account_name"),
                Column("industry"),
                Column("country"),
                Column("timezone"),
                Column("currency"),
            ),
            key="account_id",
        ),
        Source(
            name="campaigns",
            folder="campaigns",
            file_pattern=re.compile(rf"campaigns-{_DAY}\.(?P<format>csv)"),
            formats=("csv",),
            columns=(
                Column("campaign_id"),
                Column("account_id"),
                Column("campaign_name"),
                Column("campaign_type"),
                Column("template_name"),
                Column("template_language"),
                Column("template_category"),
                Column("goal_event"),
                Column("conversion_window_hours", T.INTEGER),
                Column("created_at", T.TIMESTAMP),
            ),
            key="campaign_id",
        ),
        Source(
            name="templates",
            folder="templates",
            file_pattern=re.compile(rf"templates-{_DAY}\.(?P<format>jsonl)"),
            formats=("jsonl",),
        ),
        Source(
            name="dispatches",
            folder="dispatches",
            file_pattern=re.compile(rf"dispatches-{_DAY}\.{_TAB}"),
            formats=TABULAR_FORMATS,
            columns=(
                Column("dispatch_id"),
                Column("account_id"),
                Column("campaign_id"),
                Column("send_id"),
                Column("user_id"),
                Column("phone_number"),
                Column("attempted_at", T.TIMESTAMP),
                Column("result"),
                Column("wamid"),
                Column("drop_code"),
                Column("meta_error_code", T.INTEGER),
                Column("meta_error_title"),
            ),
            key="dispatch_id",
        ),
        Source(
            name="webhooks",
            folder="webhooks",
            file_pattern=re.compile(rf"webhooks-{_DAY}\.(?P<format>jsonl|jsonl\.gz)"),
            formats=("jsonl", "jsonl.gz"),
        ),
        Source(
            name="clicks",
            folder="clicks",
            file_pattern=re.compile(rf"clicks-{_DAY}\.{_TAB}"),
            formats=TABULAR_FORMATS,
            columns=(
                Column("click_id"),
                Column("wamid"),
                Column("clicked_at", T.TIMESTAMP),
                Column("url"),
                Column("button_id"),
                Column("card_index", T.INTEGER),
            ),
            key="click_id",
        ),
        Source(
            name="conversions",
            folder="conversions",
            file_pattern=re.compile(rf"conversions-{_DAY}\.{_TAB}"),
            formats=TABULAR_FORMATS,
            columns=(
                Column("event_id"),
                Column("account_id"),
                Column("user_id"),
                Column("event_name"),
                Column("occurred_at", T.TIMESTAMP),
                Column("revenue", T.DECIMAL),
                Column("currency"),
            ),
            key="event_id",
        ),
        Source(
            name="unsubscribes",
            folder="unsubscribes",
            file_pattern=re.compile(rf"unsubscribes-{_DAY}\.{_TAB}"),
            formats=TABULAR_FORMATS,
            columns=(
                Column("unsubscribe_id"),
                Column("account_id"),
                Column("user_id"),
                Column("occurred_at", T.TIMESTAMP),
                Column("source"),
                Column("wamid"),
            ),
            key="unsubscribe_id",
        ),
    )
}

SOURCES_BY_FOLDER: dict[str, Source] = {s.folder: s for s in SOURCES.values()}


def source_of(folder: str, file_name: str) -> Source | None:
    """The source a file at ``<root>/<folder>/<file_name>`` belongs to, if it fits the layout."""
    source = SOURCES_BY_FOLDER.get(folder)
    return source if source is not None and source.match(file_name) else None


def layout_hint(rel: str) -> str:
    """Why a file under the extracts root (``rel``: its relative path) is not loaded,
    and the name it should have."""
    folder = rel.rpartition("/")[0]
    source = SOURCES_BY_FOLDER.get(folder)
    if source is not None:
        return f"its name does not match {folder}/{source.expected_name} (a valid day)"
    folders = ", ".join(f"{s.folder}/" for s in SOURCES.values())
    return f"it is not directly in a source folder ({folders})"


def extract_day_of(folder: str, file_name: str) -> str | None:
    """The ``YYYY-MM-DD`` cut day of a layout file, if its name has one."""
    source = source_of(folder, file_name)
    match = source.match(file_name) if source else None
    return match.groupdict().get("day") if match else None
