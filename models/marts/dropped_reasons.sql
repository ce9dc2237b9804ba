with

messages as (
    select * from {{ ref('int_messages') }}
    where is_dropped
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        dropped_reason as reason,
        count(*) as messages
    from messages
    group by account_id, campaign_id, cohort_date, dropped_reason
)

select * from final
