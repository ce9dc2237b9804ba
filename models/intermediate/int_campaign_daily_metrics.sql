{#
  One row per (account, campaign, cohort date) that has dispatches: every
  additive count of marts.md. Each outcome is counted on the cohort date of
  the message it belongs to, whenever it happened, so every engagement key is
  a key of the message counts and left joins lose nothing.
#}

with

messages as (
    select * from {{ ref('int_messages') }}
),

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

responses as (
    select * from {{ ref('int_responses') }}
    where is_known_message
),

conversions as (
    select * from {{ ref('int_conversions_attributed') }}
    where is_attributed
),

unsubscribes as (
    select * from {{ ref('int_unsubscribes_attributed') }}
    where is_attributed
),

message_counts as (
    select
        account_id,
        campaign_id,
        cohort_date,
        count(*) as targeted,
        count(*) filter (where is_sent) as sent,
        count(*) filter (where is_dropped) as dropped,
        count(*) filter (where is_delivered) as delivered,
        count(*) filter (where is_undelivered) as undelivered,
        count(*) filter (where is_delivery_pending) as delivery_pending,
        count(*) filter (where is_opened) as opens,
        count(*) filter (where is_marketing_opt_out_signal) as marketing_opt_out_signals
    from messages
    group by account_id, campaign_id, cohort_date
),

click_counts as (
    select account_id, campaign_id, cohort_date, count(*) as clicks
    from clicks
    group by account_id, campaign_id, cohort_date
),

response_counts as (
    select account_id, campaign_id, cohort_date, count(*) as responses
    from responses
    group by account_id, campaign_id, cohort_date
),

conversion_counts as (
    select
        account_id,
        attributed_campaign_id as campaign_id,
        cohort_date,
        count(*) as conversions,
        sum(revenue_in_account_currency) as revenue
    from conversions
    group by account_id, attributed_campaign_id, cohort_date
),

unsubscribe_counts as (
    select
        attributed_account_id as account_id,
        attributed_campaign_id as campaign_id,
        cohort_date,
        count(*) as unsubscribes
    from unsubscribes
    group by attributed_account_id, attributed_campaign_id, cohort_date
),

final as (
    select
        message_counts.account_id,
        message_counts.campaign_id,
        message_counts.cohort_date,
        message_counts.targeted,
        message_counts.sent,
        message_counts.dropped,
        message_counts.delivered,
        message_counts.undelivered,
        message_counts.delivery_pending,
        message_counts.opens,
        coalesce(click_counts.clicks, 0) as clicks,
        coalesce(conversion_counts.conversions, 0) as conversions,
        cast(coalesce(conversion_counts.revenue, 0) as decimal(18, 4)) as revenue,
        coalesce(unsubscribe_counts.unsubscribes, 0) as unsubscribes,
        coalesce(response_counts.responses, 0) as responses,
        message_counts.marketing_opt_out_signals
    from message_counts
    {% for counts in [
        'click_counts', 'response_counts', 'conversion_counts', 'unsubscribe_counts'
    ] -%}
    left join {{ counts }}
        on message_counts.account_id = {{ counts }}.account_id
        and message_counts.campaign_id = {{ counts }}.campaign_id
        and message_counts.cohort_date = {{ counts }}.cohort_date
    {% endfor -%}
)

select * from final
