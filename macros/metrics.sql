{# A rate that is null when its denominator is 0 (rates are fractions, not percentages). #}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}


{#
  The additive counts of marts.md, in their published order, then the
  project's additions (marketing_opt_out_signals: sent messages with a failed
  status of code 131050, the user stopped marketing messages).
#}
{% macro campaign_count_columns() -%}
    {{ return([
        'targeted', 'sent', 'dropped', 'delivered', 'undelivered', 'delivery_pending',
        'opens', 'clicks', 'conversions', 'revenue', 'unsubscribes', 'responses',
        'marketing_opt_out_signals'
    ]) }}
{%- endmacro %}


{# The sum of a count column (bigint, BI-friendly) or of revenue (decimal). #}
{% macro sum_metric(column) -%}
    cast(sum({{ column }}) as {{ 'decimal(18, 4)' if column == 'revenue' else 'bigint' }})
{%- endmacro %}


{#
  The rates of marts.md, recomputed from summed numerators and denominators
  (never averaged). `relation` prefixes the count columns.
#}
{% macro campaign_rate_columns(relation=none) -%}
    {%- set p = relation ~ '.' if relation else '' -%}
    {{ safe_divide(p ~ 'delivered', p ~ 'sent') }} as delivery_rate,
    {{ safe_divide(p ~ 'opens', p ~ 'delivered') }} as open_rate,
    {{ safe_divide(p ~ 'clicks', p ~ 'delivered') }} as click_through_rate,
    {{ safe_divide(p ~ 'conversions', p ~ 'delivered') }} as conversion_rate,
    {{ safe_divide(p ~ 'unsubscribes', p ~ 'delivered') }} as unsubscribe_rate,
    {{ safe_divide(p ~ 'responses', p ~ 'delivered') }} as response_rate
{%- endmacro %}


{#
  A campaign performance table at a period grain: one row per (account,
  campaign, period_start), where period_start = `period_expression` over the
  cohort date (a day, the Monday of its ISO week, the first of its month).

  Incremental (macros/incremental.sql): a build for a Dagster partition
  recomputes the periods starting inside its window; otherwise the periods
  holding a cohort row written since the table's last build.
#}
{% macro campaign_performance_by_period(period_expression) -%}
{%- set plan = incremental_plan() %}
with

daily_metrics as (
    select
        *,
        {{ period_expression }} as period_start
    from {{ ref('int_campaign_daily_metrics') }}
),
{%- if plan.mode == 'changes' %}

changed_periods as (
    select distinct account_id, campaign_id, period_start
    from daily_metrics
    where _refreshed_at > {{ plan.since }}
),
{%- endif %}

periods_to_build as (
    select * from daily_metrics
    {%- if plan.mode == 'changes' %}
    where exists (
        select 1 from changed_periods
        where changed_periods.account_id = daily_metrics.account_id
            and changed_periods.campaign_id = daily_metrics.campaign_id
            and changed_periods.period_start = daily_metrics.period_start
    )
    {%- elif plan.mode == 'window' %}
    -- a Dagster partition (or range of partitions): every period starting inside it
    where period_start >= {{ plan.window.start }}
        and period_start < {{ plan.window.end }}
    {%- endif %}
),

period_totals as (
    select
        account_id,
        campaign_id,
        period_start,
        {%- for column in campaign_count_columns() %}
        {{ sum_metric(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from periods_to_build
    group by account_id, campaign_id, period_start
),

final as (
    select
        account_id,
        campaign_id,
        period_start,
        {%- for column in campaign_count_columns() %}
        {{ column }},
        {%- endfor %}
        {{ campaign_rate_columns() }}
    from period_totals
)

select * from final
{%- endmacro %}


{#
  The value of the row with the smallest / largest ordering (a list of
  columns compared in order), e.g. the code of the earliest failed status.
  DuckDB's arg_min/arg_max; Spark and Databricks call them min_by/max_by.
#}
{% macro min_by(value, ordering) -%}
    {{ return(adapter.dispatch('min_by')(value, ordering)) }}
{%- endmacro %}

{% macro default__min_by(value, ordering) -%}
    arg_min({{ value }}, {{ _ordering_key(ordering) }})
{%- endmacro %}

{% macro max_by(value, ordering) -%}
    {{ return(adapter.dispatch('max_by')(value, ordering)) }}
{%- endmacro %}

{% macro default__max_by(value, ordering) -%}
    arg_max({{ value }}, {{ _ordering_key(ordering) }})
{%- endmacro %}

{% macro _ordering_key(ordering) -%}
    {%- if ordering is string -%}{{ ordering }}{%- else -%}({{ ordering | join(', ') }}){%- endif -%}
{%- endmacro %}


{# Continuous percentile with linear interpolation (DuckDB quantile_cont). #}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
