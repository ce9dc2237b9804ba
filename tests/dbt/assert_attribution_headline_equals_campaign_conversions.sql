-- The headline row of attribution_sensitivity (last_click x campaign window)
-- is the rule of campaign_performance_daily: per campaign and cohort date,
-- the same conversions and revenue, and a headline row for every daily row.
-- Dagster shows this test as a check of attribution_sensitivity (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'attribution_sensitivity'}}}) }}
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

headline as (
    select
        account_id,
        campaign_id,
        cohort_date,
        conversions,
        revenue
    from {{ ref('attribution_sensitivity') }}
    where is_headline
),

mismatches as (
    select
        account_id,
        campaign_id,
        cohort_date,
        daily.conversions as daily_conversions,
        headline.conversions as headline_conversions,
        daily.revenue as daily_revenue,
        headline.revenue as headline_revenue
    from daily
    full outer join headline
        using (account_id, campaign_id, cohort_date)
    where daily.conversions is distinct from headline.conversions
        or daily.revenue is distinct from headline.revenue
)

select * from mismatches
