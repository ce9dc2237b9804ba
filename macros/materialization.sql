{#
  The materialization of the models that grow with history (the staging event
  models and int_message_timelines, docs/incremental.md). On DuckDB they are
  incremental, `delete+insert` on their unique key. On Spark they are plain
  tables rebuilt every run: without Delta or Iceberg a Parquet table has no
  merge or delete by key, and a rebuild is one scan Spark spreads over the
  cluster; the marts are the same either way (the parity test).
#}
{% macro history_materialization() -%}
    {{ return(adapter.dispatch('history_materialization')()) }}
{%- endmacro %}

{% macro duckdb__history_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__history_materialization() -%}
    {{ return('table') }}
{%- endmacro %}


{#
  The models that are views on DuckDB (no copy of what they select). On Spark
  they are tables: the orchestration (checks, publication, report) reads
  Spark's tables as the Parquet files they are, without a JVM of its own, and a
  view has no files (docs/spark.md).
#}
{% macro view_materialization() -%}
    {{ return(adapter.dispatch('view_materialization')()) }}
{%- endmacro %}

{% macro duckdb__view_materialization() -%}
    {{ return('view') }}
{%- endmacro %}

{% macro spark__view_materialization() -%}
    {{ return('table') }}
{%- endmacro %}
