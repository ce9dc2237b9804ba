-- delivery_survival has the six horizons for every row of message_latency_daily, with its
-- sent; without_report <= at_risk <= sent; and for one cohort date neither at_risk nor
-- without_report grows with the horizon (a message at risk at a longer horizon is at risk at a
-- shorter one, and one without a report then had none before). The share without_report /
-- at_risk may grow: the longer horizon's is over fewer, older messages.
-- Dagster shows this test as a check of delivery_survival (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'delivery_survival'}}}) }}
with

survival as (
    select * from {{ ref('delivery_survival') }}
),

latency as (
    select * from {{ ref('message_latency_daily') }}
),

cohort_horizons as (
    select
        account_id,
        campaign_id,
        cohort_date,
        count(*) as horizons,
        min(sent) as min_sent,
        max(sent) as max_sent
    from survival
    group by account_id, campaign_id, cohort_date
),

cohort_mismatches as (
    select
        coalesce(cohort_horizons.account_id, latency.account_id) as account_id,
        coalesce(cohort_horizons.campaign_id, latency.campaign_id) as campaign_id,
        coalesce(cohort_horizons.cohort_date, latency.cohort_date) as cohort_date,
        null as horizon_hours,
        'not six horizons with the sent of message_latency_daily' as problem
    from cohort_horizons
    full outer join latency
        on cohort_horizons.account_id = latency.account_id
        and cohort_horizons.campaign_id = latency.campaign_id
        and cohort_horizons.cohort_date = latency.cohort_date
    where cohort_horizons.horizons is distinct from 6
        or cohort_horizons.min_sent is distinct from latency.sent
        or cohort_horizons.max_sent is distinct from latency.sent
),

with_previous_horizon as (
    select
        account_id,
        campaign_id,
        cohort_date,
        horizon_hours,
        sent,
        at_risk,
        without_report,
        lag(at_risk) over cohort as shorter_at_risk,
        lag(without_report) over cohort as shorter_without_report
    from survival
    window cohort as (partition by account_id, campaign_id, cohort_date order by horizon_hours)
),

count_problems as (
    select account_id, campaign_id, cohort_date, horizon_hours, 'counts out of order' as problem
    from with_previous_horizon
    where without_report > at_risk
        or at_risk > sent
        or without_report < 0
        or at_risk > shorter_at_risk
        or without_report > shorter_without_report
)

select * from cohort_mismatches
union all
select * from count_problems
