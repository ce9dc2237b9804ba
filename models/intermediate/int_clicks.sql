{#
  One row per click (each click_id once) with clicked_at <= as_of, joined to
  the message it was made on. Engagement needs no delivery state: a click on
  a message whose `delivered` webhook never came still counts. Clicks on a
  wamid no dispatch knows are kept with is_known_message = false (reported in
  data_quality, left out of campaign marts).
#}

with

clicks as (
    select * from {{ ref('stg_raw__clicks') }}
    where clicked_at <= {{ as_of() }}
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

final as (
    select
        clicks.click_id,
        clicks.wamid,
        messages.dispatch_id,
        messages.account_id,
        messages.campaign_id,
        messages.user_id,
        messages.cohort_date,
        messages.is_delivered as is_message_delivered,
        clicks.clicked_at,
        clicks.url,
        clicks.button_id,
        clicks.card_index,
        campaigns.goal_event,
        campaigns.conversion_window_hours,
        messages.dispatch_id is not null as is_known_message
    from clicks
    left join messages
        on clicks.wamid = messages.wamid
    left join campaigns
        on messages.campaign_id = campaigns.campaign_id
)

select * from final
