{#
  Holdout uplift: one row per (account, campaign, cohort date) of a campaign
  with a control group (at least one HOLDOUT dispatch attempted by as_of),
  every cohort date with a dispatch of either group. Treated = every dispatch
  that is not a holdout (sent or dropped: intention to treat, so treated
  equals campaign_performance_daily.targeted on the same row); holdout = the
  HOLDOUT dispatches, never sent.

  A recipient (one dispatch) converted when the same account's user has a goal
  event of the campaign (event_name = goal_event exactly) with attempted_at <=
  occurred_at <= attempted_at + conversion_window_hours (both ends inclusive)
  and occurred_at <= as_of, clicked or not: the holdout never got a message to
  click, so last-click attribution would credit it nothing by construction and
  the comparison would measure nothing. Each group is judged by the same rule;
  an event in the windows of several dispatches counts for each of them.

  Revenue: the goal events' revenue in the account's currency as every mart
  counts it (null = 0, another currency = 0), summed per recipient;
  *_revenue_sum_squares sums each recipient's squared revenue, so the variance
  behind the revenue interval can be computed over any range. Decimal, not
  double: a sum of doubles depends on the order DuckDB's threads add them in,
  and a mart must not change between two builds of the same data. Every count
  and sum is additive over dates.
#}
with

dispatches as (
    select
        dispatch_id,
        account_id,
        campaign_id,
        user_id,
        attempted_at,
        cohort_date,
        coalesce(is_holdout, false) as is_holdout
    from {{ ref('int_message_timelines') }}
    where attempted_at <= {{ as_of() }}
),

holdout_campaigns as (
    select distinct campaign_id
    from dispatches
    where is_holdout
),

campaigns as (
    select
        campaign_id,
        goal_event,
        conversion_window_hours,
        account_currency
    from {{ ref('int_campaigns') }}
),

goal_events as (
    select
        event_id,
        account_id,
        user_id,
        event_name,
        occurred_at,
        revenue_in_account_currency
    from {{ ref('int_conversions_attributed') }}
    where occurred_at <= {{ as_of() }}
),

recipients as (
    select
        dispatches.dispatch_id,
        dispatches.account_id,
        dispatches.campaign_id,
        dispatches.user_id,
        dispatches.attempted_at,
        dispatches.cohort_date,
        dispatches.is_holdout,
        campaigns.goal_event,
        campaigns.conversion_window_hours
    from dispatches
    inner join holdout_campaigns
        on dispatches.campaign_id = holdout_campaigns.campaign_id
    left join campaigns
        on dispatches.campaign_id = campaigns.campaign_id
),

-- every goal event in a recipient's window: an equi-join on (account, user,
-- goal) bounded in time, so the rows grow with the events near a dispatch
events_in_window as (
    select
        recipients.dispatch_id,
        goal_events.event_id,
        goal_events.revenue_in_account_currency
    from recipients
    inner join goal_events
        on recipients.account_id = goal_events.account_id
        and recipients.user_id = goal_events.user_id
        and recipients.goal_event = goal_events.event_name
        and recipients.attempted_at <= goal_events.occurred_at
    where goal_events.occurred_at
        <= {{ add_hours('recipients.attempted_at', 'recipients.conversion_window_hours') }}
),

recipient_revenue as (
    select
        dispatch_id,
        sum(revenue_in_account_currency) as revenue
    from events_in_window
    group by dispatch_id
),

recipient_outcomes as (
    select
        recipients.account_id,
        recipients.campaign_id,
        recipients.cohort_date,
        recipients.is_holdout,
        recipient_revenue.dispatch_id is not null as is_converter,
        coalesce(recipient_revenue.revenue, 0) as revenue
    from recipients
    left join recipient_revenue
        on recipients.dispatch_id = recipient_revenue.dispatch_id
),

daily as (
    select
        account_id,
        campaign_id,
        cohort_date,
        count(*) filter (where not is_holdout) as treated_recipients,
        count(*) filter (where not is_holdout and is_converter) as treated_converters,
        coalesce(sum(revenue) filter (where not is_holdout), 0) as treated_revenue,
        coalesce(sum(revenue * revenue) filter (where not is_holdout), 0)
            as treated_revenue_sum_squares,
        count(*) filter (where is_holdout) as holdout_recipients,
        count(*) filter (where is_holdout and is_converter) as holdout_converters,
        coalesce(sum(revenue) filter (where is_holdout), 0) as holdout_revenue,
        coalesce(sum(revenue * revenue) filter (where is_holdout), 0)
            as holdout_revenue_sum_squares
    from recipient_outcomes
    group by account_id, campaign_id, cohort_date
),

final as (
    select
        daily.account_id,
        daily.campaign_id,
        daily.cohort_date,
        cast(daily.treated_recipients as bigint) as treated_recipients,
        cast(daily.treated_converters as bigint) as treated_converters,
        cast(daily.treated_revenue as decimal(18, 4)) as treated_revenue,
        cast(daily.treated_revenue_sum_squares as decimal(38, 8))
            as treated_revenue_sum_squares,
        cast(daily.holdout_recipients as bigint) as holdout_recipients,
        cast(daily.holdout_converters as bigint) as holdout_converters,
        cast(daily.holdout_revenue as decimal(18, 4)) as holdout_revenue,
        cast(daily.holdout_revenue_sum_squares as decimal(38, 8))
            as holdout_revenue_sum_squares,
        campaigns.account_currency as currency
    from daily
    left join campaigns
        on daily.campaign_id = campaigns.campaign_id
)

select * from final
