{{ config(materialized=history_materialization(), unique_key="event_id") }}

with

conversions as (
    {{ source_rows_since_last_build('conversions', 'event_id') }}
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
    newest_loaded_at as _loaded_at
from deduplicated
