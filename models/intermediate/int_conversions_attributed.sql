{#
  One row per goal event (each event_id once) with occurred_at <= as_of, and
  the message it is attributed to by last click (marts.md): the latest click,
  on a message of the same account sent to the same user, whose campaign's
  goal_event equals event_name exactly and whose window contains the event
  (clicked_at <= occurred_at <= clicked_at + conversion_window_hours, both ends
  inclusive). Ties: the greatest click_id as text. Unattributed events keep
  null message columns. Revenue counts only in the account's currency (null
  revenue = 0); a foreign-currency conversion still counts, flagged.
#}

with

conversions as (
    select * from {{ ref('stg_raw__conversions') }}
    where occurred_at <= {{ as_of() }}
),

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

accounts as (
    select * from {{ ref('stg_raw__accounts') }}
),

candidate_clicks as (
    select
        conversions.event_id,
        clicks.click_id,
        clicks.clicked_at,
        clicks.dispatch_id,
        clicks.campaign_id,
        clicks.cohort_date
    from conversions
    inner join clicks
        on conversions.account_id = clicks.account_id
        and conversions.user_id = clicks.user_id
        and conversions.occurred_at >= clicks.clicked_at
        and conversions.event_name = clicks.goal_event
    where conversions.occurred_at
        <= {{ add_hours('clicks.clicked_at', 'clicks.conversion_window_hours') }}
),

last_click as (
    select
        event_id,
        {{ max_by('click_id', ['clicked_at', 'click_id']) }} as click_id
    from candidate_clicks
    group by event_id
),

attributed as (
    select
        candidate_clicks.event_id,
        candidate_clicks.click_id,
        candidate_clicks.dispatch_id,
        candidate_clicks.campaign_id,
        candidate_clicks.cohort_date
    from candidate_clicks
    inner join last_click
        on candidate_clicks.event_id = last_click.event_id
        and candidate_clicks.click_id = last_click.click_id
),

final as (
    select
        conversions.event_id,
        conversions.account_id,
        conversions.user_id,
        conversions.event_name,
        conversions.occurred_at,
        attributed.click_id as attributed_click_id,
        attributed.dispatch_id as attributed_dispatch_id,
        attributed.campaign_id as attributed_campaign_id,
        attributed.cohort_date,
        attributed.event_id is not null as is_attributed,
        conversions.currency,
        accounts.account_currency,
        -- `is [not] distinct from` in parentheses: the linter's DuckDB grammar
        -- parses it bare only in where and on clauses
        (conversions.currency is distinct from accounts.account_currency) as is_currency_mismatch,
        case
            when (conversions.currency is not distinct from accounts.account_currency)
                then coalesce(conversions.revenue, 0)
            else 0
        end as revenue_in_account_currency,
        conversions.revenue as revenue_as_reported
    from conversions
    left join attributed
        on conversions.event_id = attributed.event_id
    left join accounts
        on conversions.account_id = accounts.account_id
)

select * from final
