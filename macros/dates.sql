{#
  Engine-specific date and time expressions: one implementation per engine
  (DuckDB, Spark). Timestamps in this project are UTC: naive `timestamp` on
  DuckDB, `timestamp` read in the session time zone UTC on Spark.
#}

{# The calendar date of a UTC timestamp in an IANA time zone. #}
{% macro local_date(utc_timestamp, timezone) -%}
    {{ return(adapter.dispatch('local_date')(utc_timestamp, timezone)) }}
{%- endmacro %}

{% macro duckdb__local_date(utc_timestamp, timezone) -%}
    cast(timezone({{ timezone }}, timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}

{% macro spark__local_date(utc_timestamp, timezone) -%}
    to_date(from_utc_timestamp({{ utc_timestamp }}, {{ timezone }}))
{%- endmacro %}


{# Monday of the ISO week of a date. #}
{% macro week_start(date_expression) -%}
    {{ return(adapter.dispatch('week_start')(date_expression)) }}
{%- endmacro %}

{% macro duckdb__week_start(date_expression) -%}
    cast(date_trunc('week', {{ date_expression }}) as date)
{%- endmacro %}

{% macro spark__week_start(date_expression) -%}
    cast(date_trunc('WEEK', {{ date_expression }}) as date)
{%- endmacro %}


{# First day of the calendar month of a date. #}
{% macro month_start(date_expression) -%}
    {{ return(adapter.dispatch('month_start')(date_expression)) }}
{%- endmacro %}

{% macro duckdb__month_start(date_expression) -%}
    cast(date_trunc('month', {{ date_expression }}) as date)
{%- endmacro %}

{% macro spark__month_start(date_expression) -%}
    trunc({{ date_expression }}, 'MM')
{%- endmacro %}


{# Whole hours from one timestamp to a later one (exact, not calendar-based). #}
{% macro hours_between(earlier, later) -%}
    {{ return(adapter.dispatch('hours_between')(earlier, later)) }}
{%- endmacro %}

{% macro duckdb__hours_between(earlier, later) -%}
    (epoch({{ later }}) - epoch({{ earlier }})) / 3600.0
{%- endmacro %}

{% macro spark__hours_between(earlier, later) -%}
    cast(unix_micros({{ later }}) - unix_micros({{ earlier }}) as double) / 3600000000
{%- endmacro %}


{#
  Seconds from one timestamp to another, signed, as a double: whole
  microseconds (exact), then divided.
#}
{% macro seconds_between(earlier, later) -%}
    {{ return(adapter.dispatch('seconds_between')(earlier, later)) }}
{%- endmacro %}

{% macro duckdb__seconds_between(earlier, later) -%}
    date_diff('microsecond', {{ earlier }}, {{ later }}) / 1000000.0
{%- endmacro %}

{% macro spark__seconds_between(earlier, later) -%}
    cast(unix_micros({{ later }}) - unix_micros({{ earlier }}) as double) / 1000000
{%- endmacro %}


{# A timestamp plus a number of hours. #}
{% macro add_hours(timestamp_expression, hours) -%}
    {{ return(adapter.dispatch('add_hours')(timestamp_expression, hours)) }}
{%- endmacro %}

{% macro duckdb__add_hours(timestamp_expression, hours) -%}
    ({{ timestamp_expression }} + to_hours(cast({{ hours }} as bigint)))
{%- endmacro %}

{% macro spark__add_hours(timestamp_expression, hours) -%}
    timestampadd(HOUR, cast({{ hours }} as bigint), {{ timestamp_expression }})
{%- endmacro %}


{# A timestamp as text, `YYYY-MM-DD HH:MM:SS` (its UTC wall time). #}
{% macro timestamp_text(timestamp_expression) -%}
    {{ return(adapter.dispatch('timestamp_text')(timestamp_expression)) }}
{%- endmacro %}

{% macro duckdb__timestamp_text(timestamp_expression) -%}
    strftime({{ timestamp_expression }}, '%Y-%m-%d %H:%M:%S')
{%- endmacro %}

{% macro spark__timestamp_text(timestamp_expression) -%}
    date_format({{ timestamp_expression }}, 'yyyy-MM-dd HH:mm:ss')
{%- endmacro %}
