{#
  How much the conversions and revenue of a campaign depend on the
  attribution rule (marts.md, "Attribution sensitivity"). One row per
  (account_id, campaign_id, cohort_date, attribution_model,
  attribution_window) for every campaign and cohort date with dispatches (as
  campaign_performance_daily) and every model and window below, zeros
  included, so the rules sit side by side. A conversion is credited to the
  cohort date of the credited message.

  Over the candidate touches of int_conversion_touches, per goal event and
  window (`1d` = 24 h, `7d` = 168 h, `campaign` = the clicked campaign's own
  conversion_window_hours; clicked_at <= occurred_at <= clicked_at + window):
  - last_click: the latest click in the window (ties: the greatest click_id
    as text). last_click x campaign is the headline rule (is_headline): it
    equals campaign_performance_daily's conversions and revenue;
  - first_click: the earliest click in the window (ties: the greatest
    click_id, as the headline rule);
  - any_click: every campaign with at least one click in the window gets the
    whole conversion, on the cohort date of its own latest click in the
    window. Multi-touch: summed over campaigns it can exceed the events;
  - delivered_view_24h (window `24h` only): the latest message of a matching
    campaign delivered to the user within 24 h before the event
    (delivered_at <= occurred_at <= delivered_at + 24 h; ties: the greatest
    dispatch_id as text), no click needed.
  last_click, first_click and delivered_view_24h credit each event at most
  once. Revenue is in the account's currency (as in every mart).
#}

with

touches as (
    select
        event_id,
        touch_kind,
        account_id,
        click_id,
        dispatch_id,
        campaign_id,
        cohort_date,
        touched_at,
        is_in_1d_window,
        is_in_7d_window,
        is_in_campaign_window,
        revenue_in_account_currency
    from {{ ref('int_conversion_touches') }}
),

campaign_dates as (
    select
        account_id,
        campaign_id,
        cohort_date
    from {{ ref('int_campaign_daily_metrics') }}
),

model_windows as (
    select
        model_windows.attribution_model,
        model_windows.attribution_window
    from (
        values
        ('last_click', '1d'),
        ('last_click', '7d'),
        ('last_click', 'campaign'),
        ('first_click', '1d'),
        ('first_click', '7d'),
        ('first_click', 'campaign'),
        ('any_click', '1d'),
        ('any_click', '7d'),
        ('any_click', 'campaign'),
        ('delivered_view_24h', '24h')
    ) as model_windows (attribution_model, attribution_window)
),

-- each click once per window that contains its event
clicks_in_window as (
    select
        touches.event_id,
        windows.attribution_window,
        touches.account_id,
        touches.click_id,
        touches.campaign_id,
        touches.cohort_date,
        touches.touched_at,
        touches.revenue_in_account_currency
    from touches
    inner join (
        values ('1d'), ('7d'), ('campaign')
    ) as windows (attribution_window)
        on (windows.attribution_window = '1d' and touches.is_in_1d_window)
        or (windows.attribution_window = '7d' and touches.is_in_7d_window)
        or (windows.attribution_window = 'campaign' and touches.is_in_campaign_window)
    where touches.touch_kind = 'click'
),

ranked_clicks as (
    select
        event_id,
        attribution_window,
        account_id,
        campaign_id,
        cohort_date,
        revenue_in_account_currency,
        row_number() over (
            partition by event_id, attribution_window
            order by touched_at desc, click_id desc
        ) as latest_rank,
        row_number() over (
            partition by event_id, attribution_window
            order by touched_at asc, click_id desc
        ) as earliest_rank,
        row_number() over (
            partition by event_id, attribution_window, campaign_id
            order by touched_at desc, click_id desc
        ) as latest_of_campaign_rank
    from clicks_in_window
),

ranked_views as (
    select
        event_id,
        account_id,
        campaign_id,
        cohort_date,
        revenue_in_account_currency,
        row_number() over (
            partition by event_id
            order by touched_at desc, dispatch_id desc
        ) as latest_rank
    from touches
    where touch_kind = 'delivered_view'
),

credits as (
    select
        'last_click' as attribution_model, attribution_window,
        account_id, campaign_id, cohort_date, revenue_in_account_currency
    from ranked_clicks
    where latest_rank = 1
    union all
    select
        'first_click' as attribution_model, attribution_window,
        account_id, campaign_id, cohort_date, revenue_in_account_currency
    from ranked_clicks
    where earliest_rank = 1
    union all
    select
        'any_click' as attribution_model, attribution_window,
        account_id, campaign_id, cohort_date, revenue_in_account_currency
    from ranked_clicks
    where latest_of_campaign_rank = 1
    union all
    select
        'delivered_view_24h' as attribution_model, '24h' as attribution_window,
        account_id, campaign_id, cohort_date, revenue_in_account_currency
    from ranked_views
    where latest_rank = 1
),

credit_totals as (
    select
        account_id,
        campaign_id,
        cohort_date,
        attribution_model,
        attribution_window,
        count(*) as conversions,
        sum(revenue_in_account_currency) as revenue
    from credits
    group by account_id, campaign_id, cohort_date, attribution_model, attribution_window
),

final as (
    select
        campaign_dates.account_id,
        campaign_dates.campaign_id,
        campaign_dates.cohort_date,
        model_windows.attribution_model,
        model_windows.attribution_window,
        (
            model_windows.attribution_model = 'last_click'
            and model_windows.attribution_window = 'campaign'
        ) as is_headline,
        cast(coalesce(credit_totals.conversions, 0) as bigint) as conversions,
        cast(coalesce(credit_totals.revenue, 0) as decimal(18, 4)) as revenue
    from campaign_dates
    cross join model_windows
    left join credit_totals
        on campaign_dates.account_id = credit_totals.account_id
        and campaign_dates.campaign_id = credit_totals.campaign_id
        and campaign_dates.cohort_date = credit_totals.cohort_date
        and model_windows.attribution_model = credit_totals.attribution_model
        and model_windows.attribution_window = credit_totals.attribution_window
)

select * from final
