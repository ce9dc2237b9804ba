{#
  One row per deduplicated status of a sent dispatch with status_at <= as_of:
  every status, not only the first of each kind (int_message_timelines keeps
  those). Statuses are deduplicated in staging by their content (wamid,
  status, timestamp, error code); a status of a wamid no dispatch knows is
  left out (data_quality counts it). A status counts by its own timestamp,
  not by when the webhook was received.

  A view: message_lineage reads the statuses of the messages of its window
  only, so no copy of every status is written on each run.
#}
{{ config(materialized="view") }}

with

sent_messages as (
    select
        dispatch_id,
        wamid
    from {{ ref('int_message_timelines') }}
    where is_sent
),

statuses as (
    select
        status_key,
        wamid,
        status,
        status_at,
        error_code,
        error_title,
        first_received_at,
        copies_received
    from {{ ref('stg_raw__webhook_statuses') }}
    where status_at <= {{ as_of() }}
),

final as (
    select
        statuses.status_key,
        sent_messages.dispatch_id,
        statuses.wamid,
        statuses.status,
        statuses.status_at,
        statuses.error_code,
        statuses.error_title,
        statuses.first_received_at,
        statuses.copies_received
    from statuses
    inner join sent_messages
        on statuses.wamid = sent_messages.wamid
)

select * from final
