{#
  One row per campaign: the newest snapshot of its attributes, with its
  account's industry, time zone and currency. Campaigns that dispatches name
  but no campaign snapshot describes are included with null attributes, so no
  dispatch is ever left out of the marts.
#}
with

campaigns as (
    select * from {{ ref('stg_raw__campaigns') }}
),

accounts as (
    select * from {{ ref('stg_raw__accounts') }}
),

dispatched_campaigns as (
    select
        campaign_id,
        min(account_id) as account_id
    from {{ ref('int_messages') }}
    group by campaign_id
),

all_campaigns as (
    select
        coalesce(campaigns.campaign_id, dispatched_campaigns.campaign_id) as campaign_id,
        coalesce(campaigns.account_id, dispatched_campaigns.account_id) as account_id,
        campaigns.campaign_name,
        campaigns.campaign_type,
        campaigns.template_name,
        campaigns.template_language,
        campaigns.template_category,
        campaigns.goal_event,
        campaigns.conversion_window_hours,
        campaigns.created_at,
        campaigns.campaign_id is not null as has_campaign_snapshot
    from campaigns
    full outer join dispatched_campaigns
        on campaigns.campaign_id = dispatched_campaigns.campaign_id
),

final as (
    select
        all_campaigns.campaign_id,
        all_campaigns.account_id,
        all_campaigns.campaign_name,
        all_campaigns.campaign_type,
        all_campaigns.template_name,
        all_campaigns.template_language,
        all_campaigns.template_category,
        all_campaigns.goal_event,
        all_campaigns.conversion_window_hours,
        all_campaigns.created_at,
        all_campaigns.has_campaign_snapshot,
        accounts.account_name,
        accounts.industry,
        accounts.timezone,
        accounts.account_currency
    from all_campaigns
    left join accounts
        on all_campaigns.account_id = accounts.account_id
)

select * from final
