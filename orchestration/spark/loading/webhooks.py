"""Loading ``webhooks/webhooks-YYYY-MM-DD.jsonl[.gz]`` with Spark: deliveries, statuses,
messages, by the rules of :mod:`orchestration.loading.webhooks`.

All files of a batch are read as physical lines in one read
(:mod:`orchestration.spark.loading.lines`); each line that looks like a JSON
object is parsed ONCE into a VARIANT (``try_parse_json``: NULL when malformed),
from which the envelope fields and the typed ``body.entry[]`` (statuses and
messages, every leaf as text but ``pricing.billable``) are taken with
``try_variant_get``. The staged lines are cached; every later step (bad-line
checks, one INSERT per raw table through ``explode``s) reads them.

A line is quarantined whole, with the DuckDB loader's reasons, when it is
unreadable, not a JSON object, lacks ``delivery_id`` or ``body``, has a missing
or unparsable ``received_at``, a body that is no object, an ``entry`` that does
not fit the webhook shape, or any status or message whose timestamp is not Unix
seconds or any ``errors[].code`` that is not an integer.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from orchestration.loading.discovery import ExtractFile
from orchestration.loading.webhooks import _ERROR_CODE_RE, _NOT_PARSED, _UNIX_SECONDS_RE
from orchestration.spark.loading.common import Staged, is_blank, sql_str
from orchestration.spark.loading.lines import json_object, line_reason, non_blank, read_lines
from orchestration.spark.loading.tables import spark_columns

_VALUE_IN_REASON = 100

STATUS = (
    "struct<id: string, status: string, `timestamp`: string, recipient_id: string, "
    "recipient_user_id: string, "
    "errors: array<struct<code: string, title: string, error_data: struct<details: string>>>, "
    "conversation: struct<id: string, origin: struct<`type`: string>>, "
    "pricing: struct<billable: boolean, pricing_model: string, `type`: string, "
    "category: string>>"
)
MESSAGE = (
    "struct<`from`: string, id: string, `timestamp`: string, `type`: string, "
    "context: struct<id: string>, button: struct<payload: string, `text`: string>, "
    "interactive: struct<`type`: string, button_reply: struct<id: string, title: string>>, "
    "`text`: struct<body: string>>"
)
#: ``body.entry`` as typed structs (the shape of ``orchestration.loading.webhooks.BODY``)
ENTRY = (
    "array<struct<id: string, changes: array<struct<value: struct<"
    f"statuses: array<{STATUS}>, messages: array<{MESSAGE}>>>>>>"
)


def _quoted(col: str) -> str:
    return f"""coalesce('"' || left({col}, {_VALUE_IN_REASON}) || '"', 'missing')"""


def _not_unix_seconds(col: str) -> str:
    return f"NOT coalesce({col} RLIKE {sql_str('^' + _UNIX_SECONDS_RE + '$')}, false)"


def _unix_seconds(col: str) -> Column:
    return F.expr(f"timestamp_seconds(CAST({col} AS BIGINT))")


_BAD_CODE = (
    "try_element_at(filter(x.errors, er -> er.code IS NOT NULL AND NOT er.code RLIKE "
    f"{sql_str('^' + _ERROR_CODE_RE + '$')}), 1).code"
)

#: the envelope's problems, '; '-separated (NULL when none); over the staged columns
ENVELOPE_REASON = f"""CASE WHEN v IS NULL THEN coalesce({line_reason()}, '{_NOT_PARSED}')
ELSE nullif(concat_ws('; ',
    CASE WHEN {is_blank("delivery_id")} THEN 'missing delivery_id' END,
    CASE WHEN received_text IS NULL THEN 'missing received_at'
         WHEN received_at IS NULL THEN 'bad received_at: ' || {_quoted("received_text")} END,
    CASE WHEN body_missing THEN 'missing body'
         WHEN entry_variant IS NULL AND NOT schema_of_variant(body) LIKE 'OBJECT%'
         THEN 'body is not a JSON object'
         WHEN entry_variant IS NOT NULL AND entries IS NULL THEN '{_NOT_PARSED}' END
), '') END"""


class WebhooksLoader:
    """Loads the webhooks source."""

    def stage(self, spark: SparkSession, files: list[ExtractFile]) -> Staged:
        lines, reasons = read_lines(spark, [(no, f.path) for no, f in enumerate(files)])
        parsed = (
            lines.where(non_blank())
            .select("*", F.expr(json_object()).alias("v"))
            .select(
                "file_no",
                "line_number",
                "text",
                "read_error",
                "v",
                F.expr("try_variant_get(v, '$.delivery_id', 'string')").alias("delivery_id"),
                F.expr("try_variant_get(v, '$.received_at', 'string')").alias("received_text"),
                F.expr("try_variant_get(v, '$.body', 'variant')").alias("body"),
                F.expr("try_variant_get(v, '$.body.entry', 'variant')").alias("entry_variant"),
                F.expr(f"try_variant_get(v, '$.body.entry', '{ENTRY}')").alias("entries"),
            )
            .select(
                "*",
                F.expr(
                    "CASE WHEN received_text RLIKE '^\\\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}' "
                    "THEN try_cast(received_text AS TIMESTAMP) END"
                ).alias("received_at"),
                F.expr("body IS NULL OR is_variant_null(body)").alias("body_missing"),
            )
        )
        staged = (
            parsed.select(
                "file_no",
                "line_number",
                "delivery_id",
                "received_at",
                "entries",
                F.expr("CASE WHEN v IS NULL THEN text END").alias("text"),
                F.col("v").isNotNull().alias("parsed"),
                F.expr(ENVELOPE_REASON).alias("envelope_reason"),
            )
        ).persist()
        statuses = _items(staged.where("envelope_reason IS NULL"), "statuses")
        messages = _items(staged.where("envelope_reason IS NULL"), "messages")
        flagged = (
            statuses.where(f"{_not_unix_seconds('x.`timestamp`')} OR {_BAD_CODE} IS NOT NULL")
            .select(
                "file_no",
                "line_number",
                F.lit(True).alias("is_status"),
                F.col("x.timestamp").alias("ts"),
                F.expr(_BAD_CODE).alias("bad_code"),
            )
            .unionByName(
                messages.where(_not_unix_seconds("x.`timestamp`")).select(
                    "file_no",
                    "line_number",
                    F.lit(False).alias("is_status"),
                    F.col("x.timestamp").alias("ts"),
                    F.lit(None).cast("string").alias("bad_code"),
                )
            )
        )
        item_reasons = flagged.groupBy("file_no", "line_number").agg(
            F.expr(
                "concat_ws('; ', "
                "'non-numeric status timestamp: ' || min(CASE WHEN is_status AND "
                f"{_not_unix_seconds('ts')} THEN {_quoted('ts')} END), "
                f"'non-numeric error code: ' || min(CASE WHEN bad_code IS NOT NULL THEN "
                f"{_quoted('bad_code')} END), "
                "'non-numeric message timestamp: ' || min(CASE WHEN NOT is_status THEN "
                f"{_quoted('ts')} END))"
            ).alias("item_reason")
        )
        bad = (
            staged.join(item_reasons, ["file_no", "line_number"], "left")
            .where("envelope_reason IS NOT NULL OR item_reason IS NOT NULL")
            .select(
                "file_no",
                "line_number",
                F.coalesce("envelope_reason", "item_reason").alias("reason"),
                "text",
                "parsed",
            )
            .persist()
        )
        # the text of a quarantined line that parsed was not kept: read it again
        reread = [no for (no,) in bad.where("parsed").select("file_no").distinct().collect()]
        quarantine = bad.where("NOT parsed").select("file_no", "line_number", "text", "reason")
        if reread:
            again, _ = read_lines(spark, [(no, files[no].path) for no in sorted(reread)])
            quarantine = quarantine.unionByName(
                bad.where("parsed")
                .drop("text")
                .join(again.select("file_no", "line_number", "text"), ["file_no", "line_number"])
                .select("file_no", "line_number", "text", "reason")
            )
        quarantine = quarantine.withColumnRenamed("text", "raw_text")
        good = staged.join(
            F.broadcast(bad.select("file_no", "line_number")), ["file_no", "line_number"], "anti"
        ).where("envelope_reason IS NULL")
        loaded = _per_file(good)
        rejected = _per_file(bad)
        per_file = {
            no: (loaded.get(no, 0), rejected.get(no, 0)) for no in loaded.keys() | rejected.keys()
        }
        tables = {
            "webhook_deliveries": _deliveries(good),
            "webhook_statuses": _statuses(_items(good, "statuses")),
            "webhook_messages": _messages(_items(good, "messages")),
        }
        table_rows = {
            "webhook_deliveries": sum(loaded.values()),
            "webhook_statuses": tables["webhook_statuses"].count(),
            "webhook_messages": tables["webhook_messages"].count(),
        }
        return Staged(reasons, tables, quarantine, per_file, table_rows, persisted=[staged, bad])


def _per_file(frame: DataFrame) -> dict[int, int]:
    return {int(r[0]): int(r[1]) for r in frame.groupBy("file_no").count().collect()}


def _items(lines: DataFrame, array: str) -> DataFrame:
    """One row per ``entry[].changes[].value.<array>[]`` element ``x`` of ``lines``."""
    keys = ["file_no", "line_number", "delivery_id", "received_at"]
    return (
        lines.select(*keys, F.explode("entries").alias("en"))
        .select(*keys, F.col("en.id").alias("entry_id"), F.explode("en.changes").alias("ch"))
        .select(*keys, "entry_id", F.explode(f"ch.value.{array}").alias("x"))
    )


def _ordered(table: str, values: dict[str, Column]) -> list[Column]:
    """``values`` in the Spark table's column order (lineage added by the runner)."""
    lineage = {"_load_id", "_file", "_file_day", "_row_number", "_loaded_at"}
    return [F.col("file_no"), F.col("line_number").alias("_row_number")] + [
        values[name].cast(typ).alias(name)
        for name, typ in spark_columns(table)
        if name not in lineage
    ]


def _deliveries(good: DataFrame) -> DataFrame:
    return good.select(
        *_ordered(
            "webhook_deliveries",
            {"delivery_id": F.col("delivery_id"), "received_at": F.col("received_at")},
        )
    )


def _statuses(items: DataFrame) -> DataFrame:
    x = "x"
    return items.select(
        *_ordered(
            "webhook_statuses",
            {
                "delivery_id": F.col("delivery_id"),
                "received_at": F.col("received_at"),
                "entry_id": F.col("entry_id"),
                "wamid": F.col(f"{x}.id"),
                "status": F.col(f"{x}.status"),
                "status_at": _unix_seconds("x.`timestamp`"),
                "recipient_id": F.col(f"{x}.recipient_id"),
                "recipient_user_id": F.col(f"{x}.recipient_user_id"),
                "error_code": F.expr("try_cast(try_element_at(x.errors, 1).code AS BIGINT)"),
                "error_title": F.expr("try_element_at(x.errors, 1).title"),
                "error_details": F.expr("try_element_at(x.errors, 1).error_data.details"),
                "error_count": F.expr("CASE WHEN x.errors IS NULL THEN 0 ELSE size(x.errors) END"),
                "conversation_id": F.col(f"{x}.conversation.id"),
                "conversation_origin": F.col(f"{x}.conversation.origin.type"),
                "is_billable": F.col(f"{x}.pricing.billable"),
                "pricing_model": F.col(f"{x}.pricing.pricing_model"),
                "pricing_type": F.col(f"{x}.pricing.type"),
                "pricing_category": F.col(f"{x}.pricing.category"),
            },
        )
    )


def _messages(items: DataFrame) -> DataFrame:
    return items.select(
        *_ordered(
            "webhook_messages",
            {
                "delivery_id": F.col("delivery_id"),
                "received_at": F.col("received_at"),
                "entry_id": F.col("entry_id"),
                "message_id": F.col("x.id"),
                "from_number": F.col("x.from"),
                "message_type": F.col("x.type"),
                "message_at": _unix_seconds("x.`timestamp`"),
                "context_wamid": F.col("x.context.id"),
                "button_payload": F.col("x.button.payload"),
                "button_text": F.col("x.button.text"),
                "interactive_type": F.col("x.interactive.type"),
                "interactive_reply_id": F.col("x.interactive.button_reply.id"),
                "interactive_reply_title": F.col("x.interactive.button_reply.title"),
                "text_body": F.col("x.text.body"),
            },
        )
    )
