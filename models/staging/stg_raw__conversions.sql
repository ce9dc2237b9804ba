{{ config(materialized="table") }}

with

conversions as (
    select * from {{ source('raw', 'conversions') }}
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
    copies_received
from deduplicated
