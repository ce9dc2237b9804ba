-- dropped_reasons sum to dropped and undelivered_reasons to undelivered,
-- per (account, campaign, cohort date); reason_recipients to both per
-- (account, campaign, cohort date) and per campaign.
-- Dagster shows this test as a check of campaign_performance (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'campaign_performance'}}}) }}
with

daily as (
    select account_id, campaign_id, period_start as cohort_date, dropped, undelivered
    from {{ ref('campaign_performance_daily') }}
),

dropped_sums as (
    select account_id, campaign_id, cohort_date, sum(messages) as messages
    from {{ ref('dropped_reasons') }}
    group by all
),

undelivered_sums as (
    select account_id, campaign_id, cohort_date, sum(messages) as messages
    from {{ ref('undelivered_reasons') }}
    group by all
),

recipient_daily_sums as (
    select
        account_id,
        campaign_id,
        cohort_date,
        sum(messages) filter (where kind = 'dropped') as dropped,
        sum(messages) filter (where kind = 'undelivered') as undelivered
    from {{ ref('reason_recipients') }}
    group by all
),

recipient_sums as (
    select
        account_id,
        campaign_id,
        sum(dropped) as dropped,
        sum(undelivered) as undelivered
    from recipient_daily_sums
    group by all
),

daily_mismatches as (
    select daily.account_id, daily.campaign_id, daily.cohort_date, 'daily' as check_level
    from daily
    left join dropped_sums
        using (account_id, campaign_id, cohort_date)
    left join undelivered_sums
        using (account_id, campaign_id, cohort_date)
    left join recipient_daily_sums as recipients
        using (account_id, campaign_id, cohort_date)
    where daily.dropped <> coalesce(dropped_sums.messages, 0)
        or daily.undelivered <> coalesce(undelivered_sums.messages, 0)
        or daily.dropped <> coalesce(recipients.dropped, 0)
        or daily.undelivered <> coalesce(recipients.undelivered, 0)
),

campaign_mismatches as (
    select totals.account_id, totals.campaign_id, null as cohort_date, 'campaign' as check_level
    from {{ ref('campaign_performance') }} as totals
    left join recipient_sums
        using (account_id, campaign_id)
    where totals.dropped <> coalesce(recipient_sums.dropped, 0)
        or totals.undelivered <> coalesce(recipient_sums.undelivered, 0)
)

select * from daily_mismatches
union all
select * from campaign_mismatches
