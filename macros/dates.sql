{#
  Engine-specific date and time expressions, kept here so the models can move
  to another adapter by adding a dispatch implementation.
  Timestamps in this project are naive UTC.
#}

{# The calendar date of a UTC timestamp in an IANA time zone. #}
{% macro local_date(utc_timestamp, timezone) -%}
    {{ return(adapter.dispatch('local_date')(utc_timestamp, timezone)) }}
{%- endmacro %}

{% macro default__local_date(utc_timestamp, timezone) -%}
    cast(timezone({{ timezone }}, timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}


{# Monday of the ISO week of a date. #}
{% macro week_start(date_expression) -%}
    {{ return(adapter.dispatch('week_start')(date_expression)) }}
{%- endmacro %}

{% macro default__week_start(date_expression) -%}
    cast(date_trunc('week', {{ date_expression }}) as date)
{%- endmacro %}


{# First day of the calendar month of a date. #}
{% macro month_start(date_expression) -%}
    {{ return(adapter.dispatch('month_start')(date_expression)) }}
{%- endmacro %}

{% macro default__month_start(date_expression) -%}
    cast(date_trunc('month', {{ date_expression }}) as date)
{%- endmacro %}


{# Whole hours from one timestamp to a later one (exact, not calendar-based). #}
{% macro hours_between(earlier, later) -%}
    {{ return(adapter.dispatch('hours_between')(earlier, later)) }}
{%- endmacro %}

{% macro default__hours_between(earlier, later) -%}
    (epoch({{ later }}) - epoch({{ earlier }})) / 3600.0
{%- endmacro %}


{# A timestamp plus a number of hours. #}
{% macro add_hours(timestamp_expression, hours) -%}
    {{ return(adapter.dispatch('add_hours')(timestamp_expression, hours)) }}
{%- endmacro %}

{% macro default__add_hours(timestamp_expression, hours) -%}
    ({{ timestamp_expression }} + to_hours(cast({{ hours }} as bigint)))
{%- endmacro %}
