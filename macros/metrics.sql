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
#}
{% macro campaign_performance_by_period(period_expression) -%}
with

daily_metrics as (
    select * from {{ ref('int_campaign_daily_metrics') }}
),

period_totals as (
    select
        account_id,
        campaign_id,
        {{ period_expression }} as period_start,
        {%- for column in campaign_count_columns() %}
        {{ sum_metric(column) }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from daily_metrics
    group by account_id, campaign_id, {{ period_expression }}
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
  DuckDB's arg_min/arg_max over a row value; Spark's min_by/max_by over a struct
  (both compare the columns in order).
#}
{% macro min_by(value, ordering) -%}
    {{ return(adapter.dispatch('min_by')(value, ordering)) }}
{%- endmacro %}

{% macro duckdb__min_by(value, ordering) -%}
    arg_min({{ value }}, {{ _ordering_key(ordering) }})
{%- endmacro %}

{% macro spark__min_by(value, ordering) -%}
    min_by({{ value }}, {{ _ordering_key(ordering, 'struct') }})
{%- endmacro %}

{% macro max_by(value, ordering) -%}
    {{ return(adapter.dispatch('max_by')(value, ordering)) }}
{%- endmacro %}

{% macro duckdb__max_by(value, ordering) -%}
    arg_max({{ value }}, {{ _ordering_key(ordering) }})
{%- endmacro %}

{% macro spark__max_by(value, ordering) -%}
    max_by({{ value }}, {{ _ordering_key(ordering, 'struct') }})
{%- endmacro %}

{% macro _ordering_key(ordering, row_constructor='') -%}
    {%- if ordering is string -%}
        {{ ordering }}
    {%- else -%}
        {{ row_constructor }}({{ ordering | join(', ') }})
    {%- endif -%}
{%- endmacro %}


{#
  Continuous percentile with linear interpolation (DuckDB quantile_cont, Spark
  percentile); `fraction` a number, or a list of numbers for a list of percentiles.
#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont')(expression, fraction)) }}
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ 'array(' ~ (fraction | join(', ')) ~ ')' if fraction is iterable else fraction }})
{%- endmacro %}


{#
  count × rate as an exact decimal, to be summed: a sum of doubles depends on
  the order the engine adds in, and a rebuild must give the same marts.
  decimal(18, 0) × decimal(18, 12) is a decimal(37, 12) on both engines (a
  wider operand would make Spark cut the scale to 6 digits to stay within 38).
#}
{% macro exact_product(count, rate) -%}
    cast({{ count }} as decimal(18, 0)) * cast({{ rate }} as decimal(18, 12))
{%- endmacro %}
