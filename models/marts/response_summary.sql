with

responses as (
    select * from {{ ref('int_responses') }}
    where is_known_message
),

conversions as (
    select * from {{ ref('int_conversions_attributed') }}
    where is_attributed
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

responder_conversions as (
    select
        responders.account_id,
        responders.campaign_id,
        responders.cohort_date,
        responders.card_index,
        responders.button_id,
        count(conversions.event_id) as responder_conversions
    from responders
    inner join conversions
        on responders.account_id = conversions.account_id
        and responders.campaign_id = conversions.attributed_campaign_id
        and responders.cohort_date = conversions.cohort_date
        and responders.user_id = conversions.user_id
    group by all
),

final as (
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
        coalesce(responder_conversions.responder_conversions, 0) as responder_conversions
    from response_counts
    left join responder_conversions
        on response_counts.account_id = responder_conversions.account_id
        and response_counts.campaign_id = responder_conversions.campaign_id
        and response_counts.cohort_date = responder_conversions.cohort_date
        and response_counts.card_index is not distinct from responder_conversions.card_index
        and response_counts.button_id is not distinct from responder_conversions.button_id
)

select * from final
