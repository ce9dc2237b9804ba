{#
  One row per deduplicated status of a sent dispatch with status_at <= as_of:
  every status, not only the first of each kind (int_message_timelines keeps
  those). Statuses are deduplicated in staging by their content (wamid,
  status, timestamp, error code); a status of a wamid no dispatch knows is
  left out (data_quality counts it). A status counts by its own timestamp,
  not by when the webhook was received. A failed status carries the
  undelivered reason its error code maps to (webhook channel, else
  Unmapped Error), the rule int_messages applies to a message's first one.

  A view: message_lineage reads the statuses of the messages of its window
  only, so no copy of every status is written on each run.
#}
{{ config(materialized=view_materialization()) }}

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

webhook_reasons as (
    select
        error_code,
        reason
    from {{ ref('error_code_reasons') }}
    where channel = 'webhook'
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
        case
            when statuses.status = 'failed' then coalesce(webhook_reasons.reason, 'Unmapped Error')
        end as undelivered_reason,
        statuses.first_received_at,
        statuses.copies_received
    from statuses
    inner join sent_messages
        on statuses.wamid = sent_messages.wamid
    left join webhook_reasons
        on statuses.status = 'failed'
        and statuses.error_code = webhook_reasons.error_code
)

select * from final
