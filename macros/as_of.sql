{#
  The run's as-of time as a naive UTC timestamp expression.

  The pipeline resolves it once per run (orchestration.resources.AsOfResource)
  and hands it to dbt in WA_AS_OF: an environment variable rather than
  --vars, because other --vars than the previous invocation's make dbt
  re-parse the whole project (and an env_var in dbt_project.yml would too).
  A hand-run `dbt build` may pass `--vars '{as_of: ...}'` instead; without
  either, the contract default applies: the next UTC midnight after the
  newest YYYY-MM-DD in a loaded extract file name.
#}
{% macro as_of() -%}
    {%- set value = (var('as_of', none) or env_var('WA_AS_OF', '')) | trim -%}
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
