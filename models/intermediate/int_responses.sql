{#
  One row per inbound message (each id once) with message_at <= as_of whose
  context is a message: the reply kind (button = template quick reply,
  interactive = button reply, text = free text) and the chosen button's id.
  Replies to a wamid no dispatch knows are kept with is_known_message = false.
#}
with

inbound_messages as (
    select * from {{ ref('stg_raw__webhook_messages') }}
    where context_wamid is not null
        and message_at <= {{ as_of() }}
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

joined as (
    select
        inbound_messages.message_id as response_id,
        inbound_messages.context_wamid as wamid,
        messages.dispatch_id,
        messages.account_id,
        messages.campaign_id,
        messages.user_id,
        messages.cohort_date,
        inbound_messages.message_at as responded_at,
        inbound_messages.message_type as response_type,
        inbound_messages.reply_payload as button_payload,
        inbound_messages.reply_title,
        messages.dispatch_id is not null as is_known_message
    from inbound_messages
    left join messages
        on inbound_messages.context_wamid = messages.wamid
)

select * from joined
