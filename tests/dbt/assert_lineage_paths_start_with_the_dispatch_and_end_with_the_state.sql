{#
  Every message of message_lineage has one path: event_seq 1 is its dispatch
  (`dispatched` or `dropped`), its last event_seq is its only `state` row,
  the sequence has no gap, and the state is int_messages' message_state
  (the state campaign_performance counts). Fails on every message that breaks
  one of these.
  Dagster shows this test as a check of message_lineage (it reads two models).
#}
{{ config(meta={'dagster': {'ref': {'name': 'message_lineage'}}}) }}

with

lineage as (
    select * from {{ ref('message_lineage') }}
),

messages as (
    select
        dispatch_id,
        message_state
    from {{ ref('int_messages') }}
),

paths as (
    select
        dispatch_id,
        count(*) as events,
        max(event_seq) as last_seq,
        count(*) filter (where event_kind = 'state') as state_rows,
        max(event_seq) filter (where event_kind = 'state') as state_seq,
        count(*) filter (where event_kind in ('dispatched', 'dropped')) as dispatch_rows,
        min(event_seq) filter (where event_kind in ('dispatched', 'dropped')) as dispatch_seq,
        count(distinct message_state) as states,
        any_value(message_state) as message_state
    from lineage
    group by dispatch_id
),

final as (
    select
        paths.dispatch_id,
        paths.events,
        paths.last_seq,
        paths.state_rows,
        paths.state_seq,
        paths.dispatch_rows,
        paths.dispatch_seq,
        paths.message_state as lineage_state,
        messages.message_state
    from paths
    left join messages
        on paths.dispatch_id = messages.dispatch_id
    where paths.events != paths.last_seq
        or paths.state_rows != 1
        or paths.state_seq != paths.last_seq
        or paths.dispatch_rows != 1
        or paths.dispatch_seq != 1
        or paths.states != 1
        or messages.message_state is distinct from paths.message_state
)

select * from final
