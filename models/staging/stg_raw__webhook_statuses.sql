{{ config(
    materialized=history_materialization(),
    unique_key="status_key",
    on_schema_change="append_new_columns",
) }}

{#
  Meta delivers webhooks at least once and bodies carry no event id, so a
  status is identified by its content: (wamid, status, timestamp, error code).
  The earliest received copy is kept.

  on_schema_change append_new_columns: a column added here (is_billable) is
  added to an existing table on its next run; rows built before hold null
  until a --full-refresh (docs/incremental.md).
#}
with

-- built incrementally: every copy of the statuses of each wamid named by a
-- row loaded since the last build (a status's content key includes its wamid)
statuses as (
    {{ source_rows_since_last_build('webhook_statuses', 'wamid') }}
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
        {{ min_by('is_billable', 'received_at') }} as is_billable,
        min(received_at) as first_received_at,
        count(*) as copies_received,
        max(_loaded_at) as _loaded_at
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
    is_billable,
    first_received_at,
    copies_received,
    _loaded_at
from deduplicated
