{#
  One row per link (url, button, carousel card) clicked on the campaign's
  messages of a cohort date: its clicks, and the conversions attributed (last
  click) to those clicks with their revenue in the account's currency. Every
  attributed conversion has its click, so a campaign's conversions of a
  cohort date are the sum of its link rows' conversions.
#}

with

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

conversions as (
    select * from {{ ref('int_conversions_attributed') }}
    where is_attributed
),

click_conversions as (
    select
        attributed_click_id as click_id,
        count(*) as conversions,
        sum(revenue_in_account_currency) as revenue
    from conversions
    group by attributed_click_id
),

final as (
    select
        clicks.account_id,
        clicks.campaign_id,
        clicks.cohort_date,
        clicks.url,
        clicks.button_id,
        clicks.card_index,
        count(*) as clicks,
        count(distinct clicks.user_id) as unique_clickers,
        cast(coalesce(sum(click_conversions.conversions), 0) as bigint) as conversions,
        cast(coalesce(sum(click_conversions.revenue), 0) as decimal(18, 4)) as revenue
    from clicks
    left join click_conversions
        on clicks.click_id = click_conversions.click_id
    group by
        clicks.account_id,
        clicks.campaign_id,
        clicks.cohort_date,
        clicks.url,
        clicks.button_id,
        clicks.card_index
)

select * from final
