with

messages as (
    select * from {{ ref('int_messages') }}
    where is_dropped or is_undelivered
),

classified as (
    select
        account_id,
        campaign_id,
        cohort_date,
        case when is_dropped then 'dropped' else 'undelivered' end as kind,
        coalesce(dropped_reason, undelivered_reason) as reason,
        user_id
    from messages
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        kind,
        reason,
        user_id,
        count(*) as messages,
        -- the column of the per-user grain, kept for BI: equal to cohort_date
        cohort_date as last_cohort_date
    from classified
    group by account_id, campaign_id, cohort_date, kind, reason, user_id
)

select * from final
