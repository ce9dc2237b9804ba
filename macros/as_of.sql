{#
  The run's as-of time as a naive UTC timestamp expression.

  The pipeline resolves it once per run (orchestration.resources.AsOfResource)
  and hands it to dbt in WA_AS_OF: an environment variable rather than
  --vars, because other --vars than the previous invocation's make dbt
  re-parse the whole project (and an env_var in dbt_project.yml would too).
  A hand-run `dbt build` may pass `--vars '{as_of: ...}'` instead; without
  either, the contract default applies: the next UTC midnight after the
  newest YYYY-MM-DD of an extract file whose latest load loaded rows (an
  empty file, or one quarantined whole, never counts); the same rule as
  orchestration.loading.ledger.newest_loaded_day.
#}
{% macro as_of() -%}
    {%- set value = (var('as_of', none) or env_var('WA_AS_OF', '')) | trim -%}
    {%- if value -%}
        {{ utc_timestamp_literal(value) }}
    {%- else -%}
        (
            select cast(max(cast(regexp_extract(
                latest.file, {{ regex_literal('(\d{4}-\d{2}-\d{2})') }}, 1
            ) as date)) + 1 as timestamp)
            from raw._loads as latest
            where latest.rows_loaded > 0
                and {{ contains_pattern('latest.file', '\d{4}-\d{2}-\d{2}') }}
                and not exists (
                    select 1 from raw._loads as later where later.replaced_load_id = latest.load_id
                )
        )
    {%- endif -%}
{%- endmacro %}


{% macro utc_timestamp_literal(text) -%}
    {{ return(adapter.dispatch('utc_timestamp_literal')(text)) }}
{%- endmacro %}

{% macro duckdb__utc_timestamp_literal(text) -%}
    cast(cast('{{ text }}' as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}

{# Spark reads the offset of the text (Z, +02:00) and the session is in UTC. #}
{% macro spark__utc_timestamp_literal(text) -%}
    cast('{{ text }}' as timestamp)
{%- endmacro %}
