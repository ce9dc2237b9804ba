with

clicks as (
    select * from {{ ref('int_clicks') }}
    where is_known_message
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        url,
        button_id,
        card_index,
        count(*) as clicks,
        count(distinct user_id) as unique_clickers
    from clicks
    group by account_id, campaign_id, cohort_date, url, button_id, card_index
)

select * from final
