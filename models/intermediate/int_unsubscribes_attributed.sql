{#
  One row per unsubscribe (each id once) with occurred_at <= as_of, and the
  message it is attributed to (marts.md): the message of its wamid when that
  wamid is known; without a wamid, the latest message (by attempted_at, ties:
  greatest dispatch_id) of the same account to the same user that is delivered
  as of as_of and was attempted in the 168 hours up to the unsubscribe
  (inclusive). An unsubscribe carrying a wamid that no dispatch knows is
  unattributed (it names a message outside the campaigns) and reported as an
  unknown wamid too.
#}

with

unsubscribes as (
    select * from {{ ref('stg_raw__unsubscribes') }}
    where occurred_at <= {{ as_of() }}
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

by_wamid as (
    select
        unsubscribes.unsubscribe_id,
        messages.dispatch_id
    from unsubscribes
    inner join messages
        on unsubscribes.wamid = messages.wamid
),

by_recent_delivery as (
    select
        unsubscribes.unsubscribe_id,
        {{ max_by('messages.dispatch_id', ['messages.attempted_at', 'messages.dispatch_id']) }}
            as dispatch_id
    from unsubscribes
    inner join messages
        on unsubscribes.account_id = messages.account_id
        and unsubscribes.user_id = messages.user_id
        and messages.is_delivered
        and unsubscribes.occurred_at >= messages.attempted_at
        and messages.attempted_at >= {{ add_hours('unsubscribes.occurred_at', -168) }}
    where unsubscribes.wamid is null
    group by unsubscribes.unsubscribe_id
),

attributed as (
    select
        unsubscribes.unsubscribe_id,
        unsubscribes.account_id,
        unsubscribes.user_id,
        unsubscribes.occurred_at,
        unsubscribes.unsubscribe_source,
        unsubscribes.wamid,
        coalesce(by_wamid.dispatch_id, by_recent_delivery.dispatch_id) as attributed_dispatch_id,
        case
            when by_wamid.dispatch_id is not null then 'wamid'
            when by_recent_delivery.dispatch_id is not null then 'recent_delivery'
        end as attribution_method,
        unsubscribes.wamid is not null and by_wamid.dispatch_id is null as has_unknown_wamid
    from unsubscribes
    left join by_wamid
        on unsubscribes.unsubscribe_id = by_wamid.unsubscribe_id
    left join by_recent_delivery
        on unsubscribes.unsubscribe_id = by_recent_delivery.unsubscribe_id
),

final as (
    select
        attributed.unsubscribe_id,
        attributed.account_id,
        attributed.user_id,
        attributed.occurred_at,
        attributed.unsubscribe_source,
        attributed.wamid,
        attributed.attribution_method,
        attributed.has_unknown_wamid,
        attributed.attributed_dispatch_id,
        messages.account_id as attributed_account_id,
        messages.campaign_id as attributed_campaign_id,
        messages.cohort_date,
        attributed.attributed_dispatch_id is not null as is_attributed
    from attributed
    left join messages
        on attributed.attributed_dispatch_id = messages.dispatch_id
)

select * from final
