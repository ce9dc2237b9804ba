{{ config(materialized="incremental", unique_key="dispatch_id") }}

with

dispatches as (
    {{ source_rows_since_last_build('dispatches', 'dispatch_id') }}
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
    _loaded_at
from deduplicated
