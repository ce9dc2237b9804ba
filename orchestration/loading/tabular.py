"""Loading tabular extracts (csv, csv.gz, parquet) set-based with DuckDB.

One read per file: every column is read as text into a temp table (CSV with
explicit RFC 4180 options, ``store_rejects`` collecting structurally broken
records; Parquet with every column cast to VARCHAR, so typed and all-text
Parquet behave the same). Each typed column is then validated with
``try_cast``: a row with a non-empty value that does not parse, or without
its key, goes to quarantine whole with a reason naming the column and value;
the other rows are inserted typed. Timestamps are ISO 8601; a value without
an offset is read as UTC (the session time zone is UTC), and all are stored
as naive UTC ``timestamp``.

Line numbers in quarantine are physical lines (Parquet: 1-based row). DuckDB
numbers rejected CSV records by record, not by physical line, and a parsed
row carries no line at all, so when a CSV file has bad rows (only then) it is
read a second time as lines to find each bad row's physical line and raw
text (see :meth:`TabularLoader._stage_quarantine_lines`).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import duckdb

from orchestration.layout import ColumnType, Source
from orchestration.loading.common import (
    READ_ERRORS,
    drop_temp,
    error_text,
    ident,
    literal,
    scalar,
)
from orchestration.loading.discovery import ExtractFile
from orchestration.loading.jsonl import LINES, cleanup_lines, stage_lines
from orchestration.loading.ledger import QUARANTINE, FileCounts, LoadContext
from orchestration.loading.schema import qualified

STAGE = "_wa_stage"
BAD = "_wa_bad"
QUARANTINED = "_wa_quarantined"
RECORDS = "_wa_records"
REJECTED = "_wa_rejected"
REJECTS = "_wa_rejects"
REJECTS_SCAN = "_wa_rejects_scan"
TEMP_OBJECTS = (STAGE, BAD, QUARANTINED, RECORDS, REJECTED, REJECTS, REJECTS_SCAN)

_INTEGER_RE = r"\s*[+-]?[0-9]+\s*"
_BLANK_RE = r"\s*"
_VALUE_IN_REASON = 200

#: What a CSV reader error type means, in quarantine reasons.
_REJECT_LABELS = {
    "MISSING COLUMNS": "wrong column count",
    "TOO MANY COLUMNS": "wrong column count",
    "UNQUOTED VALUE": "unterminated or stray quote",
    "INVALID UNICODE": "invalid UTF-8",
    "LINE SIZE OVER MAXIMUM": "line too long",
}


def _rejects_sql() -> str:
    """SQL: one row per rejected CSV record: ``line`` (DuckDB's record number), text, reason."""
    labels = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in _REJECT_LABELS.items())
    return f"""
        WITH errors AS (
            -- one reject row per missing/extra column: keep the telling one
            SELECT line, error_type, first(csv_line) AS csv_line,
                   CASE WHEN error_type = 'TOO MANY COLUMNS'
                        THEN arg_max(error_message, column_idx)
                        ELSE arg_min(error_message, column_idx) END AS message
            FROM {REJECTS} GROUP BY line, error_type
        )
        SELECT line,
               trim(first(csv_line), chr(13) || chr(10)) AS csv_line,
               string_agg(
                   CASE error_type {labels} ELSE lower(error_type) END
                   || ' (' || message || ')', '; ' ORDER BY error_type) AS reason
        FROM errors GROUP BY line
    """


class HeaderError(Exception):
    """The header row of a CSV file cannot be read."""


def read_csv_header(path: Path) -> list[str]:
    """The header record of a CSV (or gzipped CSV) file, parsed as RFC 4180."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise HeaderError(f"{type(exc).__name__}: {exc}") from exc
    if not header:
        raise HeaderError("empty file (no header row)")
    return header


def _is_blank(col: str) -> str:
    """SQL predicate: the text value is NULL, empty or whitespace (= null)."""
    # regexp, not nullif(trim(...)): trim copies every value and is ~5x slower here
    return f"({col} IS NULL OR regexp_full_match({col}, {literal(_BLANK_RE)}))"


def _parses(col: str, kind: ColumnType) -> str:
    """SQL predicate: the text value ``col`` parses as ``kind`` (false for NULL)."""
    if kind is ColumnType.TIMESTAMP:
        return f"(try_cast({col} AS TIMESTAMPTZ) IS NOT NULL)"
    if kind is ColumnType.INTEGER:
        return (
            f"(regexp_full_match({col}, {literal(_INTEGER_RE)}) "
            f"AND try_cast({col} AS BIGINT) IS NOT NULL)"
        )
    if kind is ColumnType.DECIMAL:
        return f"(try_cast({col} AS {kind.value}) IS NOT NULL)"
    return "true"


def _acceptable(col: str, kind: ColumnType) -> str:
    """SQL predicate: the value parses or is blank (cheapest, likeliest test first)."""
    return (
        f"({col} IS NULL OR {_parses(col, kind)} OR regexp_full_match({col}, {literal(_BLANK_RE)}))"
    )


def _typed(col: str, kind: ColumnType) -> str:
    """SQL expression: the text value ``col`` as its contract type."""
    if kind is ColumnType.TIMESTAMP:
        return f"timezone('UTC', try_cast({col} AS TIMESTAMPTZ))"
    if kind is ColumnType.TEXT:
        return col
    return f"try_cast({col} AS {kind.value})"


_KIND_WORD = {
    ColumnType.TIMESTAMP: "bad timestamp",
    ColumnType.INTEGER: "non-numeric integer",
    ColumnType.DECIMAL: "non-numeric decimal",
}


class TabularLoader:
    """Loads one tabular source (see module docstring)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._cols: dict[str, str] = {}  # contract column -> column of the stage table
        self._is_csv = True
        self._has_bad_rows = True

    # -- SQL pieces -----------------------------------------------------------------

    def _valid_sql(self) -> str:
        """Predicate: the staged row has its key and every typed value parses."""
        parts = []
        if self.source.key:
            parts.append(f"NOT {_is_blank(self._cols[self.source.key])}")
        for column in self.source.columns:
            if column.type is not ColumnType.TEXT:
                parts.append(_acceptable(self._cols[column.name], column.type))
        return " AND ".join(parts) or "true"

    def _reason_sql(self) -> str:
        """Expression: every reason the staged row is invalid, '; '-separated."""
        parts = []
        if self.source.key:
            key = self.source.key
            parts.append(f"CASE WHEN {_is_blank(self._cols[key])} THEN 'missing key {key}' END")
        for column in self.source.columns:
            if column.type is ColumnType.TEXT:
                continue
            col = self._cols[column.name]
            word = f"{_KIND_WORD[column.type]} in {column.name}: "
            parts.append(
                f"CASE WHEN NOT {_acceptable(col, column.type)} "
                f"THEN {literal(word)} || '\"' || left({col}, {_VALUE_IN_REASON}) || '\"' END"
            )
        return f"concat_ws('; ', {', '.join(parts)})"

    # -- stage ------------------------------------------------------------------------

    def stage(self, con: duckdb.DuckDBPyConnection, file: ExtractFile) -> str | None:
        """Read the file into temp tables; a reason if the whole file is quarantined."""
        self.cleanup(con)
        self._is_csv = file.format != "parquet"
        reason = self._read_csv(con, file.path) if self._is_csv else self._read_parquet(con, file)
        if reason is not None:
            return reason
        self._stage_bad_rows(con, file.path)
        return None

    def _map_columns(self, names: list[str]) -> str | None:
        """Map contract columns to staged columns; a reason if some are missing."""
        position = {}
        for index, name in enumerate(names):
            position.setdefault(name.strip().lower(), index)
        missing = [c for c in self.source.column_names if c not in position]
        if missing:
            return f"wrong header: missing columns {', '.join(missing)}"
        self._cols = {c: f"c{position[c]}" for c in self.source.column_names}
        return None

    def _read_csv(self, con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
        try:
            header = read_csv_header(path)
        except HeaderError as exc:
            return f"cannot read file: {exc}"
        reason = self._map_columns(header)
        if reason is not None:
            return reason
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
        try:
            con.execute(
                f"""
                CREATE TEMP TABLE {STAGE} AS
                SELECT * FROM read_csv(
                    ?, columns = {{{columns}}}, header = true, delim = ',', quote = '"',
                    escape = '"', auto_detect = false, store_rejects = true,
                    rejects_table = '{REJECTS}', rejects_scan = '{REJECTS_SCAN}')
                """,
                [str(path)],
            )
        except READ_ERRORS as exc:
            return f"cannot read file: {error_text(exc)}"
        return None

    def _read_parquet(self, con: duckdb.DuckDBPyConnection, file: ExtractFile) -> str | None:
        try:
            described = con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [str(file.path)]
            ).fetchall()
            names = [row[0] for row in described]
            reason = self._map_columns(names)
            if reason is not None:
                return reason
            selects = ", ".join(
                f"CAST({ident(names[int(col[1:])])} AS VARCHAR) AS {col}"
                for col in self._cols.values()
            )
            con.execute(
                f"CREATE TEMP TABLE {STAGE} AS SELECT {selects} FROM read_parquet(?)",
                [str(file.path)],
            )
        except READ_ERRORS as exc:
            return f"cannot read file: {error_text(exc)}"
        return None

    def _stage_bad_rows(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        """Collect the rows to quarantine: ``_wa_quarantined(line_number, raw_text, reason)``."""
        row_json = ", ".join(f"{literal(c)}: {col}" for c, col in self._cols.items())
        con.execute(
            f"""
            CREATE TEMP TABLE {BAD} AS
            SELECT rowid + 1 AS ordinal, {self._reason_sql()} AS reason,
                   to_json({{{row_json}}})::VARCHAR AS row_json
            FROM {STAGE} WHERE NOT ({self._valid_sql()})
            """
        )
        self._has_bad_rows = scalar(con, f"SELECT count(*) FROM {BAD}") > 0
        if not self._is_csv:
            con.execute(
                f"""
                CREATE TEMP TABLE {QUARANTINED} AS
                SELECT ordinal AS line_number, row_json AS raw_text, reason FROM {BAD}
                """
            )
            return
        if not self._has_bad_rows and scalar(con, f"SELECT count(*) FROM {REJECTS}") == 0:
            con.execute(
                f"CREATE TEMP TABLE {QUARANTINED} "
                "(line_number BIGINT, raw_text VARCHAR, reason VARCHAR)"
            )
            return
        self._stage_quarantine_lines(con, path)

    def _stage_quarantine_lines(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        """Physical line numbers and raw text of rejected records and invalid rows.

        DuckDB numbers CSV records counting the header and blank lines, and
        ``rowid + 1`` of the stage is the ordinal among parsed records. When
        every record is one physical line (physical lines = header + parsed +
        rejected + blank), a record number is its line and the k-th parsed
        record sits at ``k + 1 + (blank or rejected lines before it)``: cheap.
        Otherwise records spanning lines are mapped by quote parity (slower).
        """
        stage_lines(con, path)
        con.execute(f"CREATE TEMP TABLE {REJECTED} AS {_rejects_sql()}")
        counts = con.execute(
            f"""
            SELECT (SELECT count(*) FROM {LINES}),
                   (SELECT count(*) FROM {LINES} WHERE text IS NULL AND line_number > 1),
                   (SELECT count(*) FROM {STAGE}),
                   (SELECT count(*) FROM {REJECTED})
            """
        ).fetchone()
        assert counts is not None
        n_lines, n_blank, n_parsed, n_rejected = counts
        if n_lines == 1 + n_parsed + n_rejected + n_blank:
            con.execute(
                f"""
                CREATE TEMP TABLE {QUARANTINED} AS
                WITH skipped AS (  -- lines after the header that yield no parsed row
                    SELECT line_number AS line FROM {LINES}
                    WHERE text IS NULL AND line_number > 1
                    UNION ALL
                    SELECT line FROM {REJECTED}
                ),
                gaps AS (
                    SELECT line - row_number() OVER (ORDER BY line) - 1 AS parsed_before
                    FROM skipped
                ),
                bad AS (
                    SELECT b.ordinal + 1 + (
                               SELECT count(*) FROM gaps WHERE parsed_before < b.ordinal
                           ) AS line_number, b.reason
                    FROM {BAD} AS b
                )
                SELECT line AS line_number, csv_line AS raw_text, reason FROM {REJECTED}
                UNION ALL
                SELECT bad.line_number, l.text, bad.reason
                FROM bad LEFT JOIN {LINES} AS l USING (line_number)
                """
            )
        else:
            self._stage_records(con)
            con.execute(
                f"""
                CREATE TEMP TABLE {QUARANTINED} AS
                WITH data_records AS (
                    SELECT row_number() OVER (ORDER BY record_no) AS ordinal, line_number, text
                    FROM {RECORDS}
                    WHERE record_no > 1 AND text <> ''
                      AND record_no NOT IN (SELECT line FROM {REJECTED})
                )
                SELECT coalesce(r.line_number, rej.line) AS line_number,
                       rej.csv_line AS raw_text, rej.reason
                FROM {REJECTED} AS rej LEFT JOIN {RECORDS} AS r ON r.record_no = rej.line
                UNION ALL
                SELECT d.line_number, d.text, b.reason
                FROM {BAD} AS b LEFT JOIN data_records AS d USING (ordinal)
                """
            )
        cleanup_lines(con)

    def _stage_records(self, con: duckdb.DuckDBPyConnection) -> None:
        """Map CSV records (numbered as DuckDB does) to first physical line and text.

        A physical line ends a record when the running count of ``"`` up to its
        end is even (RFC 4180: quotes inside quoted fields come in pairs).
        """
        con.execute(
            f"""
            CREATE TEMP TABLE {RECORDS} AS
            WITH l AS (
                SELECT line_number, coalesce(text, '') AS text,
                       length(coalesce(text, '')) - length(replace(coalesce(text, ''), '"', ''))
                           AS quotes
                FROM {LINES}
            ),
            c AS (
                SELECT *, sum(quotes) OVER (ORDER BY line_number ROWS UNBOUNDED PRECEDING) % 2 = 0
                    AS closes
                FROM l
            ),
            r AS (
                SELECT *, 1 + coalesce(sum(closes::INTEGER) OVER (
                    ORDER BY line_number ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                    AS record_no
                FROM c
            )
            SELECT record_no, min(line_number) AS line_number,
                   string_agg(text, chr(10) ORDER BY line_number) AS text
            FROM r GROUP BY record_no
            """
        )

    # -- write ------------------------------------------------------------------------

    def write(self, con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> FileCounts:
        """Insert the valid rows typed and the quarantined rows (inside the file's txn)."""
        names = ", ".join(ident(c.name) for c in self.source.columns)
        typed = ", ".join(_typed(self._cols[c.name], c.type) for c in self.source.columns)
        # the common case (no bad row) skips re-evaluating the validation predicate
        valid = self._valid_sql() if self._has_bad_rows else "true"
        loaded = scalar(
            con,
            f"""
            INSERT INTO {qualified(self.source.name)}
                ({names}, _load_id, _file, _file_day, _row_number, _loaded_at)
            SELECT {typed}, ?, ?, ?, rowid + 1, ?
            FROM {STAGE} WHERE {valid}
            """,
            ctx.lineage_params,
        )
        quarantined = scalar(
            con,
            f"""
            INSERT INTO {QUARANTINE}
            SELECT ?, ?, line_number, raw_text, reason, ?, ? FROM {QUARANTINED}
            """,
            [ctx.source, ctx.file, ctx.load_id, ctx.loaded_at],
        )
        return FileCounts(loaded, quarantined, {self.source.name: loaded})

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop this loader's temp tables."""
        drop_temp(con, *TEMP_OBJECTS)
        cleanup_lines(con)
