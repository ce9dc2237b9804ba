"""Loading ``templates/templates-YYYY-MM-DD.jsonl`` into ``raw.templates``.

Lines are read as text (see :mod:`orchestration.loading.jsonl`); a line that
is not a JSON object, or an object without ``account_id``, ``template_name``
or ``language``, is quarantined with its raw text. ``components`` is kept as
delivered (JSON). Blank lines are ignored.
"""

from __future__ import annotations

import json

import duckdb

from orchestration.loading.common import (
    BATCH,
    BatchCounts,
    drop_temp,
    literal,
    per_file_counts,
    scalar,
)
from orchestration.loading.discovery import ExtractFile
from orchestration.loading.jsonl import (
    LINES,
    cleanup_lines,
    json_object_sql,
    line_reason_sql,
    non_blank_sql,
    stage_lines,
)
from orchestration.loading.ledger import QUARANTINE
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

    def stage(self, con: duckdb.DuckDBPyConnection, files: list[ExtractFile]) -> dict[int, str]:
        """Read lines, parse objects, decide each line's fate; ``{file_no: reason}``."""
        self.cleanup(con)
        reasons = stage_lines(
            con, [f.path for f in files], f"{json_object_sql(literal(_STRUCTURE))} AS t"
        )
        missing = ", ".join(
            f"CASE WHEN nullif(trim(t.{c}), '') IS NULL THEN {literal(c)} END" for c in REQUIRED
        )
        con.execute(
            f"""
            CREATE TEMP TABLE {PARSED} AS
            SELECT file_no, line_number, text, t,
                   CASE WHEN t IS NULL THEN {line_reason_sql()}
                        ELSE 'missing ' || nullif(concat_ws(', ', {missing}), '') END AS reason
            FROM {LINES} WHERE t IS NOT NULL OR {non_blank_sql()}
            """
        )
        return reasons

    def write(self, con: duckdb.DuckDBPyConnection) -> BatchCounts:
        """Insert valid templates and quarantine the rest (inside the batch's txn)."""
        loaded = scalar(
            con,
            f"""
            INSERT INTO {qualified("templates")}
            SELECT t.account_id, t.template_name, t.language, t.category, t.status,
                   t.components, b._load_id, b._file, b._file_day, p.line_number, b._loaded_at
            FROM {PARSED} AS p JOIN {BATCH} AS b USING (file_no) WHERE reason IS NULL
            """,
        )
        con.execute(
            f"""
            INSERT INTO {QUARANTINE}
            SELECT b.source, b._file, p.line_number, p.text, p.reason, b._load_id, b._loaded_at
            FROM {PARSED} AS p JOIN {BATCH} AS b USING (file_no) WHERE reason IS NOT NULL
            """
        )
        good = per_file_counts(
            con, f"SELECT file_no, count(*) FROM {PARSED} WHERE reason IS NULL GROUP BY ALL"
        )
        bad = per_file_counts(
            con, f"SELECT file_no, count(*) FROM {PARSED} WHERE reason IS NOT NULL GROUP BY ALL"
        )
        return BatchCounts(
            per_file={no: (good.get(no, 0), bad.get(no, 0)) for no in good.keys() | bad.keys()},
            table_rows={"templates": loaded},
        )

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop this loader's temp tables."""
        drop_temp(con, PARSED)
        cleanup_lines(con)
