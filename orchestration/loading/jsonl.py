"""Reading a (possibly gzipped) text file as physical lines, set-based.

DuckDB's CSV reader does the work: one VARCHAR column, NUL as delimiter, no
quoting, so each physical line is one value (gzip is decompressed by the
reader, LF or CRLF files both work, blank lines come back as NULL rows and
keep their place). The 1-based physical line number is the temp table's
insertion order (``rowid + 1``). A line the reader rejects (invalid UTF-8, a
NUL byte, longer than :data:`MAX_LINE_BYTES`) is kept with its reader error so
it can be quarantined; the line numbers of the other lines are shifted around it.

The CSV reader (strict mode) refuses a file that mixes LF and CRLF or holds a
bare CR ("state machine reached an invalid state"); without strict mode it
would silently split and drop text. Such a file is re-read exactly with
``read_text`` + ``string_split`` on LF (gzip is first inflated to a temp file,
as ``read_text`` does not decompress). That path is single-threaded and holds
the file in memory: fine for the rare broken file, not for the normal path.

Result: temp view ``_wa_lines(line_number BIGINT, text VARCHAR, read_error VARCHAR)``.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import duckdb

from orchestration.loading.common import drop_temp, scalar

LINES = "_wa_lines"
_RAW = "_wa_lines_raw"
_FIXED = "_wa_lines_fixed"
_REJ = "_wa_lines_rej"
_REJ_SCAN = "_wa_lines_rej_scan"

#: Longest accepted line; longer ones are quarantined ("LINE SIZE OVER MAXIMUM").
MAX_LINE_BYTES = 32 * 1024 * 1024

TEMP_OBJECTS = (LINES, _FIXED, _RAW, _REJ, _REJ_SCAN)


def stage_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Read ``path`` into the temp view ``_wa_lines`` (raises READ_ERRORS if unreadable)."""
    drop_temp(con, *TEMP_OBJECTS)
    try:
        con.execute(
            f"""
            CREATE TEMP TABLE {_RAW} AS
            SELECT * FROM read_csv(
                ?, columns = {{'text': 'VARCHAR'}}, header = false, delim = '', quote = '',
                escape = '', auto_detect = false, max_line_size = {MAX_LINE_BYTES},
                store_rejects = true, rejects_table = '{_REJ}', rejects_scan = '{_REJ_SCAN}')
            """,
            [str(path)],
        )
    except duckdb.InvalidInputException as exc:
        if "state machine" not in str(exc):
            raise
        drop_temp(con, *TEMP_OBJECTS)
        _stage_lines_exact(con, path)
        return
    if scalar(con, f"SELECT count(*) FROM {_REJ}") == 0:
        con.execute(
            f"""
            CREATE TEMP VIEW {LINES} AS
            SELECT rowid + 1 AS line_number, text, NULL::VARCHAR AS read_error FROM {_RAW}
            """
        )
        return
    # Reader-rejected lines are missing from _RAW: the k-th kept line sits at
    # physical line k + (number of rejected lines before it). With rejected
    # lines L_1 < L_2 < ... , L_j lies before kept line k iff L_j - j < k.
    con.execute(
        f"""
        CREATE TEMP TABLE {_FIXED} AS
        WITH rej AS (
            SELECT line,
                   trim(first(csv_line), chr(13) || chr(10)) AS csv_line,
                   string_agg(DISTINCT error_type || ': ' || error_message, '; ') AS err
            FROM {_REJ} GROUP BY line
        ),
        gaps AS (SELECT line - row_number() OVER (ORDER BY line) AS kept_before FROM rej),
        kept AS (SELECT rowid + 1 AS k, text FROM {_RAW})
        SELECT k + (SELECT count(*) FROM gaps WHERE kept_before < k) AS line_number,
               text, NULL::VARCHAR AS read_error
        FROM kept
        UNION ALL
        SELECT line, csv_line, err FROM rej
        """
    )
    con.execute(f"CREATE TEMP VIEW {LINES} AS SELECT * FROM {_FIXED}")


def _stage_lines_exact(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Fallback: split the whole text on LF (exact for any mix of line endings)."""
    with tempfile.TemporaryDirectory(prefix="wa_lines_") as tmp:
        source = path
        if path.name.endswith(".gz"):
            source = Path(tmp) / "inflated.txt"
            try:
                with gzip.open(path, "rb") as src, source.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, EOFError) as exc:
                raise duckdb.IOException(f"cannot decompress {path.name}: {exc}") from exc
        con.execute(
            f"""
            CREATE TEMP TABLE {_FIXED} AS
            SELECT generate_subscripts(parts, 1)::BIGINT AS line_number,
                   rtrim(unnest(parts), chr(13)) AS text,
                   NULL::VARCHAR AS read_error
            FROM (SELECT string_split(content, chr(10)) AS parts FROM read_text(?))
            """,
            [str(source)],
        )
    con.execute(
        f"CREATE TEMP VIEW {LINES} AS SELECT line_number, nullif(text, '') AS text, read_error "
        f"FROM {_FIXED}"
    )


def cleanup_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp objects of :func:`stage_lines`."""
    drop_temp(con, *TEMP_OBJECTS)


def line_reason_sql(text: str = "text", read_error: str = "read_error") -> str:
    """SQL CASE giving why a non-blank line is not a JSON object (NULL if it is)."""
    return rf"""CASE
        WHEN {read_error} IS NOT NULL THEN 'unreadable line: ' || {read_error}
        WHEN NOT json_valid({text}) THEN 'invalid JSON (malformed or truncated line)'
        WHEN NOT regexp_matches({text}, '^\s*\{{') THEN 'not a JSON object'
    END"""


def non_blank_sql(text: str = "text", read_error: str = "read_error") -> str:
    """SQL predicate: the line counts (blank and whitespace-only lines are ignored)."""
    # regexp, not trim(): trim() copies the whole line and costs ~1.5x a JSON parse
    return (
        f"({read_error} IS NOT NULL "
        f"OR ({text} IS NOT NULL AND NOT regexp_full_match({text}, '\\s*')))"
    )
