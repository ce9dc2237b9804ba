-- Every reason the mappings and the marts can produce has a dictionary entry of its kind.
-- Dagster shows this test as a check of reasons (it reads several models).
{{ config(meta={'dagster': {'ref': {'name': 'reasons'}}}) }}
with

dictionary as (
    select kind, reason from {{ ref('reasons') }}
),

used as (
    select
        case channel when 'send_call' then 'dropped' else 'undelivered' end as kind,
        reason
    from {{ ref('error_code_reasons') }}
    union
    select 'dropped' as kind, reason from {{ ref('drop_code_reasons') }}
    where reason is not null
    union
    select 'dropped' as kind, reason from {{ ref('dropped_reasons') }}
    union
    select 'undelivered' as kind, reason from {{ ref('undelivered_reasons') }}
)

select used.kind, used.reason
from used
left join dictionary
    using (kind, reason)
where dictionary.reason is null
