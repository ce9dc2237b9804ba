{#
  One row per dispatch: what never depends on the as-of time. The dispatch,
  its cohort date (attempted_at in the account's time zone), its recipient
  country, and the timeline of its deduplicated statuses: the first time of
  each kind of status. int_messages reads these times against as_of, so a
  later as_of changes no row here (a status at or before as_of exists exactly
  when the first such status is at or before as_of).

  Built incrementally (docs/incremental.md): the dispatches loaded since the
  last build and those with a status loaded since, however old. Statuses of
  a wamid no dispatch knows yet wait in staging; the dispatch, when it
  arrives, reads all of them.

  api (cloud_api or marketing_messages_api) is carried from the dispatch.
  on_schema_change append_new_columns: a table built before the column existed
  gains it on its next run without a full refresh; its rows that are not
  recomputed keep null there, which int_messages reads as cloud_api (what every
  dispatch was before the extract had the column). append, not sync: nothing
  is ever dropped or retyped behind a run's back. The same holds for
  pricing_category and is_billable (the pricing Meta reported on the
  message's statuses, for marts.campaign_costs): null in rows built before
  them until a --full-refresh, which campaign_costs counts as messages without
  pricing.

  is_holdout: the dispatch is a HOLDOUT row (the recipient was withheld as the
  campaign's control group: no message, no statuses). Kept here, one row per
  dispatch like every other, so a re-exported dispatch that changes result
  replaces its row; int_messages leaves holdout rows out (they are not
  targeted messages) and only holdout_uplift reads them. Rows built before the
  column existed hold null there (append_new_columns), read as not holdout.
#}
{{ config(
    materialized=history_materialization(),
    unique_key="dispatch_id",
    on_schema_change="append_new_columns",
) }}

{#- ties at the same second: the lowest category, so every rebuild picks the same -#}
{%- set pricing_order = ['status_at', 'pricing_category'] %}

with

{%- if is_incremental() %}

changed_wamids as (
    select wamid
    from {{ ref('stg_raw__webhook_statuses') }}
    where _loaded_at > {{ last_loaded_at() }}
),
{%- endif %}

dispatches as (
    select * from {{ ref('stg_raw__dispatches') }}
    {%- if is_incremental() %}
    where _loaded_at > {{ last_loaded_at() }}
        or wamid in (select wamid from changed_wamids)
    {%- endif %}
),

statuses as (
    select * from {{ ref('stg_raw__webhook_statuses') }}
    {%- if is_incremental() %}
    where wamid in (select wamid from dispatches)
    {%- endif %}
),

accounts as (
    select * from {{ ref('stg_raw__accounts') }}
),

calling_codes as (
    select * from {{ ref('country_calling_codes') }}
),

-- set-based aggregation (min / min_by with filters) rather than ranking
-- windows: the same result at a fraction of the cost over millions of statuses
status_timelines as (
    select
        wamid,
        min(status_at) as first_status_at,
        min(status_at) filter (where status in ('delivered', 'read', 'played')) as delivered_at,
        min(status_at) filter (where status = 'read') as read_at,
        min(status_at) filter (where status = 'failed') as first_failed_at,
        -- the earliest failed status decides the reason; ties: the lowest code
        {{ min_by('error_code', ['status_at', 'error_code']) }} filter (where status = 'failed')
            as failed_error_code,
        -- 131050: the user stopped marketing messages from the business (an opt-out signal)
        min(status_at) filter (where status = 'failed' and error_code = 131050)
            as marketing_opt_out_at,
        -- what Meta bills: the pricing of the earliest status that carries one
        {{ min_by('pricing_category', pricing_order) }} filter (where pricing_category is not null)
            as pricing_category,
        bool_or(is_billable) as is_billable,
        max(_loaded_at) as _loaded_at
    from statuses
    group by wamid
),

recipient_numbers as (
    select
        dispatch_id,
        case
            when {{ matches_pattern('phone_number', '\+[1-9][0-9]{6,14}') }}
                then substr(phone_number, 2)
        end as e164_digits
    from dispatches
),

-- longest calling-code prefix wins: try 4, 3, 2 and 1 digits
recipient_countries as (
    select
        recipient_numbers.dispatch_id,
        coalesce(code4.country_code, code3.country_code, code2.country_code, code1.country_code)
            as recipient_country
    from recipient_numbers
    left join calling_codes as code4
        on code4.calling_code = substr(recipient_numbers.e164_digits, 1, 4)
    left join calling_codes as code3
        on code3.calling_code = substr(recipient_numbers.e164_digits, 1, 3)
    left join calling_codes as code2
        on code2.calling_code = substr(recipient_numbers.e164_digits, 1, 2)
    left join calling_codes as code1
        on code1.calling_code = substr(recipient_numbers.e164_digits, 1, 1)
),

final as (
    select
        dispatches.dispatch_id,
        dispatches.account_id,
        dispatches.campaign_id,
        dispatches.send_id,
        dispatches.user_id,
        dispatches.wamid,
        recipient_countries.recipient_country,
        dispatches.attempted_at,
        {{ local_date('dispatches.attempted_at', "coalesce(accounts.timezone, 'UTC')") }}
            as cohort_date,
        dispatches.result = 'SENT' as is_sent,
        dispatches.result = 'DROPPED' as is_dropped,
        dispatches.result = 'HOLDOUT' as is_holdout,
        dispatches.drop_code,
        dispatches.meta_error_code,
        coalesce(dispatches.api, 'cloud_api') as api,
        status_timelines.first_status_at,
        status_timelines.delivered_at,
        status_timelines.read_at,
        status_timelines.first_failed_at,
        status_timelines.failed_error_code,
        status_timelines.marketing_opt_out_at,
        status_timelines.pricing_category,
        status_timelines.is_billable,
        greatest(dispatches._loaded_at, status_timelines._loaded_at) as _loaded_at
    from dispatches
    left join accounts
        on dispatches.account_id = accounts.account_id
    left join recipient_countries
        on dispatches.dispatch_id = recipient_countries.dispatch_id
    -- statuses count for sent messages only (a dropped dispatch has no wamid)
    left join status_timelines
        on dispatches.result = 'SENT'
        and dispatches.wamid = status_timelines.wamid
)

select * from final
