{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="unsubscribe_id",
        meta={"incremental": {"raw_sources": ["unsubscribes"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with

-- incremental: every copy of each unsubscribe_id named by a file loaded since the last build
unsubscribes as (
    {{ source_rows_to_recompute(plan, 'unsubscribes', 'unsubscribe_id') }}
),

deduplicated as (
    {{ deduplicate('unsubscribes', 'unsubscribe_id', '_file_day desc, _row_number desc') }}
)

select
    unsubscribe_id,
    account_id,
    user_id,
    occurred_at,
    source as unsubscribe_source,
    wamid,
    copies_received,
    {{ run_marker() }} as _refreshed_at
from deduplicated
