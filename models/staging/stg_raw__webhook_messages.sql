{{ config(materialized=history_materialization(), unique_key="message_id") }}

{# Inbound messages, one row per message id (Meta may deliver one more than once). #}
with

messages as (
    {{ source_rows_since_last_build('webhook_messages', 'message_id') }}
),

deduplicated as (
    select
        message_id,
        {{ min_by('message_type', 'received_at') }} as message_type,
        {{ min_by('message_at', 'received_at') }} as message_at,
        {{ min_by('context_wamid', 'received_at') }} as context_wamid,
        {{ min_by('button_payload', 'received_at') }} as button_payload,
        {{ min_by('button_text', 'received_at') }} as button_text,
        {{ min_by('interactive_type', 'received_at') }} as interactive_type,
        {{ min_by('interactive_reply_id', 'received_at') }} as interactive_reply_id,
        {{ min_by('interactive_reply_title', 'received_at') }} as interactive_reply_title,
        {{ min_by('text_body', 'received_at') }} as text_body,
        min(received_at) as first_received_at,
        count(*) as copies_received,
        max(_loaded_at) as _loaded_at
    from messages
    group by message_id
)

select
    message_id,
    lower(message_type) as message_type,
    message_at,
    context_wamid,
    case
        when lower(message_type) = 'button' then button_payload
        when lower(message_type) = 'interactive' then interactive_reply_id
    end as reply_payload,
    coalesce(button_text, interactive_reply_title) as reply_title,
    text_body,
    first_received_at,
    copies_received,
    _loaded_at
from deduplicated
