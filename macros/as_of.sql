{#
  The run's as-of time as a naive UTC timestamp expression.

  Order of precedence: the dbt var `as_of` (a hand-run `dbt build --vars`),
  then the WA_AS_OF environment variable (Dagster and the CLI set it), then
  the contract default: the next UTC midnight after the newest YYYY-MM-DD in
  a loaded extract file name.
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) or env_var('WA_AS_OF', '') -%}
    {%- if value -%}
        {{ utc_timestamp_literal(value) }}
    {%- else -%}
        (
            select cast(max(cast(regexp_extract(file, '(\d{4}-\d{2}-\d{2})', 1) as date)) + 1 as timestamp)
            from raw._loads
            where regexp_matches(file, '\d{4}-\d{2}-\d{2}')
        )
    {%- endif -%}
{%- endmacro %}


{% macro utc_timestamp_literal(text) -%}
    {{ return(adapter.dispatch('utc_timestamp_literal')(text)) }}
{%- endmacro %}

{% macro default__utc_timestamp_literal(text) -%}
    cast(cast('{{ text }}' as timestamptz) at time zone 'UTC' as timestamp)
{%- endmacro %}
