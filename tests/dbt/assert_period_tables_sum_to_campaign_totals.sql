-- Daily, weekly and monthly rows sum to the campaign totals, for every count.
-- Dagster shows this test as a check of campaign_performance (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'campaign_performance'}}}) }}
{%- set periods = [
    'campaign_performance_daily', 'campaign_performance_weekly', 'campaign_performance_monthly'
] %}
with

totals as (
    select * from {{ ref('campaign_performance') }}
),

{% for period in periods %}
{{ period }}_sums as (
    select
        account_id,
        campaign_id
        {%- for column in campaign_count_columns() %},
        sum({{ column }}) as {{ column }}{% endfor %}
    from {{ ref(period) }}
    group by account_id, campaign_id
),
{% endfor %}

mismatches as (
    {%- for period in periods %}
    select '{{ period }}' as period_table, totals.account_id, totals.campaign_id
    from totals
    left join {{ period }}_sums as sums
        on totals.account_id = sums.account_id
        and totals.campaign_id = sums.campaign_id
    where
        {%- for column in campaign_count_columns() %}{{ ' or' if not loop.first }}
        totals.{{ column }} <> coalesce(sums.{{ column }}, 0){% endfor %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from mismatches
