-- Every attributed conversion has its click (last click), and a click is one
-- row of link_click_activity: the link rows of a campaign and cohort date sum
-- to its conversions and revenue in campaign_performance_daily.
-- Dagster shows this test as a check of link_click_activity (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'link_click_activity'}}}) }}
with

daily as (
    select
        account_id,
        campaign_id,
        period_start as cohort_date,
        conversions,
        revenue
    from {{ ref('campaign_performance_daily') }}
),

link_sums as (
    select
        account_id,
        campaign_id,
        cohort_date,
        sum(conversions) as conversions,
        sum(revenue) as revenue
    from {{ ref('link_click_activity') }}
    group by account_id, campaign_id, cohort_date
),

mismatches as (
    select
        account_id,
        campaign_id,
        cohort_date,
        daily.conversions as daily_conversions,
        link_sums.conversions as link_conversions,
        daily.revenue as daily_revenue,
        link_sums.revenue as link_revenue
    from daily
    full outer join link_sums
        using (account_id, campaign_id, cohort_date)
    where coalesce(daily.conversions, 0) <> coalesce(link_sums.conversions, 0)
        or coalesce(daily.revenue, 0) <> coalesce(link_sums.revenue, 0)
)

select * from mismatches
