{#
  api: the loader stores the value of the optional extract column (cloud_api
  when a file lacks it or leaves it empty); rows loaded before the column
  existed hold null, read as cloud_api. on_schema_change append_new_columns:
  a table built before `api` gains the column on its next run (its rows keep
  null there until replaced, which downstream reads as cloud_api), no full
  refresh needed.
#}
{{ config(
    materialized=history_materialization(),
    unique_key="dispatch_id",
    on_schema_change="append_new_columns",
) }}

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
    coalesce(api, 'cloud_api') as api,
    copies_received,
    newest_loaded_at as _loaded_at
from deduplicated
