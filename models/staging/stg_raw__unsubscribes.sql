{{ config(materialized=history_materialization(), unique_key="unsubscribe_id") }}

with

unsubscribes as (
    {{ source_rows_since_last_build('unsubscribes', 'unsubscribe_id') }}
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
    newest_loaded_at as _loaded_at
from deduplicated
