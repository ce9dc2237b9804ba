-- The response options of a campaign and cohort date sum to its responses in
-- campaign_performance_daily, carry its delivered messages, and each option's
-- responders (a subset of its recipients) made at most its clicks and
-- conversions.
-- Dagster shows this test as a check of response_summary (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'response_summary'}}}) }}
with

daily as (
    select
        account_id,
        campaign_id,
        period_start as cohort_date,
        delivered,
        clicks,
        conversions,
        responses
    from {{ ref('campaign_performance_daily') }}
),

options as (
    select * from {{ ref('response_summary') }}
),

option_sums as (
    select account_id, campaign_id, cohort_date, sum(responses) as responses
    from options
    group by account_id, campaign_id, cohort_date
),

response_mismatches as (
    select account_id, campaign_id, cohort_date, 'responses' as problem
    from daily
    full outer join option_sums
        using (account_id, campaign_id, cohort_date)
    where coalesce(daily.responses, 0) <> coalesce(option_sums.responses, 0)
),

option_mismatches as (
    select options.account_id, options.campaign_id, options.cohort_date, 'option' as problem
    from options
    left join daily
        on options.account_id = daily.account_id
        and options.campaign_id = daily.campaign_id
        and options.cohort_date = daily.cohort_date
    where options.delivered is distinct from daily.delivered
        or options.responder_clicks > daily.clicks
        or options.responder_conversions > daily.conversions
        or options.unique_responders > options.responses
)

select * from response_mismatches
union all
select * from option_mismatches
