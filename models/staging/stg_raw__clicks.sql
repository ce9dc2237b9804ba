{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="click_id",
        meta={"incremental": {"raw_sources": ["clicks"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with

-- incremental: every copy of each click_id named by a file loaded since the last build
clicks as (
    {{ source_rows_to_recompute(plan, 'clicks', 'click_id') }}
),

deduplicated as (
    {{ deduplicate('clicks', 'click_id', '_file_day desc, _row_number desc') }}
)

select
    click_id,
    wamid,
    clicked_at,
    url,
    button_id,
    card_index,
    copies_received,
    {{ run_marker() }} as _refreshed_at
from deduplicated
