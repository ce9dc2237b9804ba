{#
  One row per event of a message: the path of every dispatch whose cohort
  date lies in the last N days before as_of (N = var lineage_days, else env
  WA_LINEAGE_DAYS, default 45: the 30-day delivery-report deadline plus the
  7 days of webhook retries, with room to spare), so support can answer "why
  did this user not get the message" without reading raw tables.

  Events, each by its own timestamp <= as_of (the inputs apply the as-of
  rule): the dispatch (`dispatched`, or `dropped` with its dropped reason),
  every deduplicated status (a failed one with its error code and the
  undelivered reason that code maps to), replies, clicks, the conversions
  attributed to the message (last click), the unsubscribes attributed to it,
  and last a `state` row at as_of: the message state of int_messages and why.

  event_seq orders the path: the dispatch first, the state last, every other
  event by time (ties: status, reply, click, conversion, unsubscribe; then by
  status and id). A reason is named as in reason_dictionary and carries its
  possible solution. No phone number and no free-text reply body.
#}
{%- set lineage_days = var('lineage_days', none) or env_var('WA_LINEAGE_DAYS', '45') %}
{%- set lineage_days = lineage_days | string | trim %}
{%- if not lineage_days.isdigit() or lineage_days | int < 1 %}
    {{ exceptions.raise_compiler_error(
        "WA_LINEAGE_DAYS (or var lineage_days) must be a whole number of days >= 1, got '"
        ~ lineage_days ~ "'"
    ) }}
{%- endif %}

with

messages as (
    select
        dispatch_id,
        account_id,
        campaign_id,
        user_id,
        wamid,
        attempted_at,
        cohort_date,
        message_state,
        is_sent,
        is_dropped,
        is_opened,
        delivered_at,
        read_at,
        first_failed_at,
        dropped_reason,
        undelivered_reason,
        drop_code,
        error_code
    from {{ ref('int_messages') }}
    where cohort_date >= cast({{ as_of() }} as date) - {{ lineage_days | int }}
),

status_events as (
    select all_status_events.*
    from {{ ref('int_message_status_events') }} as all_status_events
    where all_status_events.dispatch_id in (select messages.dispatch_id from messages)
),

responses as (
    select all_responses.*
    from {{ ref('int_responses') }} as all_responses
    where all_responses.is_known_message
        and all_responses.dispatch_id in (select messages.dispatch_id from messages)
),

clicks as (
    select all_clicks.*
    from {{ ref('int_clicks') }} as all_clicks
    where all_clicks.is_known_message
        and all_clicks.dispatch_id in (select messages.dispatch_id from messages)
),

conversions as (
    select all_conversions.*
    from {{ ref('int_conversions_attributed') }} as all_conversions
    where all_conversions.is_attributed
        and all_conversions.attributed_dispatch_id in (select messages.dispatch_id from messages)
),

unsubscribes as (
    select all_unsubscribes.*
    from {{ ref('int_unsubscribes_attributed') }} as all_unsubscribes
    where all_unsubscribes.is_attributed
        and all_unsubscribes.attributed_dispatch_id in (select messages.dispatch_id from messages)
),

reasons as (
    select
        kind,
        reason,
        possible_solution
    from {{ ref('reasons') }}
),

dispatch_rows as (
    select
        dispatch_id,
        attempted_at as event_at,
        case when is_dropped then 'dropped' else 'dispatched' end as event_kind,
        0 as path_part,
        0 as kind_rank,
        0 as status_rank,
        dispatch_id as tiebreak_id,
        case when is_dropped then error_code end as error_code,
        drop_code,
        case when is_dropped then 'dropped' end as reason_kind,
        dropped_reason as reason,
        case
            when is_dropped
                then 'dropped before WhatsApp: ' || dropped_reason
                    || ' (drop code ' || coalesce(drop_code, 'none')
                    || coalesce(', Meta error ' || cast(error_code as string), '') || ')'
            else 'sent to WhatsApp as ' || coalesce(wamid, 'an unknown wamid')
        end as detail
    from messages
),

status_rows as (
    select
        status_events.dispatch_id,
        status_events.status_at as event_at,
        'status' as event_kind,
        1 as path_part,
        1 as kind_rank,
        case status_events.status
            when 'sent' then 0
            when 'delivered' then 1
            when 'read' then 2
            when 'played' then 3
            when 'failed' then 4
            else 5
        end as status_rank,
        status_events.status_key as tiebreak_id,
        status_events.status,
        status_events.error_code,
        status_events.error_title,
        case when status_events.status = 'failed' then 'undelivered' end as reason_kind,
        status_events.undelivered_reason as reason,
        'status ' || status_events.status
        || coalesce(', error ' || cast(status_events.error_code as string), '')
        || coalesce(' "' || status_events.error_title || '"', '')
        || coalesce(': ' || status_events.undelivered_reason, '') as detail
    from status_events
),

reply_rows as (
    select
        dispatch_id,
        responded_at as event_at,
        'reply' as event_kind,
        1 as path_part,
        2 as kind_rank,
        0 as status_rank,
        response_id as tiebreak_id,
        response_id,
        response_kind,
        coalesce(reply_title, button_text) as response_text,
        button_id,
        cast(card_index as bigint) as card_index,
        case response_kind
            when 'free_text'
                then 'replied with free text (' || coalesce(response_type, 'text') || ')'
            else 'replied with button '
                || coalesce('"' || coalesce(reply_title, button_text) || '" ', '')
                || '(' || button_id
                || coalesce(', card ' || cast(card_index as string), '')
                || case when is_external_platform then ', external platform' else '' end
                || case
                    when response_kind = 'unknown_payload' then ', not a button of the template'
                    else ''
                end
                || ')'
        end as detail
    from responses
),

click_rows as (
    select
        dispatch_id,
        clicked_at as event_at,
        'click' as event_kind,
        1 as path_part,
        3 as kind_rank,
        0 as status_rank,
        click_id as tiebreak_id,
        click_id,
        url,
        button_id,
        cast(card_index as bigint) as card_index,
        'clicked ' || coalesce(url, 'an unknown url')
        || case
            when button_id is null and card_index is null then ' (body link)'
            else ' ('
                || concat_ws(', ', 'button ' || button_id, 'card ' || cast(card_index as string))
                || ')'
        end as detail
    from clicks
),

conversion_rows as (
    select
        attributed_dispatch_id as dispatch_id,
        occurred_at as event_at,
        'conversion' as event_kind,
        1 as path_part,
        4 as kind_rank,
        0 as status_rank,
        event_id as tiebreak_id,
        attributed_click_id as click_id,
        event_id,
        event_name,
        cast(revenue_in_account_currency as decimal(18, 4)) as revenue,
        'converted: ' || event_name || ' (event ' || event_id
        || ', last click ' || attributed_click_id || '), revenue '
        || cast(cast(revenue_in_account_currency as decimal(18, 2)) as string)
        || coalesce(' ' || account_currency, '')
        || case
            when is_currency_mismatch
                then ' (reported in ' || coalesce(currency, 'no currency') || ': not summed)'
            else ''
        end as detail
    from conversions
),

unsubscribe_rows as (
    select
        attributed_dispatch_id as dispatch_id,
        occurred_at as event_at,
        'unsubscribe' as event_kind,
        1 as path_part,
        5 as kind_rank,
        0 as status_rank,
        unsubscribe_id as tiebreak_id,
        unsubscribe_id,
        'unsubscribed'
        || coalesce(' via ' || unsubscribe_source, '')
        || case attribution_method
            when 'wamid' then ' (names this message)'
            else ' (latest message delivered in the 168 h before)'
        end as detail
    from unsubscribes
),

state_rows as (
    select
        dispatch_id,
        {{ as_of() }} as event_at,
        'state' as event_kind,
        2 as path_part,
        0 as kind_rank,
        0 as status_rank,
        dispatch_id as tiebreak_id,
        error_code,
        drop_code,
        case
            when dropped_reason is not null then 'dropped'
            when undelivered_reason is not null then 'undelivered'
        end as reason_kind,
        coalesce(dropped_reason, undelivered_reason) as reason,
        case
            when is_dropped
                then 'dropped: ' || dropped_reason || ' (drop code ' || coalesce(drop_code, 'none')
                    || coalesce(', Meta error ' || cast(error_code as string), '')
                    || '; never handed over to WhatsApp)'
            when message_state = 'delivered' and is_opened
                then 'delivered and read: delivered at '
                    || {{ timestamp_text('delivered_at') }}
                    || ', read at ' || {{ timestamp_text('read_at') }} || ' UTC'
            when message_state = 'delivered'
                then 'delivered, not read: delivered at '
                    || {{ timestamp_text('delivered_at') }} || ' UTC'
            when message_state = 'undelivered' and first_failed_at is not null
                then 'undelivered: ' || undelivered_reason || ' (failed status at '
                    || {{ timestamp_text('first_failed_at') }} || ' UTC'
                    || coalesce(', error ' || cast(error_code as string), '') || ')'
            when message_state = 'undelivered'
                then 'undelivered: ' || undelivered_reason
                    || ' (no delivery report within 720 h)'
            when message_state = 'pending'
                then 'pending: no delivery or failure report '
                    || cast(floor({{ hours_between('attempted_at', as_of()) }}) as bigint)
                    || ' h after the send (Delivery Report Missing at 720 h)'
            else message_state
        end as detail
    from messages
),

-- by name: each kind of row lists its own columns, the others are null
{%- set path = ['dispatch_id', 'event_at', 'event_kind', 'path_part', 'kind_rank', 'status_rank',
    'tiebreak_id'] %}
{%- set reason = ['error_code', 'drop_code', 'reason_kind', 'reason'] %}
events as (
    {{ union_all_by_name({
        'dispatch_rows': path + reason + ['detail'],
        'status_rows': path + ['status', 'error_code', 'error_title', 'reason_kind', 'reason', 'detail'],
        'reply_rows': path + ['response_id', 'response_kind', 'response_text', 'button_id',
            'card_index', 'detail'],
        'click_rows': path + ['click_id', 'url', 'button_id', 'card_index', 'detail'],
        'conversion_rows': path + ['click_id', 'event_id', 'event_name', 'revenue', 'detail'],
        'unsubscribe_rows': path + ['unsubscribe_id', 'detail'],
        'state_rows': path + reason + ['detail'],
    }) }}
),

final as (
    select
        events.dispatch_id,
        cast(row_number() over (
            partition by events.dispatch_id
            order by
                events.path_part,
                events.event_at,
                events.kind_rank,
                events.status_rank,
                events.error_code nulls first,
                events.tiebreak_id
        ) as bigint) as event_seq,
        messages.account_id,
        messages.campaign_id,
        messages.user_id,
        messages.wamid,
        messages.cohort_date,
        events.event_at,
        events.event_kind,
        messages.message_state,
        events.status,
        events.error_code,
        events.error_title,
        events.drop_code,
        events.reason,
        reasons.possible_solution,
        events.response_id,
        events.response_kind,
        events.response_text,
        events.click_id,
        events.url,
        events.button_id,
        events.card_index,
        events.event_id,
        events.event_name,
        events.revenue,
        events.unsubscribe_id,
        events.detail
    from events
    inner join messages
        on events.dispatch_id = messages.dispatch_id
    left join reasons
        on events.reason_kind = reasons.kind
        and events.reason = reasons.reason
)

select * from final
