"""Loading ``webhooks/webhooks-YYYY-MM-DD.jsonl[.gz]``: deliveries, statuses, messages.

Each JSONL line is one delivery envelope ``{"delivery_id", "received_at",
"body"}``. All files of a batch are read as lines in one pass
(:mod:`orchestration.loading.jsonl`) and each line is parsed ONCE, in that
same pass: one typed ``json_transform`` of the envelope with the body's
``entry[].changes[].value.statuses[]`` / ``messages[]`` (see :data:`LINE`),
under ``TRY`` so a malformed line becomes NULL instead of failing the read.
The staging table holds each good line once, as its typed values (the text
only for lines that did not parse); every later step reads it: the bad-line
check, then one INSERT per raw table straight from it. Statuses and messages
are flattened by nested SELECT-list ``unnest``s (no lateral joins, no list
lambdas). A quarantined line that did parse (a bad timestamp, say) gets its
text from a second read of its file only (rare: a few files, text only).

The delivered line is not copied into the warehouse (see
``docs/raw_schema.md``): the extract file is the archive and ``_file`` +
``_row_number`` locate the line.

Measured here (2 cores shared with other work, so CPU seconds are the steadier
figure; medians of interleaved runs). 1M dispatches (45 files, 940 MB, 1.44M
lines, 2.28M statuses): ``load_source`` 12-15 s wall / ~21 CPU-s, peak RSS
1.2 GB, vs 20-21 s / ~28 CPU-s / 2.8 GB for the loader that cast every line
to JSON, parsed it twice and kept its text; a bare typed ``read_ndjson`` into
a temp table plus the two unnests: 5-9 s / ~10.5 CPU-s. 5M: 81-132 s / 82-103
CPU-s, 1.6 GB (earlier loader 64-158 s / 107-138 CPU-s, 3.1 GB; bare 40-49 s /
42-45 CPU-s); 10M: 2.3 GB peak. The typed parse
costs about what ``read_ndjson`` with the same typed columns costs (the
transform, not the line split, is the work: ``json_valid`` alone is ~1/5 of
it); ``TRY`` adds ~10 %, half of what a ``json_valid`` guard or a
``TRY_CAST(... AS JSON)`` copy costs. What remains above a bare typed read is
mostly DuckDB compressing the rows into the warehouse file (~80 % of each
INSERT; a temp table skips it). Nested ``unnest`` beats
``flatten(list_transform(...))`` + one ``unnest`` ~8x, and three chained
lateral ``UNNEST`` joins 15x or more.

A line is quarantined whole (none of its rows load) when it is not a JSON
object, lacks ``delivery_id`` or ``body``, has a missing or unparsable
``received_at``, or when any status or message has a timestamp that is not
Unix seconds (a missing one included) or any ``errors[].code`` is not an
integer. Missing ``conversation``, ``pricing`` or ``errors`` are fine (nulls,
``error_count`` 0). Unknown status values are kept. ``timestamp`` (Unix
seconds) becomes a naive UTC ``timestamp``.
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
    line_reason_sql,
    non_blank_sql,
    stage_lines,
)
from orchestration.loading.ledger import QUARANTINE
from orchestration.loading.schema import qualified

BAD = "_wa_wh_bad"
TEXT = "_wa_wh_text"  # a second read of the few files whose quarantined lines parsed
TEMP_OBJECTS = (BAD,)

STATUS = {
    "id": "VARCHAR",
    "status": "VARCHAR",
    "timestamp": "VARCHAR",
    "recipient_id": "VARCHAR",
    "recipient_user_id": "VARCHAR",
    "errors": [{"code": "VARCHAR", "title": "VARCHAR", "error_data": {"details": "VARCHAR"}}],
    "conversation": {"id": "VARCHAR", "origin": {"type": "VARCHAR"}},
    "pricing": {
        "billable": "BOOLEAN",
        "pricing_model": "VARCHAR",
        "type": "VARCHAR",
        "category": "VARCHAR",
    },
}
MESSAGE = {
    "from": "VARCHAR",
    "id": "VARCHAR",
    "timestamp": "VARCHAR",
    "type": "VARCHAR",
    "context": {"id": "VARCHAR"},
    "button": {"payload": "VARCHAR", "text": "VARCHAR"},
    "interactive": {"type": "VARCHAR", "button_reply": {"id": "VARCHAR", "title": "VARCHAR"}},
    "text": {"body": "VARCHAR"},
}
CHANGE = {"value": {"statuses": [STATUS], "messages": [MESSAGE]}}
BODY = {"entry": [{"id": "VARCHAR", "changes": [CHANGE]}]}
#: What one line is parsed into, once: the envelope and the typed body paths.
LINE = {"delivery_id": "VARCHAR", "received_at": "VARCHAR", "body": BODY}

#: Unix seconds as delivered (digits only; up to year 5138, so never overflows).
_UNIX_SECONDS_RE = "[0-9]{1,11}"
_ERROR_CODE_RE = "-?[0-9]{1,18}"
_VALUE_IN_REASON = 100


def _not_unix_seconds(col: str) -> str:
    return f"NOT coalesce(regexp_full_match({col}, '{_UNIX_SECONDS_RE}'), false)"


def _quoted(col: str) -> str:
    return f"""coalesce('"' || left({col}, {_VALUE_IN_REASON}) || '"', 'missing')"""


def _is_blank(col: str) -> str:
    return rf"({col} IS NULL OR regexp_full_match({col}, '\s*'))"


def _unix_seconds(col: str) -> str:
    return f"make_timestamp(CAST({col} AS BIGINT) * 1000000)"


# Stored with each line by stage_lines, computed in the read itself: the line
# parsed ONCE into typed structs (NULL unless a JSON object: ``TRY`` turns a
# malformed line into NULL), whether it was, the envelope fields, whether a
# body without ``entry`` is a JSON object at all (only those rare lines look
# at the text again), and whether the envelope needs a closer look (so later
# passes read booleans, not the parsed struct). The text is kept only where
# the line did not parse (for its quarantine row): a good line is held once,
# as its typed values.
LINE_COLUMNS = (
    "CASE WHEN starts_with(text, '{') OR regexp_matches(text, '^\\s*\\{') "
    f"THEN TRY(json_transform(text, {literal(json.dumps(LINE))})) END AS j, "
    "j IS NOT NULL AS parsed, "
    "struct_extract(j, 'delivery_id') AS delivery_id, "
    "timezone('UTC', try_cast(struct_extract(j, 'received_at') AS TIMESTAMPTZ)) AS received_at, "
    # a body that is no object parses to a struct of NULLs, like an object without entry
    "CASE WHEN struct_extract(j, 'body') IS NOT NULL "
    "AND struct_extract(struct_extract(j, 'body'), 'entry') IS NULL "
    "THEN json_type(text, '$.body') <> 'OBJECT' END AS body_not_object, "
    "parsed AND (delivery_id IS NULL OR regexp_full_match(delivery_id, '\\s*') "
    "OR received_at IS NULL OR struct_extract(struct_extract(j, 'body'), 'entry') IS NULL) "
    "AS suspect"
)
STORED_TEXT = "CASE WHEN j IS NULL THEN text END"


def _items(array: str, lines: str) -> str:
    """SQL: one row per ``entry[].changes[].value.<array>[]`` element ``x`` of ``lines``.

    Nested SELECT-list unnests (no lateral joins, no list lambdas): ~8x faster
    than ``flatten(list_transform(...))`` and one ``unnest``.
    """
    return f"""(
        SELECT file_no, line_number, delivery_id, received_at, entry_id,
               unnest(ch.value.{array}) AS x
        FROM (
            SELECT file_no, line_number, delivery_id, received_at, en.id AS entry_id,
                   unnest(en.changes) AS ch
            FROM (
                SELECT file_no, line_number, delivery_id, received_at,
                       unnest(j.body.entry) AS en
                FROM {lines}
            )
        )
    )"""


_PARSED = f"(SELECT * FROM {LINES} WHERE parsed)"
_GOOD = (
    f"(SELECT l.* FROM {LINES} AS l ANTI JOIN {BAD} USING (file_no, line_number) WHERE l.parsed)"
)
_BAD_CODE = (
    "list_filter(x.errors, lambda er: er.code IS NOT NULL "
    f"AND NOT regexp_full_match(er.code, '{_ERROR_CODE_RE}'))[1].code"
)
#: A JSON object ``json_transform`` could not take (``TRY`` hid the error): not seen so far.
_NOT_PARSED = "JSON object that could not be parsed into the webhook shape"

# Every line to quarantine (file_no, line_number, parsed, reason, text: NULL
# for a line that parsed, as only unparsed lines keep theirs). Line-level
# problems first; the items of the other parsed lines are then checked (only
# the rare flagged ones get a reason string).
STAGE_BAD = f"""
CREATE TEMP TABLE {BAD} AS
WITH envelope AS MATERIALIZED (
    SELECT file_no, line_number, coalesce(parsed, false) AS parsed, text,
           CASE WHEN parsed THEN nullif(concat_ws('; ',
               CASE WHEN {_is_blank("delivery_id")} THEN 'missing delivery_id' END,
               CASE WHEN j.received_at IS NULL THEN 'missing received_at'
                    WHEN received_at IS NULL
                    THEN 'bad received_at: ' || {_quoted("j.received_at")} END,
               CASE WHEN j.body IS NULL THEN 'missing body'
                    WHEN body_not_object THEN 'body is not a JSON object' END
           ), '') ELSE coalesce({line_reason_sql()}, '{_NOT_PARSED}') END AS reason
    FROM {LINES}
    -- booleans first; reasons are only built for the (rare) lines they catch
    WHERE CASE WHEN parsed THEN suspect ELSE {non_blank_sql()} END
),
flagged AS (
    SELECT file_no, line_number, true AS is_status, x."timestamp" AS ts, {_BAD_CODE} AS bad_code
    FROM {_items("statuses", _PARSED)}
    WHERE {_not_unix_seconds('x."timestamp"')}
       OR (x.errors IS NOT NULL AND {_BAD_CODE} IS NOT NULL)
    UNION ALL
    SELECT file_no, line_number, false, x."timestamp", NULL
    FROM {_items("messages", _PARSED)}
    WHERE {_not_unix_seconds('x."timestamp"')}
),
item_reasons AS (
    SELECT file_no, line_number, concat_ws('; ',
        'non-numeric status timestamp: '
            || min({_quoted("ts")}) FILTER (WHERE is_status AND {_not_unix_seconds("ts")}),
        'non-numeric error code: '
            || min({_quoted("bad_code")}) FILTER (WHERE bad_code IS NOT NULL),
        'non-numeric message timestamp: '
            || min({_quoted("ts")}) FILTER (WHERE NOT is_status)
    ) AS reason
    FROM flagged GROUP BY ALL
)
SELECT file_no, line_number, parsed, reason, text FROM envelope WHERE reason IS NOT NULL
UNION ALL
SELECT file_no, line_number, true, reason, NULL
FROM item_reasons
ANTI JOIN (SELECT * FROM envelope WHERE reason IS NOT NULL) USING (file_no, line_number)
"""

#: Files holding a quarantined line that parsed (its text was not kept).
FILES_TO_REREAD = f"SELECT DISTINCT file_no FROM {BAD} WHERE parsed ORDER BY file_no"

# The text of those lines, from a second read of (only) their files.
FILL_BAD_TEXT = f"""
UPDATE {BAD} AS q SET text = t.text
FROM (SELECT * FROM {TEXT} SEMI JOIN (SELECT * FROM {BAD} WHERE parsed)
      USING (file_no, line_number)) AS t
WHERE q.file_no = t.file_no AND q.line_number = t.line_number
"""

_LINEAGE = "b._load_id, b._file, b._file_day, i.line_number, b._loaded_at"

INSERT_DELIVERIES = f"""
INSERT INTO {qualified("webhook_deliveries")}
    (delivery_id, received_at, _load_id, _file, _file_day, _row_number, _loaded_at)
SELECT i.delivery_id, i.received_at, {_LINEAGE}
FROM {_GOOD} AS i JOIN {BATCH} AS b USING (file_no)
"""

INSERT_STATUSES = f"""
INSERT INTO {qualified("webhook_statuses")}
SELECT i.delivery_id, i.received_at, i.entry_id, x.id, x.status,
       {_unix_seconds('x."timestamp"')}, x.recipient_id, x.recipient_user_id,
       CAST(x.errors[1].code AS BIGINT), x.errors[1].title, x.errors[1].error_data.details,
       coalesce(len(x.errors), 0), x.conversation.id, x.conversation.origin."type",
       x.pricing.billable, x.pricing.pricing_model, x.pricing."type", x.pricing.category,
       {_LINEAGE}
FROM {_items("statuses", _GOOD)} AS i JOIN {BATCH} AS b USING (file_no)
"""

INSERT_MESSAGES = f"""
INSERT INTO {qualified("webhook_messages")}
SELECT i.delivery_id, i.received_at, i.entry_id, x.id, x."from", x."type",
       {_unix_seconds('x."timestamp"')}, x.context.id, x.button.payload, x.button."text",
       x.interactive."type", x.interactive.button_reply.id, x.interactive.button_reply.title,
       x."text".body, {_LINEAGE}
FROM {_items("messages", _GOOD)} AS i JOIN {BATCH} AS b USING (file_no)
"""

INSERT_QUARANTINE = f"""
INSERT INTO {QUARANTINE}
SELECT b.source, b._file, q.line_number, q.text, q.reason, b._load_id, b._loaded_at
FROM {BAD} AS q JOIN {BATCH} AS b USING (file_no)
"""

PARSED_PER_FILE = f"SELECT file_no, count(*) FROM {LINES} WHERE parsed GROUP BY file_no"
BAD_PER_FILE = f"SELECT file_no, count(*), count(*) FILTER (parsed) FROM {BAD} GROUP BY file_no"


class WebhooksLoader:
    """Loads the webhooks source."""

    def stage(self, con: duckdb.DuckDBPyConnection, files: list[ExtractFile]) -> dict[int, str]:
        """Read and parse the lines of all files; ``{file_no: reason}`` of unreadable files."""
        self.cleanup(con)
        reasons = stage_lines(con, [f.path for f in files], LINE_COLUMNS, STORED_TEXT)
        con.execute(STAGE_BAD)
        nos = [no for (no,) in con.execute(FILES_TO_REREAD).fetchall()]
        if nos:
            stage_lines(con, [files[no].path for no in nos], name=TEXT, file_nos=nos)
            con.execute(FILL_BAD_TEXT)
            cleanup_lines(con, TEXT)
        return reasons

    def write(self, con: duckdb.DuckDBPyConnection) -> BatchCounts:
        """Insert deliveries, statuses and messages of valid lines; quarantine the rest."""
        deliveries = scalar(con, INSERT_DELIVERIES)
        statuses = scalar(con, INSERT_STATUSES)
        messages = scalar(con, INSERT_MESSAGES)
        con.execute(INSERT_QUARANTINE)
        parsed = per_file_counts(con, PARSED_PER_FILE)
        bad = {no: (n, n_parsed) for no, n, n_parsed in con.execute(BAD_PER_FILE).fetchall()}
        per_file = {
            no: (parsed.get(no, 0) - bad.get(no, (0, 0))[1], bad.get(no, (0, 0))[0])
            for no in parsed.keys() | bad.keys()
        }
        return BatchCounts(
            per_file=per_file,
            table_rows={
                "webhook_deliveries": deliveries,
                "webhook_statuses": statuses,
                "webhook_messages": messages,
            },
        )

    def cleanup(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop this loader's temp tables."""
        drop_temp(con, *TEMP_OBJECTS)
        cleanup_lines(con, TEXT)
        cleanup_lines(con)
