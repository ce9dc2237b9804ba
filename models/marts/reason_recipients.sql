with

messages as (
    select * from {{ ref('int_messages') }}
    where is_dropped or is_undelivered
),

classified as (
    select
        account_id,
        campaign_id,
        case when is_dropped then 'dropped' else 'undelivered' end as kind,
        coalesce(dropped_reason, undelivered_reason) as reason,
        user_id,
        cohort_date
    from messages
),

final as (
    select
        account_id,
        campaign_id,
        kind,
        reason,
        user_id,
        count(*) as messages,
        max(cohort_date) as last_cohort_date
    from classified
    group by account_id, campaign_id, kind, reason, user_id
)

select * from final
