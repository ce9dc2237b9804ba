-- holdout_uplift: treated recipients are every targeted dispatch (intention to treat), so
-- treated_recipients equals campaign_performance_daily.targeted on every cohort date of a
-- campaign with a holdout (both ways: no date of such a campaign is missing); converters
-- never exceed recipients; holdout_uplift_summary is the sum of its rows.
-- Dagster shows this test as a check of holdout_uplift (it reads three models).
{{ config(meta={'dagster': {'ref': {'name': 'holdout_uplift'}}}) }}
with

uplift as (
    select * from {{ ref('holdout_uplift') }}
),

summary as (
    select * from {{ ref('holdout_uplift_summary') }}
),

daily as (
    select * from {{ ref('campaign_performance_daily') }}
    where campaign_id in (select uplift.campaign_id from uplift)
),

treated_mismatches as (
    select
        coalesce(uplift.account_id, daily.account_id) as account_id,
        coalesce(uplift.campaign_id, daily.campaign_id) as campaign_id,
        'treated_recipients differ from campaign_performance_daily.targeted' as problem
    from uplift
    full outer join daily
        on uplift.account_id = daily.account_id
        and uplift.campaign_id = daily.campaign_id
        and uplift.cohort_date = daily.period_start
    where coalesce(uplift.treated_recipients, -1) <> coalesce(daily.targeted, 0)
),

count_problems as (
    select account_id, campaign_id, 'converters above recipients or a negative sum' as problem
    from uplift
    where treated_converters > treated_recipients
        or holdout_converters > holdout_recipients
        or treated_revenue_sum_squares < 0
        or holdout_revenue_sum_squares < 0
),

sums as (
    select
        account_id,
        campaign_id,
        sum(treated_recipients) as treated_recipients,
        sum(treated_converters) as treated_converters,
        sum(treated_revenue) as treated_revenue,
        sum(holdout_recipients) as holdout_recipients,
        sum(holdout_converters) as holdout_converters,
        sum(holdout_revenue) as holdout_revenue
    from uplift
    group by account_id, campaign_id
),

summary_mismatches as (
    select
        coalesce(sums.account_id, summary.account_id) as account_id,
        coalesce(sums.campaign_id, summary.campaign_id) as campaign_id,
        'holdout_uplift_summary is not the sum of holdout_uplift' as problem
    from sums
    full outer join summary
        on sums.campaign_id = summary.campaign_id
    where sums.account_id is distinct from summary.account_id
        or sums.treated_recipients is distinct from summary.treated_recipients
        or sums.treated_converters is distinct from summary.treated_converters
        or sums.treated_revenue is distinct from summary.treated_revenue
        or sums.holdout_recipients is distinct from summary.holdout_recipients
        or sums.holdout_converters is distinct from summary.holdout_converters
        or sums.holdout_revenue is distinct from summary.holdout_revenue
        or summary.holdout_recipients < 1
)

select * from treated_mismatches
union all
select * from count_problems
union all
select * from summary_mismatches
