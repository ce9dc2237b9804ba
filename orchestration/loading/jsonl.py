"""Reading (possibly gzipped) text files as physical lines, set-based, many files at once.

DuckDB's CSV reader does the work: one VARCHAR column, NUL as delimiter, no
quoting, so each physical line is one value (gzip is decompressed by the
reader, LF or CRLF files both work, blank lines come back as NULL rows and
keep their place). All files of a batch are read by ONE ``read_csv`` call (the
reader then works on several files in parallel); ``file_index`` tells which
file a line came from. With insertion order preserved (DuckDB's default), the
lines of each file land contiguously and in order in the staging table, so the
1-based physical line number is ``rowid - (first rowid of the file) + 1``.

Extra columns (``columns``: a SELECT-list over ``text``, e.g. a typed
``json_transform``) are computed in the same pass, so the text is read and
parsed once and stored once.

A line the reader rejects (invalid UTF-8, a NUL byte, longer than
:data:`MAX_LINE_BYTES`) is kept with its reader error so it can be
quarantined; the line numbers of that file's other lines are shifted around it
(that file's rows move to a table with explicit line numbers).

If the batch read fails (a truncated gzip, or DuckDB's strict reader refusing a
file that mixes LF and CRLF or holds a bare CR: "state machine reached an
invalid state"), the files are read one by one: an unreadable file is reported
(its reason returned), a refused one is re-read exactly with ``read_text`` +
``string_split`` on LF (gzip is first inflated to a temp file, as
``read_text`` does not decompress). That path is single-threaded and holds the
file in memory: fine for the rare broken file, not for the normal path.

Result: temp view ``_wa_lines(file_no, line_number, text, read_error, <columns>)``
where ``file_no`` is the 0-based position of the file in the list read (or
the number given for it in ``file_nos``); ``name`` stages into another view
(and its own temp tables), so a loader can re-read a few files while its main
stage is still in use.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from orchestration.loading.common import READ_ERRORS, drop_temp, error_text, int_list, scalar

LINES = "_wa_lines"

#: Longest accepted line; longer ones are quarantined ("LINE SIZE OVER MAXIMUM").
MAX_LINE_BYTES = 32 * 1024 * 1024


def _objects(name: str) -> tuple[str, str, str, str, str]:
    """The temp objects behind the view ``name``: the view, fixed, raw, rejects, rejects scan."""
    return (name, f"{name}_fixed", f"{name}_raw", f"{name}_rej", f"{name}_rej_scan")


TEMP_OBJECTS = _objects(LINES)


def stage_lines(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    columns: str = "",
    stored_text: str = "text",
    *,
    name: str = LINES,
    file_nos: Sequence[int] | None = None,
) -> dict[int, str]:
    """Read ``paths`` into the temp view ``name``; ``{file_no: reason}`` of unreadable files.

    ``columns``: extra SELECT-list items computed from the line ``text`` (may
    reuse earlier aliases), stored alongside each line; NULL for
    reader-rejected lines. ``stored_text``: what is kept as ``text`` (may use
    those aliases, e.g. keep the text only where no parsed copy is kept).
    ``file_nos``: the ``file_no`` of each path (default: its position).
    """
    view, fixed, raw, _, _ = objects = _objects(name)
    drop_temp(con, *objects)
    nos = list(file_nos) if file_nos is not None else list(range(len(paths)))
    select = f"{columns}, " if columns.strip() else ""
    select += f"{stored_text} AS text"
    shape = "(SELECT NULL::BIGINT AS file_no, NULL::VARCHAR AS text) LIMIT 0"
    con.execute(f"CREATE TEMP TABLE {raw} AS SELECT file_no, {select} FROM {shape}")
    con.execute(
        f"CREATE TEMP TABLE {fixed} AS SELECT file_no, NULL::BIGINT AS line_number, "
        f"NULL::VARCHAR AS read_error, {select} FROM {shape}"
    )
    reasons: dict[int, str] = {}
    if paths:
        try:
            _read(con, name, nos, paths, select)
        except READ_ERRORS as exc:
            if len(paths) == 1:
                reason = _read_one_failed(con, name, nos[0], paths[0], select, exc)
                if reason is not None:
                    reasons[nos[0]] = reason
            else:  # find the culprit(s): read the files one by one
                for no, path in zip(nos, paths, strict=True):
                    try:
                        _read(con, name, [no], [path], select)
                    except READ_ERRORS as one_exc:
                        reason = _read_one_failed(con, name, no, path, select, one_exc)
                        if reason is not None:
                            reasons[no] = reason
    offsets = dict(
        con.execute(f"SELECT file_no, min(rowid) - 1 FROM {raw} GROUP BY file_no").fetchall()
    )
    off = int_list([offsets.get(no, 0) for no in range(max(nos, default=0) + 1)])
    con.execute(
        f"""
        CREATE TEMP VIEW {view} AS
        SELECT rowid - {off}[file_no + 1] AS line_number, NULL::VARCHAR AS read_error, *
        FROM {raw}
        UNION ALL BY NAME
        SELECT * FROM {fixed}
        """
    )
    return reasons


def _read(
    con: duckdb.DuckDBPyConnection,
    name: str,
    nos: list[int],
    paths: Sequence[Path],
    select: str,
) -> None:
    """Append the lines of ``paths`` (file numbers ``nos``) to the raw table, in one read."""
    _, fixed, raw, rej, rej_scan = _objects(name)
    drop_temp(con, rej, rej_scan)
    con.execute(
        f"""
        INSERT INTO {raw}
        SELECT {int_list(nos)}[file_index::BIGINT + 1] AS file_no, {select}
        FROM read_csv(
            ?, columns = {{'text': 'VARCHAR'}}, header = false, delim = '', quote = '',
            escape = '', auto_detect = false, max_line_size = {MAX_LINE_BYTES},
            store_rejects = true, rejects_table = '{rej}', rejects_scan = '{rej_scan}')
        """,
        [[str(p) for p in paths]],
    )
    if scalar(con, f"SELECT count(*) FROM {rej}") == 0:
        return
    # Reader-rejected lines are missing from the raw table: in a file with
    # rejected lines L_1 < L_2 < ..., its k-th kept line sits at physical line
    # k + (number of rejected lines before it); L_j lies before kept line k
    # iff L_j - j < k. That file's rows move to the fixed table.
    con.execute(
        f"""
        INSERT INTO {fixed} BY NAME
        WITH rej AS (
            SELECT {int_list(nos)}[file_id::BIGINT + 1] AS file_no, line,
                   trim(first(csv_line), chr(13) || chr(10)) AS csv_line,
                   string_agg(DISTINCT error_type || ': ' || error_message, '; ') AS err
            FROM {rej} GROUP BY ALL
        ),
        gaps AS (
            SELECT file_no, line - row_number() OVER (PARTITION BY file_no ORDER BY line)
                AS kept_before
            FROM rej
        ),
        firsts AS (
            SELECT file_no, min(rowid) AS first_rowid FROM {raw}
            WHERE file_no IN (SELECT file_no FROM rej) GROUP BY file_no
        ),
        kept AS (
            SELECT r.rowid - f.first_rowid + 1 AS k, r.*
            FROM {raw} AS r JOIN firsts AS f USING (file_no)
        )
        SELECT kept.* EXCLUDE (k),
               k + (SELECT count(*) FROM gaps AS g
                    WHERE g.file_no = kept.file_no AND g.kept_before < kept.k) AS line_number
        FROM kept
        UNION ALL BY NAME
        SELECT file_no, line AS line_number, csv_line AS text, err AS read_error FROM rej
        """
    )
    con.execute(
        f"DELETE FROM {raw} WHERE file_no IN "
        f"(SELECT DISTINCT {int_list(nos)}[file_id::BIGINT + 1] FROM {rej})"
    )


def _read_one_failed(
    con: duckdb.DuckDBPyConnection, name: str, no: int, path: Path, select: str, exc: Exception
) -> str | None:
    """A single file's read failed: re-read it exactly if refused, else a reason."""
    if not (isinstance(exc, duckdb.InvalidInputException) and "state machine" in str(exc)):
        return f"cannot read file: {error_text(exc)}"
    try:
        _stage_lines_exact(con, name, no, path, select)
    except READ_ERRORS as exact_exc:
        return f"cannot read file: {error_text(exact_exc)}"
    return None


def _stage_lines_exact(
    con: duckdb.DuckDBPyConnection, name: str, no: int, path: Path, select: str
) -> None:
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
            INSERT INTO {_objects(name)[1]} BY NAME
            SELECT {no} AS file_no, line_number, {select}
            FROM (
                SELECT generate_subscripts(parts, 1)::BIGINT AS line_number,
                       nullif(rtrim(unnest(parts), chr(13)), '') AS text
                FROM (SELECT string_split(content, chr(10)) AS parts FROM read_text(?))
            )
            """,
            [str(source)],
        )


def cleanup_lines(con: duckdb.DuckDBPyConnection, name: str = LINES) -> None:
    """Drop the temp objects of :func:`stage_lines` (into the view ``name``)."""
    drop_temp(con, *_objects(name))


def line_reason_sql(text: str = "text", read_error: str = "read_error") -> str:
    """SQL CASE giving why a non-blank line is not a JSON object (NULL if it is)."""
    return rf"""CASE
        WHEN {read_error} IS NOT NULL THEN 'unreadable line: ' || {read_error}
        WHEN NOT json_valid({text}) THEN 'invalid JSON (malformed or truncated line)'
        WHEN NOT regexp_matches({text}, '^\s*\{{') THEN 'not a JSON object'
    END"""


def json_object_sql(structure: str, text: str = "text") -> str:
    """SQL: ``text`` parsed with ``json_transform`` if it is a JSON object, else NULL."""
    return (
        rf"CASE WHEN json_valid({text}) "
        rf"AND (starts_with({text}, '{{') OR regexp_matches({text}, '^\s*\{{')) "
        f"THEN json_transform({text}, {structure}) END"
    )


def non_blank_sql(text: str = "text", read_error: str = "read_error") -> str:
    """SQL predicate: the line counts (blank and whitespace-only lines are ignored)."""
    # regexp, not trim(): trim() copies the whole line and costs ~1.5x a JSON parse
    return (
        f"({read_error} IS NOT NULL "
        f"OR ({text} IS NOT NULL AND NOT regexp_full_match({text}, '\\s*')))"
    )
