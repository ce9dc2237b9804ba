{{ config(materialized=history_materialization(), unique_key="click_id") }}

with

clicks as (
    {{ source_rows_since_last_build('clicks', 'click_id') }}
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
    newest_loaded_at as _loaded_at
from deduplicated
