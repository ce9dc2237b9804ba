-- message_latency_daily has a row for every cohort date of campaign_performance_daily with sent
-- messages, with the same sent, delivered and opens; each *_before_send is within its count;
-- the percentiles are null exactly when no message has the event, never negative and ordered
-- p50 <= p90 <= p99.
-- Dagster shows this test as a check of message_latency_daily (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'message_latency_daily'}}}) }}
with

latency as (
    select * from {{ ref('message_latency_daily') }}
),

daily as (
    select * from {{ ref('campaign_performance_daily') }}
    where sent > 0
),

count_mismatches as (
    select
        coalesce(latency.account_id, daily.account_id) as account_id,
        coalesce(latency.campaign_id, daily.campaign_id) as campaign_id,
        coalesce(latency.cohort_date, daily.period_start) as cohort_date,
        'counts differ from campaign_performance_daily' as problem
    from latency
    full outer join daily
        on latency.account_id = daily.account_id
        and latency.campaign_id = daily.campaign_id
        and latency.cohort_date = daily.period_start
    where latency.sent is distinct from daily.sent
        or latency.delivered is distinct from daily.delivered
        or latency.opens is distinct from daily.opens
),

percentile_problems as (
    select account_id, campaign_id, cohort_date, 'percentiles or counts inconsistent' as problem
    from latency
    where clicked_messages > sent
    {%- for event, messages in [
        ('delivered', 'delivered'), ('read', 'opens'), ('first_click', 'clicked_messages')
    ] %}
        or {{ event }}_before_send > {{ messages }}
        or ({{ messages }} = 0) <> (seconds_to_{{ event }}_p50 is null)
        or ({{ messages }} = 0) <> (seconds_to_{{ event }}_p99 is null)
        or seconds_to_{{ event }}_p50 < 0
        or seconds_to_{{ event }}_p50 > seconds_to_{{ event }}_p90
        or seconds_to_{{ event }}_p90 > seconds_to_{{ event }}_p99{% endfor %}
)

select * from count_mismatches
union all
select * from percentile_problems
