{#
  One row per wamid: what its (deduplicated) statuses say as of `as_of`.
  Set-based aggregation (bool_or / min_by) rather than ranking windows: the
  same result at a fraction of the cost over millions of statuses.
#}
{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="wamid",
        meta={"incremental": {"upstream": ["stg_raw__webhook_statuses"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with
{%- if plan.mode == 'changes' %}

-- a wamid changes with a status received since the last build or one whose
-- time lies between the previous as_of and this one
changed_wamids as (
    select wamid
    from {{ ref('stg_raw__webhook_statuses') }}
    where _refreshed_at > {{ plan.since }}
        or {{ crossed_as_of(plan, 'status_at') }}
),
{%- endif %}

statuses as (
    select * from {{ ref('stg_raw__webhook_statuses') }}
    where status_at <= {{ as_of() }}
    {%- if plan.mode == 'changes' %}
        and wamid in (select wamid from changed_wamids)
    {%- endif %}
),

aggregated as (
    select
        wamid,
        bool_or(status in ('delivered', 'read', 'played')) as has_delivery_status,
        bool_or(status = 'read') as has_read_status,
        bool_or(status = 'failed') as has_failed_status,
        -- 131050: the user stopped marketing messages from the business (an opt-out signal)
        bool_or(status = 'failed' and error_code = 131050) as has_marketing_opt_out_status,
        min(status_at) filter (where status in ('delivered', 'read', 'played')) as delivered_at,
        min(status_at) filter (where status = 'read') as read_at,
        min(status_at) filter (where status = 'failed') as first_failed_at,
        -- the earliest failed status decides the reason; ties: the lowest code
        {{ min_by('error_code', ['status_at', 'error_code']) }} filter (where status = 'failed')
            as failed_error_code,
        count(*) as statuses_counted,
        {{ run_marker() }} as _refreshed_at
    from statuses
    group by wamid
)

select * from aggregated
