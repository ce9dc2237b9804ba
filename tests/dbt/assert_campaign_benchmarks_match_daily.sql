-- campaign_benchmarks has the rows of campaign_performance_daily, with the same delivered
-- and opens; every baseline compares at most the row's own messages.
-- Dagster shows this test as a check of campaign_benchmarks (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'campaign_benchmarks'}}}) }}
with

benchmarks as (
    select * from {{ ref('campaign_benchmarks') }}
),

daily as (
    select * from {{ ref('campaign_performance_daily') }}
)

select
    coalesce(benchmarks.account_id, daily.account_id) as account_id,
    coalesce(benchmarks.campaign_id, daily.campaign_id) as campaign_id,
    coalesce(benchmarks.cohort_date, daily.period_start) as cohort_date
from benchmarks
full outer join daily
    on benchmarks.account_id = daily.account_id
    and benchmarks.campaign_id = daily.campaign_id
    and benchmarks.cohort_date = daily.period_start
where benchmarks.delivered is distinct from daily.delivered
    or benchmarks.opens is distinct from daily.opens
    or benchmarks.delivered_clicked > benchmarks.delivered
    or benchmarks.history_compared_delivered > benchmarks.delivered
    or benchmarks.reference_compared_delivered > benchmarks.delivered
    or benchmarks.benchmark_compared_delivered > benchmarks.delivered
