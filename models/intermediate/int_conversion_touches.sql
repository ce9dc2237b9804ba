{#
  The candidate touches of every goal event, for the attribution models of
  attribution_sensitivity (marts.md). One row per (event_id, touch_kind,
  touch_id):

  - touch_kind `click` (touch_id = click_id): a click on a message of the
    event's account sent to the event's user, whose campaign's goal_event
    equals event_name exactly, with clicked_at <= occurred_at <= clicked_at +
    the longest window any model applies to it: greatest(168 h, the
    campaign's conversion_window_hours). The is_in_*_window flags say which
    windows (24 h, 168 h, the campaign's own) contain the event.
  - touch_kind `delivered_view` (touch_id = dispatch_id): a message of the
    same account, user and matching goal, delivered as of as_of, with
    delivered_at <= occurred_at <= delivered_at + 24 h (no click needed).

  Both ends of every window are inclusive. Events and clicks after as_of
  never count (the inputs already stop there; the bounds are repeated so this
  rule holds by itself). Each touch carries the event's revenue in the
  account's currency (0 when null or in another currency), as the headline
  rule counts it. The joins are equi-joins on (account, user, goal) with a
  bounded time range, so the rows grow with the touches near an event, never
  with the messages.
#}

with

conversions as (
    select
        event_id,
        account_id,
        user_id,
        event_name,
        occurred_at,
        revenue_in_account_currency,
        is_currency_mismatch
    from {{ ref('int_conversions_attributed') }}
    where occurred_at <= {{ as_of() }}
),

clicks as (
    select
        click_id,
        dispatch_id,
        account_id,
        campaign_id,
        user_id,
        cohort_date,
        clicked_at,
        goal_event,
        conversion_window_hours
    from {{ ref('int_clicks') }}
    where is_known_message
        and goal_event is not null
        and clicked_at <= {{ as_of() }}
),

campaigns as (
    select
        campaign_id,
        goal_event
    from {{ ref('int_campaigns') }}
    where goal_event is not null
),

delivered_messages as (
    select
        messages.dispatch_id,
        messages.account_id,
        messages.campaign_id,
        messages.user_id,
        messages.cohort_date,
        messages.delivered_at,
        campaigns.goal_event
    from {{ ref('int_messages') }} as messages
    inner join campaigns
        on messages.campaign_id = campaigns.campaign_id
    where messages.is_delivered
        and messages.delivered_at <= {{ as_of() }}
),

click_touches as (
    select
        conversions.event_id,
        'click' as touch_kind,
        clicks.click_id as touch_id,
        conversions.account_id,
        conversions.user_id,
        conversions.event_name,
        conversions.occurred_at,
        clicks.click_id,
        clicks.dispatch_id,
        clicks.campaign_id,
        clicks.cohort_date,
        clicks.clicked_at as touched_at,
        clicks.conversion_window_hours,
        conversions.occurred_at <= {{ add_hours('clicks.clicked_at', 24) }} as is_in_1d_window,
        conversions.occurred_at <= {{ add_hours('clicks.clicked_at', 168) }} as is_in_7d_window,
        conversions.occurred_at
        <= {{ add_hours('clicks.clicked_at', 'clicks.conversion_window_hours') }}
            as is_in_campaign_window,
        conversions.revenue_in_account_currency,
        conversions.is_currency_mismatch
    from conversions
    inner join clicks
        on conversions.account_id = clicks.account_id
        and conversions.user_id = clicks.user_id
        and conversions.event_name = clicks.goal_event
        and conversions.occurred_at >= clicks.clicked_at
    where conversions.occurred_at <= {{ add_hours(
        'clicks.clicked_at', 'greatest(168, coalesce(clicks.conversion_window_hours, 0))'
    ) }}
),

delivered_view_touches as (
    select
        conversions.event_id,
        'delivered_view' as touch_kind,
        delivered_messages.dispatch_id as touch_id,
        conversions.account_id,
        conversions.user_id,
        conversions.event_name,
        conversions.occurred_at,
        cast(null as string) as click_id,
        delivered_messages.dispatch_id,
        delivered_messages.campaign_id,
        delivered_messages.cohort_date,
        delivered_messages.delivered_at as touched_at,
        cast(null as bigint) as conversion_window_hours,
        true as is_in_1d_window,
        true as is_in_7d_window,
        cast(null as boolean) as is_in_campaign_window,
        conversions.revenue_in_account_currency,
        conversions.is_currency_mismatch
    from conversions
    inner join delivered_messages
        on conversions.account_id = delivered_messages.account_id
        and conversions.user_id = delivered_messages.user_id
        and conversions.event_name = delivered_messages.goal_event
        and conversions.occurred_at >= delivered_messages.delivered_at
    where conversions.occurred_at <= {{ add_hours('delivered_messages.delivered_at', 24) }}
),

touches as (
    select * from click_touches
    union all
    select * from delivered_view_touches
),

final as (
    select
        event_id,
        touch_kind,
        touch_id,
        account_id,
        user_id,
        event_name,
        occurred_at,
        click_id,
        dispatch_id,
        campaign_id,
        cohort_date,
        touched_at,
        {{ hours_between('touched_at', 'occurred_at') }} as hours_before_event,
        conversion_window_hours,
        is_in_1d_window,
        is_in_7d_window,
        is_in_campaign_window,
        revenue_in_account_currency,
        is_currency_mismatch
    from touches
)

select * from final
