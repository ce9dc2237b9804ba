"""Loading ``templates/templates-YYYY-MM-DD.jsonl`` into ``raw.templates`` with Spark,
by the rules of :mod:`orchestration.loading.templates`.

Lines are read as text (:mod:`orchestration.spark.loading.lines`) and a JSON
object is parsed once into a VARIANT; a line that is not one, or an object
without ``account_id``, ``template_name`` or ``language``, is quarantined with
its raw text. ``components`` is kept as JSON text, re-serialised from the
VARIANT (compact, object keys sorted: the same JSON value, not the same bytes).
Blank lines are ignored.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from orchestration.loading.discovery import ExtractFile
from orchestration.loading.templates import REQUIRED
from orchestration.spark.loading.common import Staged, sql_str
from orchestration.spark.loading.lines import json_object, line_reason, non_blank, read_lines
from orchestration.spark.loading.tables import spark_columns

_FIELDS = ("account_id", "template_name", "language", "category", "status")


class TemplatesLoader:
    """Loads the templates source."""

    def stage(self, spark: SparkSession, files: list[ExtractFile]) -> Staged:
        lines, reasons = read_lines(spark, [(no, f.path) for no, f in enumerate(files)])
        fields = [
            F.expr(f"try_variant_get(v, '$.{name}', 'string')").alias(name) for name in _FIELDS
        ]
        missing = ", ".join(
            f"CASE WHEN nullif(trim({c}), '') IS NULL THEN {sql_str(c)} END" for c in REQUIRED
        )
        staged = (
            lines.where(non_blank())
            .select("*", F.expr(json_object()).alias("v"))
            .select(
                "file_no",
                "line_number",
                "text",
                "read_error",
                F.col("v").isNotNull().alias("parsed"),
                *fields,
                F.expr("to_json(try_variant_get(v, '$.components', 'variant'))").alias(
                    "components"
                ),
            )
            .select(
                "*",
                F.expr(
                    f"CASE WHEN NOT parsed THEN {line_reason()} "
                    f"ELSE 'missing ' || nullif(concat_ws(', ', {missing}), '') END"
                ).alias("reason"),
            )
            .persist()
        )
        counts = {
            int(r["file_no"]): (int(r["good"]), int(r["bad"]))
            for r in staged.groupBy("file_no")
            .agg(
                F.sum(F.col("reason").isNull().cast("bigint")).alias("good"),
                F.sum(F.col("reason").isNotNull().cast("bigint")).alias("bad"),
            )
            .collect()
        }
        lineage = {"_load_id", "_file", "_file_day", "_row_number", "_loaded_at"}
        table = staged.where("reason IS NULL").select(
            "file_no",
            F.col("line_number").alias("_row_number"),
            *(
                F.col(name).cast(typ).alias(name)
                for name, typ in spark_columns("templates")
                if name not in lineage
            ),
        )
        quarantine = staged.where("reason IS NOT NULL").select(
            "file_no", "line_number", F.col("text").alias("raw_text"), "reason"
        )
        return Staged(
            reasons,
            {"templates": table},
            quarantine,
            per_file=counts,
            table_rows={"templates": sum(good for good, _ in counts.values())},
            persisted=[staged],
        )
