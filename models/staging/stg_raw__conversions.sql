{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="event_id",
        meta={"incremental": {"raw_sources": ["conversions"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with

-- incremental: every copy of each event_id named by a file loaded since the last build
conversions as (
    {{ source_rows_to_recompute(plan, 'conversions', 'event_id') }}
),

deduplicated as (
    {{ deduplicate('conversions', 'event_id', '_file_day desc, _row_number desc') }}
)

select
    event_id,
    account_id,
    user_id,
    event_name,
    occurred_at,
    revenue,
    upper(currency) as currency,
    copies_received,
    {{ run_marker() }} as _refreshed_at
from deduplicated
