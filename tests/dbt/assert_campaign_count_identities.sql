-- targeted = sent + dropped; sent = delivered + undelivered + delivery_pending;
-- opens <= delivered, on every row of every performance mart.
-- Dagster shows this test as a check of campaign_performance (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'campaign_performance'}}}) }}
{%- set marts = [
    'campaign_performance',
    'campaign_performance_daily',
    'campaign_performance_weekly',
    'campaign_performance_monthly',
] %}
{%- for mart in marts %}
select
    '{{ mart }}' as mart, account_id, campaign_id, targeted, sent, dropped,
    delivered, undelivered, delivery_pending, opens
from {{ ref(mart) }}
where targeted <> sent + dropped
    or sent <> delivered + undelivered + delivery_pending
    or opens > delivered
    or delivery_pending < 0
{{ 'union all' if not loop.last }}
{%- endfor %}
