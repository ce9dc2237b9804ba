{{ config(materialized="table") }}

{#
  Meta delivers webhooks at least once and bodies carry no event id, so a
  status is identified by its content: (wamid, status, timestamp, error code).
  The earliest received copy is kept.
#}
with

statuses as (
    select * from {{ source('raw', 'webhook_statuses') }}
),

deduplicated as (
    select
        wamid,
        lower(status) as status,
        status_at,
        error_code,
        {{ min_by('error_title', 'received_at') }} as error_title,
        {{ min_by('error_count', 'received_at') }} as error_count,
        {{ min_by('pricing_category', 'received_at') }} as pricing_category,
        {{ min_by('pricing_model', 'received_at') }} as pricing_model,
        min(received_at) as first_received_at,
        count(*) as copies_received
    from statuses
    group by wamid, lower(status), status_at, error_code
)

select
    {{ surrogate_key(['wamid', 'status', 'status_at', 'error_code']) }} as status_key,
    wamid,
    status,
    status_at,
    error_code,
    error_title,
    error_count,
    pricing_category,
    pricing_model,
    first_received_at,
    copies_received
from deduplicated
