{#
  One row per click (each click_id once) with clicked_at <= as_of, joined to
  the message it was made on. Engagement needs no delivery state: a click on
  a message whose `delivered` webhook never came still counts. Clicks on a
  wamid no dispatch knows are kept with is_known_message = false (reported in
  data_quality, left out of campaign marts).
#}
{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key="click_id",
        meta={"incremental": {"upstream": ["stg_raw__clicks", "int_messages"]}},
        post_hook="{{ record_incremental_state() }}",
    )
}}
{%- set plan = incremental_plan() %}

with
{%- if plan.mode == 'changes' %}

-- a click changes when it was (re-)exported since the last build, when its
-- time lies between the previous as_of and this one, when the message it
-- names (by its wamid now or before) changed, or when its campaign's goal or
-- conversion window changed (the conversions it can win change)
changed_messages as (
    {{ changed_upstream_values(plan, 'int_messages', ['wamid']) }}
),

changed_clicks as (
    select click_id
    from {{ ref('stg_raw__clicks') }}
    where _refreshed_at > {{ plan.since }}
        or {{ crossed_as_of(plan, 'clicked_at') }}
        or wamid in (select wamid from changed_messages)
    union
    select previous.click_id
    from {{ this }} as previous
    inner join {{ ref('int_campaigns') }} as campaigns
        on previous.campaign_id = campaigns.campaign_id
    where previous.goal_event is distinct from campaigns.goal_event
        or previous.conversion_window_hours is distinct from campaigns.conversion_window_hours
),
{%- endif %}

clicks as (
    select * from {{ ref('stg_raw__clicks') }}
    where clicked_at <= {{ as_of() }}
    {%- if plan.mode == 'changes' %}
        and click_id in (select click_id from changed_clicks)
    {%- endif %}
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

joined as (
    select
        clicks.click_id,
        clicks.wamid,
        messages.dispatch_id,
        messages.account_id,
        messages.campaign_id,
        messages.user_id,
        messages.cohort_date,
        messages.is_delivered as is_message_delivered,
        clicks.clicked_at,
        clicks.url,
        clicks.button_id,
        clicks.card_index,
        campaigns.goal_event,
        campaigns.conversion_window_hours,
        messages.dispatch_id is not null as is_known_message
    from clicks
    left join messages
        on clicks.wamid = messages.wamid
    left join campaigns
        on messages.campaign_id = campaigns.campaign_id
),

with_build_columns as (
    {{ with_build_columns(plan, 'joined', 'click_id', {
        'account_id': 'varchar', 'campaign_id': 'varchar',
        'cohort_date': 'date', 'user_id': 'varchar',
    }) }}
)

select * from with_build_columns
