"""Loading tabular extracts (csv, csv.gz, parquet) with Spark: the rules of
:mod:`orchestration.loading.tabular`, set-based in Spark SQL.

CSV: every file of a batch is read as physical lines in one read
(:mod:`orchestration.spark.loading.lines`); lines are grouped into RFC 4180
records by quote parity (a record ends on a line where the running count of
``"`` is even), the first record of a file is its header (parsed in Python by the
DuckDB loader's :func:`~orchestration.loading.tabular.read_csv_header`, which
also decides whole-file problems), blank records are skipped, and each record is
split into fields by a regular expression. A record that is not a sequence of
RFC 4180 fields is quarantined as ``unterminated or stray quote``, one with
another number of fields than the header as ``wrong column count (Expected
Number of Columns: N Found: M)``, the reasons DuckDB's reader gives. Those
records do not count in ``_row_number`` (the ordinal among parsed records);
``line_number`` is a record's first physical line and ``raw_text`` its lines.

A file mixing LF and CRLF line endings is quarantined whole, as DuckDB's strict
reader refuses it (a lenient read could split records wrongly); the check counts
LF and CRLF in the file's bytes in Python (streamed, inflated for gzip), one more
pass over each CSV file.

Parquet: each file is read by ``spark.read.parquet`` with every contract column
cast to text (typed and all-text Parquet load the same); ``_row_number`` and
``line_number`` are ``_metadata.row_index + 1``.

Then, for both, each typed column is parsed once (``try_cast``; ``bigint`` also
needs the digits-only shape, a timestamp a ``YYYY-MM-DD`` start) and a row with a
non-empty value that does not parse, a blank key, an optional column outside its
accepted values or a broken row rule (``schema.ROW_RULES``) is quarantined whole
with the DuckDB loader's reasons.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from orchestration.layout import ColumnType, Source
from orchestration.loading.discovery import ExtractFile
from orchestration.loading.schema import OPTIONAL_COLUMNS, ROW_RULES
from orchestration.loading.tabular import _KIND_WORD, HeaderError, read_csv_header
from orchestration.spark.loading.common import (
    VALUE_IN_REASON,
    Staged,
    error_text,
    ident,
    is_blank,
    sql_str,
)
from orchestration.spark.loading.lines import read_lines
from orchestration.spark.loading.tables import spark_columns

_FIELD = r'"(?:[^"]++|"")*+"|[^",]*+'
#: a whole record: RFC 4180 fields separated by commas
RECORD_RE = rf"^(?:{_FIELD})(?:,(?:{_FIELD}))*+\z"
#: one field with the comma before it (the record is prefixed with a comma)
FIELD_RE = rf",({_FIELD})"
_INTEGER_RE = r"^\s*[+-]?[0-9]+\s*\z"
_TIMESTAMP_RE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"
QUOTE_REASON = "unterminated or stray quote (Value with unterminated quote found.)"
MIXED_ENDINGS = "cannot read file: mixed line endings (LF and CRLF) in one CSV file"


def _unquote(field: Column) -> Column:
    """A CSV field's value: a quoted one without its quotes and with ``""`` as ``"``."""
    inner = F.regexp_replace(field.substr(F.lit(2), F.length(field) - 2), '""', '"')
    return F.when(field.startswith('"'), inner).otherwise(field)


def mixed_line_endings(path: Path) -> bool:
    """Whether a (possibly gzipped) file has LF-terminated lines both with and without CR."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lf = crlf = 0
    last = b""
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lf += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
    return 0 < crlf < lf


class TabularLoader:
    """Loads one tabular source (see module docstring)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.optional = OPTIONAL_COLUMNS.get(source.name, ())
        self.rules = ROW_RULES.get(source.name, ())

    # -- SQL pieces over the text columns c<i> (contract) and o<j> (optional) ---------

    def _typed(self, index: int) -> str:
        column, text = self.source.columns[index], f"c{index}"
        if column.type is ColumnType.TIMESTAMP:
            shape = f"{text} RLIKE {sql_str(_TIMESTAMP_RE)}"
            return f"CASE WHEN {shape} THEN try_cast({text} AS TIMESTAMP) END"
        if column.type is ColumnType.INTEGER:
            shape = f"{text} RLIKE {sql_str(_INTEGER_RE)}"
            return f"CASE WHEN {shape} THEN try_cast(trim({text}) AS BIGINT) END"
        if column.type is ColumnType.DECIMAL:
            return f"try_cast(trim({text}) AS DECIMAL(18,4))"
        return text

    def _acceptable(self, index: int) -> str:
        text = f"c{index}"
        return f"({text} IS NULL OR v{index} IS NOT NULL OR {text} RLIKE '^\\\\s*\\\\z')"

    def _optional_value(self, index: int) -> str:
        text, default = f"o{index}", sql_str(self.optional[index].default)
        return f"CASE WHEN {is_blank(text)} THEN {default} ELSE lower(trim({text})) END"

    def _optional_acceptable(self, index: int) -> str:
        accepted = ", ".join(sql_str(v) for v in self.optional[index].accepted)
        return f"({is_blank(f'o{index}')} OR lower(trim(o{index})) IN ({accepted}))"

    def _rule_breaches(self) -> list[tuple[str, str]]:
        names = self.source.column_names
        out = []
        for rule in self.rules:
            value = f"c{names.index(rule.column)}"
            matches = f"coalesce(upper(trim({value})) = {sql_str(rule.value.upper())}, false)"
            for blank in rule.blank:
                text = f"c{names.index(blank)}"
                word = f"{rule.column} {rule.value} with a {blank}: "
                out.append(
                    (
                        f"({matches} AND NOT {is_blank(text)})",
                        f"concat({sql_str(word)}, '\"', left({text}, {VALUE_IN_REASON}), '\"', "
                        f"{sql_str(f' ({rule.why})')})",
                    )
                )
        return out

    def _checks(self) -> tuple[str, str]:
        """(SQL: the row is valid, SQL: its reasons '; '-separated) over typed ``v<i>``."""
        checks, parts = [], []
        if self.source.key:
            key = self.source.column_names.index(self.source.key)
            checks.append(f"NOT {is_blank(f'c{key}')}")
            parts.append(
                f"CASE WHEN {is_blank(f'c{key}')} THEN 'missing key {self.source.key}' END"
            )
        for index, column in enumerate(self.source.columns):
            if column.type is ColumnType.TEXT:
                continue
            word = f"{_KIND_WORD[column.type]} in {column.name}: "
            checks.append(self._acceptable(index))
            parts.append(
                f"CASE WHEN NOT {self._acceptable(index)} THEN concat({sql_str(word)}, '\"', "
                f"left(c{index}, {VALUE_IN_REASON}), '\"') END"
            )
        for index, column in enumerate(self.optional):
            word = f"bad value in {column.name}: "
            expected = f" (expected {' or '.join(column.accepted)}, or empty)"
            checks.append(self._optional_acceptable(index))
            parts.append(
                f"CASE WHEN NOT {self._optional_acceptable(index)} THEN concat({sql_str(word)}, "
                f"'\"', left(o{index}, {VALUE_IN_REASON}), '\"', {sql_str(expected)}) END"
            )
        for breach, reason in self._rule_breaches():
            checks.append(f"NOT {breach}")
            parts.append(f"CASE WHEN {breach} THEN {reason} END")
        return " AND ".join(checks) or "true", f"concat_ws('; ', {', '.join(parts)})"

    def _text_names(self) -> list[str]:
        return [f"c{i}" for i in range(len(self.source.columns))] + [
            f"o{i}" for i in range(len(self.optional))
        ]

    def _missing_columns(self, names: list[str]) -> str | None:
        found = {name.strip().lower() for name in names}
        missing = [c for c in self.source.column_names if c not in found]
        return f"wrong header: missing columns {', '.join(missing)}" if missing else None

    def _positions(self, names: list[str]) -> list[int]:
        """Position of each contract column, then each optional one (-1: absent) in ``names``."""
        position: dict[str, int] = {}
        for index, name in enumerate(names):
            position.setdefault(name.strip().lower(), index)
        wanted = self.source.column_names + [c.name for c in self.optional]
        return [position.get(name, -1) for name in wanted]

    # -- stage ----------------------------------------------------------------------------

    def stage(self, spark: SparkSession, files: list[ExtractFile]) -> Staged:
        """Stage the batch's rows (typed, with ``ok`` and ``reason``) and its quarantine."""
        reasons: dict[int, str] = {}
        headers: dict[int, list[str]] = {}
        csv_files: list[tuple[int, Path]] = []
        frames: list[DataFrame] = []
        for no, file in enumerate(files):
            if file.format == "parquet":
                frame, reason = self._read_parquet(spark, no, file.path)
                if frame is not None:
                    frames.append(frame)
            else:
                try:
                    header = read_csv_header(file.path)
                except HeaderError as exc:
                    reason = f"cannot read file: {exc}"
                else:
                    reason = self._missing_columns(header)
                    if reason is None:
                        headers[no] = header
                        csv_files.append((no, file.path))
            if reason is not None:
                reasons[no] = reason
        if csv_files:
            frame, unreadable = self._read_csv(spark, csv_files, headers)
            reasons.update(unreadable)
            frames.append(frame)
        return self._finish(spark, frames, reasons)

    def _read_csv(
        self, spark: SparkSession, files: list[tuple[int, Path]], headers: dict[int, list[str]]
    ) -> tuple[DataFrame, dict[int, str]]:
        lines, reasons = read_lines(spark, files)
        mapping = spark.createDataFrame(
            [(no, len(headers[no]), self._positions(headers[no])) for no, _ in files],
            "file_no bigint, n_header int, positions array<int>",
        )
        quotes = F.length("text") - F.length(F.regexp_replace("text", '"', ""))
        by_line = Window.partitionBy("file_no").orderBy("line_number")
        upto = by_line.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        before = by_line.rowsBetween(Window.unboundedPreceding, -1)
        with_parity = lines.select(
            "*",
            (F.sum(quotes).over(upto) % 2 == 0).alias("closes"),
        )
        numbered = with_parity.select(
            "*",
            (1 + F.coalesce(F.sum(F.col("closes").cast("int")).over(before), F.lit(0))).alias(
                "record_no"
            ),
        )
        records = numbered.groupBy("file_no", "record_no").agg(
            F.min("line_number").alias("line_number"),
            F.array_sort(F.collect_list(F.struct("line_number", "text"))).alias("parts"),
            F.max("read_error").alias("read_error"),
        )
        record = F.array_join(F.transform("parts", lambda p: p["text"]), "\n")
        fields = F.expr(f"regexp_extract_all(concat(',', record), {sql_str(FIELD_RE)}, 1)")
        parsed = (
            records.where("record_no > 1")
            .select("file_no", "record_no", "line_number", "read_error", record.alias("record"))
            .where("record <> '' OR read_error IS NOT NULL")
            .join(F.broadcast(mapping), "file_no")
            .select(
                "*",
                F.col("record").rlike(RECORD_RE).alias("well_formed"),
                fields.alias("fields"),
            )
            .select(
                "*",
                F.expr(
                    "CASE WHEN read_error IS NOT NULL THEN 'invalid UTF-8 (' || read_error || ')' "
                    f"WHEN NOT well_formed THEN {sql_str(QUOTE_REASON)} "
                    "WHEN size(fields) <> n_header THEN 'wrong column count (Expected Number of "
                    "Columns: ' || n_header || ' Found: ' || size(fields) || ')' END"
                ).alias("broken"),
            )
        )
        good = parsed.where("broken IS NULL").select(
            "*",
            F.row_number()
            .over(Window.partitionBy("file_no").orderBy("record_no"))
            .cast("bigint")
            .alias("ordinal"),
            F.transform("fields", _unquote).alias("values"),
        )
        texts = [
            F.when(F.col("positions")[i] >= 0, F.expr(f"nullif(values[positions[{i}]], '')")).alias(
                name
            )
            for i, name in enumerate(self._text_names())
        ]
        good_rows = good.select(
            "file_no",
            "ordinal",
            "line_number",
            F.col("record").alias("raw_text"),
            "broken",
            *texts,
        )
        broken_rows = parsed.where("broken IS NOT NULL").select(
            "file_no",
            F.lit(None).cast("bigint").alias("ordinal"),
            "line_number",
            F.col("record").alias("raw_text"),
            "broken",
            *(F.lit(None).cast("string").alias(name) for name in self._text_names()),
        )
        mixed = {
            no: MIXED_ENDINGS
            for no, path in files
            if no not in reasons and mixed_line_endings(path)
        }
        reasons.update(mixed)
        frame = good_rows.unionByName(broken_rows)
        if mixed:
            frame = frame.where(~F.col("file_no").isin(list(mixed)))
        return frame, reasons

    def _read_parquet(
        self, spark: SparkSession, no: int, path: Path
    ) -> tuple[DataFrame | None, str | None]:
        try:
            frame = spark.read.parquet(str(path))
            names = frame.columns
        except Exception as exc:
            return None, f"cannot read file: {error_text(exc)}"
        reason = self._missing_columns(names)
        if reason is not None:
            return None, reason
        positions = self._positions(names)
        texts = [
            (F.col(ident(names[p])).cast("string") if p >= 0 else F.lit(None).cast("string")).alias(
                name
            )
            for p, name in zip(positions, self._text_names(), strict=True)
        ]
        row = (F.col("_metadata.row_index") + 1).cast("bigint")
        return (
            frame.select(
                F.lit(no).cast("bigint").alias("file_no"),
                row.alias("ordinal"),
                row.alias("line_number"),
                F.lit(None).cast("string").alias("raw_text"),
                F.lit(None).cast("string").alias("broken"),
                *texts,
            ),
            None,
        )

    def _finish(
        self, spark: SparkSession, frames: list[DataFrame], reasons: dict[int, str]
    ) -> Staged:
        if not frames:
            return Staged(reasons, {}, None)
        rows = frames[0]
        for frame in frames[1:]:
            rows = rows.unionByName(frame)
        ok, why = self._checks()
        typed = [
            F.expr(self._typed(i)).alias(f"v{i}")
            for i, c in enumerate(self.source.columns)
            if c.type is not ColumnType.TEXT
        ]
        row_json = ", ".join(
            f"{sql_str(name)}, {text}"
            for name, text in zip(
                self.source.column_names + [c.name for c in self.optional],
                self._text_names(),
                strict=True,
            )
        )
        stage = (
            rows.select("*", *typed)
            .select("*", F.expr(f"broken IS NULL AND {ok}").alias("ok"))
            .select(
                "*",
                F.expr(
                    f"CASE WHEN broken IS NOT NULL THEN broken WHEN NOT ok THEN {why} END"
                ).alias("reason"),
                F.expr(
                    "CASE WHEN NOT ok THEN coalesce(raw_text, to_json(named_struct("
                    f"{row_json}), map('ignoreNullFields', 'false'))) END"
                ).alias("bad_text"),
            )
            .drop("raw_text")
            .persist()
        )
        counts = {
            int(r["file_no"]): (int(r["good"]), int(r["bad"]))
            for r in stage.groupBy("file_no")
            .agg(
                F.sum(F.col("ok").cast("bigint")).alias("good"),
                F.sum((~F.col("ok")).cast("bigint")).alias("bad"),
            )
            .collect()
        }
        table = self._table_rows(stage.where("ok"))
        quarantine = stage.where("NOT ok").select(
            "file_no", "line_number", F.col("bad_text").alias("raw_text"), "reason"
        )
        loaded = sum(good for good, _ in counts.values())
        return Staged(
            reasons,
            {self.source.name: table},
            quarantine,
            per_file=counts,
            table_rows={self.source.name: loaded},
            persisted=[stage],
        )

    def _table_rows(self, stage: DataFrame) -> DataFrame:
        """The valid rows as the raw table's own columns (typed), with lineage keys."""
        columns: list[Column] = [F.col("file_no"), F.col("ordinal").alias("_row_number")]
        names = self.source.column_names
        for name, typ in spark_columns(self.source.name):
            if name in names:
                index = names.index(name)
                kind = self.source.columns[index].type
                value = F.col(f"c{index}") if kind is ColumnType.TEXT else F.col(f"v{index}")
                columns.append(value.cast(typ).alias(name))
            elif name in [c.name for c in self.optional]:
                index = [c.name for c in self.optional].index(name)
                columns.append(F.expr(self._optional_value(index)).alias(name))
        return stage.select(*columns)
