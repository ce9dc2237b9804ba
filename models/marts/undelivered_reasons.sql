with

messages as (
    select * from {{ ref('int_messages') }}
    where is_undelivered
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        undelivered_reason as reason,
        count(*) as messages
    from messages
    group by account_id, campaign_id, cohort_date, undelivered_reason
)

select * from final
