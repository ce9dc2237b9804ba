{#
  One row per (account, campaign, cohort date) with sent messages: how long
  the campaign's sent messages of that cohort date took from the send (the
  dispatch's attempted_at) to their first delivery report (delivered, read or
  played), their first read and their first known click, as of as_of.

  Only events at or before as_of count (an event after it has not happened
  yet); each count is the number of messages with that event, and the
  p50 / p90 / p99 are continuous percentiles (linear interpolation) of those
  messages' latencies in seconds, null when no message has the event.

  A status or click stamped before its send (clock skew between the sender,
  Meta and the click tracker) is not dropped: its latency counts as 0 in the
  percentiles and the message is counted in *_before_send, so a skewed feed
  shows instead of silently shortening or thinning the percentiles.

  Percentiles do not add up over days or campaigns: read them per row. The
  additive view of the same delays is delivery_survival.
#}

{%- set events = ['delivered', 'read', 'first_click'] %}
{#- p50, p90, p99: a list, so one sort per event and group computes all three #}
{%- set fractions = [0.5, 0.9, 0.99] %}

with

as_of_time as (
    select {{ as_of() }} as as_of
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

-- each message's first click at or before as_of
first_clicks as (
    select
        clicks.dispatch_id,
        min(clicks.clicked_at) as first_clicked_at
    from clicks
    cross join as_of_time
    where clicks.clicked_at <= as_of_time.as_of
    group by clicks.dispatch_id
),

-- the event times at or before as_of (int_messages already nulls later ones;
-- stated again so the rule holds whatever feeds this model)
message_events as (
    select
        messages.account_id,
        messages.campaign_id,
        messages.cohort_date,
        messages.attempted_at,
        case when messages.delivered_at <= as_of_time.as_of then messages.delivered_at end
            as delivered_at,
        case when messages.read_at <= as_of_time.as_of then messages.read_at end as read_at,
        first_clicks.first_clicked_at
    from messages
    cross join as_of_time
    left join first_clicks
        on messages.dispatch_id = first_clicks.dispatch_id
),

-- signed latencies in seconds (exact: whole microseconds, then seconds as a double)
message_latencies as (
    select
        account_id,
        campaign_id,
        cohort_date,
        {{ seconds_between('attempted_at', 'delivered_at') }} as delivered_seconds,
        {{ seconds_between('attempted_at', 'read_at') }} as read_seconds,
        {{ seconds_between('attempted_at', 'first_clicked_at') }} as first_click_seconds
    from message_events
),

-- an event before its send counts as 0 seconds (null stays null: no event)
clamped_latencies as (
    select
        account_id,
        campaign_id,
        cohort_date,
        delivered_seconds,
        read_seconds,
        first_click_seconds,
        case when delivered_seconds < 0 then 0 else delivered_seconds end as clamped_delivered,
        case when read_seconds < 0 then 0 else read_seconds end as clamped_read,
        case when first_click_seconds < 0 then 0 else first_click_seconds end as clamped_first_click
    from message_latencies
),

-- one sort per event and group: the three percentiles in one list
daily_latencies as (
    select
        account_id,
        campaign_id,
        cohort_date,
        count(*) as sent
        {%- for event in events %},
        count({{ event }}_seconds) as {{ event }}_messages,
        count(*) filter (where {{ event }}_seconds < 0) as {{ event }}_before_send,
        {{ percentile_cont('clamped_' ~ event, fractions) }} as {{ event }}_percentiles{% endfor %}
    from clamped_latencies
    group by account_id, campaign_id, cohort_date
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        cast(sent as bigint) as sent,
        cast(delivered_messages as bigint) as delivered,
        cast(delivered_before_send as bigint) as delivered_before_send,
        {{ list_element('delivered_percentiles', 1) }} as seconds_to_delivered_p50,
        {{ list_element('delivered_percentiles', 2) }} as seconds_to_delivered_p90,
        {{ list_element('delivered_percentiles', 3) }} as seconds_to_delivered_p99,
        cast(read_messages as bigint) as opens,
        cast(read_before_send as bigint) as read_before_send,
        {{ list_element('read_percentiles', 1) }} as seconds_to_read_p50,
        {{ list_element('read_percentiles', 2) }} as seconds_to_read_p90,
        {{ list_element('read_percentiles', 3) }} as seconds_to_read_p99,
        cast(first_click_messages as bigint) as clicked_messages,
        cast(first_click_before_send as bigint) as first_click_before_send,
        {{ list_element('first_click_percentiles', 1) }} as seconds_to_first_click_p50,
        {{ list_element('first_click_percentiles', 2) }} as seconds_to_first_click_p90,
        {{ list_element('first_click_percentiles', 3) }} as seconds_to_first_click_p99
    from daily_latencies
)

select * from final
