{#
  One row per response option chosen on the campaign's messages of a cohort
  date, with what its responders did: the users who chose the option on a
  message of the campaign and cohort date, and their clicks on the campaign's
  messages of that cohort date and the conversions attributed (last click) to
  those messages, before or after the response (not time-ordered). Rates are
  for one row; over dates or options, recompute them from the summed counts.
#}

with

responses as (
    select * from {{ ref('int_responses') }}
    where is_known_message
),

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

conversions as (
    select * from {{ ref('int_conversions_attributed') }}
    where is_attributed
),

daily_metrics as (
    select * from {{ ref('int_campaign_daily_metrics') }}
),

response_counts as (
    select
        account_id,
        campaign_id,
        cohort_date,
        card_index,
        button_id,
        max(button_text) as button_text,
        bool_or(is_external_platform) as is_external_platform,
        count(*) as responses,
        count(distinct user_id) as unique_responders
    from responses
    group by account_id, campaign_id, cohort_date, card_index, button_id
),

-- the users who chose each option on a message of the campaign and cohort date
responders as (
    select distinct account_id, campaign_id, cohort_date, card_index, button_id, user_id
    from responses
),

responder_clicks as (
    select
        responders.account_id,
        responders.campaign_id,
        responders.cohort_date,
        responders.card_index,
        responders.button_id,
        count(clicks.click_id) as responder_clicks
    from responders
    inner join clicks
        on responders.account_id = clicks.account_id
        and responders.campaign_id = clicks.campaign_id
        and responders.cohort_date = clicks.cohort_date
        and responders.user_id = clicks.user_id
    group by all
),

responder_conversions as (
    select
        responders.account_id,
        responders.campaign_id,
        responders.cohort_date,
        responders.card_index,
        responders.button_id,
        count(conversions.event_id) as responder_conversions,
        sum(conversions.revenue_in_account_currency) as responder_revenue
    from responders
    inner join conversions
        on responders.account_id = conversions.account_id
        and responders.campaign_id = conversions.attributed_campaign_id
        and responders.cohort_date = conversions.cohort_date
        and responders.user_id = conversions.user_id
    group by all
),

joined as (
    select
        response_counts.account_id,
        response_counts.campaign_id,
        response_counts.cohort_date,
        response_counts.card_index,
        response_counts.button_id,
        response_counts.button_text,
        response_counts.is_external_platform,
        response_counts.responses,
        response_counts.unique_responders,
        coalesce(responder_conversions.responder_conversions, 0) as responder_conversions,
        coalesce(daily_metrics.delivered, 0) as delivered,
        coalesce(responder_clicks.responder_clicks, 0) as responder_clicks,
        cast(coalesce(responder_conversions.responder_revenue, 0) as decimal(18, 4))
            as responder_revenue
    from response_counts
    left join daily_metrics
        on response_counts.account_id = daily_metrics.account_id
        and response_counts.campaign_id = daily_metrics.campaign_id
        and response_counts.cohort_date = daily_metrics.cohort_date
    {% for activity in ['responder_clicks', 'responder_conversions'] -%}
    left join {{ activity }}
        on response_counts.account_id = {{ activity }}.account_id
        and response_counts.campaign_id = {{ activity }}.campaign_id
        and response_counts.cohort_date = {{ activity }}.cohort_date
        and response_counts.card_index is not distinct from {{ activity }}.card_index
        and response_counts.button_id is not distinct from {{ activity }}.button_id
    {% endfor -%}
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        card_index,
        button_id,
        button_text,
        is_external_platform,
        responses,
        unique_responders,
        responder_conversions,
        delivered,
        responder_clicks,
        responder_revenue,
        {{ safe_divide('responses', 'delivered') }} as response_rate,
        {{ safe_divide('responder_clicks', 'unique_responders') }} as responder_click_through_rate,
        {{ safe_divide('responder_conversions', 'unique_responders') }} as responder_conversion_rate
    from joined
)

select * from final
