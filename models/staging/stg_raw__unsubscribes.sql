{{ config(materialized="table") }}

with

unsubscribes as (
    select * from {{ source('raw', 'unsubscribes') }}
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
    copies_received
from deduplicated
