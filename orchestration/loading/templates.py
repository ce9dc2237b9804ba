"""Loading ``templates/templates-YYYY-MM-DD.jsonl`` into ``raw.templates``.

Lines are read as text (see :mod:`orchestration.loading.jsonl`); a line that
is not a JSON object, or an object without ``account_id``, ``template_name``
or ``language``, is quarantined with its raw text. ``components`` is kept as
delivered (JSON). Blank lines are ignored.
"""

from __future__ import annotations

import json

import duckdb

from orchestration.loading.common import READ_ERRORS, drop_temp, error_text, literal, scalar
from orchestration.loading.discovery import ExtractFile
from orchestration.loading.jsonl import (
    LINES,
    cleanup_lines,
    line_reason_sql,
    non_blank_sql,
    stage_lines,
)
from orchestration.loading.ledger import QUARANTINE, FileCounts, LoadContext
from orchestration.loading.schema import qualified

PARSED = "_wa_templates"
REQUIRED = ("account_id", "template_name", "language")
_STRUCTURE = json.dumps(
    {
        "account_id": "VARCHAR",
        "template_name": "VARCHAR",
        "language": "VARCHAR",
        "category": "VARCHAR",
        "status": "VARCHAR",
        "components": "JSON",
    }
)


class TemplatesLoader:
    """Loads the templates source."""

    def stage(self, con: duckdb.DuckDBPyConnection, file: ExtractFile) -> str | None:
        """Read lines, parse objects, decide each line's fate (None: file is readable)."""
        self.cleanup(con)
        try:
            stage_lines(con, file.path)
        except READ_ERRORS as exc:
            return f"cannot read file: {error_text(exc)}"
        missing = ", ".join(
            f"CASE WHEN nullif(trim(t.{c}), '') IS NULL THEN {literal(c)} END" for c in REQUIRED
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {PARSED} AS
            WITH lines AS (
                SELECT line_number, text, {line_reason_sql()} AS line_reason
                FROM {LINES} WHERE {non_blank_sql()}
            ),
            parsed AS (
                SELECT *, CASE WHEN line_reason IS NULL
                               THEN json_transform(text, {literal(_STRUCTURE)}) END AS t
                FROM lines
            )
            SELECT line_number, text, t,
                   coalesce(line_reason, 'missing ' || nullif(concat_ws(', ', {missing}), ''))
                       AS reason
            FROM parsed
            """
        )
        return None

    def write(self, con: duckdb.DuckDBPyConnection, ctx: LoadContext) -> FileCounts:
        """Insert valid templates and quarantine the rest (inside the file's txn)."""
        loaded = scalar(
            con,
            f"""
            INSERT INTO {qualified("templates")}
            SELECT t.account_id, t.template_name, t.language, t.category, t.status,
                   t.components, ?, ?, ?, line_number, ?
            FROM {PARSED} WHERE reason IS NULL
            """,
            ctx.lineage_params,
        )
        quarantined = scalar(
            con,
            f"""
            INSERT INTO {QUARANTINE}
            SELECT ?, ?, line_number, text, reason, ?, ?
            FROM {PARSED} WHERE reason IS NOT NULL
            """,
            [ctx.source, ctx.file, ctx.load_id, ctx.loaded_at],
        )
        return FileCounts(loaded, quarantined, {"templates": loaded})

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop this loader's temp tables."""
        drop_temp(con, PARSED)
        cleanup_lines(con)
