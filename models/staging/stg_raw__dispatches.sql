{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="dispatch_id",
        meta={"incremental": {
            "raw_sources": ["dispatches"],
            "unique_key_of_source": {"source": "dispatches", "key": "dispatch_id"},
        }},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with

-- incremental: every copy of each dispatch_id named by a file loaded since the last build
dispatches as (
    {{ source_rows_to_recompute(plan, 'dispatches', 'dispatch_id') }}
),

deduplicated as (
    {{ deduplicate('dispatches', 'dispatch_id', '_file_day desc, _row_number desc') }}
)

select
    dispatch_id,
    account_id,
    campaign_id,
    send_id,
    user_id,
    phone_number,
    attempted_at,
    upper(result) as result,
    wamid,
    upper(drop_code) as drop_code,
    meta_error_code,
    meta_error_title,
    copies_received,
    {{ run_marker() }} as _refreshed_at
from deduplicated
