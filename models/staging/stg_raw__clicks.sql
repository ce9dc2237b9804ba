{{ config(materialized="table") }}

with

clicks as (
    select * from {{ source('raw', 'clicks') }}
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
    copies_received
from deduplicated
