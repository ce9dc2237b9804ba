{#
  One row per inbound message (each id once) with message_at <= as_of whose
  context is a message, with the button it chose. response_kind:
  `button` (a quick-reply or interactive reply whose payload is a button of
  the campaign's template: button text, card and external-platform flag come
  from the template), `unknown_payload` (a payload that matches no button of
  the template: it still counts, under its raw payload, and is reported in
  data_quality), or `free_text` (a text reply or any reply without payload).
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

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

template_buttons as (
    select * from {{ ref('int_template_buttons') }}
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
        campaigns.template_name,
        campaigns.template_language,
        messages.dispatch_id is not null as is_known_message
    from inbound_messages
    left join messages
        on inbound_messages.context_wamid = messages.wamid
    left join campaigns
        on messages.campaign_id = campaigns.campaign_id
),

final as (
    select
        joined.response_id,
        joined.wamid,
        joined.dispatch_id,
        joined.account_id,
        joined.campaign_id,
        joined.user_id,
        joined.cohort_date,
        joined.responded_at,
        joined.response_type,
        case
            when joined.button_payload is null then 'free_text'
            when template_buttons.button_id is not null then 'button'
            else 'unknown_payload'
        end as response_kind,
        joined.button_payload as button_id,
        template_buttons.button_text,
        template_buttons.card_index,
        coalesce(template_buttons.is_external_platform, false) as is_external_platform,
        joined.reply_title,
        joined.template_name,
        joined.template_language,
        joined.is_known_message
    from joined
    left join template_buttons
        on joined.account_id = template_buttons.account_id
        and joined.template_name = template_buttons.template_name
        and joined.template_language = template_buttons.template_language
        and joined.button_payload = template_buttons.button_id
)

select * from final
