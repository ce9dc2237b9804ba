{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="status_key",
        meta={"incremental": {"raw_sources": ["webhooks"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

{#
  Meta delivers webhooks at least once and bodies carry no event id, so a
  status is identified by its content: (wamid, status, timestamp, error code).
  The earliest received copy is kept.
#}
with

-- incremental: every copy of each wamid named by a file loaded since the last build
statuses as (
    {{ source_rows_to_recompute(plan, 'webhook_statuses', 'wamid') }}
),

deduplicated as (
    select
        wamid,
        lower(status) as status,
        status_at,
        error_code,
        {{ min_by('error_title', 'received_at') }} as error_title,
        {{ min_by('error_count', 'received_at') }} as error_count,
        {{ min_by('pricing_category', 'received_at') }} as pricing_category,
        {{ min_by('pricing_model', 'received_at') }} as pricing_model,
        min(received_at) as first_received_at,
        count(*) as copies_received
    from statuses
    group by wamid, lower(status), status_at, error_code
)

select
    {{ surrogate_key(['wamid', 'status', 'status_at', 'error_code']) }} as status_key,
    wamid,
    status,
    status_at,
    error_code,
    error_title,
    error_count,
    pricing_category,
    pricing_model,
    first_received_at,
    copies_received,
    {{ run_marker() }} as _refreshed_at
from deduplicated
